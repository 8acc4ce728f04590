"""Fourier machinery for the modular family: groups, basis, spectra, key frequencies, Gini.

Every measure lives on a cyclic group Z_n: for add/sub the residues themselves
(n = p); for mul/div the nonzero residues re-indexed by a generator g, j -> g^j
(discrete logarithm, n = p - 1), so that a*b and a/b become j_a + j_b and j_a - j_b
and the same machinery applies. Frequencies are k = 1..n//2 with k and n - k folded
(one rfft bin holds both). Seed 001's logit, neuron and loss measures, streamed over
the pairs, are in ``grok/measures/nanda.py``.

Gini (Nanda et al. 2023, Sec. 5.1): "the Gini coefficient (Hurley & Rickard, 2009) of
the norms of the Fourier components of W_E and W_L". The vector is ``fourier_norms``: one
norm per Fourier component (the constant, and cos k and sin k separately: n values), the
components taken along the token axis of W_E (rows of the residues; '=' dropped) and
along the logit axis of W_L = W_U W_out (norm over the neurons), as seed 001 plots
``(fourier_basis @ W_E).norm(dim=-1)`` and ``(W_logit @ fourier_basis.T).norm(dim=0)``
and as Sec. 4.1 describes W_E's: "We apply a Fourier transform along the input dimension
of the embedding matrix W_E then compute the l2-norm along the other dimension".
For mul/div the components are over Z_{p-1} in the re-indexed order (residue 0 dropped).

Key frequencies (documented rule): a frequency is key when its share of the
embedding's non-constant Fourier energy is at least ``KEY_SHARE_FACTOR`` = 2 times the
uniform share 1/K (K = n//2 frequencies). A random embedding spreads its energy
evenly (largest share ~1.25x uniform at d_model 128, ~1.5x at 32); a grokked one puts
~4-10x on each key frequency. (Checked against neuron clustering on the quickstart:
a frequency used by 56 of 512 neurons held 3.8x, so a 4x threshold would miss it.)
The neuron-cluster frequencies (each neuron's best frequency, for neurons it
explains > 50% of) are reported alongside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

KEY_SHARE_FACTOR = 2.0


def primitive_root(p: int) -> int:
    """The smallest generator of Z_p^* (p prime)."""
    factors, n, d = set(), p - 1, 2
    while d * d <= n:
        while n % d == 0:
            factors.add(d)
            n //= d
        d += 1
    if n > 1:
        factors.add(n)
    for g in range(2, p):
        if all(pow(g, (p - 1) // q, p) != 1 for q in factors):
            return g
    return 1  # p = 2


@dataclass(frozen=True)
class CyclicGroup:
    """The op's additive group: ``tokens[j]`` is the residue of group element j."""

    n: int
    tokens: Tensor  # [n] long
    subtract: bool  # a o b = j_a - j_b (sub, div) rather than j_a + j_b

    @property
    def n_freqs(self) -> int:
        return self.n // 2

    def combine(self, ja: Tensor, jb: Tensor) -> Tensor:
        return (ja - jb) % self.n if self.subtract else (ja + jb) % self.n


def op_group(op: str, p: int) -> CyclicGroup | None:
    """Z_p for add/sub; Z_p^* re-indexed by discrete log for mul/div; None otherwise."""
    if op in ("add", "sub"):
        return CyclicGroup(p, torch.arange(p), op == "sub")
    if op in ("mul", "div"):
        g = primitive_root(p)
        tokens = torch.tensor([pow(g, j, p) for j in range(p - 1)])
        return CyclicGroup(p - 1, tokens, op == "div")
    return None


# --- spectra ------------------------------------------------------------------------
def pair_weight(n: int) -> Tensor:
    """rfft bins 1..n//2: 2 for a (k, n-k) pair, 1 for the self-conjugate k = n/2."""
    w = torch.full((n // 2,), 2.0, dtype=torch.float64)
    if n % 2 == 0:
        w[-1] = 1.0
    return w


def frequency_energy(x: Tensor, dim: int = -2) -> Tensor:
    """Energy of each frequency k = 1..n//2 along ``dim`` (n entries), summed over the last
    axis when ``dim`` is not it: ||projection onto cos_k and sin_k||^2. [..., n//2]."""
    n = x.shape[dim]
    spec = torch.fft.rfft(x.double(), dim=dim)
    power = spec.real.square() + spec.imag.square()
    power = power.movedim(dim, -1)[..., 1 : n // 2 + 1] * pair_weight(n).to(x.device) / n
    return power.sum(dim=-2) if dim != -1 and x.ndim >= 2 else power


def constant_energy(x: Tensor, dim: int = -2) -> Tensor:
    return (x.double().sum(dim=dim).square() / x.shape[dim]).sum(dim=-1)


def key_frequencies(energy: Tensor, factor: float = KEY_SHARE_FACTOR) -> Tensor:
    """Boolean [..., K]: frequencies holding >= factor/K of the energy (module docstring)."""
    share = energy / energy.sum(dim=-1, keepdim=True).clamp(min=1e-300)
    return share >= factor / energy.shape[-1]


def gini(x: Tensor) -> Tensor:
    """Gini index of Hurley & Rickard (2009), the one Nanda et al. cite, over the last axis:
    1 - 2 sum_i (c_(i) / ||c||_1) (K - i + 1/2) / K with c sorted ascending, which equals
    sum_i (2i - K - 1) c_(i) / (K ||c||_1). 0 for equal values, -> 1 when one dominates."""
    x = x.double().sort(dim=-1).values
    k = x.shape[-1]
    ranks = torch.arange(1, k + 1, dtype=x.dtype, device=x.device)
    return ((2 * ranks - k - 1) * x).sum(-1) / (k * x.sum(-1).clamp(min=1e-300))


def fourier_norms(x: Tensor) -> Tensor:
    """[n]: the norm of each of the n Fourier components of ``x`` [n, d] along its first
    axis (constant, then cos k and sin k separately): ``(fourier_basis(n) @ x).norm(dim=-1)``,
    as seed 001 plots them for W_E and W_L. Nanda et al.'s Gini is taken over this vector."""
    basis = fourier_basis(x.shape[0]).to(x.device)
    return (basis @ x.double()).norm(dim=-1)


def fourier_basis(n: int) -> Tensor:
    """Seed 001's orthonormal basis as rows: constant, then cos k, sin k for k = 1..n//2."""
    j = torch.arange(n, dtype=torch.float64)
    rows = [torch.ones(n, dtype=torch.float64)]
    for k in range(1, n // 2 + 1):
        rows.append(torch.cos(2 * math.pi * k * j / n))
        if 2 * k != n:
            rows.append(torch.sin(2 * math.pi * k * j / n))
    basis = torch.stack(rows)
    return basis / basis.norm(dim=-1, keepdim=True)
