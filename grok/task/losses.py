"""StableMax (Prieto et al., ICLR 2025, "Grokking at the edge of numerical stability").

s(x) = x + 1 for x >= 0 and 1 / (1 - x) for x < 0; StableMax_i = s(x_i) / sum_j s(x_j). It
grows linearly instead of exponentially, so large logits do not round the probabilities of
the other classes away (softmax collapse) and learning does not stall without weight decay.
"""

from __future__ import annotations

from torch import Tensor


def stablemax_s(x: Tensor) -> Tensor:
    """s(x), elementwise. The negative branch reads min(x, 0), so neither branch ever
    divides by zero and the masked one passes a finite (zero) gradient."""
    return (x + 1).where(x >= 0, 1 / (1 - x.clamp(max=0)))


def stablemax_nll(logits: Tensor, targets: Tensor) -> Tensor:
    """-log StableMax(logits)[target], over the last axis: [..., C], [...] -> [...].
    As the reference's ``log_stablemax``: log of the ratio, in the logits' dtype."""
    s = stablemax_s(logits)
    picked = s.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return -(picked / s.sum(dim=-1)).log()
