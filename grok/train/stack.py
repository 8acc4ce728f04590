"""A pack on the device: every member's weights, data and optimizer state stacked on a
leading member axis [M, ...], and the math that runs on them.

Members run through the very same model ``forward`` (a Transformer or an MLP) with
``torch.func.functional_call`` under ``torch.vmap``, so the model stays a plain TL-shaped
module (hooks, ``run_with_cache``, TL weight shapes) while the pack runs as batched kernels;
members never interact because the summed loss has a block-diagonal gradient.

Fused: one vmap over the padded pack (fast on a GPU). Member by member: each member through
the very tensors and kernels of its lone run, so pack == alone bit for bit (CPU kernels round
a reduction differently when its length or batch changes).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import Tensor
from torch.func import functional_call

from grok.errors import ConfigError
from grok.measures.base import Examples, MemberView
from grok.model import build_model
from grok.model.config import MEMBER_BUFFERS
from grok.model.dropout import Masks, mask_shapes, pack_masks
from grok.optim import build_optimizer
from grok.optim.stacked import StackedOptimizer
from grok.train.data import SplitTensors, stack_splits
from grok.train.member import MemberSpec
from grok.train.pack import Pack


def metric_names(task: Any) -> list[str]:
    """Columns of metrics.jsonl: loss and the task's metrics per split, then weight norm."""
    per_split = ("loss", *task.metric_names)
    return [f"{split}_{m}" for split in ("train", "test") for m in per_split] + ["weight_norm"]


