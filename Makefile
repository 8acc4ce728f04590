# The two commands in the README: `make run` (CPU quickstart) and `make test`.
# Both create .venv on first use with nothing but python3.
PYTHON ?= python3
VENV ?= .venv
# torch 2.13.0: CPU wheel on our CI machines, the CUDA build from PyPI elsewhere.
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The slowest 25 tests are listed after every run, so a slow new test shows.
PYTEST_ARGS ?= --durations=25
# Tests run on one pytest-xdist worker per core, each with one torch thread; tests that share
# a module fixture, and the SLURM tests, stay on one worker (tests/conftest.py). Serially:
# `make test PYTEST_WORKERS=0`.
PYTEST_WORKERS ?= auto
XDIST = -n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder

.PHONY: run test test-fast lint format bench clean-env

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python launch.py experiment=quickstart

test: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

# The inner loop (a few minutes): unit tests and small real runs; no grokking, SLURM or
# other end-to-end tests (markers in pyproject.toml). `make test` runs everything.
test-fast: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) -m "not slow and not slurm and not e2e" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_train.py

clean-env:
	rm -rf $(VENV)
