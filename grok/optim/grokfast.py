"""Grokfast (Lee et al. 2024, arXiv 2405.20233): amplify the slow part of the gradient.

Applied between backward and the optimizer's step, as the reference ``grokfast.py``
(github.com/ironjr/grokfast) does:

- ``ema``: mu <- alpha mu + (1 - alpha) g, then g <- g + lamb mu; mu starts from the first
  gradient (``gradfilter_ema`` initialises its state with it).
- ``ma``: g <- g + lamb * mean(last ``window`` gradients, this one included); nothing until
  the window is full (``gradfilter_ma`` with ``warmup=True``).

The reference keeps the MA window as a deque and re-sums it every step. Here it is a ring
buffer [members, window, ...] with a running sum: one add and one subtract per element
per step. The running sum is kept in float64, which bounds its drift: a float32 gradient is
exact in float64 and each update rounds by at most 2^-53 of the sum, so after N steps the
error is below N * 2^-53 * max|sum| (25,000 Nanda epochs: < 3e-12 relative), far under
float32's 6e-8 resolution of the gradients it is added to. A float32 running sum would not
do: after large early gradients leave the window, their rounding error stays behind and
can exceed the small late gradients (``tests/test_methods.py`` shows both).

Memory per member: ``window`` x parameters (float32) for the ring plus the float64 sum;
a pack allocates its largest window for every member (members with a smaller window use
the first ``window`` slots; their checkpoints hold only those, so packed == alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from grok import checks
from grok.defaults import grokfast_lamb
from grok.optim.schedule import column
from grok.optim.stage import Stage, mask_col, member_col, pick

KINDS = ("none", "ema", "ma")
# gradfilter_ema(alpha=0.98, lamb=2.0) and gradfilter_ma(window_size=100, lamb=5.0) in
# ironjr/grokfast grokfast.py; conf/optim/_methods.yaml holds alpha and window, and resolves
# lamb per kind (grok/defaults.py). ``null`` is still read that way: configs written before.


def settings(cfg: Any) -> dict[str, Any]:
    """A member's ``optim.grokfast`` node as a dict (absent: off)."""
    node = cfg.get("grokfast") or {}
    kind = node.get("kind", "none")
    lamb = node.get("lamb")
    return {
        "kind": kind,
        "alpha": node.get("alpha", 0.98),
        "lamb": (grokfast_lamb(kind) or 0.0) if lamb is None else lamb,  # off: unused
        "window": node.get("window", 100),
    }


def problems(cfg: Any) -> list[str]:
    node = cfg.get("grokfast") or {}
    errors = checks.choice("optim.grokfast.kind", node.get("kind"), KINDS)
    errors += checks.number("optim.grokfast.alpha", node.get("alpha"), ge=0, lt=1)
    errors += checks.number(
        "optim.grokfast.lamb",
        node.get("lamb"),
        ge=0,
        null=True,
        text="must be null (the paper's default) or a number >= 0",
    )
    errors += checks.integer("optim.grokfast.window", node.get("window"))
    return errors


class Grokfast(Stage):
    """The EMA and MA filters for the members that use them (see the module docstring)."""

    @classmethod
    def build(cls, params: dict[str, Tensor], members: Sequence[Any]) -> Grokfast | None:
        found = [settings(m) for m in members]
        return cls(params, found) if any(s["kind"] != "none" for s in found) else None

    def __init__(self, params: dict[str, Tensor], found: list[dict[str, Any]]):
        super().__init__(params, [s["kind"] != "none" for s in found])
        device = self.device
        self.ema_on = [s["kind"] == "ema" for s in found]
        self.ma_on = [s["kind"] == "ma" for s in found]
        self.ema_mask = torch.tensor(self.ema_on, device=device)
        self.ma_mask = torch.tensor(self.ma_on, device=device)
        self.alpha = column([s["alpha"] for s in found], device)
        self.lamb = column([s["lamb"] for s in found], device)
        # members without MA (in a fused group that mixes them) cycle through slot 0
        self.windows = [
            int(s["window"]) if on else 1 for s, on in zip(found, self.ma_on, strict=True)
        ]
        self.window = column(self.windows, device)
        self.ema: dict[str, Tensor] = {}
        self.ring: dict[str, Tensor] = {}
        self.total: dict[str, Tensor] = {}
        if any(self.ema_on):
            self.ema = {name: torch.zeros_like(p) for name, p in params.items()}
        if any(self.ma_on):
            size = max(self.windows)
            for name, p in params.items():
                self.ring[name] = p.new_zeros((p.shape[0], size, *p.shape[1:]))
                self.total[name] = torch.zeros_like(p, dtype=torch.float64)

    def before(self, grads: dict[str, Tensor], group: slice, step: Tensor) -> dict[str, Tensor]:
        ema, ma = any(self.ema_on[group]), any(self.ma_on[group])
        if not (ema or ma):
            return grads
        out = {}
        for name, g in grads.items():
            if ema:
                g = self._ema(name, g, group, step)
            if ma:
                g = self._ma(name, g, group, step)
            out[name] = g
        return out

    def _ema(self, name: str, g: Tensor, group: slice, step: Tensor) -> Tensor:
        mu = self.ema[name][group]
        alpha = self.alpha[group]
        mu.copy_(torch.where(step == 1, g, mu))  # the reference starts from the first gradient
        mu.mul_(member_col(alpha, g)).add_(g * member_col(1 - alpha, g))
        new = g + mu * member_col(self.lamb[group], g)
        return pick(self.ema_on, self.ema_mask, group, new, g)

    def _ma(self, name: str, g: Tensor, group: slice, step: Tensor) -> Tensor:
        ring, total = self.ring[name][group], self.total[name][group]
        window = self.window[group]
        slot = torch.remainder(step - 1, window).long()  # each member's own ring position
        rows = torch.arange(len(slot), device=g.device)
        total.add_(g.double() - ring[rows, slot].double())  # the oldest gradient leaves
        ring[rows, slot] = g
        mean = (total / member_col(window, total)).to(g.dtype)
        full = mask_col(step >= window, g)
        new = torch.where(full, g + mean * member_col(self.lamb[group], g), g)
        return pick(self.ma_on, self.ma_mask, group, new, g)

    def state_tensors(self) -> list[Tensor]:
        return [*self.ema.values(), *self.ring.values(), *self.total.values()]

    def member_state(self, index: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.ema_on[index]:
            out["ema"] = {k: v[index].detach().cpu().clone() for k, v in self.ema.items()}
        if self.ma_on[index]:
            w = self.windows[index]
            out["ring"] = {k: v[index, :w].detach().cpu().clone() for k, v in self.ring.items()}
            out["total"] = {k: v[index].detach().cpu().clone() for k, v in self.total.items()}
        return out

    @torch.no_grad()
    def load_member_state(self, index: int, saved: dict[str, Any]) -> None:
        for name, value in saved.get("ema", {}).items():
            self.ema[name][index].copy_(value)
        for name, value in saved.get("ring", {}).items():
            self.ring[name][index, : len(value)].copy_(value)
        for name, value in saved.get("total", {}).items():
            self.total[name][index].copy_(value)
