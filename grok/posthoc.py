"""``grok measure``: the Fourier suite on every saved checkpoint, with the final model's key
frequencies, as Nanda et al. (2023) compute their progress measures; for a run that measures
``pizza`` online, Zhong et al.'s Clock/Pizza values of each checkpoint join its row. A
``task=group`` run gets Chughtai et al.'s ``irreps/*`` values, with the final model's key
irreps (as their training runs fix ``key_reps``).

Why post hoc. During training each measured epoch can only use its own key frequencies
(``fourier/key_freqs``): the final model does not exist yet. Nanda et al. and seed 001 fix
one key set, the final model's (seed 001: ``key_freqs = [1, 5, 34]``, read off the trained
embedding), and evaluate the restricted and excluded loss on every saved checkpoint with it.
An early checkpoint's own key set is not the one the final circuit uses (or is empty), so
only the fixed set measures how much of the final algorithm each checkpoint holds. This
module recomputes ``fourier_values`` on every ``checkpoints/weights_*.pt`` of each modular
run, loaded through ``grok.store.load_checkpoint``.

The file, ``<run dir>/measures_posthoc.jsonl`` (``grok.store.POSTHOC``): one strict-JSON row
per checkpoint epoch, in epoch order, each saying which key set it used: ``keys`` (the spec:
``final``, ``online`` or ``1,5,34``), ``keys_used`` (the frequencies the restricted and
excluded losses and ``residual_key`` were computed with), ``keys_epoch`` (for ``final``: the
checkpoint they come from), then the ``fourier/*`` values under their online names
(``fourier/key_freqs`` stays each checkpoint's own). ``metrics.jsonl`` is never touched.

Resuming. A row is kept when it was computed with the key set asked for now (same ``keys``
and ``keys_used``); every other checkpoint is computed and appended as it finishes, so an
interrupted call loses at most one row, and a rerun computes only new checkpoints (the file
is not rewritten when nothing changed). A torn last line is dropped (``read_jsonl``) and
recomputed. The file holds one key set at a time: another ``--keys``, or a final key set
that moved because training went on, rewrites it and recomputes every row. Rows outlive
their checkpoints (``train.keep_weights`` may prune them later); a run started over
(``train.resume=false``) deletes the file with its checkpoints (``RunStore.clear``).

Batching. Work is grouped by epoch and by shapes (``pack_key`` and the op, which fixes the
pairs fed to the model), the unit a fused forward would take. Within a group this loops
over the runs: on CPU ``torch.vmap`` over stacked checkpoints is slower than the loop (4
Nanda models, 4,000 pairs: 187 ms against 122-175 ms on 1 thread, 430 against 235-260 ms
on 2; 2026-11), the forward is already one large matmul per chunk, and each run's values
then equal ``fourier_values`` on its own checkpoint exactly. On a GPU, ``measure_batch`` is
where a vmapped forward (as ``PackTrainer`` does) with lockstep ``nanda.accumulate`` would go.

Training alongside. ``grok measure`` may run while the run trains: it holds its own lock on
each run dir (``.grok_measure.lock``, so two calls never write one file twice; a run another
call holds is skipped with one line), and a checkpoint that ``train.keep_weights`` prunes
between planning and loading is skipped with one line.

Cost: one ``fourier_values`` call per checkpoint (see ``grok/measures/nanda.py``) plus a load.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from tqdm.auto import tqdm

from grok.keys import UnknownKey, flat_config
from grok.measures.fourier import op_group
from grok.measures.irreps import IrrepMeasure, irrep_values
from grok.measures.modular import FourierMeasure, fourier_values, key_freq_list, model_forward
from grok.measures.pizza import PizzaMeasure
from grok.packing import pack_key
from grok.store import POSTHOC, DamagedFile, RunStore, find_runs, load_checkpoint, read_jsonl
from grok.store.files import atomic_write_bytes, jsonl_lines
from grok.store.lock import MEASURE_LOCK, RunDirBusy, RunLock
from grok.task import build_task


@dataclass(frozen=True)
class KeySpec:
    """``final`` (the newest checkpoint's key frequencies), ``online`` (each checkpoint's
    own) or a fixed list of frequencies."""

    mode: str
    freqs: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> KeySpec:
        text = text.strip()
        if text in ("final", "online"):
            return cls(text)
        try:
            freqs = sorted({int(k) for k in text.split(",") if k.strip()})
        except ValueError:
            freqs = []
        if not freqs or freqs[0] < 1:
            raise ValueError(f"--keys {text!r}: use final, online, or frequencies like 1,5,34")
        return cls("list", tuple(freqs))

    @property
    def label(self) -> str:
        return ",".join(map(str, self.freqs)) if self.mode == "list" else self.mode


@dataclass
class RunWork:
    """One run's part of a ``grok measure`` call."""

    dir: Path
    spec: KeySpec
    group: tuple  # runs with equal groups could share a fused forward
    keys: list[Any] | None  # the fixed key set, frequencies or irreps (None: each's own)
    keys_epoch: int | None
    kept: list[dict[str, Any]] = field(default_factory=list)
    todo: list[int] = field(default_factory=list)
    rewrite: bool = False  # the file holds more than ``kept`` (written once all runs planned)

    @property
    def file(self) -> Path:
        return self.dir / POSTHOC

    def annotate(self, epoch: int, values: dict[str, Any]) -> dict[str, Any]:
        own = values.get("fourier/key_freqs", values.get("irreps/key_irreps"))
        used = self.keys if self.keys is not None else own
        head = {"keys": self.spec.label, "keys_used": used, "keys_epoch": self.keys_epoch}
        return {"epoch": epoch, **head, **values}


