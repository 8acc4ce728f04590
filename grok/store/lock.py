"""One process per run dir: an exclusive ``flock`` on ``<run dir>/.grok.lock``.

The kernel drops a flock when its process dies (SIGKILL included), so a lock left by a
killed job never blocks a resume; on NFS the server drops it when the dead node's lease
expires. The file records the holder (host, pid, SLURM job, start time) so the error a
second process gets can name it. The file itself stays; holding the lock is what counts.

``holder`` asks, without taking the lock, whether a live process holds it: that is how a
reader tells a run that is training from one whose ``running`` summary a kill left behind.
``grok measure`` holds a second lock of the same kind (``MEASURE_LOCK``) on its own file.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from grok.errors import ConfigError

LOCK = ".grok.lock"
MEASURE_LOCK = ".grok_measure.lock"  # grok measure: one writer of measures_posthoc.jsonl
# A reader's probe (``holder``) holds a shared lock for microseconds; a starting process
# retries for this long before it calls the run dir busy, so a probe never refuses it.
_ACQUIRE_PATIENCE_S = 0.5


class RunDirBusy(ConfigError):
    """Another process is training in this run dir."""


def holder_info() -> dict[str, Any]:
    info = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
    job = os.environ.get("SLURM_JOB_ID")
    if job:
        info["slurm_job"] = job
    return info


class RunLock:
    """Held from the checks before a run dir is written until its training ends.

    flock conflicts between two open files of one process too, so ``claim`` hands out one
    lock object per run dir and process.
    """

    def __init__(self, run_dir: Path, name: str = LOCK):
        self.path = Path(run_dir) / name
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        deadline = time.monotonic() + _ACQUIRE_PATIENCE_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                holder = describe(_read_info(fd))
                os.close(fd)
                raise RunDirBusy(
                    f"{self.path.parent} is in use by another grok process ({holder}); wait "
                    "for it to finish, or stop it, or use another run dir (hydra.run.dir=...)"
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder_info()) + "\n").encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _read_info(fd: int) -> dict[str, Any]:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return info if isinstance(info, dict) else {}


def holder(run_dir: Path, name: str = LOCK) -> dict[str, Any] | None:
    """Who holds ``run_dir``'s lock ({} when the holder did not say), or None when no live
    process does. Probes with a shared lock, which never blocks a holder."""
    path = Path(run_dir) / name
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_info(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def last_holder(run_dir: Path) -> dict[str, Any]:
    """What the lock file says of its last holder (a killed one leaves its line behind)."""
    try:
        fd = os.open(Path(run_dir) / LOCK, os.O_RDONLY)
    except FileNotFoundError:
        return {}
    try:
        return _read_info(fd)
    finally:
        os.close(fd)


def describe(info: dict[str, Any]) -> str:
    if not info:
        return "holder unknown"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("since", 0)))
    job = f", SLURM job {info['slurm_job']}" if info.get("slurm_job") else ""
    return f"pid {info.get('pid')} on {info.get('host')}{job}, since {since}"


_HELD: dict[Path, RunLock] = {}


def claim(run_dir: Path) -> RunLock:
    """This process's lock on ``run_dir``, acquired (``RunDirBusy`` if another holds it)."""
    key = Path(run_dir).resolve()
    lock = _HELD.get(key)
    if lock is None or not lock.held:
        lock = RunLock(key)
        lock.acquire()
        _HELD[key] = lock
    return lock


def release(run_dir: Path) -> None:
    lock = _HELD.pop(Path(run_dir).resolve(), None)
    if lock is not None:
        lock.release()
