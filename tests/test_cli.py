"""launch.py as users run it: bad input is rejected up front; multiruns write run dirs."""

import pytest
import yaml

from tests.conftest import ROOT, launch, make_cfg, read_json

BAD = [
    ("task.p=12", "task.p=12: must be a prime"),
    ("task.p=1", "task.p=1: must be a prime"),
    ("task.train_frac=1.5", "task.train_frac=1.5: must be a number strictly between 0 and 1"),
    ("task.train_frac=0", "task.train_frac=0: must be a number strictly between 0 and 1"),
    ("optim.lr=-0.001", "optim.lr=-0.001: must be a finite number > 0"),
    ("optim.wd=-1", "optim.wd=-1: must be a finite number >= 0"),
    ("train.epochs=0", "train.epochs=0: must be an integer >= 1"),
]


def _nothing_written(cwd):
    return list(cwd.iterdir()) == []


@pytest.mark.parametrize(("override", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_value_is_one_clear_error_before_any_output(tmp_path, override, message):
    proc = launch(override, cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _nothing_written(tmp_path)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim=foo", "optim=foo: no such optim option; choose one of: adam, adamw, muon, sgd"),
        ("experiment=nope", "experiment=nope: no such experiment option; choose one of:"),
        ("train.foo=1", "train.foo: unknown key (no config group defines it)"),
    ],
)
def test_unknown_option_names_value_and_choices(tmp_path, override, message):
    """Caught on the command line (grok/overrides.py): one line, exit 2, what exists."""
    proc = launch(override, cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    if override.startswith("experiment"):
        assert "quickstart" in proc.stderr and "nanda2023" in proc.stderr
    assert _nothing_written(tmp_path)


def test_bad_job_in_a_sweep_stops_the_whole_sweep_before_launch(tmp_path):
    proc = launch("-m", "model=tiny", "task.p=7,12", "optim.wd=0.1,-2", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert "task.p=12: must be a prime" in proc.stderr
    assert "optim.wd=-2" in proc.stderr
    assert "nothing was launched" in proc.stderr
    assert _nothing_written(tmp_path)


def _run_dirs(tmp_path):
    return sorted(p.parent for p in tmp_path.glob("multirun/**/summary.json"))


@pytest.mark.slow
@pytest.mark.e2e  # a real multirun
def test_multirun_over_wd_writes_one_run_dir_per_job(tmp_path):
    launch(
        "-m",
        "experiment=quickstart",
        "task=modsub",
        "optim.wd=0.1,1.0",
        "train.epochs=100",
        "train.progress=false",
        cwd=tmp_path,
    )
    dirs = _run_dirs(tmp_path)
    assert len(dirs) == 2
    saved = [yaml.safe_load((d / ".hydra" / "config.yaml").read_text()) for d in dirs]
    resolved = [yaml.safe_load((d / "config.yaml").read_text()) for d in dirs]
    assert sorted(c["optim"]["wd"] for c in saved) == [0.1, 1.0]
    assert sorted(c["optim"]["wd"] for c in resolved) == [0.1, 1.0]
    assert all(c["task"]["p"] == 47 for c in resolved)  # quickstart sizes
    summaries = [read_json(d / "summary.json") for d in dirs]
    assert all(s["status"] == "done" and s["epochs"] == 100 for s in summaries)
    assert summaries[0]["final"] != summaries[1]["final"]
    overrides = [yaml.safe_load((d / ".hydra" / "overrides.yaml").read_text()) for d in dirs]
    assert ["optim.wd=0.1" in o for o in overrides].count(True) == 1


SWEEPS = sorted(p.stem for p in (ROOT / "sweeps").glob("*.yaml"))
SWEEP_SIZES = {
    "wd": 7,
    "lr": 5,
    "train_frac": 7,
    "op": 5,
    "depth": 15,
    "eff_wd": 9,
    "p": 12,
    "seeds": 10,
    "methods": 14,
    "attn_rate": 33,  # 11 rates x 3 seeds
    "ungrok": 7,
}


@pytest.fixture(scope="module")
def grokked_source(tmp_path_factory):
    """A run of the default config's shapes for ``+sweep=ungrok`` to start from (2 epochs:
    the dry run reads its checkpoint, never its accuracy)."""
    from grok.run import run

    run_dir = tmp_path_factory.mktemp("source") / "src"
    run(make_cfg("train.epochs=2", "logger=none", "measures=none"), run_dir, progress=False)
    return run_dir


def test_every_named_sweep_is_listed():
    assert set(SWEEPS) == set(SWEEP_SIZES)


@pytest.mark.parametrize("name", SWEEPS)
def test_named_sweep_dry_run_prints_its_jobs_and_writes_nothing(tmp_path, name, request):
    extra = [f"train.init_from={request.getfixturevalue('grokked_source')}"]
    extra = extra if name == "ungrok" else []
    proc = launch("-m", f"+sweep={name}", *extra, "hydra.launcher.dry_run=true", cwd=tmp_path)
    assert f"dry run: {SWEEP_SIZES[name]} job(s)" in proc.stdout
    assert proc.stdout.count("    #") == SWEEP_SIZES[name]
    assert _nothing_written(tmp_path)


def test_eff_wd_sweep_sets_lr_from_the_product():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        import hydra_plugins.grok_launcher.sweeps  # noqa: F401  (registers the sweep group)

        cfg = compose("config", overrides=["+sweep=eff_wd", "eff_wd=0.003", "optim.wd=3.0"])
    assert cfg.optim.lr == pytest.approx(0.001)


def test_sweep_over_a_missing_key_fails_and_leaves_nothing(tmp_path):
    proc = launch("-m", "optim.nope=1,2", cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "optim.nope" in proc.stderr
    assert _nothing_written(tmp_path)


def test_help_is_grok_specific_and_hides_private_groups(tmp_path):
    out = launch("--help", cwd=tmp_path).stdout
    assert out.startswith("grok: small transformers")
    for command in ("launch.py experiment=quickstart", "grok report", "grok ls", "dry_run=true"):
        assert command in out, command
    assert "method: baseline, fixed_norm, grokfast_ema" in out and "+sweep: attn_rate, depth" in out
    assert "_yale" not in out and "_methods" not in out and "powered by Hydra" not in out
    assert len(out.splitlines()) < 40 and _nothing_written(tmp_path)
