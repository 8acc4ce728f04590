"""Softmax collapse (Prieto et al., ICLR 2025, "Grokking at the edge of numerical stability").

A training example's softmax has collapsed when sum_j exp(z_j - max z) equals exactly 1 in
the working precision: every other class's term is absorbed by the 1 of the top class, its
probability rounds to 1 and the gradient of its loss to 0, so learning stops. The measure
is the fraction of training predictions (examples x read positions) that have collapsed,
computed as the reference's ``compute_softmax_collapse`` does (github.com/LucasPrietoAl/
grokking-at-the-edge-of-numerical-stability, logger.py): on the model's logits, cast to the
precision the loss works in (``train.loss_dtype``), and in float32, their default.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from grok.measures.base import Measure, MemberView
from grok.task import ClassificationTask

CHUNK = 4096  # examples per forward pass


def collapsed(logits: Tensor, dtype: torch.dtype) -> Tensor:
    """Per prediction [...]: does sum_j exp(z_j - max z) equal 1 exactly in ``dtype``?"""
    z = logits.to(dtype)
    return (z - z.amax(dim=-1, keepdim=True)).exp().sum(dim=-1) == 1


class SoftmaxMeasure(Measure):
    """``softmax/collapse`` (in ``train.loss_dtype``) and ``softmax/collapse_float32``."""

    name = "softmax"

    def applies(self, task: Any) -> bool:
        return isinstance(task, ClassificationTask)

    @torch.no_grad()
    def compute(self, view: MemberView) -> dict[str, Any]:
        working = getattr(torch, str(view.cfg.train.loss_dtype))
        counts = {"collapse": 0, "collapse_float32": 0}
        total = 0
        for x in view.train.x.split(CHUNK):
            logits = view.model(x, read_pos=view.read_pos)
            counts["collapse"] += int(collapsed(logits, working).sum())
            counts["collapse_float32"] += int(collapsed(logits, torch.float32).sum())
            total += logits.shape[:-1].numel()
        return {f"softmax/{k}": v / total for k, v in counts.items()}