_BUSY = "another grok measure is measuring it"


class BadKeys(ValueError):
    """``--keys`` names a frequency a run does not have."""


def plan_measure(
    run_dir: Path, config: dict[str, Any], spec: KeySpec, device: str
) -> RunWork | str:
    """The work for one run dir, or why there is none ('not modular', 'no checkpoints').
    Reads the run dir only: nothing is written before every run is planned."""
    if "task" not in config:
        return "no config.yaml"
    task = build_task(OmegaConf.create(config["task"]))
    irreps_run = IrrepMeasure().applies(task)
    if not (FourierMeasure().applies(task) or irreps_run):
        return "not modular"
    epochs = RunStore(run_dir).checkpoint_epochs("weights")
    if not epochs:
        return "no checkpoints"
    if irreps_run and spec.mode == "list":
        raise BadKeys(f"--keys {spec.label}: {run_dir} is a group run: use final or online")
    group = None if irreps_run else op_group(task.op, task.p)
    n_freqs = group.n_freqs if group else task.p // 2 if not irreps_run else 0
    if spec.mode == "list" and spec.freqs[-1] > n_freqs:
        raise BadKeys(f"--keys {spec.label}: {run_dir} has frequencies 1..{n_freqs} only")
    keys, keys_epoch = (list(spec.freqs), None) if spec.mode == "list" else (None, None)
    if spec.mode == "final":
        newest = _newest_readable(run_dir, epochs, device)
        if newest is None:
            return "no readable checkpoint"
        keys, keys_epoch = _final_keys(newest), newest.epoch
    work = RunWork(run_dir, spec, _batch_group(config, task), keys, keys_epoch)
    work.kept, work.rewrite = _kept_rows(work)
    done = {r["epoch"] for r in work.kept}
    epochs = RunStore(run_dir).checkpoint_epochs("weights")  # training may have moved on
    work.todo = [e for e in epochs if e not in done]
    return work


def _newest_readable(run_dir: Path, epochs: list[int], device: str) -> Any:
    """The newest checkpoint that loads. A run still training may prune the one listed
    (``train.keep_weights``) before it is read: then the list is read again."""
    damaged: set[int] = set()
    for _ in range(100):
        candidates = [e for e in epochs if e not in damaged]
        if not candidates:
            return None
        try:
            return load_checkpoint(run_dir, candidates[-1], device=device)
        except (DamagedFile, FileNotFoundError) as e:
            if RunStore(run_dir).checkpoint_path("weights", candidates[-1]).exists():
                print(f"grok measure: {e}; the final keys come from an older checkpoint")
                damaged.add(candidates[-1])
            else:
                epochs = RunStore(run_dir).checkpoint_epochs("weights")
    return None


def _final_keys(ckpt: Any) -> list[Any]:
    """The key set of a run's newest checkpoint: frequencies, or a group run's irreps."""
    if IrrepMeasure().applies(ckpt.task):
        params = dict(ckpt.model.named_parameters())
        return irrep_values(ckpt.task, params, ckpt.model)["irreps/key_irreps"]
    return key_freq_list(ckpt.task, ckpt.model)


def _batch_group(config: dict[str, Any], task: Any) -> tuple:
    try:
        return (pack_key(flat_config(config)), getattr(task, "op", None))
    except UnknownKey:  # a config from another version of grok: never batched with others
        return (id(config),)


def _kept_rows(work: RunWork) -> tuple[list[dict[str, Any]], bool]:
    """Rows of the file computed with this key set (with a current ``keys_epoch``), and
    whether the file holds anything else (then it is rewritten to hold just them)."""
    if not work.file.exists():
        return [], False
    try:
        rows = read_jsonl(work.file)
    except DamagedFile as e:
        print(f"grok measure: {e}; recomputing {work.file.name}")
        rows = []
    kept: dict[int, dict[str, Any]] = {}
    for row in rows:
        used = row.get("keys_used")
        same = row.get("keys") == work.spec.label and (work.keys is None or used == work.keys)
        if same and isinstance(row.get("epoch"), int):
            kept.setdefault(row["epoch"], row | {"keys_epoch": work.keys_epoch})
    ordered = [kept[e] for e in sorted(kept)]
    return ordered, jsonl_lines(ordered).encode() != work.file.read_bytes()


