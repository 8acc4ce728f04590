"""Stacked optimizers follow torch.optim's update rules, per member."""

import pytest
import torch
from omegaconf import OmegaConf

from grok.optim import build_optimizer

CONFIGS = {
    "adamw": [
        {"name": "adamw", "lr": 1e-2, "wd": 1.0, "betas": [0.9, 0.98]},
        {"name": "adamw", "lr": 3e-3, "wd": 0.1, "betas": [0.8, 0.999]},
    ],
    "adam": [
        {"name": "adam", "lr": 1e-2, "wd": 0.5, "betas": [0.9, 0.98]},
        {"name": "adam", "lr": 2e-3, "wd": 0.0, "betas": [0.95, 0.99]},
    ],
    "sgd": [
        {"name": "sgd", "lr": 0.1, "wd": 0.01, "momentum": 0.9},
        {"name": "sgd", "lr": 0.05, "wd": 0.0, "momentum": 0.0},
    ],
}


def torch_optimizer(cfg, params):
    if cfg["name"] == "sgd":
        return torch.optim.SGD(
            params, lr=cfg["lr"], weight_decay=cfg["wd"], momentum=cfg["momentum"]
        )
    cls = torch.optim.AdamW if cfg["name"] == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg["lr"], weight_decay=cfg["wd"], betas=tuple(cfg["betas"]))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_matches_torch_optim_for_each_member(name):
    configs = [OmegaConf.create(c) for c in CONFIGS[name]]
    gen = torch.Generator().manual_seed(0)
    init = {"w": torch.randn(2, 5, 3, generator=gen), "b": torch.randn(2, 4, generator=gen)}
    stacked = {k: v.clone() for k, v in init.items()}
    ours = build_optimizer(stacked, configs)
    refs = []
    for i, c in enumerate(CONFIGS[name]):
        params = [init[k][i].clone().requires_grad_() for k in init]
        refs.append((params, torch_optimizer(c, params)))
    for _ in range(25):
        grads = {k: torch.randn(v.shape, generator=gen) for k, v in init.items()}
        ours.step(grads)
        for i, (params, opt) in enumerate(refs):
            for p, k in zip(params, init, strict=True):
                p.grad = grads[k][i].clone()
            opt.step()
    for i, (params, _) in enumerate(refs):
        for p, k in zip(params, init, strict=True):
            torch.testing.assert_close(stacked[k][i], p.detach(), rtol=1e-5, atol=1e-6)


def test_linear_warmup_scales_lr_like_nanda_lambda_lr():
    cfg = OmegaConf.create(
        {"name": "adamw", "lr": 1.0, "wd": 0.0, "betas": [0.9, 0.98], "warmup_steps": 10}
    )
    opt = build_optimizer({"w": torch.zeros(1, 1)}, [cfg])
    seen = []
    for _ in range(12):
        opt.step_count += 1
        seen.append(opt.current_lr().item())
    assert seen[:3] == pytest.approx([0.0, 0.1, 0.2])  # LambdaLR(min(step/10, 1))
    assert seen[10:] == pytest.approx([1.0, 1.0])
