"""Mirror a run to Weights & Biases. The local run dir stays the source of truth.

One W&B run per grok run (also inside a fused pack): a stable id saved in the run
dir with ``resume="allow"`` so a requeued job continues the same W&B run;
``epoch`` is the step metric; the summary carries ``grok_epoch``,
``memorization_epoch`` and the final metrics so sweeps compare in the W&B UI.
Any W&B failure (no network, bad key, quota) disables the sink with one warning
and never stops training.

``logger.mode: auto`` is online only when an API key is configured
(``WANDB_API_KEY`` or a netrc entry), else offline: nothing ever waits on a login
prompt. Online, the server is asked once per process whether it answers within
``logger.init_timeout`` seconds; if not (a compute node without internet), every run of
the process logs offline, with one warning. Offline runs land in ``<run dir>/wandb/``
and upload later with ``wandb sync <run dir>/wandb/offline-run-*``.

SLURM signals every process of a job step, W&B's helper process included: after a
SIGTERM it is gone and later rows vanish without an error. So offline runs are
written when a training segment ends, replayed from the local store (no W&B
process is alive while SLURM may signal), and online runs that saw a signal are
not trusted: the next segment logs their rows again. A segment killed while writing
its offline run leaves a partial file; the next segment deletes it before replaying
those rows, so every row lands in exactly one complete offline run (``wandb sync``
uploads each once).
"""

from __future__ import annotations

import logging
import netrc
import os
import shutil
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from omegaconf import OmegaConf

from grok import checks
from grok.store import RunStore
from grok.store.files import atomic_write_bytes

log = logging.getLogger(__name__)

MODES = ("auto", "online", "offline", "disabled")
ID_FILE = "wandb_id"
LOGGED_FILE = "wandb_logged_epoch"  # the last epoch W&B has for sure, then complete offline runs


def problems(cfg: Any) -> list[str]:
    if cfg.get("name") != "wandb":
        return []
    errors = checks.choice("logger.mode", cfg.get("mode"), MODES)
    # inf is allowed: wait as long as the server takes
    errors += checks.number(
        "logger.init_timeout",
        cfg.get("init_timeout"),
        gt=0,
        finite=False,
        text="must be a number of seconds > 0",
    )
    return errors


def has_api_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host or "") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def resolve_mode(mode: str) -> str:
    env = os.environ.get("WANDB_MODE")
    if mode == "auto":
        if env in ("online", "offline", "disabled"):
            return env
        return "online" if has_api_key() else "offline"
    return mode


_REACHABLE: dict[str, bool] = {}


def reachable(timeout: float) -> bool:
    """Whether the W&B server answers at all (any HTTP status), asked once per process: with
    a key configured but no network, every member's ``wandb.init`` would otherwise wait out
    its own timeout, one after another, before training starts."""
    url = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
    if url not in _REACHABLE:
        try:
            urllib.request.urlopen(url, timeout=timeout).close()
            ok = True
        except urllib.error.HTTPError:  # it answered
            ok = True
        except (OSError, ValueError):
            ok = False
        if not ok:
            log.warning(
                f"W&B: {url} did not answer within {timeout:g} s (logger.init_timeout); logging "
                "offline to <run dir>/wandb/ (upload later with `wandb sync`)"
            )
        _REACHABLE[url] = ok
    return _REACHABLE[url]


def forget_inherited_service() -> None:
    """Drop a W&B service address (``WANDB_SERVICE``) this process inherited instead of
    started: from a notebook or test that used W&B and then launched grok, passed on by
    SLURM with the submitter's environment. Every segment of a requeued job would share that
    service; a segment killed mid-write leaves its run id registered there, and the next
    segment's ``wandb.init`` fails with "run ID ... is in use". Its token names the process
    that started it (``<version>-<pid>-...``)."""
    token = os.environ.get("WANDB_SERVICE", "")
    if token and token.split("-")[1:2] != [str(os.getpid())]:
        del os.environ["WANDB_SERVICE"]


