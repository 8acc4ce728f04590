"""What ``hydra/sweeper=grok_optuna`` searches and how it scores a run.

The search space is written as hydra-optuna-sweeper writes it (in ``hydra.sweeper.params``
or on the command line), parsed by Hydra's own override parser and lowered to Optuna
distributions here, because the published plugin pins ``optuna<3``:

- ``choice(a,b,c)``, a comma list ``a,b,c``, ``shuffle(...)``: categorical;
- ``range(lo,hi,step)``: the values Hydra's ``range`` lists (hi excluded, as in grok's grid
  sweeps), int or float, stepped;
- ``interval(lo,hi)``: float uniform; ``int(interval(lo,hi))``: integer uniform;
- ``tag(log, interval(lo,hi))``: log-uniform, integer when both bounds are written as
  integers (``tag(log, interval(16, 512))``);
- a plain value: the same for every trial.

A trial's value is a field of its run's ``summary.json``: a milestone epoch (``grok_epoch``,
``memorization_epoch``) or a final metric (``final/test_loss``). A run that never reaches
the milestone scores ``penalty`` (default: twice its ``train.epochs``); a final metric that
is null (a diverged run) needs an explicit ``penalty``.
"""
# No `from __future__ import annotations` (see grok_launcher.py).

import re
from dataclasses import dataclass
from typing import Any, Optional

from hydra.core.override_parser.types import Override, ValueType

MILESTONES = ("grok_epoch", "memorization_epoch")
SAMPLERS = ("tpe", "random")
DIRECTIONS = ("minimize", "maximize")
_INTERVAL_ARGS = re.compile(r"interval\(([^()]*)\)")
_INT = re.compile(r"^[+-]?\d+$")


class SearchError(ValueError):
    """Bad search input: the message names the value and what is allowed. (Catch it as
    ValueError: Hydra's plugin scan may load this module twice, as two classes.)"""


@dataclass
class Space:
    """The searched keys (Optuna distributions) and the overrides every trial shares."""

    params: dict[str, Any]  # override key -> optuna distribution
    fixed: list[str]  # overrides as given, in order

    def overrides(self, values: dict[str, Any]) -> list[str]:
        """One trial's overrides: the fixed ones, then each searched key's drawn value."""
        return [*self.fixed, *(f"{key}={_text(values[key])}" for key in self.params)]

    def describe(self) -> list[str]:
        return [f"{key}: {describe(d)}" for key, d in self.params.items()]

    def draw(self, trial: Any) -> dict[str, Any]:
        """Every searched value of an Optuna ``Trial``: a value it already has (a trial a
        killed process left running) is returned as recorded, a missing one is sampled."""
        from optuna.distributions import CategoricalDistribution, IntDistribution

        out = {}
        for key, d in self.params.items():
            if isinstance(d, CategoricalDistribution):
                out[key] = trial.suggest_categorical(key, d.choices)
            elif isinstance(d, IntDistribution):
                out[key] = trial.suggest_int(key, d.low, d.high, step=d.step, log=d.log)
            else:
                out[key] = trial.suggest_float(key, d.low, d.high, step=d.step, log=d.log)
        return out

    def corners(self) -> list[list[str]]:
        """Overrides at the space's corners: every key at its first value, then each bound
        and each choice of one key at a time (what the up-front check composes)."""
        ends = {k: _ends(d) for k, d in self.params.items()}
        first = {k: v[0] for k, v in ends.items()}
        rows = [first] + [{**first, k: v} for k, values in ends.items() for v in values[1:]]
        return [self.overrides(row) for row in rows]


def _ends(dist: Any) -> list[Any]:
    choices = getattr(dist, "choices", None)
    return list(choices) if choices is not None else [dist.low, dist.high]


def _text(value: Any) -> str:
    """A drawn value as an override value (categorical strings are already in Hydra's form)."""
    return repr(value) if isinstance(value, float) else str(value)


def describe(dist: Any) -> str:
    """A distribution as the dry run and the closing block print it."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return f"one of {', '.join(map(str, dist.choices))}"
    kind = "int" if isinstance(dist, IntDistribution) else "float"
    step = f", step {dist.step}" if dist.step is not None and dist.step != 1 else ""
    return f"{kind} in [{dist.low}, {dist.high}]{', log' if dist.log else ''}{step}"


def parse_space(parser: Any, params: Optional[dict], arguments: list[str]) -> Space:
    """``hydra.sweeper.params`` and the command line's overrides (which win) as a Space."""
    from hydra.errors import HydraException

    lines = [f"{k}={v}" for k, v in (params or {}).items()] + list(arguments)
    try:
        parsed = parser.parse_overrides(lines)
    except HydraException as e:
        raise SearchError(str(e).splitlines()[0]) from None
    by_key: dict[str, Override] = {}
    for override in parsed:
        by_key[override.get_key_element()] = override
    space = Space({}, [])
    for key, override in by_key.items():
        if override.is_sweep_override():
            space.params[key] = distribution(override)
        else:
            space.fixed.append(override.input_line)
    if not space.params:
        raise SearchError(
            "nothing to search: give at least one key a choice(...), range(...) or "
            "interval(...), e.g. 'optim.lr=tag(log,interval(1e-4,1e-2))'"
        )
    return space