def batches(works: list[RunWork]) -> Iterator[list[tuple[RunWork, int]]]:
    """(run, epoch) pairs, grouped by epoch and shapes, in epoch order."""
    grouped: dict[tuple, list[tuple[RunWork, int]]] = defaultdict(list)
    for work in works:
        for epoch in work.todo:
            grouped[(epoch, repr(work.group))].append((work, epoch))
    for key in sorted(grouped, key=lambda k: k[0]):
        yield grouped[key]


@torch.no_grad()
def measure_batch(
    batch: list[tuple[RunWork, int]], device: str, say: Callable[[str], None] = print
) -> list[dict[str, Any] | None]:
    """Rows for same-shape checkpoints of one epoch (a loop on CPU: module docstring); None
    for a checkpoint training pruned since it was planned."""
    rows: list[dict[str, Any] | None] = []
    for work, epoch in batch:
        try:
            ckpt = load_checkpoint(work.dir, epoch, device=device)
        except (DamagedFile, FileNotFoundError):
            if RunStore(work.dir).checkpoint_path("weights", epoch).exists():
                raise
            say(f"grok measure: {work.dir}: epoch {epoch} was pruned by training "
                "(train.keep_weights) before it was measured; skipped")  # fmt: skip
            rows.append(None)
            continue
        params = dict(ckpt.model.named_parameters())
        if IrrepMeasure().applies(ckpt.task):
            values = irrep_values(ckpt.task, params, ckpt.model, work.keys)
            rows.append(work.annotate(epoch, values))
            continue
        forward = model_forward(ckpt.model, ckpt.task)
        values = fourier_values(ckpt.task, params, forward, ckpt.model, key_freqs=work.keys)
        if "pizza" in (ckpt.config.get("measures") or {}).get("names", []):
            values |= PizzaMeasure.values(ckpt.model, ckpt.task)  # the run measures them
        rows.append(work.annotate(epoch, values))
    return rows


def measure(
    path: Path,
    spec: KeySpec,
    device: str = "cpu",
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> list[RunWork]:
    """Write ``measures_posthoc.jsonl`` for every modular run at or below ``path``; returns
    the runs measured. Every run is planned (and ``--keys`` checked) before any is measured;
    ``RunDirBusy`` when another ``grok measure`` holds every run."""
    locks: list[RunLock] = []
    try:
        return _measure_locked(find_runs(path), spec, device, progress, say, locks)
    finally:
        for lock in locks:
            lock.release()


def _measure_locked(
    runs: list[Any],
    spec: KeySpec,
    device: str,
    progress: bool,
    say: Callable[[str], None],
    locks: list[RunLock],
) -> list[RunWork]:
    works, skipped, bad = [], defaultdict(list), []
    for run in runs:
        lock = RunLock(run.dir, MEASURE_LOCK)
        try:
            lock.acquire()
        except RunDirBusy:
            skipped[_BUSY].append(run.name)
            continue
        locks.append(lock)
        try:
            planned = plan_measure(run.dir, run.raw_config, spec, device)
        except BadKeys as e:
            bad.append(str(e))
            continue
        if isinstance(planned, str):
            skipped[planned].append(run.name)
        else:
            works.append(planned)
    if bad:
        raise BadKeys("\n".join(bad))
    busy = skipped.pop(_BUSY, [])
    if busy and not works and not skipped:
        raise RunDirBusy(f"{_BUSY}: {', '.join(busy)}; wait for it to finish")
    if busy:
        skipped[_BUSY] = busy
    for work in works:
        if work.rewrite:
            atomic_write_bytes(work.file, jsonl_lines(work.kept).encode())
    for reason, names in skipped.items():
        say(f"grok measure: skipped {len(names)} run(s), {reason}: {', '.join(names)}")
    todo = sum(len(w.todo) for w in works)
    kept = sum(len(w.kept) for w in works)
    say(
        f"grok measure: {len(works)} run(s), keys {spec.label}: {todo} checkpoint(s) to "
        f"measure, {kept} already in {POSTHOC}"
    )
    with tqdm(total=todo, disable=not progress or todo == 0, desc="grok measure") as bar:
        for batch in batches(works):
            for (work, _), row in zip(batch, measure_batch(batch, device, say), strict=True):
                if row is not None:
                    with open(work.file, "a") as f:
                        f.write(jsonl_lines([row]))
            bar.update(len(batch))
    for work in works:  # a row kept past a checkpoint measured now (the file was edited)
        if work.kept and work.todo and work.todo[0] < work.kept[-1]["epoch"]:
            rows = sorted(read_jsonl(work.file), key=lambda r: r["epoch"])
            atomic_write_bytes(work.file, jsonl_lines(rows).encode())
    return works
