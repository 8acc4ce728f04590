"""The training loop: a pack of same-shape runs trained together; a lone run is a pack of one.

Members are stacked on a leading axis and run through the very same
``Transformer.forward`` with ``torch.func.functional_call`` under ``torch.vmap``.
We chose vmap over a hand-written member axis so that the model stays a plain
TL-shaped module (hooks, ``run_with_cache``, TL weight shapes) while the pack
still runs as batched kernels; members never interact because the summed loss
has a block-diagonal gradient.

A member is exactly its own run: its weights are initialised from its own model config,
its optimizer, schedule, evaluation cadence and measures come from its own config
(``Pack.shared`` refuses to hand out a per-member key), measures see it alone through a
``MemberView``, and its metrics rows are those its lone run would write.

The hot loop never reads a value back to the host: evaluations stay on the
device and are flushed (one transfer) every ``train.log_every`` epochs, at
checkpoints and at the end.
"""

from __future__ import annotations

import math
import signal
import time
from typing import Any

import torch
from torch import Tensor
from torch.func import functional_call
from tqdm.auto import tqdm

from grok import hardware
from grok.errors import ConfigError
from grok.measures import build_measures
from grok.measures.base import Examples, MemberView
from grok.model import Transformer, model_config
from grok.model.dropout import DropoutStream, Masks, mask_shapes, pack_masks
from grok.optim import build_optimizer
from grok.store import RunStore
from grok.task import build_task
from grok.train import cuda_graph, resume, stopping
from grok.train.checkpoints import checkpoint_at
from grok.train.data import SplitTensors, stack_splits
from grok.train.pack import Member, Pack
from grok.train.records import evaluate, flush, measure
from grok.train.signals import stop_on_signals


def metric_names(task: Any) -> list[str]:
    """Columns of metrics.jsonl: loss and the task's metrics per split, then weight norm."""
    per_split = ("loss", *task.metric_names)
    return [f"{split}_{m}" for split in ("train", "test") for m in per_split] + ["weight_norm"]


