"""Dropout as masks drawn outside the forward, one stream per member.

Seed 002's ``nn.TransformerEncoderLayer`` drops (p = 0.1) at four sites per layer: the
attention pattern (inside ``nn.MultiheadAttention``), the attention output, the MLP's
activations and the MLP output; no dropout touches the embeddings or the readout. Its
loop calls ``model.eval()`` in the first evaluation (step 500) and never ``train()``
again, so dropout is live for the first 500 steps only: ``model.dropout_steps``.

The forward stays free of randomness (``torch.func`` + ``torch.vmap`` over a pack): each
member draws its masks from its own generator, seeded by its ``model.seed``, only on the
steps where its dropout is live, so a packed member draws exactly what it draws alone.
A mask is torch's: keep with probability 1 - p, scaled by 1 / (1 - p).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

SITES = ("pattern", "attn_out", "post", "mlp_out")
Masks = list[dict[str, Tensor]]  # one dict per block, site -> mask


def mask_shapes(cfg: Any, batch: int, read_pos: slice | None) -> list[dict[str, tuple]]:
    """Shapes of one forward's masks on ``batch`` examples (a TransformerConfig ``cfg``);
    the last block computes its queries at ``read_pos`` only."""
    ctx = cfg.n_ctx
    shapes = []
    for i in range(cfg.n_layers):
        last = i == cfg.n_layers - 1 and read_pos is not None
        q = len(range(*read_pos.indices(ctx))) if last else ctx
        sites = {
            "pattern": (batch, cfg.n_heads, q, ctx),
            "attn_out": (batch, q, cfg.d_model),
            "post": (batch, q, cfg.d_mlp),
            "mlp_out": (batch, q, cfg.d_model),
        }
        if cfg.attn_only:
            sites = {k: v for k, v in sites.items() if k in ("pattern", "attn_out")}
        shapes.append(sites)
    return shapes


class DropoutStream:
    """One member's dropout: rate, how many steps it is live, and its own generator."""

    def __init__(self, rate: float, steps: int | None, seed: int, device: torch.device):
        self.rate = float(rate)
        self.steps = steps
        self.generator = torch.Generator(device=device)
        # Distinct from the member's batch-order stream (model.seed * 1_000_003 + data_seed).
        self.generator.manual_seed((int(seed) * 1_000_003 + 500_009) % 2**63)
        self.device = device

    @classmethod
    def of(cls, model_cfg: Any, device: torch.device) -> DropoutStream:
        return cls(
            model_cfg.dropout,
            model_cfg.dropout_steps,
            int(model_cfg.seed),
            device,
        )

    def live(self, step: int) -> bool:
        """Whether the step after ``step`` completed steps drops."""
        return self.rate > 0 and (self.steps is None or step < self.steps)

    def draw(self, shapes: list[dict[str, tuple]]) -> Masks:
        keep = 1.0 - self.rate
        return [
            {
                site: (torch.rand(shape, generator=self.generator, device=self.device) >= self.rate)
                .float()
                .div_(keep)
                for site, shape in sites.items()
            }
            for sites in shapes
        ]


def pack_masks(
    streams: list[DropoutStream], step: int, shapes: list[dict[str, tuple]]
) -> Masks | None:
    """Masks [members, ...] for ``streams`` (one group of a pack) at ``step``; None when no
    member drops. A member whose dropout is not live gets ones (x * 1 is exact) and draws
    nothing."""
    live = [s.live(step) for s in streams]
    if not any(live):
        return None
    drawn = [s.draw(shapes) if on else None for s, on in zip(streams, live, strict=True)]
    out: Masks = []
    for i, sites in enumerate(shapes):
        block = {}
        for site, shape in sites.items():
            ones = torch.ones(shape, device=streams[0].device)
            block[site] = torch.stack([d[i][site] if d is not None else ones for d in drawn])
        out.append(block)
    return out
