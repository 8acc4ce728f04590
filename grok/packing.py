"""Group a sweep's configurations into packs that train fused, and size them by memory.

What may differ inside a pack is not listed here: it comes from ``grok.keys`` (per-member
keys may differ; pack-wide keys must agree), plus what the task derives from its config
(``Task.shape_key``: vocabulary, context, output positions, div's example count) and, for
minibatch training, the train size (members take the same number of steps per epoch).

``member_bytes`` estimates one run's peak memory without building its data; the launchers
refuse, before anything is created, a job that cannot fit (``memory_problems``), and the
packer fills packs up to the device's budget with the same function.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from grok import keys
from grok.task import build_task

HEADROOM = 0.8  # fraction of the free memory a pack may plan to use
# Per pack, beyond its members: allocator caches, BLAS workspaces, a CUDA graph's pool.
# (Measured on CPU: the small fraction task peaked 197 MiB against 148 MiB of tensors.)
PACK_OVERHEAD = 192 * 2**20


@lru_cache(maxsize=4096)
def _task(task_items: tuple) -> Any:
    return build_task(OmegaConf.create(keys.thaw(task_items)))


def task_of(flat: dict[str, Any]) -> Any:
    """The task of a flattened config (built once per distinct task section)."""
    items = tuple(sorted((k[5:], keys.freeze(v)) for k, v in flat.items() if k.startswith("task.")))
    return _task(items)


def pack_key(cfg: Any) -> tuple:
    """Configurations with equal keys can share a pack (see the module docstring)."""
    flat = cfg if isinstance(cfg, dict) else keys.flat_config(cfg)
    task = task_of(flat)
    wide = tuple(sorted((k, repr(v)) for k, v in flat.items() if keys.lookup(k).scope.pack_wide))
    key: tuple = (task.shape_key(), wide)
    if flat.get("train.batch_size") is not None:
        key += (task.n_train,)
    return key


def member_bytes(cfg: Any) -> int:
    """Peak memory of one run (bytes), estimated generously from its shapes.

    Parameters: weights, gradients and two optimizer slots (float32), plus the copies a
    checkpoint and a CUDA-graph capture make, plus a grokking method's state
    (``method_slots``: Grokfast MA keeps window x parameters). Activations per example and
    layer: the residual stream and its norms (~8 x n_ctx x d_model), Q, K, V and Z (4 x
    n_ctx x heads x d_head), scores and pattern (2 x heads x n_ctx^2), the MLP (2 x n_ctx x d_mlp);
    the embedding's one-hot (n_ctx x d_vocab) and the logits (read positions x classes,
    float32 + float64 log-softmax + gradient); kept for backward and counted twice. The
    batch is the train split (or ``train.batch_size``) during a step, and the whole split
    (or ``train.eval_batch_size``) during an evaluation; data tensors are added.
    """
    flat = cfg if isinstance(cfg, dict) else keys.flat_config(cfg)
    task = task_of(flat)
    d, mlp = int(flat["model.d_model"]), int(flat["model.d_mlp"])
    layers, heads, d_head = (int(flat[f"model.{k}"]) for k in ("n_layers", "n_heads", "d_head"))
    ctx = task.n_ctx
    read = len(range(*task.read_pos.indices(ctx)))
    params = (
        task.d_vocab * d
        + ctx * d
        + layers * (4 * heads * d_head * d + 2 * d * mlp + 8 * d)
        + d * task.d_vocab_out
    )
    per_layer = 8 * ctx * d + 4 * ctx * heads * d_head + 2 * heads * ctx * ctx + 2 * ctx * mlp
    per_example_floats = layers * per_layer + ctx * task.d_vocab + read * task.d_vocab_out * 5
    n_train = task.n_train
    step_batch = flat.get("train.batch_size") or n_train
    eval_batch = flat.get("train.eval_batch_size") or max(n_train, task.n_examples - n_train)
    step = 2 * per_example_floats * step_batch  # activations kept for backward
    evaluation = per_example_floats * eval_batch
    data = task.n_examples * (ctx + read) * 8 * 2  # inputs and targets, and their stacked copies
    return int(4 * ((6 + method_slots(flat)) * params + max(step, evaluation)) + data)


def method_slots(flat: dict[str, Any]) -> int:
    """Float32 copies of the parameters a grokking method keeps (grok/optim/grokfast.py):
    the EMA, or the MA's ring of ``window`` gradients plus its float64 running sum."""
    kind = flat.get("optim.grokfast.kind", "none")
    if kind == "ma":
        return int(flat.get("optim.grokfast.window", 100)) + 2
    return 1 if kind == "ema" else 0


