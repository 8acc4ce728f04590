"""Per-member data, stacked on a leading member axis and padded to one length."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from grok.task import Task


@dataclass
class SplitTensors:
    """Examples of one split for every member of a pack.

    x: [M, n, n_ctx] inputs; y: [M, n, P] targets; mask: [M, n] float64, 1 for
    a member's own examples and 0 for padding; count: [M] float64, examples per
    member. ``mean`` of a per-example value [M, n] is then each member's mean over
    its own examples, computed the same way whatever the pack size.
    """

    x: Tensor
    y: Tensor
    mask: Tensor
    count: Tensor
    sizes: list[int]
    target_var: Tensor | None = None  # [M] variance of each member's targets (for R^2)
    offset: int = 0  # index of this chunk's first example in the whole split

    def total(self, values: Tensor) -> Tensor:
        return (values * self.mask).sum(-1)

    def exact_total(self, values: Tensor) -> Tensor:
        """Per-member sums over exactly the member's own examples.

        For reported metrics: a vectorized sum over padded rows (or a lone row that
        torch splits across threads) rounds differently, and a packed member must
        report the very numbers it would alone. Gradients need no such care: the
        gradient of a sum does not depend on its order.
        """
        own = [min(n - self.offset, values.shape[1]) for n in self.sizes]
        return torch.stack([values[i, : max(k, 0)].sum() for i, k in enumerate(own)])

    def mean(self, values: Tensor) -> Tensor:
        return self.total(values) / self.count

    def select(self, index: Tensor) -> SplitTensors:
        """Rows ``index`` [M, b] of each member (a minibatch)."""

        def gather(t: Tensor) -> Tensor:
            idx = index.view(*index.shape, *([1] * (t.ndim - 2))).expand(-1, -1, *t.shape[2:])
            return torch.gather(t, 1, idx)

        mask = torch.ones(index.shape, dtype=self.mask.dtype, device=index.device)
        count = torch.full_like(self.count, index.shape[1])
        return SplitTensors(
            gather(self.x), gather(self.y), mask, count, [index.shape[1]] * len(count)
        )

    def member(self, i: int) -> SplitTensors:
        """Member i alone, without padding: exactly the tensors its lone run has."""
        n = self.sizes[i]
        var = self.target_var[i : i + 1] if self.target_var is not None else None
        return SplitTensors(
            self.x[i : i + 1, :n],
            self.y[i : i + 1, :n],
            self.mask[i : i + 1, :n],
            self.count[i : i + 1],
            [n],
            var,
            self.offset,
        )

    def take(self, members: list[int]) -> SplitTensors:
        """Members ``members`` only (a pack some members left), padding kept."""
        index = torch.tensor(members, device=self.x.device)
        var = self.target_var.index_select(0, index) if self.target_var is not None else None
        return SplitTensors(
            *(t.index_select(0, index) for t in (self.x, self.y, self.mask, self.count)),
            [self.sizes[i] for i in members],
            var,
            self.offset,
        )

    def chunks(self, size: int | None):
        """Example-axis chunks (each keeps the full ``count``), to evaluate big splits."""
        n = self.x.shape[1]
        size = size or n
        for start in range(0, n, size):
            sl = slice(start, start + size)
            yield SplitTensors(
                self.x[:, sl],
                self.y[:, sl],
                self.mask[:, sl],
                self.count,
                self.sizes,
                self.target_var,
                start,
            )


def _stack(parts: list[tuple[Tensor, Tensor]], device: torch.device) -> SplitTensors:
    sizes = [len(x) for x, _ in parts]
    n = max(sizes)
    x = torch.zeros(len(parts), n, *parts[0][0].shape[1:], dtype=parts[0][0].dtype)
    y = torch.zeros(len(parts), n, *parts[0][1].shape[1:], dtype=parts[0][1].dtype)
    mask = torch.zeros(len(parts), n, dtype=torch.float64)
    for i, (xi, yi) in enumerate(parts):
        x[i, : len(xi)], y[i, : len(yi)], mask[i, : len(xi)] = xi, yi, 1.0
    count = torch.tensor(sizes, dtype=torch.float64)
    var = torch.stack([yi.double().var(correction=0) for _, yi in parts])
    return SplitTensors(
        x.to(device), y.to(device), mask.to(device), count.to(device), sizes, var.to(device)
    )


def stack_splits(tasks: list[Task], device: torch.device) -> tuple[SplitTensors, SplitTensors]:
    """Train and test tensors for each member's task (same shapes, own split and labels)."""
    train, test = [], []
    for task in tasks:
        inputs, targets = task.dataset()
        split = task.split(len(inputs))
        train.append((inputs[split.train], targets[split.train]))
        test.append((inputs[split.test], targets[split.test]))
    return _stack(train, device), _stack(test, device)
