"""The run dir: files, the one metrics reader, locks, the one loader, the run catalog."""

from grok.store.catalog import Run, find_runs, load_run
from grok.store.files import DamagedFile, read_json, read_jsonl, write_json
from grok.store.load import Checkpoint, load_checkpoint
from grok.store.rundir import CONFIG, METRICS, POSTHOC, SUMMARY, RunStore, versions

__all__ = [
    "CONFIG",
    "METRICS",
    "POSTHOC",
    "SUMMARY",
    "Checkpoint",
    "DamagedFile",
    "Run",
    "RunStore",
    "find_runs",
    "load_checkpoint",
    "load_run",
    "read_json",
    "read_jsonl",
    "versions",
    "write_json",
]