def memory_budget(device: str) -> tuple[int | None, str]:
    """(bytes a pack may plan to use, what limits it) on ``device``."""
    if str(device).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            return None, "no CUDA device visible"
        free, _ = torch.cuda.mem_get_info()
        return int(HEADROOM * free), f"{HEADROOM:.0%} of the GPU's free memory"
    available = _host_available()
    if available is None:
        return None, "host memory unknown"
    return int(HEADROOM * available), f"{HEADROOM:.0%} of the host's available RAM"


def _host_available() -> int | None:
    """MemAvailable, capped by a cgroup limit (SLURM jobs, containers)."""
    found = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found = int(line.split()[1]) * 1024
    except OSError:
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            raw = Path(path).read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and int(raw) < (1 << 60):
            used = _cgroup_used(Path(path).parent)
            limit = int(raw) - used
            found = limit if found is None else min(found, limit)
    if found is None and hasattr(os, "sysconf"):
        with contextlib.suppress(ValueError, OSError):
            found = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return found


def _cgroup_used(root: Path) -> int:
    for name in ("memory.current", "memory.usage_in_bytes"):
        try:
            return int((root / name).read_text().strip())
        except (OSError, ValueError):
            continue
    return 0


def memory_problems(
    configs: Sequence[Any], budget: int | None = None, where: str = ""
) -> list[str]:
    """One message per configuration that cannot fit alone, with estimate and limit."""
    problems = []
    for cfg in configs:
        flat = cfg if isinstance(cfg, dict) else keys.flat_config(cfg)
        limit, why = (
            (budget, where) if budget is not None else memory_budget(flat["hardware.device"])
        )
        if limit is None:
            continue
        need = member_bytes(flat) + PACK_OVERHEAD
        if need > limit:
            task = task_of(flat)
            problems.append(
                f"{flat.get('task.name')} with {task.n_examples:,} examples: one run needs "
                f"~{need / 2**30:.1f} GiB (estimate, grok.packing.member_bytes) but "
                f"{why} is {limit / 2**30:.1f} GiB; use a smaller task or model, "
                "train.batch_size / train.eval_batch_size, or a bigger device"
            )
    return problems


def make_packs(
    configs: Sequence[Any], max_members: int, memory_bytes: int | None
) -> list[list[int]]:
    """Indices of ``configs`` grouped into packs, in first-seen order.

    A pack holds at most ``max_members`` members and, when ``memory_bytes`` is
    given, no more than fit that budget by ``member_bytes``.
    """
    flats = [c if isinstance(c, dict) else keys.flat_config(c) for c in configs]
    groups: dict[tuple, list[int]] = {}
    for i, flat in enumerate(flats):
        groups.setdefault(pack_key(flat), []).append(i)
    packs = []
    for indices in groups.values():
        size = max_members
        if memory_bytes is not None:
            biggest = max(member_bytes(flats[i]) for i in indices)
            size = max(1, min(size, (memory_bytes - PACK_OVERHEAD) // max(biggest, 1)))
        n_packs = math.ceil(len(indices) / size)
        even = math.ceil(len(indices) / n_packs)  # balance the packs
        packs += [indices[i : i + even] for i in range(0, len(indices), even)]
    return packs


def pack_bytes(configs: Sequence[Any]) -> int:
    """Planned peak memory of one pack of ``configs``."""
    return PACK_OVERHEAD + sum(member_bytes(c) for c in configs)
