"""grok ls: the method label, each task's own milestone metric, outputs/ and multirun/ by
default (synthetic run dirs with the real file layout)."""

import json
from pathlib import Path

from grok.cli import main as grok_main
from grok.report import listing


def make_run(run: Path, config: dict, milestone: str, final: dict) -> Path:
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
    (run / "metrics.jsonl").write_text(json.dumps({"epoch": 10, **final}) + "\n")
    summary = {"status": "done", "milestone": {"metric": milestone}, "final": final}
    (run / "summary.json").write_text(json.dumps(summary))
    return run


def modsub(run: Path, method: str = "grokfast_ema") -> Path:
    config = {"task": {"name": "modsub", "p": 47}, "method": method}
    return make_run(run, config, "acc", {"test_acc": 0.97, "test_loss": 0.1})


def test_ls_labels_the_method_and_uses_each_tasks_metric(tmp_path):
    one = modsub(tmp_path / "outputs" / "modsub" / "d" / "12-00-00")
    table = listing(one).splitlines()
    assert table[0].split(" | ")[2] == "method" and "| grokfast_ema |" in table[2]
    assert "test_acc" in table[0] and "0.97" in table[2] and "test_mae" not in table[0]
    sine = {"task": {"name": "sine"}, "method": "baseline"}
    make_run(tmp_path / "outputs" / "sine" / "d" / "12-00-00", sine, "mae", {"test_mae": 0.02})
    both = listing(tmp_path / "outputs").splitlines()
    header = [c.strip() for c in both[0].strip("|").split("|")]
    assert {"method", "test_acc", "test_mae"} <= set(header)
    rows = {r.split(" | ")[0].strip("| "): r for r in both[2:]}
    assert len(rows) == 2  # the same clock-time name twice: each named by its path
    sine_row = next(r for name, r in rows.items() if "/sine/" in name)
    cells = [c.strip() for c in sine_row.strip("|").split("|")]
    assert cells[header.index("test_mae")] == "0.02" and cells[header.index("test_acc")] == ""


def test_ls_without_a_path_lists_outputs_and_multirun(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert grok_main(["ls"]) == 2
    assert "no outputs/ or multirun/" in capsys.readouterr().err
    modsub(tmp_path / "outputs" / "modsub" / "d" / "12-00-00")
    modsub(tmp_path / "multirun" / "modsub" / "d" / "13-00-00" / "0_optim.wd=1.0", "baseline")
    assert grok_main(["ls"]) == 0
    out = capsys.readouterr().out
    assert "12-00-00" in out and "0_optim.wd=1.0" in out