def distribution(override: Override) -> Any:
    """The Optuna distribution of one sweep override; a SearchError names what is wrong."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    value, line = override.value(), override.input_line
    tags = set(getattr(value, "tags", set()) or set())
    if tags - {"log"} or ("log" in tags and not override.is_interval_sweep()):
        raise SearchError(f"{line}: the only tag is log, on an interval: tag(log, interval(lo,hi))")
    if override.value_type == ValueType.GLOB_CHOICE_SWEEP:
        raise SearchError(f"{line}: glob(...) is not searched; list the options with choice(...)")
    if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
        pairs = zip(override.sweep_iterator(), override.sweep_string_iterator(), strict=True)
        # numbers stay numbers (the report's axes); anything else in Hydra's override form
        choices = [
            v if isinstance(v, int | float) and not isinstance(v, bool) else s for v, s in pairs
        ]
        return CategoricalDistribution(choices)
    if override.is_range_sweep():
        values = list(override.sweep_iterator())
        if not values:
            raise SearchError(f"{line}: the range is empty")
        low, high, step = min(values), max(values), abs(value.step)
        if all(isinstance(v, int) for v in values):
            return IntDistribution(low, high, step=step)
        return FloatDistribution(float(low), float(high), step=float(step))
    if override.is_interval_sweep():
        low, high, log = value.start, value.end, "log" in tags
        if not low < high:
            raise SearchError(f"{line}: an interval needs lo < hi")
        if log and low <= 0:
            raise SearchError(f"{line}: a log interval needs lo > 0")
        ints = isinstance(low, int) and isinstance(high, int)
        if ints or (log and _written_as_ints(line)):
            return IntDistribution(int(low), int(high), log=log)
        return FloatDistribution(float(low), float(high), log=log)
    raise SearchError(f"{line}: not a search: use choice(...), range(...) or interval(...)")


def _written_as_ints(line: str) -> bool:
    """Both bounds of the interval in ``line`` are integer literals (Hydra's parser has
    turned them into floats by now)."""
    match = _INTERVAL_ARGS.search(line.split("=", 1)[-1])
    if match is None:
        return False
    bounds = [part.split("=")[-1].strip() for part in match[1].split(",")]
    return len(bounds) == 2 and all(_INT.match(b) for b in bounds)


def objectives(task_class: Any) -> list[str]:
    """The objective names a run of this task's class can be scored on."""
    from grok.train.stack import metric_names

    return [*MILESTONES, *(f"final/{m}" for m in metric_names(task_class))]


def check_objective(objective: str, allowed: list[str]) -> str:
    """``objective`` in its ``final/<metric>`` form (``final.<metric>``, the ``load_sweep``
    column, is accepted too)."""
    name = "final/" + objective[6:] if objective.startswith("final.") else objective
    if name not in allowed:
        raise SearchError(
            f"hydra.sweeper.objective={objective}: not a field of this task's summary.json; "
            f"choose one of: {', '.join(allowed)}"
        )
    return name


def check_settings(direction: str, sampler: str, n_trials: int, n_jobs: int) -> None:
    if direction not in DIRECTIONS:
        raise SearchError(f"hydra.sweeper.direction={direction}: choose {' or '.join(DIRECTIONS)}")
    if sampler not in SAMPLERS:
        raise SearchError(f"hydra.sweeper.sampler={sampler}: choose one of {', '.join(SAMPLERS)}")
    for name, n in (("n_trials", n_trials), ("n_jobs", n_jobs)):
        if not isinstance(n, int) or n < 1:
            raise SearchError(f"hydra.sweeper.{name}={n}: must be an integer >= 1")


def make_sampler(name: str, seed: Optional[int]) -> Any:
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)  # constant_liar (Optuna 5's default): batches


def score(summary: dict, epochs: int, objective: str, penalty: Optional[float]) -> tuple:
    """(value, penalized) of a finished run; a SearchError when it cannot be scored."""
    if objective in MILESTONES:
        value = summary.get(objective)
        if value is None:
            return (float(penalty) if penalty is not None else 2.0 * epochs), True
        return float(value), False
    metric = objective.split("/", 1)[1]
    value = (summary.get("final") or {}).get(metric)
    if value is not None:
        return float(value), False
    if penalty is None:
        raise SearchError(
            f"{objective} is null in its summary.json (a non-finite value: the run diverged); "
            "set hydra.sweeper.penalty=VALUE to score such runs"
        )
    return float(penalty), True
