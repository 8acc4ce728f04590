"""Which representations did it learn: Chughtai et al. 2023's measures for group composition.

"A Toy Model of Universality" (Chughtai, Chan, Nanda; ICML 2023; repo
bilal-chughtai/rep-theory-mech-interp, ``rep_theory/utils/metrics.py``) explain a network
that composes x·y in a finite group G by irreducible representations ρ: it embeds x and y
as ρ(x), ρ(y), its MLP neurons hold ρ(xy), and its logit for z is tr ρ(x)ρ(y)ρ(z⁻¹). For
Z_p the 2-d real irreps are Nanda et al.'s key frequencies. Re-implemented here (no code
copied); ``B_ρ`` is ρ's matrix-element basis, orthonormal over G (``grok.task.irreps``):

- ``trace_sim/ρ`` (their ``logit_trace_similarity``): the cosine, over all |G|^2 pairs and
  |G| outputs at once, between the logits centred per pair, L[x, y, z] − mean_z, and
  T[x, y, z] = tr(ρ(x)ρ(y)ρ(z)⁻¹) (not centred); non-trivial irreps only. ``key_irreps``:
  those with ``trace_sim`` > 0.005 (their ``determine_key_reps``); ``logits_explained`` =
  Σ_ρ trace_sim².
- ``embed_x/ρ``, ``embed_y/ρ`` (``percent_total_embed``): ||B_ρᵀ E||² / ||E||² for the
  embeddings E of x's and y's elements: a transformer's W_E (both; with ``task.diff_vocab``
  y's have rows of their own), an MLP's "total embedding" W_x W_in[:d] / W_y W_in[d:], what
  a token adds to the hidden layer (``model.operand_embeddings``); ``unembed/ρ``
  (``percent_unembed``): the same for (W_out W_U)ᵀ (an MLP: W_Uᵀ), the map from the last
  hidden neurons to the logits, by output (``model.neuron_readout``).
- ``hidden/ρ`` (``total_percent_hidden``): the neurons H [|G|^2, d_mlp] at the read position,
  centred over pairs; the share of ||H||² in the span of ρ(x)'s, ρ(y)'s and ρ(xy)'s matrix
  elements (as functions of the pair), summed.
- ``restricted_loss`` / ``excluded_loss`` (``total_hidden_restricted_loss`` /
  ``..._excluded_loss``, the paper's): H (not centred) projected onto the span of ρ(xy) for
  the key irreps, and H minus that, mapped to logits by H W_out W_U (their
  ``hidden_to_logits``: the MLP's direct path only, no residual stream, biases or final LN);
  cross-entropy (float64) over all pairs for the restricted, over the train pairs for the
  excluded. ``*_key`` values sum the per-irrep ones over the key irreps.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from grok.measures.base import Measure, MemberView
from grok.task.group import GroupTask
from grok.task.irreps import irreps, matrix_element_basis

KEY_THRESHOLD = 0.005  # rep_theory/utils/metrics.py, determine_key_reps
CHUNK_PAIRS = 4096  # pairs per forward: S6's 518,400 pairs do not fit at once


class IrrepMeasure(Measure):
    """``irreps/*`` for a group-composition member (module docstring)."""

    name = "irreps"

    def applies(self, task: Any) -> bool:
        return isinstance(task, GroupTask)

    @torch.no_grad()
    def compute(self, view: MemberView) -> dict[str, Any]:
        return irrep_values(view.task, view.params, view.model)


def _forward(model: Any, task: GroupTask) -> tuple[Tensor, Tensor, Tensor]:
    """(logits [N, |G|], neurons [N, d_mlp], labels [N]) at the last read position, float64,
    every pair in dataset order."""
    a, b = task.pairs()
    device = next(model.parameters()).device
    logits, neurons = [], []
    for start in range(0, len(a), CHUNK_PAIRS):
        x = task.encode(a[start : start + CHUNK_PAIRS], b[start : start + CHUNK_PAIRS])
        out, post = model(x.to(device), read_pos=task.read_pos, return_neurons=True)
        logits.append(out[:, -1].double())
        neurons.append(post[:, -1].double())
    return torch.cat(logits), torch.cat(neurons), task.labels(a, b).to(device)


def _nll(logits: Tensor, labels: Tensor) -> float:
    return float(-logits.log_softmax(-1).gather(-1, labels[:, None]).mean())


def _share(basis: Tensor, matrix: Tensor) -> float:
    """||basisᵀ M||² / ||M||²: the share of M's columns in the span of ``basis``' columns."""
    return float((basis.T @ matrix).pow(2).sum() / matrix.pow(2).sum())


@torch.no_grad()
def irrep_values(
    task: GroupTask, params: dict[str, Tensor], model: Any, key_irreps: list[str] | None = None
) -> dict[str, Any]:
    """The ``irreps/*`` values of one model (weights ``params`` by TL name, ``model`` a
    standalone model holding them). The restricted and excluded losses and the ``*_key``
    sums use ``key_irreps`` when given (as their training runs do, from cfg.json's
    ``key_reps``), else this model's own (``irreps/key_irreps``)."""
    group, n = task.group, task.group.order
    device = params["unembed.W_U"].device
    exact = {name: p.double() for name, p in params.items()}  # products in float64
    tables = model.operand_embeddings(exact)
    e_x, e_y = tables[0][:n], tables[1][n : 2 * n] if task.diff_vocab else tables[1][:n]
    w_out, w_u = model.neuron_readout(exact)
    w_l = w_out @ w_u  # neurons -> logits
    logits, hidden, labels = _forward(model, task)
    a, b = task.pairs()
    a, b, ab = a.to(device), b.to(device), labels
    centred_logits = logits - logits.mean(-1, keepdim=True)
    centred_hidden = hidden - hidden.mean(0, keepdim=True)
    scale = n**-0.5  # B_ρ[x] over all pairs: each element appears n times
    row: dict[str, Any] = {}
    sims: dict[str, float] = {}
    bases = {name: matrix_element_basis(rep).to(device) for name, rep in irreps(group).items()}
    for name, rep in irreps(group).items():
        basis = bases[name]  # [n, r]
        row[f"irreps/embed_x/{name}"] = _share(basis, e_x)
        row[f"irreps/embed_y/{name}"] = _share(basis, e_y)
        row[f"irreps/unembed/{name}"] = _share(basis, w_l.T)
        row[f"irreps/hidden/{name}"] = sum(
            _share(basis[idx] * scale, centred_hidden) for idx in (a, b, ab)
        )
        if name != "trivial":
            flat = rep.reshape(n, -1).to(device)  # vec ρ(g): T[x, y, z] = vec ρ(xy) · vec ρ(z)
            trace = flat[ab] @ flat.T  # [N, n]
            sims[name] = float(
                (centred_logits * trace).sum() / (centred_logits.norm() * trace.norm())
            )
            row[f"irreps/trace_sim/{name}"] = sims[name]
    own = [name for name, sim in sims.items() if sim > KEY_THRESHOLD]
    keys = own if key_irreps is None else list(key_irreps)
    projected = torch.zeros_like(hidden)  # H on the span of the key irreps' ρ(xy)
    for name in keys:
        q_xy = bases[name][ab] * scale
        projected += q_xy @ (q_xy.T @ hidden)
    train = task.split(len(labels)).train.to(device)
    excluded = (hidden - projected)[train] @ w_l
    row |= {
        "irreps/key_irreps": own,
        "irreps/n_key_irreps": len(own),
        "irreps/logits_explained": sum(s * s for s in sims.values()),
        "irreps/restricted_loss": _nll(projected @ w_l, labels),
        "irreps/excluded_loss": _nll(excluded, labels[train]),
    }
    for part in ("embed_x", "embed_y", "unembed", "hidden"):
        row[f"irreps/{part}_key"] = sum(row[f"irreps/{part}/{name}"] for name in keys)
    return row
