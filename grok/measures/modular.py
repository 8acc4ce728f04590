"""The Fourier suite (grok/measures/fourier.py, grok/measures/nanda.py) applied to every
member of a modular pack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.func import functional_call

from grok.measures.base import Measure, MemberView
from grok.measures.fourier import (
    CyclicGroup,
    fourier_norms,
    frequency_energy,
    gini,
    key_frequencies,
    op_group,
)
from grok.measures.nanda import nanda_measures, pair_chunks
from grok.task import ModularTask


class FourierMeasure(Measure):
    """Key frequencies, Fourier norms and Gini of W_E and W_L = W_out W_U, and seed 001's
    cos_sim per frequency, residual, neuron-frequency fractions, restricted and excluded
    loss (``fourier_values``).

    The embedding-side measures apply to every op; the logit, neuron and loss measures
    need the op's group structure (add, sub, mul, div) and are skipped for the others.
    """

    name = "fourier"

    def applies(self, task: Any) -> bool:
        return isinstance(task, ModularTask)

    @torch.no_grad()
    def compute(self, view: MemberView) -> dict[str, Any]:
        return fourier_values(
            view.task, view.params, model_forward(view.model, view.task), view.model
        )

    @staticmethod
    def train_mask(task: ModularTask, group: CyclicGroup) -> Tensor:
        """[n, n] over (j_a, j_b): is this pair in the member's train split?"""
        p, n = task.p, group.n
        a = group.tokens.repeat_interleave(n)
        b = group.tokens.repeat(n)
        row = a * (p - 1) + (b - 1) if task.op == "div" else a * p + b  # dataset order
        n_rows = p * (p - 1) if task.op == "div" else p * p
        train = torch.zeros(n_rows, dtype=torch.bool)
        train[task.split(n_rows).train] = True
        return train[row].view(n, n)


@torch.no_grad()
def fourier_values(
    task: ModularTask,
    params: dict[str, Tensor],
    forward: Callable[[Tensor], Any],
    model: Any,
    key_freqs: list[int] | None = None,
) -> dict[str, Any]:
    """The ``fourier/*`` values of one model: ``params`` its weights by TL name, ``forward``
    tokens -> (logits, neurons, final residual) at the read positions, ``model`` a
    ``Transformer`` or MLP of its shape (its embedding, how its last MLP's neurons reach the
    logits, ln_final and the unembedding: ``token_embedding``, ``neuron_readout``).

    The restricted and excluded losses and ``residual_key`` use ``key_freqs`` when given,
    else this checkpoint's own key frequencies (``fourier/key_freqs``). Seed 001 and the
    paper fix them once, from the final model, for every checkpoint: pass the final run's
    ``fourier/key_freqs`` to recompute their curves from saved checkpoints."""
    group = op_group(task.op, task.p)
    embedding = model.token_embedding(params)
    device = embedding.device
    tokens = (group.tokens if group else torch.arange(task.p)).to(device)
    w_e = embedding[tokens]  # residues only, group order
    readout = model.neuron_readout(params)  # None: attention only
    e_energy = frequency_energy(w_e)
    keys = key_frequencies(e_energy)
    key_list = _freq_list(keys)
    row: dict[str, Any] = {
        "fourier/key_freqs": key_list,
        "fourier/n_key_freqs": len(key_list),
        "fourier/gini_embed": float(gini(fourier_norms(w_e))),
        "fourier/embed_norms": e_energy.sqrt().tolist(),
    }
    if readout is None:
        return row
    w_out, w_u = readout
    w_l = w_out @ w_u  # [d_mlp, p]; the paper's W_L = W_U W_out is its transpose
    row["fourier/gini_logit"] = float(gini(fourier_norms(w_l[:, tokens].T)))
    if group is None:
        return row
    cfg = model.cfg
    out = nanda_measures(
        group,
        pair_chunks(group, forward, task.encode, task.p + cfg.d_mlp + cfg.d_model, device),
        w_out,
        w_u,
        keys if key_freqs is None else key_freqs,
        FourierMeasure.train_mask(task, group).to(device),
        unembed=final_unembed(model, params),
    )
    best_frac, best = out.neuron_freq_norm.max(dim=0)
    clustered = best[best_frac > 0.5] + 1
    counts = torch.bincount(clustered, minlength=group.n_freqs + 1)
    row |= {
        "fourier/cos_sim": out.cos_sim.tolist(),
        "fourier/residual": out.residual,
        "fourier/residual_key": out.residual_key,
        "fourier/neuron_frac": float(best_frac.mean()),
        # frequencies that are the best fit of >= 5% of the neurons they explain > 50% of
        "fourier/neuron_freqs": [
            k for k in range(1, len(counts)) if counts[k] >= max(1, 0.05 * clustered.numel())
        ],
        "fourier/neuron_clustered": float((best_frac > 0.5).double().mean()),
        "fourier/restricted_loss": out.restricted_loss,
        "fourier/excluded_loss": out.excluded_loss,
        "fourier/test_loss": out.test_loss,
    }
    return row


def key_freq_list(task: ModularTask, model: Any) -> list[int]:
    """The model's key frequencies, as ``fourier/key_freqs`` reports them."""
    group = op_group(task.op, task.p)
    w_e = model.W_E.detach()
    tokens = (group.tokens if group else torch.arange(task.p)).to(w_e.device)
    return _freq_list(key_frequencies(frequency_energy(w_e[tokens])))


def _freq_list(keys: Tensor) -> list[int]:
    return (torch.nonzero(keys)[:, 0] + 1).tolist()


def model_forward(model: Any, task: Any) -> Callable[[Tensor], Any]:
    """tokens -> (logits, neurons, final residual) at the task's read positions: what
    ``fourier_values`` reads of a standalone ``Transformer``."""

    def forward(x: Tensor) -> Any:
        return model(x, read_pos=task.read_pos, return_neurons=True, return_resid=True)

    return forward


def final_unembed(model: Any, params: dict[str, Tensor]) -> Callable[[Tensor], Tensor]:
    """Final residual (float64) -> logits through the model's own ln_final and unembed."""
    parts = {
        name: {k.split(".", 1)[1]: v.double() for k, v in params.items() if k.startswith(name)}
        for name in ("ln_final.", "unembed.")
    }

    def unembed(resid: Tensor) -> Tensor:
        normed = functional_call(model.ln_final, parts["ln_final."], (resid,))
        return functional_call(model.unembed, parts["unembed."], (normed,))

    return unembed