class Stack:
    """The stacked tensors of a pack and one training step / evaluation over them."""

    def __init__(self, pack: Pack, specs: list[MemberSpec], device: torch.device):
        if len({s.task.shape_key() for s in specs}) != 1:
            raise ConfigError("a pack's members must share the task's shapes")
        self.device = device
        self.task = specs[0].task  # shape-level methods only: loss, metrics, read positions
        self.loss_dtype = getattr(torch, pack.shared("train.loss_dtype"))
        self.eval_chunk: int | None = pack.shared("train.eval_batch_size")
        self.batch_size: int | None = pack.shared("train.batch_size")
        # shuffle: an epoch is a pass over the shuffled split; random_batch: an epoch is one
        # step on a fresh random batch (seed 002's new DataLoader iterator at every step).
        self.random_batch = pack.shared("train.sampling") == "random_batch"
        fuse = pack.shared("train.fuse")
        self.fused = device.type == "cuda" if fuse == "auto" else bool(fuse)
        # The template is a module to call functionally: only its architecture matters, and
        # which member buffers it holds (each member's own value goes in through them).
        self.template = build_model(_template_config([s.model_cfg for s in specs])).to(device)
        self.params = self._init_params(specs)  # name -> [M, *TL shape]
        self.train, self.test = stack_splits([s.task for s in specs], device)
        if self.batch_size is not None and len(set(self.train.sizes)) != 1:
            raise ConfigError("minibatch packs need equal train sizes (same task.train_frac)")
        full = self.batch_size is None or self.random_batch
        self.steps_per_epoch = 1 if full else math.ceil(self.train.sizes[0] / self.batch_size)
        self.total_steps = int(pack.shared("train.epochs")) * self.steps_per_epoch
        self.steps_done = 0  # optimizer steps so far (host-side: deciding never syncs)
        self._arrange(specs)

    def _arrange(self, specs: list[MemberSpec]) -> None:
        """What follows from the member list (at construction, and when members leave)."""
        self.specs = specs
        n = len(specs)
        self.groups = [slice(0, n)] if self.fused else [slice(i, i + 1) for i in range(n)]
        self.losses = [s.loss for s in specs]
        self.loss_masks = {
            name: torch.tensor([name == m for m in self.losses], device=self.device)
            for name in set(self.losses)
        }
        self.member_buffers = {  # buffer name -> [M], each member's value
            name: torch.tensor(
                [
                    float(getattr(s.model_cfg, MEMBER_BUFFERS[name.rsplit(".", 1)[-1]]))
                    for s in specs
                ],
                device=self.device,
            )
            for name, _ in self.template.named_buffers()
            if name.rsplit(".", 1)[-1] in MEMBER_BUFFERS
        }
        self.any_dropout = any(s.dropout.rate > 0 for s in specs)
        self.optimizer: StackedOptimizer = build_optimizer(
            self.params,
            [s.cfg.optim for s in specs],
            total_steps=self.total_steps,
            steps_per_epoch=self.steps_per_epoch,
        )

    def _init_params(self, specs: list[MemberSpec]) -> dict[str, Tensor]:
        """Each member initialised alone from its own model config (scheme, scale, seed)."""
        per_member = []
        for spec in specs:
            model = build_model(spec.model_cfg)
            model.init_weights(int(spec.cfg.model.seed))
            per_member.append({k: v.detach().clone() for k, v in model.named_parameters()})
        return {
            name: torch.stack([p[name] for p in per_member]).to(self.device).requires_grad_()
            for name in per_member[0]
        }

    @torch.no_grad()
    def take(self, keep: list[int], specs: list[MemberSpec]) -> None:
        """Only members ``keep`` (whose specs are ``specs``) stay: every stacked tensor is cut,
        and the optimizer is rebuilt and loaded with each one's ``member_state``, the round
        trip a checkpoint makes, so no per-member optimizer state can be forgotten."""
        index = torch.tensor(keep, device=self.device)
        states = [self.optimizer.member_state(i) for i in keep]
        self.params = {
            k: v.detach().index_select(0, index).requires_grad_() for k, v in self.params.items()
        }
        self.train, self.test = self.train.take(keep), self.test.take(keep)
        self._arrange(specs)
        for j, state in enumerate(states):
            self.optimizer.load_member_state(j, state)

    # --- one member ------------------------------------------------------------------
    def member_params(self, i: int) -> dict[str, Tensor]:
        return {k: v[i].detach() for k, v in self.params.items()}

    def member_state_dict(self, i: int) -> dict[str, Tensor]:
        sd = {k: v.detach().cpu().clone() for k, v in self.template.state_dict().items()}
        sd.update({k: v[i].detach().cpu().clone() for k, v in self.params.items()})
        return sd

    def view(self, i: int, epoch: int) -> MemberView:
        """What measures see of member ``i``: its own config, task, weights and split."""
        n_train, n_test = self.train.sizes[i], self.test.sizes[i]
        spec = self.specs[i]
        return MemberView(
            cfg=spec.cfg,
            task=spec.task,
            model_cfg=spec.model_cfg,
            params=self.member_params(i),
            train=Examples(self.train.x[i, :n_train], self.train.y[i, :n_train]),
            test=Examples(self.test.x[i, :n_test], self.test.y[i, :n_test]),
            epoch=epoch,
            device=self.device,
        )

    # --- math ------------------------------------------------------------------------
    def forward(
        self, params: dict[str, Tensor], x: Tensor, group: slice, masks: Masks | None = None
    ) -> Tensor:
        """Logits [M, n, len(read_pos), C] for inputs [M, n, n_ctx] of ``group``; ``masks``:
        dropout masks [M, n, ...] (training steps of members with dropout)."""
        read_pos = self.task.read_pos
        if self.member_buffers:
            params = {**params, **{k: v[group] for k, v in self.member_buffers.items()}}
        if masks is not None:

            def dropped(p: dict[str, Tensor], tokens: Tensor, m: Masks) -> Tensor:
                kwargs = {"read_pos": read_pos, "dropout": m}
                return functional_call(self.template, p, (tokens,), kwargs)

            return torch.vmap(dropped)(params, x, masks)

        def one(p: dict[str, Tensor], tokens: Tensor) -> Tensor:
            return functional_call(self.template, p, (tokens,), {"read_pos": read_pos})

        return torch.vmap(one)(params, x)

    def loss_terms(self, outputs: Tensor, targets: Tensor, group: slice) -> Tensor:
        """Per-example losses [M, n] of ``group``, each member with its own ``train.loss``."""
        names = self.losses[group]
        terms = {n: self.task.loss_terms(outputs, targets, self.loss_dtype, n) for n in set(names)}
        if len(terms) == 1:
            return terms[names[0]]
        out = terms[names[0]]  # a fused group that mixes losses: pick each member's
        for name, value in terms.items():
            mine = self.loss_masks[name][group]  # [M]
            out = torch.where(mine.view(-1, *([1] * (out.ndim - 1))), value, out)
        return out

    def dropout_masks(self, group: slice, batch: int) -> Masks | None:
        """The group's dropout masks for the next step (None: nobody drops)."""
        if not self.any_dropout:
            return None
        shapes = mask_shapes(self.specs[0].model_cfg, batch, self.task.read_pos)
        dropouts = [s.dropout for s in self.specs[group]]
        return pack_masks(dropouts, self.steps_done, shapes)

    def parts(self, data: SplitTensors) -> list[SplitTensors]:
        """``data`` split as ``self.groups`` (the whole pack, or each member unpadded)."""
        return [data] if self.fused else [data.member(i) for i in range(len(self.specs))]

    def step(self, data: SplitTensors) -> None:
        """One optimizer step of every member on ``data`` (x [M, b, n_ctx])."""
        updates = []
        for group, part in zip(self.groups, self.parts(data), strict=True):
            params = {k: v[group] for k, v in self.params.items()}
            masks = self.dropout_masks(group, part.x.shape[1])
            logits = self.forward(params, part.x, group, masks)
            loss = part.mean(self.loss_terms(logits, part.y, group)).sum()  # members independent
            grads = torch.autograd.grad(loss, list(params.values()))
            updates.append((group, dict(zip(params, grads, strict=True))))
        self.optimizer.step_groups(updates)
        self.steps_done += 1

    def train_epoch(self, graph: torch.cuda.CUDAGraph | None = None) -> None:
        """One epoch: the full batch (replayed from ``graph`` when captured), the shuffled
        split in minibatches, or one random batch (``train.sampling=random_batch``)."""
        if self.batch_size is None:
            if graph is not None:
                graph.replay()
                self.steps_done += 1
            else:
                self.step(self.train)
            return
        n = self.train.sizes[0]
        gens = [s.shuffle_gen for s in self.specs]
        if self.random_batch:
            # Seed 002: each step takes the first batch of a freshly shuffled split.
            batch = torch.stack([torch.randperm(n, generator=g)[: self.batch_size] for g in gens])
            self.step(self.train.select(batch.to(self.device)))
            return
        order = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(self.device)
        for start in range(0, n, self.batch_size):
            self.step(self.train.select(order[:, start : start + self.batch_size]))

    def state_tensors(self) -> list[Tensor]:
        """Every tensor a training step writes (what a CUDA-graph capture must restore)."""
        return [*self.params.values(), *self.optimizer.state_tensors()]

    # --- evaluation (stays on the device: no host sync) ---------------------------------
    @torch.no_grad()
    def evaluate(self) -> Tensor:
        """[M, len(metric_names)] on the device."""
        columns: list[Tensor] = []
        for data in (self.train, self.test):
            per_group = []
            for group, member_data in zip(self.groups, self.parts(data), strict=True):
                params = {k: v[group] for k, v in self.params.items()}
                per_group.append(self._split_metrics(params, member_data, group))
            columns += [torch.cat(c) for c in zip(*per_group, strict=True)]
        return torch.stack([*columns, self.weight_norms()], dim=1)

    def _split_metrics(
        self, params: dict[str, Tensor], data: SplitTensors, group: slice
    ) -> list[Tensor]:
        """Loss (each member's training objective) and the task's metrics of one split,
        each [members of the group]."""
        totals: dict[str, Tensor] = {}
        for part in data.chunks(self.eval_chunk):
            outputs = self.forward(params, part.x, group)
            values = {
                "loss": self.loss_terms(outputs, part.y, group),
                **self.task.example_metrics(outputs, part.y),
            }
            for name, v in values.items():
                totals[name] = totals.get(name, 0.0) + part.exact_total(v.double())
        means = {name: t / data.count for name, t in totals.items()}
        means = self.task.finish_metrics(means, data.target_var)
        return [means["loss"], *(means[m] for m in self.task.metric_names)]

    @torch.no_grad()
    def weight_norms(self) -> Tensor:
        """Sum of squared weights per member [M], in float64.

        Reduced one member at a time: a [M, K] row reduction is split across
        threads differently for M=1, and a lone run must match its packed twin.
        """
        members = range(len(self.specs))
        return torch.stack(
            [sum(p[i].double().pow(2).sum() for p in self.params.values()) for i in members]
        )


def _template_config(configs: list[Any]) -> Any:
    """The first member's architecture, holding every member buffer some member needs (a
    member at the default value, 1.0, goes through it exactly: x * 1.0 + 0.0 == x)."""
    defaults = {f.name: f.default for f in dataclasses.fields(configs[0])}
    changes = {}
    for field in MEMBER_BUFFERS.values():
        off = [getattr(c, field) for c in configs if getattr(c, field) != defaults[field]]
        changes[field] = off[0] if off else defaults[field]
    return dataclasses.replace(configs[0], **changes)
