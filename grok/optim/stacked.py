"""Optimizers over stacked parameters: one leading member axis, per-member hyperparameters.

``torch.optim`` takes one learning rate per parameter group, but a fused pack trains
members with different lr / wd / betas / schedules / clipping on the same stacked tensors.
These optimizers hold every hyperparameter as a [members] tensor and update all members
with the same few tensor ops, so a pack of one is just the M=1 case. The update formulas
are torch.optim's (AdamW: decoupled decay; Adam and SGD: L2 added to the gradient);
``tests/test_optim.py`` checks them against torch.optim.

All state (including the step count) lives in tensors updated in place, so the step can
be captured in a CUDA graph.

A step updates the members in ``group``s: one group of all members (fused, on GPU), or
one group per member (on CPU): then every tensor a member's update touches, its
hyperparameter scalars included, has the shape it has in a lone run, so a packed member
is updated bit for bit as it would be alone (vectorized kernels round a tensor's tail
differently from its body, and the tail depends on the tensor's length).

Grokking methods that wrap any optimizer are ``Stage``s (``grok.optim.stage``): a step runs
each group's gradients through the stages' ``before`` (Grokfast, then ⊥Grad), clips them,
updates, and then lets the stages act on the updated weights (a fixed norm).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from grok.errors import ConfigError
from grok.optim.schedule import ALL, Schedule, column
from grok.optim.stage import Stage, member_sum


class StackedOptimizer:
    """Base: per-member hyperparameters as float64 [M] tensors, a shared step counter."""

    def __init__(
        self,
        params: dict[str, Tensor],
        members: Sequence[Any],
        total_steps: int | None = None,
        stages: Sequence[Stage] = (),
        steps_per_epoch: int = 1,
    ):
        if len({m.name for m in members}) != 1:
            raise ConfigError(f"one pack needs one optimizer, got {[m.name for m in members]}")
        device = next(iter(params.values())).device
        self.params = params
        self.n_members = len(members)
        self.lr = column([m.lr for m in members], device)
        self.wd = column([m.wd for m in members], device)
        self.schedule = Schedule(members, total_steps, device, steps_per_epoch)
        clips = [m.get("clip_grad_norm") for m in members]
        self.clipping = any(c is not None for c in clips)
        self.clip = column([math.inf if c is None else c for c in clips], device)
        self.step_count = torch.zeros((), dtype=torch.float64, device=device)
        self.state: dict[str, dict[str, Tensor]] = {name: {} for name in params}
        self.stages = list(stages)

    def _per_member(self, values: Tensor, like: Tensor) -> Tensor:
        """[M] float64 -> [M, 1, ..., 1] in the parameter's dtype."""
        return values.to(like.dtype).view(-1, *([1] * (like.ndim - 1)))

    def current_lr(self, group: slice = ALL) -> Tensor:
        """Per-member lr for this step: lr x schedule (warm-up, cosine)."""
        return self.lr[group] * self.schedule.factor(self.step_count - 1, group)

    def clipped(self, grads: dict[str, Tensor], group: slice = ALL) -> dict[str, Tensor]:
        """torch.nn.utils.clip_grad_norm_ per member: scale by max_norm / (norm + 1e-6) <= 1.
        Members without clipping have max_norm = inf, so their scale is exactly 1.

        The norm reduces within each member (``member_sum``)."""
        if not self.clipping:
            return grads
        sq = sum(member_sum(g.double().pow(2)) for g in grads.values())
        coef = (self.clip[group] / (sq.sqrt() + 1e-6)).clamp(max=1.0)
        return {k: g * self._per_member(coef, g) for k, g in grads.items()}

    @torch.no_grad()
    def step(self, grads: dict[str, Tensor], group: slice = ALL) -> None:
        """One step of every member (``grads`` of all members)."""
        self.step_groups([(group, grads)])

    @torch.no_grad()
    def step_groups(self, updates: list[tuple[slice, dict[str, Tensor]]]) -> None:
        """One step, as (members, their gradients) groups that together cover the pack."""
        self.step_count += 1
        for group, grads in updates:
            for stage in self.stages:
                grads = stage.before(grads, group, self.step_count)
            lr = self.current_lr(group)
            grads = self.clipped(grads, group)
            self._prepare(lr, group)
            for name, param in self.params.items():
                self._update(name, param[group], grads[name], lr, group)
            for stage in self.stages:
                stage.after(group)

    def _prepare(self, lr: Tensor, group: slice) -> None:
        """Per-step scalars of the group, shared by every parameter tensor."""

    def _update(self, name: str, param: Tensor, grad: Tensor, lr: Tensor, group: slice) -> None:
        raise NotImplementedError

    # --- checkpoints ----------------------------------------------------------
    def state_tensors(self) -> list[Tensor]:
        """Every tensor a step changes besides the parameters (for a CUDA-graph capture)."""
        slots = [t for slots in self.state.values() for t in slots.values()]
        return [*slots, *(t for s in self.stages for t in s.state_tensors()), self.step_count]

    def member_state(self, index: int) -> dict[str, Any]:
        """One member's optimizer state, independent of the pack it trained in."""
        out = {
            "step": float(self.step_count),
            "state": {
                name: {k: v[index].detach().cpu().clone() for k, v in slots.items()}
                for name, slots in self.state.items()
            },
        }
        stages = {type(s).__name__: s.member_state(index) for s in self.stages}
        stages = {k: v for k, v in stages.items() if v}  # only what this member uses
        if stages:
            out["stages"] = stages
        return out

    @torch.no_grad()
    def load_member_state(self, index: int, saved: dict[str, Any]) -> None:
        self.step_count.fill_(saved["step"])
        for stage in self.stages:
            stage.load_member_state(index, saved.get("stages", {}).get(type(stage).__name__, {}))
        for name, slots in saved["state"].items():
            for key, value in slots.items():
                if key not in self.state[name]:
                    self.state[name][key] = torch.zeros_like(self.params[name])
                self.state[name][key][index].copy_(value)


