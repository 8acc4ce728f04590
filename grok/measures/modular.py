"""The Fourier suite (grok/measures/fourier.py) applied to every member of a modular pack."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

from grok.measures.base import Measure, MemberView
from grok.measures.fourier import (
    CyclicGroup,
    analyze,
    frequency_energy,
    gini,
    key_frequencies,
    op_group,
)
from grok.task import ModularTask

CHUNK_VALUES = 2**24  # floats per chunk of (logits + neurons); ~64 MB


class FourierMeasure(Measure):
    """Key frequencies, Fourier norms and Gini of W_E and W_L = W_out W_U, logit cosine
    coefficients and residual, neuron-frequency fractions, restricted and excluded loss.

    The embedding-side measures apply to every op; the logit, neuron and loss measures
    need the op's group structure (add, sub, mul, div) and are skipped for the others.
    """

    name = "fourier"

    def applies(self, task: Any) -> bool:
        return isinstance(task, ModularTask)

    @torch.no_grad()
    def compute(self, view: MemberView) -> dict[str, Any]:
        task: ModularTask = view.task
        params = view.params
        device = view.device
        group = op_group(task.op, task.p)
        tokens = group.tokens if group else torch.arange(task.p)
        w_e = params["embed.W_E"][tokens.to(device)]  # residues only, group order
        last = view.model_cfg.n_layers - 1
        w_l = params[f"blocks.{last}.mlp.W_out"] @ params["unembed.W_U"]  # [d_mlp, p]
        e_energy = frequency_energy(w_e)
        l_energy = frequency_energy(w_l[:, tokens.to(device)].T)
        keys = key_frequencies(e_energy)
        key_list = (torch.nonzero(keys)[:, 0] + 1).tolist()
        row: dict[str, Any] = {
            "fourier/key_freqs": key_list,
            "fourier/n_key_freqs": len(key_list),
            "fourier/gini_embed": float(gini(e_energy.sqrt())),
            "fourier/gini_logit": float(gini(l_energy.sqrt())),
            "fourier/embed_norms": e_energy.sqrt().tolist(),
        }
        if group is None:
            return row
        result = analyze(
            group,
            lambda: pair_chunks(
                group,
                lambda x: view.model(x, read_pos=view.read_pos, return_neurons=True),
                task.p,
                view.model_cfg.d_mlp,
                device,
            ),
            w_l,
            keys,
            self.train_mask(task, group).to(device),
        )
        row.update(
            {
                "fourier/logit_coef": result.logit_coef[keys].tolist(),
                "fourier/logit_residual": result.logit_residual,
                "fourier/neuron_frac": float(result.neuron_best_frac.mean()),
                "fourier/neuron_freqs": self._clusters(result),
                "fourier/neuron_clustered": float((result.neuron_best_frac > 0.5).double().mean()),
                "fourier/restricted_loss": result.restricted_loss,
                "fourier/excluded_loss": result.excluded_loss,
                "fourier/test_loss": result.full_test_loss,
            }
        )
        return row

    @staticmethod
    def _clusters(result: Any) -> list[int]:
        """Frequencies that are the best fit of >= 5% of the well-explained neurons."""
        best = result.neuron_best_freq[result.neuron_best_frac > 0.5]
        if best.numel() == 0:
            return []
        counts = torch.bincount(best)
        return [k for k in range(1, len(counts)) if counts[k] >= 0.05 * best.numel()]

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


def pair_chunks(
    group: CyclicGroup,
    forward: Callable[[Tensor], tuple[Tensor, Tensor]],
    p: int,
    d_mlp: int,
    device: torch.device,
) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """Final-position logits and neurons for all group pairs, rows of j_a at a time (the
    chunks ``analyze`` reads). ``forward`` maps tokens [b, 3] to (logits, neurons) at every
    read position (inputs are ``a b =``, '=' being token p); chunks hold ~CHUNK_VALUES
    floats so p near 1000 fits in memory."""
    n = group.n
    rows = max(1, CHUNK_VALUES // (n * (d_mlp + p)))
    tokens = group.tokens.to(device)
    jb = torch.arange(n, device=device)
    for start in range(0, n, rows):
        ja = torch.arange(start, min(start + rows, n), device=device)
        a = tokens[ja].repeat_interleave(n)
        b = tokens[jb].repeat(len(ja))
        x = torch.stack([a, b, torch.full_like(a, p)], dim=1)
        logits, neurons = forward(x)
        yield ja, logits[:, -1], neurons[:, -1]
