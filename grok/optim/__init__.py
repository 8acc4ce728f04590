"""Optimizers over stacked parameters: one leading member axis, per-member hyperparameters.

``torch.optim`` takes one learning rate per parameter group, but a fused pack
trains members with different lr / wd / betas on the same stacked tensors. These
optimizers hold every hyperparameter as a [members] tensor and update all members
with the same few tensor ops, so a pack of one is just the M=1 case. The update
formulas are torch.optim's (AdamW: decoupled decay; Adam and SGD: L2 added to
the gradient); ``tests/test_optim.py`` checks them against torch.optim.

All state (including the step count) lives in tensors updated in place, so the
step can be captured in a CUDA graph.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from grok.errors import ConfigError

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("constant", "cosine")


def validate(cfg: Any) -> list[str]:
    errors = []
    name = cfg.get("name")
    if name not in OPTIMIZERS:
        errors.append(f"optim.name={name!r}: allowed optimizers are {list(OPTIMIZERS)}")
    lr = cfg.get("lr")
    if not isinstance(lr, int | float) or isinstance(lr, bool) or not lr > 0:
        errors.append(f"optim.lr={lr!r}: must be a positive number")
    wd = cfg.get("wd")
    if not isinstance(wd, int | float) or isinstance(wd, bool) or not wd >= 0:
        errors.append(f"optim.wd={wd!r}: must be a number >= 0")
    betas = cfg.get("betas")
    if name in ("adamw", "adam") and (
        betas is None or len(betas) != 2 or not all(0 <= float(b) < 1 for b in betas)
    ):
        errors.append(f"optim.betas={betas!r}: must be two numbers in [0, 1)")
    if name == "sgd" and not 0 <= float(cfg.get("momentum", 0.0)) < 1:
        errors.append(f"optim.momentum={cfg.get('momentum')!r}: must be in [0, 1)")
    warmup = cfg.get("warmup_steps", 0)
    if not isinstance(warmup, int) or warmup < 0:
        errors.append(f"optim.warmup_steps={warmup!r}: must be an integer >= 0")
    if cfg.get("schedule", "constant") not in SCHEDULES:
        errors.append(f"optim.schedule={cfg.get('schedule')!r}: allowed are {list(SCHEDULES)}")
    floor = cfg.get("min_lr_ratio", 0.0)
    if not isinstance(floor, int | float) or not 0 <= floor <= 1:
        errors.append(f"optim.min_lr_ratio={floor!r}: must be a number in [0, 1]")
    clip = cfg.get("clip_grad_norm")
    if clip is not None and not (isinstance(clip, int | float) and clip > 0):
        errors.append(f"optim.clip_grad_norm={clip!r}: must be null (no clipping) or > 0")
    return errors


def _column(values: Sequence[float], like: Tensor) -> Tensor:
    return torch.tensor([float(v) for v in values], dtype=torch.float64, device=like.device)


class StackedOptimizer:
    """Base: per-member hyperparameters as float64 [M] tensors, a shared step counter."""

    def __init__(
        self, params: dict[str, Tensor], members: Sequence[Any], total_steps: int | None = None
    ):
        if len({m.name for m in members}) != 1:
            raise ConfigError(f"one pack needs one optimizer, got {[m.name for m in members]}")
        first = next(iter(params.values()))
        self.params = params
        self.n_members = len(members)
        self.lr = _column([m.lr for m in members], first)
        self.wd = _column([m.wd for m in members], first)
        self.warmup = _column([m.get("warmup_steps", 0) for m in members], first)
        self.schedule = members[0].get("schedule", "constant")
        self.min_lr_ratio = float(members[0].get("min_lr_ratio", 0.0))
        self.total_steps = total_steps
        if self.schedule == "cosine" and not total_steps:
            raise ConfigError("optim.schedule=cosine needs the run's total number of steps")
        self.clip = members[0].get("clip_grad_norm")
        self.step_count = torch.zeros((), dtype=torch.float64, device=first.device)
        self.state: dict[str, dict[str, Tensor]] = {name: {} for name in params}

    def _per_member(self, values: Tensor, like: Tensor) -> Tensor:
        """[M] float64 -> [M, 1, ..., 1] in the parameter's dtype."""
        return values.to(like.dtype).view(-1, *([1] * (like.ndim - 1)))

    def current_lr(self) -> Tensor:
        """Per-member lr for this step: lr x warm-up x schedule.

        Warm-up is min(1, done/warmup_steps) as in Nanda et al.'s code (their
        LambdaLR gives the first update lr 0). ``cosine`` then decays to
        ``min_lr_ratio * lr`` at the last step, as CosineAnnealingLR (seed 000).
        """
        done = self.step_count - 1  # number of completed steps before this one
        factor = torch.where(self.warmup > 0, (done / self.warmup.clamp(min=1)).clamp(max=1.0), 1.0)
        if self.schedule == "cosine":
            span = (self.total_steps - self.warmup).clamp(min=1)
            progress = ((done - self.warmup) / span).clamp(0.0, 1.0)
            cosine = 0.5 * (1 + torch.cos(math.pi * progress))
            factor = factor * (self.min_lr_ratio + (1 - self.min_lr_ratio) * cosine)
        return self.lr * factor

    def clipped(self, grads: dict[str, Tensor]) -> dict[str, Tensor]:
        """torch.nn.utils.clip_grad_norm_ per member: scale by max_norm / (norm + 1e-6) <= 1.

        On CPU the norm is reduced one member at a time: torch splits a lone row's
        reduction across threads differently, and a packed member must match its lone
        run bit for bit. On GPU one batched reduction per tensor keeps the step cheap."""
        if self.clip is None:
            return grads
        if next(iter(grads.values())).device.type == "cpu":
            sq = torch.stack(
                [
                    sum(g[i].double().pow(2).sum() for g in grads.values())
                    for i in range(self.n_members)
                ]
            )
        else:
            sq = sum(g.double().pow(2).flatten(1).sum(1) for g in grads.values())
        coef = (self.clip / (sq.sqrt() + 1e-6)).clamp(max=1.0)
        return {k: g * self._per_member(coef, g) for k, g in grads.items()}

    @torch.no_grad()
    def step(self, grads: dict[str, Tensor]) -> None:
        self.step_count += 1
        lr = self.current_lr()
        grads = self.clipped(grads)
        for name, param in self.params.items():
            self._update(name, param, grads[name], lr)

    def _update(self, name: str, param: Tensor, grad: Tensor, lr: Tensor) -> None:
        raise NotImplementedError

    # --- checkpoints ----------------------------------------------------------
    def member_state(self, index: int) -> dict[str, Any]:
        """One member's optimizer state, independent of the pack it trained in."""
        return {
            "step": float(self.step_count),
            "state": {
                name: {k: v[index].detach().cpu().clone() for k, v in slots.items()}
                for name, slots in self.state.items()
            },
        }

    @torch.no_grad()
    def load_member_state(self, index: int, saved: dict[str, Any]) -> None:
        self.step_count.fill_(saved["step"])
        for name, slots in saved["state"].items():
            for key, value in slots.items():
                if key not in self.state[name]:
                    self.state[name][key] = torch.zeros_like(self.params[name])
                self.state[name][key][index].copy_(value)


