"""Muon (K. Jordan 2024, github.com/KellerJordan/Muon ``muon.py``) on a pack's hidden matrices.

For each hidden weight matrix: Nesterov momentum (beta 0.95), then the update is replaced by
an approximate orthogonalization, 5 Newton-Schulz iterations X <- aX + (bA + cA^2)X with
A = XX^T and (a, b, c) = (3.4445, -4.7750, 2.0315), from X = M / ||M||_F; it is scaled by
sqrt(max(1, fan_out / fan_in)) and applied with decoupled weight decay,
w <- w (1 - lr wd) - lr update. Everything else (embeddings, unembedding, norms, biases) is
trained by AdamW with the config's lr, wd, betas and eps, as Jordan recommends (his
MuonWithAuxAdam).

Which tensors are matrices: the attention weights W_Q, W_K, W_V [heads, d_model, d_head]
and W_O [heads, d_head, d_model] and the MLP's W_in, W_out. A TL attention tensor is one
linear map split by head for interpretability; Muon orthogonalizes that map, as Jordan's
code does for an ``nn.Linear`` q/k/v/o projection: W_Q becomes [d_model, heads * d_head],
W_O [heads * d_head, d_model] (the fans the xavier init uses too). Orthogonalizing each head
on its own would normalize every head's update separately, a different optimizer.

Batched over the member axis: one batched matmul per iteration for the whole group, the
Frobenius normalization within each member's matrix. Jordan runs the iteration in bfloat16
for GPU throughput; here it runs in the weights' dtype (float32), the same map with less
rounding, so the CPU and GPU paths agree and a packed member equals its lone run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from grok import checks
from grok.optim.schedule import column
from grok.optim.stacked import AdamW
from grok.optim.stage import mask_col, member_col

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # Jordan's muon.py, zeropower_via_newtonschulz5
NS_EPS = 1e-7  # ibid.: X / (||X||_F + 1e-7)
HIDDEN = {"attn.W_Q", "attn.W_K", "attn.W_V", "attn.W_O", "mlp.W_in", "mlp.W_out"}
PER_HEAD_IN = {"W_Q", "W_K", "W_V"}  # [heads, d_model, d_head]: d_model -> heads * d_head


def is_hidden(name: str) -> bool:
    """A block's attention or MLP weight (``blocks.0.attn.W_Q``)."""
    parts = name.split(".")
    return parts[0] == "blocks" and ".".join(parts[2:]) in HIDDEN


def as_matrix(name: str, x: Tensor) -> Tensor:
    """[G, ...] -> [G, fan_in, fan_out]: the linear map the weight applies (x @ W)."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf in PER_HEAD_IN:
        g, h, d, e = x.shape
        return x.permute(0, 2, 1, 3).reshape(g, d, h * e)
    if leaf == "W_O":
        g, h, e, d = x.shape
        return x.reshape(g, h * e, d)
    return x


def from_matrix(name: str, m: Tensor, shape: torch.Size) -> Tensor:
    """The inverse of ``as_matrix`` for a tensor of ``shape``."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf in PER_HEAD_IN:
        g, h, d, e = shape
        return m.reshape(g, d, h, e).permute(0, 2, 1, 3)
    return m.reshape(shape)


def newton_schulz(m: Tensor, steps: Sequence[int], counts: Tensor | None = None) -> Tensor:
    """Approximately orthogonalize each member's matrix m[i] with ``steps[i]`` iterations
    (``counts``: ``steps`` on the device, needed when they differ)."""
    a, b, c = NS_COEFFICIENTS
    wide = m.shape[-2] <= m.shape[-1]
    x = m if wide else m.mT  # iterate on the short side: A is the smaller Gram matrix
    x = x / (torch.linalg.matrix_norm(x, keepdim=True) + NS_EPS)  # Frobenius, per member
    for k in range(max(steps)):
        gram = x @ x.mT
        nxt = a * x + (b * gram + c * gram @ gram) @ x
        if k >= min(steps):
            assert counts is not None, "members with different ns_steps need counts"
            nxt = torch.where(mask_col(k < counts, x), nxt, x)
        x = nxt
    return x if wide else x.mT


