"""The run dir: files, the one metrics reader, locks, the resume contract, the one loader."""

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
    "RunStore",
    "load_checkpoint",
    "read_json",
    "read_jsonl",
    "versions",
    "write_json",
]