class PackTrainer:
    def __init__(self, members: list[Member], progress: bool = True):
        self.pack = Pack(members)
        self.members = members
        shared = self.pack.shared
        self.device = hardware.resolve_device(shared("hardware.device"))
        hardware.configure(self.device, shared("hardware.threads"), shared("hardware.tf32"))
        self.progress = progress
        self.tasks = [build_task(m.cfg.task) for m in members]
        if len({t.shape_key() for t in self.tasks}) != 1:
            raise ConfigError("a pack's members must share the task's shapes")
        self.task = self.tasks[0]  # for shape-level methods only: loss, metrics, read positions
        self.model_cfgs = [
            model_config(m.cfg.model, t) for m, t in zip(members, self.tasks, strict=True)
        ]
        # The template is a module to call functionally: only its architecture matters, and
        # whether it scales its logits (each member's own scale goes in as a buffer).
        scaled = [c for c in self.model_cfgs if c.logit_scale != 1.0]
        self.template = Transformer((scaled or self.model_cfgs)[0]).to(self.device)
        self.logit_scales = (
            torch.tensor([c.logit_scale for c in self.model_cfgs], device=self.device)
            if scaled
            else None
        )
        # train.loss per member (null: the task's own loss), and which members use each
        self.losses = [m.cfg.train.get("loss") or self.task.losses[0] for m in members]
        self.read_pos = self.task.read_pos
        self.loss_dtype = getattr(torch, shared("train.loss_dtype"))
        self.epochs = int(shared("train.epochs"))
        self.batch_size = shared("train.batch_size")
        # shuffle: an epoch is a pass over the shuffled split; random_batch: an epoch is one
        # step on a fresh random batch (seed 002's new DataLoader iterator at every step).
        self.random_batch = shared("train.sampling", "shuffle") == "random_batch"
        self.log_every = int(shared("train.log_every"))
        self.checkpoint_every = int(shared("train.checkpoint_every"))
        schedule = shared("train.checkpoint_schedule", "linear")
        self.checkpoint_at = checkpoint_at(schedule, self.checkpoint_every)
        self.params = self._init_params()
        self.metric_names = metric_names(self.task)
        self.train_data, self.test_data = stack_splits(self.tasks, self.device)
        # Fused: one vmap over the padded pack (fast on a GPU). Member by member: each member
        # through the very tensors and kernels of its lone run, so pack == alone bit for bit
        # (CPU kernels round a reduction differently when its length or batch changes).
        fuse = shared("train.fuse", "auto")
        self.fused = self.device.type == "cuda" if fuse == "auto" else bool(fuse)
        self.stores = [RunStore(m.run_dir) for m in members]
        if self.batch_size is not None and len(set(self.train_data.sizes)) != 1:
            raise ConfigError("minibatch packs need equal train sizes (same task.train_frac)")
        steps = (
            1
            if self.batch_size is None or self.random_batch
            else math.ceil(self.train_data.sizes[0] / self.batch_size)
        )
        self.steps_per_epoch = steps
        self.steps_done = 0  # optimizer steps so far (host-side: deciding never syncs)
        self.optimizer = self.build_optimizer()
        self.dropouts = [DropoutStream.of(m.cfg.model, self.device) for m in members]
        self.derive()
        self.shuffle_gens = [
            torch.Generator().manual_seed(int(m.cfg.model.seed) * 1_000_003 + t.data_seed)
            for m, t in zip(members, self.tasks, strict=True)
        ]
        self.eval_every = [int(m.cfg.train.eval_every) for m in members]
        self.measures = [
            build_measures(m.cfg.get("measures"), t)
            for m, t in zip(members, self.tasks, strict=True)
        ]
        self.measure_every = [
            int(m.cfg.measures.every) if m.cfg.get("measures") else 0 for m in members
        ]
        self.rows_written = [0] * len(members)
        self.failure: list[str | None] = [None] * len(members)
        self.failed_at: list[int | None] = [None] * len(members)
        self.origin = list(range(len(members)))  # each member's index in ``members``
        self.summaries: dict[int, dict[str, Any]] = {}  # by origin: members that left
        self.stopper = stopping.Stopper(members, self.epochs)
        self.wall_before = 0.0
        self.start_epoch = 0
        self.epoch = 0
        self.stop_signal: int | None = None
        self.checkpoint_requested = False
        self.measured: dict[int, list[dict[str, Any]]] = {}
        self.plans: list[Any] = []  # each member's RunPlan (set by resume.restore)
        self.segments: list[list[dict[str, Any]]] = []  # set when this segment starts writing
        self._graph: torch.cuda.CUDAGraph | None = None

    # --- construction ------------------------------------------------------------
    def derive(self) -> None:
        """What follows from the member list (at construction, and when members leave)."""
        n = len(self.members)
        self.groups = [slice(0, n)] if self.fused else [slice(i, i + 1) for i in range(n)]
        self.loss_masks = {
            name: torch.tensor([name == m for m in self.losses], device=self.device)
            for name in set(self.losses)
        }
        self.any_dropout = any(d.rate > 0 for d in self.dropouts)

    def build_optimizer(self) -> Any:
        return build_optimizer(
            self.params,
            [m.cfg.optim for m in self.members],
            total_steps=self.epochs * self.steps_per_epoch,
            steps_per_epoch=self.steps_per_epoch,
        )

    def _init_params(self) -> dict[str, Tensor]:
        """Each member initialised alone from its own model config (scheme, scale, seed)."""
        per_member = []
        for cfg, m in zip(self.model_cfgs, self.members, strict=True):
            model = Transformer(cfg)
            model.init_weights(int(m.cfg.model.seed))
            per_member.append({k: v.detach().clone() for k, v in model.named_parameters()})
        return {
            name: torch.stack([p[name] for p in per_member]).to(self.device).requires_grad_()
            for name in per_member[0]
        }

    def member_params(self, index: int) -> dict[str, Tensor]:
        return {k: v[index].detach() for k, v in self.params.items()}

    def member_model(self, index: int) -> Transformer:
        """A standalone TL-compatible model holding member ``index``'s current weights."""
        return self.view(index).model

    def member_state_dict(self, index: int) -> dict[str, Tensor]:
        sd = {k: v.detach().cpu().clone() for k, v in self.template.state_dict().items()}
        sd.update({k: v[index].detach().cpu().clone() for k, v in self.params.items()})
        return sd

    def view(self, i: int) -> MemberView:
        """What measures see of member ``i``: its own config, task, weights and split."""
        train, test = self.train_data, self.test_data
        n_train, n_test = train.sizes[i], test.sizes[i]
        return MemberView(
            cfg=self.members[i].cfg,
            task=self.tasks[i],
            model_cfg=self.model_cfgs[i],
            params=self.member_params(i),
            train=Examples(train.x[i, :n_train], train.y[i, :n_train]),
            test=Examples(test.x[i, :n_test], test.y[i, :n_test]),
            epoch=self.epoch,
            device=self.device,
        )

    # --- schedules (host-side integers: deciding never syncs) ------------------------
    def measures_at(self, i: int, epoch: int) -> bool:
        every = self.measure_every[i]
        last = epoch in (self.epochs, self.stopper.at[i])  # a stop known in advance (N >= 1)
        return bool(self.measures[i]) and (epoch % every == 0 or last)

    def evaluates_at(self, i: int, epoch: int) -> bool:
        """Epochs member i evaluates at alone: its rows in metrics.jsonl."""
        last = epoch in (self.epochs, self.stopper.at[i])
        return epoch % self.eval_every[i] == 0 or last or self.measures_at(i, epoch)

    def active(self, i: int) -> bool:
        return self.failure[i] is None

    # --- math ----------------------------------------------------------------------
    def forward(
        self, params: dict[str, Tensor], x: Tensor, group: slice, masks: Masks | None = None
    ) -> Tensor:
        """Logits [M, n, len(read_pos), C] for inputs [M, n, n_ctx] of ``group``; ``masks``:
        dropout masks [M, n, ...] (training steps of members with dropout)."""
        if self.logit_scales is not None:
            params = {**params, "logit_scale": self.logit_scales[group]}
        if masks is not None:

            def dropped(p: dict[str, Tensor], tokens: Tensor, m: Masks) -> Tensor:
                kwargs = {"read_pos": self.read_pos, "dropout": m}
                return functional_call(self.template, p, (tokens,), kwargs)

            return torch.vmap(dropped)(params, x, masks)

        def one(p: dict[str, Tensor], tokens: Tensor) -> Tensor:
            return functional_call(self.template, p, (tokens,), {"read_pos": self.read_pos})

        return torch.vmap(one)(params, x)

    def loss_terms(self, outputs: Tensor, targets: Tensor, group: slice) -> Tensor:
        """Per-example losses [M, n] of ``group``, each member with its own ``train.loss``."""
        names = self.losses[group]
        terms = {n: self.task.loss_terms(outputs, targets, self.loss_dtype, n) for n in set(names)}
        if len(terms) == 1:
            return terms[names[0]]
        out = terms[names[0]]  # a fused group that mixes losses: pick each member's
        for name, value in terms.items():
            mine = self.loss_masks[name][group]
            out = torch.where(mine.view(-1, *([1] * (out.ndim - 1))), value, out)
        return out

    def member_losses(
        self,
        params: dict[str, Tensor],
        data: SplitTensors,
        group: slice,
        masks: Masks | None = None,
    ) -> Tensor:
        logits = self.forward(params, data.x, group, masks)
        return data.mean(self.loss_terms(logits, data.y, group))

    def dropout_masks(self, group: slice, batch: int) -> Masks | None:
        """The group's dropout masks for the next step (None: nobody drops)."""
        if not self.any_dropout:
            return None
        shapes = mask_shapes(self.model_cfgs[0], batch, self.read_pos)
        return pack_masks(self.dropouts[group], self.steps_done, shapes)

    def parts(self, data: SplitTensors) -> list[SplitTensors]:
        """``data`` split as ``self.groups`` (the whole pack, or each member unpadded)."""
        return [data] if self.fused else [data.member(i) for i in range(len(self.members))]

    def _step(self, data: SplitTensors) -> None:
        updates = []
        for group, part in zip(self.groups, self.parts(data), strict=True):
            params = {k: v[group] for k, v in self.params.items()}
            masks = self.dropout_masks(group, part.x.shape[1])
            loss = self.member_losses(params, part, group, masks).sum()  # members independent
            grads = torch.autograd.grad(loss, list(params.values()))
            updates.append((group, dict(zip(params, grads, strict=True))))
        self.optimizer.step_groups(updates)
        self.steps_done += 1

    def train_epoch(self) -> None:
        if self.batch_size is None:
            if self._graph is not None:
                self._graph.replay()
            else:
                self._step(self.train_data)
            return
        n = self.train_data.sizes[0]
        if self.random_batch:
            # Seed 002: each step takes the first batch of a freshly shuffled split.
            batch = torch.stack(
                [torch.randperm(n, generator=g)[: self.batch_size] for g in self.shuffle_gens]
            )
            self._step(self.train_data.select(batch.to(self.device)))
            return
        order = torch.stack([torch.randperm(n, generator=g) for g in self.shuffle_gens])
        order = order.to(self.device)
        for start in range(0, n, self.batch_size):
            self._step(self.train_data.select(order[:, start : start + self.batch_size]))

    def capture_step(self) -> bool:
        """Record the full-batch step as one CUDA graph (``grok.train.cuda_graph``)."""
        return cuda_graph.capture_step(self)

    def evaluate(self) -> Tensor:
        """[M, len(metric_names)] on the device, no host sync (``grok.train.records``)."""
        return evaluate(self)

    # --- loop ---------------------------------------------------------------------
    def fit(self) -> list[dict[str, Any]]:
        """Train to ``train.epochs``; every exit leaves a true status (``resume.finalize``)."""
        self._requeue_handler: Any = None
        with stop_on_signals(self):
            try:
                summaries = self._fit()
            except Exception as e:
                resume.record_crash(self, e)
                raise
        if self.stop_signal == signal.SIGUSR2 and self._requeue_handler is not None:
            self._requeue_handler(signal.SIGUSR2, None)  # submitit: checkpoint() + requeue + exit
        if self.stop_signal is not None:
            raise SystemExit(128 + self.stop_signal)
        return summaries

    def _fit(self) -> list[dict[str, Any]]:
        start = resume.restore(self)
        self.start_epoch = self.epoch = start
        self.steps_done = start * self.steps_per_epoch
        resume.write_start(self)
        for member in self.members:
            for sink in member.sinks:
                sink.start()
        if start < self.epochs and self.pack.shared("train.cuda_graph"):
            self.capture_step()
        t0 = time.perf_counter()
        pending: list[tuple[int, Tensor]] = []
        if start == 0:
            pending.append((0, self.evaluate()))
            self.stopper.evaluated(list(range(len(self.members))), 0)
            self.measure(0)
        bar = tqdm(
            total=self.epochs,
            initial=start,
            desc=self._desc(),
            unit="ep",
            disable=not self.progress,
            mininterval=1.0,
            dynamic_ncols=True,
        )
        last_bar = start
        pending = stopping.start(self, start, pending, bar)
        for epoch in range(start + 1, self.epochs + 1):
            if not self.members:
                break  # every member stopped
            self.train_epoch()
            self.epoch = epoch
            members = range(len(self.members))
            due = [i for i in members if self.evaluates_at(i, epoch)]
            if due:
                pending.append((epoch, self.evaluate()))
                self.stopper.evaluated([i for i in due if self.active(i)], epoch)
            if any(self.measures_at(i, epoch) for i in members):
                self.measure(epoch)
            is_last = epoch == self.epochs
            stopping_now = self.stop_signal is not None
            checkpoint = self.checkpoint_at(epoch) or is_last or stopping_now
            checkpoint = checkpoint or self.checkpoint_requested
            if stopping_now or self.checkpoint_requested:
                for member in self.members:
                    for sink in member.sinks:
                        sink.interrupted()
            self.checkpoint_requested = False
            if epoch % self.log_every == 0 or checkpoint or self.stopper.flush_due(epoch):
                wall = self.wall_before + time.perf_counter() - t0
                flush(self, pending, bar, epoch - last_bar, wall)
                pending, last_bar = [], epoch
                stopping.settle(self, epoch, wall)  # stopped members: record, then leave
                if not any(self.active(i) for i in range(len(self.members))):
                    break  # every member diverged or stopped: nothing left to train
            if checkpoint:
                resume.save(self, epoch, self.wall_before + time.perf_counter() - t0)
            if stopping_now:
                break
        bar.close()
        wall = self.wall_before + time.perf_counter() - t0
        for i in range(len(self.members)):
            self.summaries[self.origin[i]] = resume.finalize(self, i, wall)
        return [self.summaries[i] for i in sorted(self.summaries)]

    def measure(self, epoch: int) -> None:
        """Each member's own measures due at ``epoch`` (``grok.train.records``)."""
        measure(self, epoch)

    def _desc(self) -> str:
        name = self.members[0].cfg.task.name
        return name if len(self.members) == 1 else f"{name} x{len(self.members)}"
