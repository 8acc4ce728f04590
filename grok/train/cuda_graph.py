"""The full-batch training step replayed as one CUDA graph.

One Nanda-sized epoch is a few hundred small kernels; replaying them as a graph removes the
CPU launch cost that otherwise dominates on a GPU. The warm-up steps the capture needs are
undone, so numbers match eager mode.
"""

from __future__ import annotations

import torch

from grok.train.stack import Stack


def capture_step(stack: Stack) -> torch.cuda.CUDAGraph | None:
    """``stack.step`` on the full batch as a graph to replay; None where a graph cannot
    replay the step (CPU, minibatches, dropout masks that change every step)."""
    if stack.device.type != "cuda" or stack.batch_size is not None or stack.any_dropout:
        return None
    saved = [t.detach().clone() for t in stack.state_tensors()]
    steps = stack.steps_done
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):  # lets autograd and the allocator settle before capture
            stack.step(stack.train)
    torch.cuda.current_stream().wait_stream(stream)
    with torch.no_grad():  # undo the warm-up steps
        for t, value in zip(stack.state_tensors(), saved, strict=True):
            t.copy_(value)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):  # records the step's kernels; runs none of them
        stack.step(stack.train)
    stack.steps_done = steps
    return graph
