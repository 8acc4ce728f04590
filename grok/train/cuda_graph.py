"""The full-batch training step replayed as one CUDA graph.

One Nanda-sized epoch is a few hundred small kernels; replaying them as a graph removes the
CPU launch cost that otherwise dominates on a GPU. The warm-up steps the capture needs are
undone, so numbers match eager mode.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def capture_step(trainer: Any) -> bool:
    """Capture ``trainer._step`` on the full batch into ``trainer._graph``; False where a
    graph cannot replay the step (CPU, minibatches, dropout masks that change every step)."""
    if trainer.device.type != "cuda" or trainer.batch_size is not None or trainer.any_dropout:
        return False
    saved = [t.detach().clone() for t in _state_tensors(trainer)]
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):  # lets autograd and the allocator settle before capture
            trainer._step(trainer.train_data)
    torch.cuda.current_stream().wait_stream(stream)
    with torch.no_grad():
        for t, value in zip(_state_tensors(trainer), saved, strict=True):
            t.copy_(value)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        trainer._step(trainer.train_data)
    trainer._graph = graph
    return True


def _state_tensors(trainer: Any) -> list[Tensor]:
    return [*trainer.params.values(), *trainer.optimizer.state_tensors()]
