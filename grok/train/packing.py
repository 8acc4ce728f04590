"""Group a sweep's configurations into packs that can train fused in one process."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from grok.model import architecture_key
from grok.task import build_task

# Keys that may differ between members of one pack; everything else must agree.
MEMBER_KEYS = {
    "task": {"data_seed", "train_frac", "op", "name", "table_seed"},
    "model": {"seed", "init_std", "init_gain", "name"},
    "optim": {"lr", "wd", "betas", "eps", "momentum", "warmup_steps"},  # schedule shape is shared
}


def _rest(cfg: DictConfig, group: str) -> str:
    node = OmegaConf.to_container(cfg[group], resolve=True)
    assert isinstance(node, dict)
    free = MEMBER_KEYS.get(group, set())
    return repr(sorted((k, v) for k, v in node.items() if k not in free))


def pack_key(cfg: DictConfig) -> tuple:
    """Configurations with equal keys share shapes, schedule and device: one pack.

    Differences in seeds, split fraction, operation, lr, wd, betas, eps,
    warm-up and init scale are per-member; anything else starts a new pack.
    Minibatch training also needs equal train sizes, so there train_frac counts.
    """
    task = build_task(cfg.task)
    key: tuple = (
        task.shape_key(),
        architecture_key(cfg.model),
        _rest(cfg, "task"),
        _rest(cfg, "optim"),
        _rest(cfg, "train"),
        _rest(cfg, "hardware"),
    )
    if cfg.train.get("batch_size") is not None:
        key += (float(cfg.task.train_frac),)
    return key


def member_bytes(cfg: DictConfig) -> int:
    """Rough device memory one member needs: weights, grads and optimizer state,
    plus the largest activation set (an evaluation of the whole dataset, or the
    train batch), counted generously (~6 live tensors of the widest layer)."""
    task = build_task(cfg.task)
    m = cfg.model
    d, mlp, layers = int(m.d_model), int(m.d_mlp), int(m.n_layers)
    params = (
        task.d_vocab * d
        + task.n_ctx * d
        + layers * (4 * int(m.n_heads) * int(m.d_head) * d + 2 * d * mlp)
        + d * task.d_vocab_out
    )
    n_examples = len(task.dataset()[0])
    chunk = cfg.train.get("eval_batch_size") or n_examples
    width = max(d * 3, mlp, task.d_vocab_out, task.d_vocab)
    activations = chunk * task.n_ctx * width * 6 * layers
    return 4 * (4 * params + activations)


def make_packs(
    configs: Sequence[DictConfig], max_members: int, memory_bytes: int | None
) -> list[list[int]]:
    """Indices of ``configs`` grouped into packs, in first-seen order.

    A pack holds at most ``max_members`` members and, when ``memory_bytes`` is
    given, no more than fit that budget by ``member_bytes``.
    """
    groups: dict[tuple, list[int]] = {}
    for i, cfg in enumerate(configs):
        groups.setdefault(pack_key(cfg), []).append(i)
    packs = []
    for indices in groups.values():
        size = max_members
        if memory_bytes is not None:
            size = max(1, min(size, memory_bytes // max(member_bytes(configs[indices[0]]), 1)))
        n_packs = math.ceil(len(indices) / size)
        even = math.ceil(len(indices) / n_packs)  # balance the packs
        packs += [indices[i : i + even] for i in range(0, len(indices), even)]
    return packs


def describe_packs(configs: Sequence[Any], packs: list[list[int]]) -> str:
    sizes = [len(p) for p in packs]
    return f"{len(configs)} jobs in {len(packs)} pack(s) of sizes {sizes}"
