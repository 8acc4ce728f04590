"""Turn the ``hardware`` config group into a torch device and numeric settings."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from grok import checks
from grok.errors import ConfigError

DEVICES = ("cpu", "cuda", "auto")


def problems(cfg: Any) -> list[str]:
    out = []
    device = cfg.get("device")
    if device not in DEVICES and not str(device).startswith("cuda:"):
        out.append(f"hardware.device={device!r}: allowed are {list(DEVICES)} or 'cuda:N'")
    out += checks.integer(
        "hardware.threads",
        cfg.get("threads"),
        null=True,
        text="a positive number of CPU threads, or null for torch's default (all cores)",
    )
    return out


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"hardware.device={name!r} but torch {torch.__version__} sees no CUDA GPU; "
            "use hardware=cpu, or install a CUDA build of torch"
        )
    return torch.device(name)


@contextlib.contextmanager
def configured(device: torch.device, threads: int | None, tf32: bool | None) -> Iterator[None]:
    """Process-wide numeric settings for one training, restored after it: a run in a notebook
    or a test must not leave the next one on its thread count (CPU sums are split by thread,
    so the count changes the last bits). TF32 is off unless asked for (fidelity first)."""
    before = (
        torch.get_num_threads(),
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
    )
    try:
        if threads is not None:
            torch.set_num_threads(int(threads))
        if device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = bool(tf32)
            torch.backends.cudnn.allow_tf32 = bool(tf32)
        yield
    finally:
        if torch.get_num_threads() != before[0]:
            torch.set_num_threads(before[0])
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before[1:]


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu ({torch.get_num_threads()} threads)"
