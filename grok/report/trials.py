"""The trials of an Optuna search (``hydra/sweeper=grok_optuna``), from the sweep dir's
``optuna.db``: the objective against the trial number with the best so far, and against each
searched value (a log axis where the search was log-uniform), plus a table of the trials.

Trials scored by the penalty (runs that never reached the objective, e.g. never grokked) are
drawn apart in grey: their value is a rule, not a measurement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grok.report.spec import Figure, Panel, Series, Table

STUDY_DB = "optuna.db"  # hydra_plugins/grok_launcher/optuna_sweeper.py writes it
PENALIZED = "penalty (objective never reached)"


def trials_report(sweep_dir: Path) -> tuple[list[Figure], list[Table]]:
    """One figure and one table per study in ``sweep_dir/optuna.db`` (none without one)."""
    db = Path(sweep_dir) / STUDY_DB
    if not db.is_file():
        return [], []
    # deferred: optuna (and SQLAlchemy) load only for a sweep dir that holds a study
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{db.resolve()}"
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    figures, tables = [], []
    for i, name in enumerate(names):
        study = optuna.load_study(study_name=name, storage=storage)
        suffix = f"_{i}" if len(names) > 1 else ""
        figures.append(trials_figure(study, f"optuna_trials{suffix}"))
        tables.append(trials_table(study, f"optuna_trials{suffix}"))
    return figures, tables


def _complete(study: Any) -> list[Any]:
    return [t for t in study.trials if t.state.name == "COMPLETE"]


def _objective(study: Any) -> str:
    return (study.user_attrs.get("grok.setup") or {}).get("objective", "value")


def _split(trials: list[Any], x: Any) -> list[Series]:
    """Measured and penalized trials as two scatter series at x(trial)."""
    out = []
    for label, color, penalized in (("trials", None, False), (PENALIZED, "#888888", True)):
        chosen = [t for t in trials if bool(t.user_attrs.get("grok.penalized")) == penalized]
        if chosen:
            xs, ys = [x(t) for t in chosen], [t.value for t in chosen]
            text = [str(t.number) for t in chosen]
            out.append(Series(xs, ys, label, kind="scatter", color=color, text=text))
    return out


def trials_figure(study: Any, name: str = "optuna_trials") -> Figure:
    objective, done = _objective(study), _complete(study)
    maximize = study.direction.name == "MAXIMIZE"
    history = Panel(f"{objective} per trial", "trial", objective)
    history.series = _split(done, lambda t: t.number)
    xs, line = [], []  # a step line: flat until a trial beats the best so far
    for t in sorted(done, key=lambda t: t.number):
        better = not line or (t.value > line[-1] if maximize else t.value < line[-1])
        if better and line:
            xs.append(t.number)
            line.append(line[-1])
        xs.append(t.number)
        line.append(t.value if better else line[-1])
    if done:
        history.series.append(Series(xs, line, "best so far", color="#000000"))
    panels = [history]
    for key, dist in (done[-1].distributions if done else {}).items():
        have = [t for t in done if key in t.params]
        choices = getattr(dist, "choices", None)
        panel = Panel(f"{objective} vs {key}", key, objective, logx=bool(getattr(dist, "log", 0)))
        if choices is not None:
            panel.categorical_x, panel.xticks = True, [str(c) for c in choices]
            panel.series = _split(have, lambda t, k=key: str(t.params[k]))
        else:
            panel.series = _split(have, lambda t, k=key: t.params[k])
        panels.append(panel)
    counts: dict[str, int] = {}
    for t in study.trials:
        state = "failed" if t.state.name == "FAIL" else t.state.name.lower()
        counts[state] = counts.get(state, 0) + 1
    said = ", ".join(f"{n} {state}" for state, n in counts.items())
    way = "maximize" if maximize else "minimize"
    title = (
        f"Optuna study {study.study_name}: {way} {objective}, {len(study.trials)} trials ({said})"
    )
    return Figure(name, title, panels)


def trials_table(study: Any, name: str = "optuna_trials") -> Table:
    """Every trial: its state, value (penalized or not), searched values and run dir."""
    keys = list(dict.fromkeys(k for t in study.trials for k in t.params))
    rows = [
        [
            t.number,
            t.state.name.lower(),
            t.value,
            "yes" if t.user_attrs.get("grok.penalized") else "",
            *(t.params.get(k) for k in keys),
            Path(t.user_attrs.get("grok.run_dir", "")).name,
        ]
        for t in study.trials
    ]
    columns = ["trial", "state", _objective(study), "penalized", *keys, "run dir"]
    return Table(name, f"Optuna trials of {study.study_name}", columns, rows)