def scale(name: str, shape: torch.Size) -> float:
    """sqrt(max(1, fan_out / fan_in)) for one member's weight of ``shape``: Jordan's
    max(1, rows / cols)**0.5 for a weight stored as nn.Linear does ([out, in]); ours are
    stored [in, out]."""
    fan_in, fan_out = as_matrix(name, torch.empty((1, *shape), device="meta")).shape[1:]
    return math.sqrt(max(1.0, fan_out / fan_in))


def settings(cfg: Any) -> dict[str, Any]:
    """A member's ``optim.muon`` node; a config built by hand without one gets the defaults
    of Jordan's ``Muon`` class (lr 0.02, weight_decay 0, momentum 0.95, Nesterov, 5 steps)."""
    node = cfg.get("muon") or {}
    return {
        "lr": node.get("lr", 0.02),
        "wd": node.get("wd", 0.0),
        "momentum": node.get("momentum", 0.95),
        "nesterov": node.get("nesterov", True),
        "ns_steps": node.get("ns_steps", 5),
    }


def problems(cfg: Any) -> list[str]:
    if cfg.get("name") != "muon":
        return []
    s = settings(cfg)
    errors = checks.number("optim.muon.lr", s["lr"], gt=0)
    errors += checks.number("optim.muon.wd", s["wd"], ge=0)
    errors += checks.number("optim.muon.momentum", s["momentum"], ge=0, lt=1)
    errors += checks.boolean("optim.muon.nesterov", s["nesterov"])
    errors += checks.integer("optim.muon.ns_steps", s["ns_steps"])
    return errors


class Muon(AdamW):
    """Muon on the hidden matrices, AdamW (the base class) on every other tensor."""

    def __init__(
        self, params: dict[str, Tensor], members: Sequence[Any], total_steps=None, stages=(), **kw
    ):
        super().__init__(params, members, total_steps, stages, **kw)
        found = [settings(m) for m in members]
        device = self.lr.device
        self.muon_lr = column([s["lr"] for s in found], device)
        self.muon_wd = column([s["wd"] for s in found], device)
        self.beta = column([s["momentum"] for s in found], device)
        self.nesterov_on = [bool(s["nesterov"]) for s in found]
        self.nesterov = torch.tensor(self.nesterov_on, device=device)
        self.ns_steps = [int(s["ns_steps"]) for s in found]
        self.ns_counts = torch.tensor(self.ns_steps, device=device)
        self.scales = {
            name: scale(name, p.shape[1:]) for name, p in params.items() if is_hidden(name)
        }
        for name in self.scales:  # Muon's one slot replaces AdamW's two
            self.state[name] = {"momentum_buffer": torch.zeros_like(params[name])}

    def _prepare(self, lr: Tensor, group: slice) -> None:
        super()._prepare(lr, group)
        self._muon_lr = self.muon_lr[group] * self.schedule.factor(self.step_count - 1, group)
        self._muon_decay = 1 - self._muon_lr * self.muon_wd[group]

    def _update(self, name: str, param: Tensor, grad: Tensor, lr: Tensor, group: slice) -> None:
        if name not in self.scales:
            super()._update(name, param, grad, lr, group)
            return
        col = member_col
        buf = self.state[name]["momentum_buffer"][group]
        beta = self.beta[group]
        buf.lerp_(grad, col(1 - beta, grad))
        nesterov = grad.lerp(buf, col(beta, grad))
        if not all(self.nesterov_on[group]):
            nesterov = torch.where(mask_col(self.nesterov[group], grad), nesterov, buf)
        ortho = newton_schulz(
            as_matrix(name, nesterov), self.ns_steps[group], self.ns_counts[group]
        )
        update = from_matrix(name, ortho, param.shape) * self.scales[name]
        param.mul_(col(self._muon_decay, param))
        param.sub_(col(self._muon_lr, param) * update)