class WandbSink:
    """Receives a run's metric rows at each flush and its summary at the end."""

    def __init__(self, cfg: Any, run_dir: Path, info: dict[str, Any]):
        self.cfg = cfg.logger
        self.full_cfg = cfg
        self.run_dir = Path(run_dir)
        self.info = info
        self.run: Any = None
        self.logged_epoch = -1
        self.deferred = False  # offline: write the W&B run when the segment ends
        self.trusted = True  # false once a signal may have killed W&B's helper process
        self.complete: list[str] = []  # offline runs fully written (see _read_logged)

    def _guard(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except Exception as e:  # W&B trouble must never stop training
            log.warning(f"W&B {what} failed ({e!r}); continuing with local outputs only")
            self.run = None
            return None

    def run_id(self) -> str:
        """Stable across requeues: saved in the run dir the first time."""
        path = self.run_dir / ID_FILE
        if path.exists():
            return path.read_text().strip()
        run_id = uuid.uuid4().hex[:12]
        path.write_text(run_id + "\n")
        return run_id

    def start(self) -> None:
        self.mode = resolve_mode(str(self.cfg.mode))
        if self.mode == "disabled":
            return
        if self.mode == "online" and not reachable(self.timeout):
            self.mode = "offline"
        self.logged_epoch, self.complete = self._read_logged()
        self.deferred = self.mode == "offline"
        if not self.deferred:
            self._open()
            if self.run is None:  # online init failed or timed out: this run logs offline
                self.mode, self.deferred = "offline", True

    @property
    def timeout(self) -> float:
        return float(self.cfg.init_timeout)

    def _read_logged(self) -> tuple[int, list[str]]:
        path = self.run_dir / LOGGED_FILE
        if not path.exists():
            return -1, []
        first, *complete = path.read_text().split()
        return int(first), complete

    def _drop_partial_offline_runs(self) -> None:
        """Offline runs of this id that no segment finished writing: a SIGKILL cut them
        short; their rows come after ``logged_epoch`` and are about to be replayed."""
        for path in sorted((self.run_dir / "wandb").glob(f"offline-run-*-{self.run_id()}")):
            if path.name not in self.complete:
                log.warning(f"W&B: removing {path.name}, cut short by a kill; replaying its rows")
                shutil.rmtree(path, ignore_errors=True)

    def interrupted(self) -> None:
        """A signal reached the job: W&B's helper process may be dead (see module doc)."""
        self.trusted = False

    def config(self) -> dict[str, Any]:
        """The resolved config, plus the sweep's swept values under ``swept`` (one key per
        swept override, as typed: ``optim.wd``, ``task``) for grouping and parallel
        coordinates in the W&B UI."""
        config = OmegaConf.to_container(self.full_cfg, resolve=True)
        assert isinstance(config, dict)
        if self.info.get("swept"):
            config["swept"] = dict(self.info["swept"])
        return config

    def _open(self) -> None:
        mode = self.mode
        if self.deferred:
            self._drop_partial_offline_runs()

        def init() -> Any:
            import wandb

            forget_inherited_service()

            run = wandb.init(
                project=self.cfg.project,
                entity=self.cfg.get("entity"),
                group=self.cfg.get("group") or self.info.get("group"),
                job_type=self.info.get("job_type"),
                name=self.info.get("name"),
                notes=self.full_cfg.get("notes"),
                tags=[*self.cfg.tags, *self.info.get("tags", [])],
                config=self.config(),
                id=self.run_id(),
                resume="allow",
                dir=str(self.run_dir),
                mode=mode,
                reinit="create_new",  # several runs open at once in a fused pack
                settings=wandb.Settings(
                    silent=True,
                    console="off",
                    x_disable_stats=True,
                    init_timeout=self.timeout,
                ),
            )
            run.define_metric("epoch")
            run.define_metric("*", step_metric="epoch")
            return run

        self.run = self._guard("init", init)
        # Resuming: replay what the local store holds (up to the checkpoint) and W&B may lack.

        self._send(RunStore(self.run_dir).read_metrics())

    def log(self, rows: list[dict[str, Any]]) -> None:
        if not self.deferred:  # deferred: the local store has them; written at finish
            self._send(rows)

    def _send(self, rows: list[dict[str, Any]]) -> None:
        """Rows of a previous segment that finished normally are skipped; rows of an
        interrupted segment are sent again (see ``finish``)."""
        if self.run is None:
            return
        fresh = [r for r in rows if r["epoch"] > self.logged_epoch]
        if not fresh:
            return

        def send() -> None:
            for row in fresh:  # lists (key frequencies, spectra) stay in the local store
                self.run.log({k: v for k, v in row.items() if not isinstance(v, list)})
            self.logged_epoch = fresh[-1]["epoch"]

        self._guard("log", send)

    def catch_up(self, summary: dict[str, Any]) -> None:
        """A finished run met again (a rerun, a requeued job): if a kill cut its mirror short
        after the run dir was complete, replay what W&B lacks; else do nothing."""
        logged, _ = self._read_logged()
        if resolve_mode(str(self.cfg.mode)) == "disabled" or logged >= summary.get("epochs", 0):
            return
        self.start()
        self.finish(summary)

    def finish(self, summary: dict[str, Any]) -> None:
        if self.deferred:
            self._open()  # replays the local store up to now
        if self.run is None:
            return
        run = self.run
        durable = self.deferred or (self.trusted and summary["status"] == "done")
        offline_dir = Path(run.dir).parent.name if self.deferred else None

        def close() -> None:
            run.summary.update(
                {
                    "status": summary["status"],
                    "grok_epoch": summary.get("grok_epoch"),
                    "memorization_epoch": summary.get("memorization_epoch"),
                    "epochs": summary.get("epochs"),
                    "wall_seconds": summary.get("wall_seconds"),
                    **{f"final/{k}": v for k, v in summary.get("final", {}).items()},
                    **{f"phases/{k}": v for k, v in summary.get("phases", {}).items()},
                }
            )
            if summary["status"] == "interrupted" and hasattr(run, "mark_preempting"):
                run.mark_preempting()  # requeued jobs resume this W&B run under the same id
            run.finish(exit_code=1 if summary["status"] == "failed" else 0)
            # Rows a later segment may skip: all of a deferred (offline) write; for a live run
            # only if no signal may have killed W&B's helper before it wrote them.
            if durable:  # one atomic write: the epoch and the offline run it is in
                complete = [*self.complete, *([offline_dir] if offline_dir else [])]
                text = "\n".join([str(self.logged_epoch), *complete]) + "\n"
                atomic_write_bytes(self.run_dir / LOGGED_FILE, text.encode())
                self.complete = complete

        self._guard("finish", close)
        self.run = None
