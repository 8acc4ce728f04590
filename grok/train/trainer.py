"""The training loop: a pack of same-shape runs trained together; a lone run is a pack of one.

Members are stacked on a leading axis and run through the very same
``Transformer.forward`` with ``torch.func.functional_call`` under ``torch.vmap``.
We chose vmap over a hand-written member axis so that the model stays a plain
TL-shaped module (hooks, ``run_with_cache``, TL weight shapes) while the pack
still runs as batched kernels; members never interact because the summed loss
has a block-diagonal gradient.

The hot loop never reads a value back to the host: evaluations stay on the
device and are flushed (one transfer) every ``train.log_every`` epochs, at
checkpoints and at the end.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from torch import Tensor
from torch.func import functional_call
from tqdm.auto import tqdm

from grok import hardware
from grok.errors import ConfigError
from grok.logger.local import RunStore, milestones, versions
from grok.measures import build_measures
from grok.measures.phases import phases
from grok.model import Transformer, model_config
from grok.optim import build_optimizer
from grok.task import build_task
from grok.train.data import SplitTensors, stack_splits


def metric_names(task: Any) -> list[str]:
    """Columns of metrics.jsonl: loss and the task's metrics per split, then weight norm."""
    per_split = ("loss", *task.metric_names)
    return [f"{split}_{m}" for split in ("train", "test") for m in per_split] + ["weight_norm"]


@dataclass
class Member:
    """One run of a pack: its own resolved config, run dir, naming and mirrors (W&B)."""

    cfg: DictConfig
    run_dir: Path
    info: dict[str, Any] = field(default_factory=dict)
    sinks: list[Any] = field(default_factory=list)