class AdamW(StackedOptimizer):
    """torch.optim.AdamW (decoupled weight decay) or, with ``decoupled=False``, Adam + L2."""

    decoupled = True

    def __init__(
        self, params: dict[str, Tensor], members: Sequence[Any], total_steps=None, stages=(), **kw
    ):
        super().__init__(params, members, total_steps, stages, **kw)
        device = next(iter(params.values())).device
        self.beta1 = column([m.betas[0] for m in members], device)
        self.beta2 = column([m.betas[1] for m in members], device)
        self.eps = column([m.get("eps", 1e-8) for m in members], device)
        for name, p in params.items():
            self.state[name] = {"exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}

    def _prepare(self, lr: Tensor, group: slice) -> None:
        # Scalars per member, computed once in float64 as torch.optim does on the host.
        self._beta1, self._beta2 = self.beta1[group], self.beta2[group]
        self._eps, self._wd = self.eps[group], self.wd[group]
        self._bc1 = 1 - self._beta1**self.step_count
        self._bc2_sqrt = (1 - self._beta2**self.step_count).sqrt()
        self._step_size = lr / self._bc1
        self._decay = 1 - lr * self._wd

    def _update(self, name: str, param: Tensor, grad: Tensor, lr: Tensor, group: slice) -> None:
        col = self._per_member
        exp_avg, exp_avg_sq = (
            self.state[name]["exp_avg"][group],
            self.state[name]["exp_avg_sq"][group],
        )
        if self.decoupled:
            param.mul_(col(self._decay, param))
        else:
            grad = grad + col(self._wd, param) * param
        exp_avg.lerp_(grad, col(1 - self._beta1, param))
        exp_avg_sq.mul_(col(self._beta2, param)).add_(col(1 - self._beta2, param) * grad * grad)
        denom = (exp_avg_sq.sqrt() / col(self._bc2_sqrt, param)).add_(col(self._eps, param))
        param.sub_(col(self._step_size, param) * exp_avg / denom)


class Adam(AdamW):
    decoupled = False


class SGD(StackedOptimizer):
    """torch.optim.SGD with momentum / dampening 0 / optional Nesterov; wd as L2."""

    def __init__(
        self, params: dict[str, Tensor], members: Sequence[Any], total_steps=None, stages=(), **kw
    ):
        super().__init__(params, members, total_steps, stages, **kw)
        device = next(iter(params.values())).device
        self.momentum = column([m.get("momentum", 0.0) for m in members], device)
        self.nesterov = torch.tensor(
            [bool(m.get("nesterov", False)) for m in members], device=device
        )
        self.any_nesterov = bool(self.nesterov.any())
        for name, p in params.items():
            self.state[name] = {"momentum_buffer": torch.zeros_like(p)}

    def _update(self, name: str, param: Tensor, grad: Tensor, lr: Tensor, group: slice) -> None:
        col = self._per_member
        momentum = col(self.momentum[group], param)
        grad = grad + col(self.wd[group], param) * param
        buf = self.state[name]["momentum_buffer"][group]
        # torch initialises the buffer with the first gradient: the buffer starts at zero,
        # and 0*mu + g is g exactly; a buffer from train.init_optimizer carries on.
        buf.mul_(momentum).add_(grad)
        direction = buf
        if self.any_nesterov:
            nesterov = self.nesterov[group].view(-1, *([1] * (param.ndim - 1)))
            direction = torch.where(nesterov, grad + momentum * buf, buf)
        direction = torch.where(momentum > 0, direction, grad)
        param.sub_(col(lr, param) * direction)