class AdamW(StackedOptimizer):
    """torch.optim.AdamW (decoupled weight decay) or, with ``decoupled=False``, Adam + L2."""

    decoupled = True

    def __init__(self, params: dict[str, Tensor], members: Sequence[Any], total_steps=None):
        super().__init__(params, members, total_steps)
        first = next(iter(params.values()))
        self.beta1 = _column([m.betas[0] for m in members], first)
        self.beta2 = _column([m.betas[1] for m in members], first)
        self.eps = _column([m.get("eps", 1e-8) for m in members], first)
        for name, p in params.items():
            self.state[name] = {"exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}

    @torch.no_grad()
    def step(self, grads: dict[str, Tensor]) -> None:
        self.step_count += 1
        lr = self.current_lr()
        grads = self.clipped(grads)
        # Scalars per member, computed once in float64 as torch.optim does on the host.
        self._bc1 = 1 - self.beta1**self.step_count
        self._bc2_sqrt = (1 - self.beta2**self.step_count).sqrt()
        self._step_size = lr / self._bc1
        self._decay = 1 - lr * self.wd
        for name, param in self.params.items():
            self._update(name, param, grads[name], lr)

    def _update(self, name: str, param: Tensor, grad: Tensor, lr: Tensor) -> None:
        col = self._per_member
        state = self.state[name]
        if self.decoupled:
            param.mul_(col(self._decay, param))
        else:
            grad = grad + col(self.wd, param) * param
        state["exp_avg"].lerp_(grad, col(1 - self.beta1, param))
        state["exp_avg_sq"].mul_(col(self.beta2, param)).add_(
            col(1 - self.beta2, param) * grad * grad
        )
        denom = (state["exp_avg_sq"].sqrt() / col(self._bc2_sqrt, param)).add_(col(self.eps, param))
        param.sub_(col(self._step_size, param) * state["exp_avg"] / denom)


class Adam(AdamW):
    decoupled = False


class SGD(StackedOptimizer):
    """torch.optim.SGD with momentum / dampening 0 / optional Nesterov; wd as L2."""

    def __init__(self, params: dict[str, Tensor], members: Sequence[Any], total_steps=None):
        super().__init__(params, members, total_steps)
        first = next(iter(params.values()))
        self.momentum = _column([m.get("momentum", 0.0) for m in members], first)
        self.nesterov = bool(members[0].get("nesterov", False))
        for name, p in params.items():
            self.state[name] = {"momentum_buffer": torch.zeros_like(p)}

    def _update(self, name: str, param: Tensor, grad: Tensor, lr: Tensor) -> None:
        col = self._per_member
        grad = grad + col(self.wd, param) * param
        buf = self.state[name]["momentum_buffer"]
        # torch initialises the buffer with the first gradient: same as 0*mu + g.
        first = (self.step_count == 1).to(param.dtype)
        buf.mul_(col(self.momentum, param) * (1 - first)).add_(grad)
        direction = grad + col(self.momentum, param) * buf if self.nesterov else buf
        direction = torch.where(col(self.momentum, param) > 0, direction, grad)
        param.sub_(col(lr, param) * direction)


def build_optimizer(
    params: dict[str, Tensor], members: Sequence[Any], total_steps: int | None = None
) -> StackedOptimizer:
    """``members``: each member's ``optim`` config node; ``total_steps`` for schedules."""
    name = members[0].name
    classes = {"adamw": AdamW, "adam": Adam, "sgd": SGD}
    if name not in classes:
        raise ConfigError(f"optim.name={name!r}: allowed optimizers are {list(OPTIMIZERS)}")
    return classes[name](params, members, total_steps)