class PackTrainer:
    def __init__(self, members: list[Member], progress: bool = True):
        if not members:
            raise ValueError("a pack needs at least one member")
        self.members = members
        cfg = members[0].cfg
        self.train_cfg = cfg.train
        self.device = hardware.resolve_device(cfg.hardware)
        hardware.configure(cfg.hardware, self.device)
        self.progress = progress
        self.tasks = [build_task(m.cfg.task) for m in members]
        if len({t.shape_key() for t in self.tasks}) != 1:
            raise ConfigError("a pack's members must share the task's shapes")
        self.task = self.tasks[0]
        self.loss_dtype = getattr(torch, cfg.train.loss_dtype)
        self.template = Transformer(model_config(cfg.model, self.task)).to(self.device)
        self.read_pos = self.task.read_pos
        self.params = self._init_params()
        self.metric_names = metric_names(self.task)
        self.train_data, self.test_data = stack_splits(self.tasks, self.device)
        self.stores = [RunStore(m.run_dir) for m in members]
        self.batch_size = cfg.train.get("batch_size")
        if self.batch_size is not None and len(set(self.train_data.sizes)) != 1:
            raise ConfigError("minibatch packs need equal train sizes (same task.train_frac)")
        steps = (
            1 if self.batch_size is None else math.ceil(self.train_data.sizes[0] / self.batch_size)
        )
        self.optimizer = build_optimizer(
            self.params, [m.cfg.optim for m in members], total_steps=int(cfg.train.epochs) * steps
        )
        self.shuffle_gens = [
            torch.Generator().manual_seed(int(m.cfg.model.seed) * 1_000_003 + t.data_seed)
            for m, t in zip(members, self.tasks, strict=True)
        ]
        self.rows_written = [0] * len(members)
        self.failure: list[str | None] = [None] * len(members)
        self.wall_before = 0.0
        self.epoch = 0
        self.stop_signal: int | None = None
        self.checkpoint_requested = False
        measures_cfg = cfg.get("measures")
        self.measures = build_measures(measures_cfg, self.task)
        self.measure_every = int(measures_cfg.every) if measures_cfg else 0
        self.measure_steps = 0
        self.measured: dict[int, list[dict[str, Any]]] = {}
        self._graph: torch.cuda.CUDAGraph | None = None

    # --- construction ------------------------------------------------------------
    def _init_params(self) -> dict[str, Tensor]:
        """Each member initialised alone from its own model.seed, then stacked."""
        cpu = Transformer(self.template.cfg)
        per_member = []
        for m in self.members:
            cpu.init_weights(int(m.cfg.model.seed))
            per_member.append({k: v.detach().clone() for k, v in cpu.named_parameters()})
        return {
            name: torch.stack([p[name] for p in per_member]).to(self.device).requires_grad_()
            for name in per_member[0]
        }

    def member_model(self, index: int) -> Transformer:
        """A standalone TL-compatible model holding member ``index``'s current weights."""
        model = Transformer(self.template.cfg).to(self.device)
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(self.params[name][index])
        return model

    def member_state_dict(self, index: int) -> dict[str, Tensor]:
        sd = {k: v.detach().cpu().clone() for k, v in self.template.state_dict().items()}
        sd.update({k: v[index].detach().cpu().clone() for k, v in self.params.items()})
        return sd

    # --- math ----------------------------------------------------------------------
    def forward(self, params: dict[str, Tensor], x: Tensor) -> Tensor:
        """Logits [M, n, len(read_pos), C] for inputs [M, n, n_ctx]."""

        def one(p: dict[str, Tensor], tokens: Tensor) -> Tensor:
            return functional_call(self.template, p, (tokens,), {"read_pos": self.read_pos})

        return torch.vmap(one)(params, x)

    def member_losses(self, data: SplitTensors) -> Tensor:
        logits = self.forward(self.params, data.x)
        return data.mean(self.task.loss_terms(logits, data.y, self.loss_dtype))

    def _step(self, data: SplitTensors) -> None:
        loss = self.member_losses(data).sum()  # members independent: block-diagonal grads
        grads = torch.autograd.grad(loss, list(self.params.values()))
        self.optimizer.step(dict(zip(self.params, grads, strict=True)))

    def train_epoch(self) -> None:
        if self.batch_size is None:
            if self._graph is not None:
                self._graph.replay()
            else:
                self._step(self.train_data)
            return
        n = self.train_data.sizes[0]
        order = torch.stack([torch.randperm(n, generator=g) for g in self.shuffle_gens])
        order = order.to(self.device)
        for start in range(0, n, self.batch_size):
            self._step(self.train_data.select(order[:, start : start + self.batch_size]))

    def capture_step(self) -> bool:
        """Record the full-batch step (forward, backward, optimizer) as one CUDA graph.

        One Nanda-sized epoch is a few hundred small kernels; replaying them as a
        graph removes the CPU launch cost that otherwise dominates on a GPU. The
        warm-up steps the capture needs are undone, so numbers match eager mode.
        """
        if self.device.type != "cuda" or self.batch_size is not None:
            return False
        saved = self._snapshot()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):  # lets autograd and the allocator settle before capture
                self._step(self.train_data)
        torch.cuda.current_stream().wait_stream(stream)
        self._restore(saved)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._step(self.train_data)
        self._graph = graph
        return True

    def _snapshot(self) -> list[Tensor]:
        return [t.detach().clone() for t in self._state_tensors()]

    @torch.no_grad()
    def _restore(self, saved: list[Tensor]) -> None:
        for t, value in zip(self._state_tensors(), saved, strict=True):
            t.copy_(value)

    def _state_tensors(self) -> list[Tensor]:
        opt = self.optimizer
        slots = [t for name in self.params for t in opt.state[name].values()]
        return [*self.params.values(), *slots, opt.step_count]

    @torch.no_grad()
    def evaluate(self) -> Tensor:
        """[M, len(metric_names)] on the device (no host sync)."""
        chunk = self.train_cfg.get("eval_batch_size")
        out = []
        for data in (self.train_data, self.test_data):
            totals: dict[str, Tensor] = {}
            for part in data.chunks(chunk):
                outputs = self.forward(self.params, part.x)
                values = {
                    "loss": self.task.loss_terms(outputs, part.y, self.loss_dtype),
                    **self.task.example_metrics(outputs, part.y),
                }
                for name, v in values.items():
                    totals[name] = totals.get(name, 0.0) + part.exact_total(v.double())
            means = {name: t / data.count for name, t in totals.items()}
            means = self.task.finish_metrics(means, data.target_var)
            out += [means["loss"], *(means[m] for m in self.task.metric_names)]
        return torch.stack([*out, self.weight_norms()], dim=1)

    @torch.no_grad()
    def weight_norms(self) -> Tensor:
        """Sum of squared weights per member, in float64.

        Reduced one member at a time: a [M, K] row reduction is split across
        threads differently for M=1, and a lone run must match its packed twin.
        """
        members = range(len(self.members))
        return torch.stack(
            [sum(p[i].double().pow(2).sum() for p in self.params.values()) for i in members]
        )

    # --- loop ---------------------------------------------------------------------
    @contextmanager
    def _stop_on_signals(self):
        """Turn signals into flags the loop reads between epochs (no work in handlers).

        Alone: SIGTERM / SIGINT -> checkpoint and exit (Ctrl-C, kill).
        Under submitit (its USR2 handler is installed): USR2 -> checkpoint, then submitit's
        handler requeues the job; SIGTERM -> checkpoint and keep training, since SLURM sends
        it before a SIGKILL (scontrol requeue, node shutdown) or before USR2 (preemption).
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        usr2 = signal.getsignal(signal.SIGUSR2)
        under_submitit = callable(usr2)
        stops = [signal.SIGINT] + ([signal.SIGUSR2] if under_submitit else [signal.SIGTERM])
        previous = {s: signal.getsignal(s) for s in [*stops, signal.SIGTERM]}
        self._requeue_handler = usr2 if under_submitit else None

        def request_stop(signum: int, frame: Any) -> None:
            self.stop_signal = signum

        def request_checkpoint(signum: int, frame: Any) -> None:
            self.checkpoint_requested = True

        for s in stops:
            signal.signal(s, request_stop)
        if under_submitit:
            signal.signal(signal.SIGTERM, request_checkpoint)
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def fit(self) -> list[dict[str, Any]]:
        """Train to ``train.epochs``; see ``_stop_on_signals`` for what signals do."""
        self._requeue_handler: Any = None
        with self._stop_on_signals():
            summaries = self._fit()
        if self.stop_signal == signal.SIGUSR2 and self._requeue_handler is not None:
            self._requeue_handler(signal.SIGUSR2, None)  # submitit: checkpoint() + requeue + exit
        if self.stop_signal is not None:
            raise SystemExit(128 + self.stop_signal)
        return summaries

    def _fit(self) -> list[dict[str, Any]]:
        tc = self.train_cfg
        epochs = int(tc.epochs)
        start = self._resume()
        for member in self.members:
            for sink in member.sinks:
                sink.start()
        if start < epochs and self.train_cfg.get("cuda_graph", True):
            self.capture_step()
        t0 = time.perf_counter()
        pending: list[tuple[int, Tensor]] = []
        if start == 0:
            for store, m in zip(self.stores, self.members, strict=True):
                store.write_summary(self._summary_base(m, "running"))
            pending.append((0, self.evaluate()))
            self.measure(0)
        bar = tqdm(
            total=epochs,
            initial=start,
            desc=self._desc(),
            unit="ep",
            disable=not self.progress,
            mininterval=1.0,
            dynamic_ncols=True,
        )
        last_bar = start
        for epoch in range(start + 1, epochs + 1):
            self.train_epoch()
            self.epoch = epoch
            is_last = epoch == epochs
            measure_now = bool(self.measures) and (epoch % self.measure_every == 0 or is_last)
            if epoch % tc.eval_every == 0 or is_last or measure_now:
                pending.append((epoch, self.evaluate()))
            if measure_now:
                self.measure(epoch)
            stopping = self.stop_signal is not None
            checkpoint = epoch % tc.checkpoint_every == 0 or is_last or stopping
            checkpoint = checkpoint or self.checkpoint_requested
            if stopping or self.checkpoint_requested:
                for member in self.members:
                    for sink in member.sinks:
                        sink.interrupted()
            self.checkpoint_requested = False
            if epoch % tc.log_every == 0 or checkpoint:
                wall = self.wall_before + time.perf_counter() - t0
                self._flush(pending, bar, epoch - last_bar, wall)
                pending, last_bar = [], epoch
            if checkpoint:
                self._checkpoint(epoch, self.wall_before + time.perf_counter() - t0)
            if stopping:
                break
        bar.close()
        wall = self.wall_before + time.perf_counter() - t0
        return [self._finalize(i, wall, self.epoch - start) for i in range(len(self.members))]

    def measure(self, epoch: int) -> None:
        """Run the progress measures (between epochs; their values join this epoch's rows)."""
        step, self.measure_steps = self.measure_steps, self.measure_steps + 1
        rows: list[dict[str, Any]] = [{} for _ in self.members]
        for measure in self.measures:
            if step % measure.every_factor:
                continue
            for row, values in zip(rows, measure.compute(self), strict=True):
                row.update(values)
        self.measured[epoch] = rows

    def _desc(self) -> str:
        name = self.members[0].cfg.task.name
        return name if len(self.members) == 1 else f"{name} x{len(self.members)}"

    def _flush(
        self, pending: list[tuple[int, Tensor]], bar: Any, advance: int, wall: float
    ) -> None:
        if not pending:
            bar.update(advance)
            return
        values = torch.stack([v for _, v in pending]).cpu().tolist()  # the one host sync
        epochs = [e for e, _ in pending]
        for i, store in enumerate(self.stores):
            rows = [
                {
                    "epoch": e,
                    **dict(zip(self.metric_names, v[i], strict=True)),
                    **self.measured.get(e, [{}] * len(self.members))[i],
                    "wall_seconds": wall,
                }
                for e, v in zip(epochs, values, strict=True)
            ]
            store.append_metrics(rows)
            for sink in self.members[i].sinks:
                sink.log(rows)
            self.rows_written[i] += len(rows)
            if self.failure[i] is None:
                bad = next((r["epoch"] for r in rows if not math.isfinite(r["train_loss"])), None)
                if bad is not None:
                    self.failure[i] = f"diverged: non-finite train loss at epoch {bad}"
        for e in epochs:
            self.measured.pop(e, None)
        latest = [dict(zip(self.metric_names, v, strict=True)) for v in values[-1]]
        goal = self.task.milestone
        key = f"test_{goal.metric}"
        if len(self.members) == 1:
            row = latest[0]
            shown = ["train_loss", "test_loss", f"train_{goal.metric}", key]
            bar.set_postfix({k: f"{row[k]:.3g}" for k in shown}, refresh=False)
        else:
            grokked = sum(goal.reached(r[key]) for r in latest)
            bar.set_postfix(grokked=f"{grokked}/{len(latest)}", refresh=False)
        bar.update(advance)

    # --- checkpoints and resume ------------------------------------------------------
    def _checkpoint(self, epoch: int, wall: float) -> None:
        tc = self.train_cfg
        for i, store in enumerate(self.stores):
            state = {
                "optimizer": self.optimizer.member_state(i),
                "shuffle_rng": self.shuffle_gens[i].get_state(),
                "metrics_rows": self.rows_written[i],
                "wall_seconds": wall,
                "failure": self.failure[i],
            }
            store.save_checkpoint(epoch, self.member_state_dict(i), state)
            store.prune(tc.get("keep_checkpoints", 1), tc.get("keep_weights"))

    def _resume(self) -> int:
        mode = self.train_cfg.get("resume", "auto")
        if mode is False or mode == "false":
            for store in self.stores:
                store.clear()
            return 0
        common = set.intersection(*(set(s.resumable_epochs()) for s in self.stores))
        common = {e for e in common if e <= int(self.train_cfg.epochs)}
        if not common:
            if mode is True or mode == "true":
                dirs = ", ".join(str(s.dir) for s in self.stores)
                raise ConfigError(f"train.resume=true but no checkpoint to resume in {dirs}")
            for store in self.stores:
                store.clear()
            return 0
        epoch = max(common)
        with torch.no_grad():
            for i, store in enumerate(self.stores):
                weights, state = store.load_checkpoint(epoch)
                for name, p in self.params.items():
                    p[i].copy_(weights[name].to(self.device))
                self.optimizer.load_member_state(i, state["optimizer"])
                self.shuffle_gens[i].set_state(state["shuffle_rng"])
                self.rows_written[i] = state["metrics_rows"]
                self.failure[i] = state.get("failure")
                store.truncate_metrics(state["metrics_rows"])
                self.wall_before = max(self.wall_before, state["wall_seconds"])
        self.epoch = epoch
        return epoch

    # --- summaries -------------------------------------------------------------------
    def _summary_base(self, member: Member, status: str) -> dict[str, Any]:
        cfg = member.cfg
        return {
            "status": status,
            "task": cfg.task.name,
            "seeds": {"data_seed": int(cfg.task.data_seed), "model_seed": int(cfg.model.seed)},
            "device": hardware.describe(self.device),
            "versions": versions(),
            "pack": {"size": len(self.members), "index": self.members.index(member)},
        }

    def _finalize(self, i: int, wall: float, trained_epochs: int) -> dict[str, Any]:
        store, member = self.stores[i], self.members[i]
        rows = store.read_metrics()
        final = {k: rows[-1][k] for k in self.metric_names} if rows else {}
        status = "failed" if self.failure[i] else "done"
        if self.stop_signal is not None and self.epoch < int(self.train_cfg.epochs):
            status = "interrupted"
        summary = self._summary_base(member, status)
        summary.update(
            {
                "epochs": self.epoch,
                "final": final,
                **milestones(rows, self.task.milestone),
                "phases": phases(rows, milestones(rows, self.task.milestone)),
                "wall_seconds": wall,
                "epochs_per_second": trained_epochs / max(wall - self.wall_before, 1e-9)
                if trained_epochs
                else None,
            }
        )
        if self.failure[i]:
            summary["failure"] = self.failure[i]
        store.write_summary(summary)
        for sink in member.sinks:
            sink.finish(summary)
        return summary


def train_pack(members: list[Member], progress: bool = True) -> list[dict[str, Any]]:
    return PackTrainer(members, progress=progress).fit()
