"""Hidden progress on sparse parity (Barak et al., NeurIPS 2022, "Hidden Progress in Deep
Learning: SGD Learns Parities Near the Computational Limit", Section 5): loss and accuracy sit
at chance for a long time while the weights move steadily toward the sparse solution.

- ``parity/w_dist`` = ‖w_t − w_0‖₂ over every trained parameter (float64), their
  weight-movement measure; ``parity/w_dist_l1`` = ‖w_t − w_0‖₁ (the L1 form some summaries of
  the paper quote). w_0 is the member's epoch-0 weights, redrawn by the trainer's own init
  (``build_model(model_cfg).init_weights(model.seed)``, grok/train/stack.py), so it is 0
  exactly at epoch 0.
- ``parity/relevant_weight_frac`` (model.arch=mlp): bit j adds x_j v_j to the first hidden
  pre-activation, v_j = (E_j[1] − E_j[0]) W_in_j [d_mlp], with E_j the embedding at position
  j and W_in_j its rows of W_in (``model.operand_embeddings``: W_in's j-th d_model block
  under concat; all of W_in under sum, where every v_j is equal and the share is k/n). The
  value is Σ_{j∈S} ‖v_j‖² / Σ_j ‖v_j‖² for the relevant set S (``task.relevant``): k/n in
  expectation at a random init, 1 for a network that reads only the relevant bits (their
  sparse-feature amplification). A transformer has no per-bit first-layer weight: only
  ``w_dist`` there.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from grok.measures.base import Measure, MemberView
from grok.model import MLPNet, build_model
from grok.task.parity import ParityTask


class ParityMeasure(Measure):
    """``parity/*`` for a sparse-parity member (module docstring)."""

    name = "parity"

    def __init__(self, cfg: Any = None):
        super().__init__(cfg)
        self._initial: dict[tuple, dict[str, Tensor]] = {}

    def applies(self, task: Any) -> bool:
        return isinstance(task, ParityTask)

    def initial(self, view: MemberView) -> dict[str, Tensor]:
        """The member's epoch-0 weights (cached per architecture and seed)."""
        seed = int(view.cfg.model.seed)
        key = (repr(view.model_cfg), seed)
        if key not in self._initial:
            model = build_model(view.model_cfg)
            model.init_weights(seed)
            self._initial[key] = {n: p.detach().double() for n, p in model.named_parameters()}
        return self._initial[key]

    @torch.no_grad()
    def compute(self, view: MemberView) -> dict[str, Any]:
        start = self.initial(view)
        moved = [view.params[n].double().cpu() - w0 for n, w0 in start.items()]
        row: dict[str, Any] = {
            "parity/w_dist": float(sum(d.pow(2).sum() for d in moved).sqrt()),
            "parity/w_dist_l1": float(sum(d.abs().sum() for d in moved)),
        }
        if isinstance(view.model, MLPNet):
            frac = relevant_weight_frac(view.task, view.model, view.params)
            row["parity/relevant_weight_frac"] = frac
        return row


def bit_weights(model: MLPNet, params: dict[str, Tensor]) -> Tensor:
    """[n, d_mlp]: v_j = (E_j[1] − E_j[0]) W_in_j, what bit j adds to the first layer."""
    exact = {name: p.double() for name, p in params.items()}
    return torch.stack([table[1] - table[0] for table in model.operand_embeddings(exact)])


def relevant_weight_frac(task: ParityTask, model: MLPNet, params: dict[str, Tensor]) -> float:
    """Σ_{j∈S} ‖v_j‖² / Σ_j ‖v_j‖² (module docstring)."""
    energy = bit_weights(model, params).pow(2).sum(-1)
    return float(energy[list(task.relevant)].sum() / energy.sum())
