"""Nanda et al. 2023's progress measures for the modular family, from FFTs.

Every measure lives on a cyclic group Z_n: for add/sub the residues themselves
(n = p); for mul/div the nonzero residues re-indexed by a generator g, j -> g^j
(discrete logarithm, n = p - 1), so that a*b and a/b become j_a + j_b and j_a - j_b
and the same machinery applies. Frequencies are k = 1..n//2 with k and n - k folded
(one rfft bin holds both).

Seed 001 builds a 56 x p^3 cosine cube (~320 MB at p = 113). Here nothing of size
p^3 exists: logits are streamed in chunks of examples and reduced on the fly.
Costs for n = |group|, d = d_model, m = d_mlp, chunks of c examples:

- embedding / W_L Fourier norms, Gini, key frequencies: O(n d log n), O(n m log n)
- neuron spectra: four aggregated sums (rows, columns, a+b and a-b diagonals) per
  neuron, O(n^2 m) to accumulate + O(n m log n) FFTs; memory O(n m)
- logit coefficients: logits summed over pairs with equal a o b, O(n^3) time in
  chunks, memory O(n^2); one 2D FFT O(n^2 log n)
- restricted / excluded loss: a second pass over the chunks, O(n^2 (m + n)) time,
  memory O(c (m + n)).

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
from collections.abc import Callable, Iterator
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
def _pair_weight(n: int) -> Tensor:
    """rfft bins 1..n//2: 2 for a (k, n-k) pair, 1 for the self-conjugate k = n/2."""
    w = torch.full((n // 2,), 2.0, dtype=torch.float64)
    if n % 2 == 0:
        w[-1] = 1.0
    return w


def _type_weight(n: int, kind: str) -> Tensor:
    """Pair weights per component type; for even n the a+b and a-b bins coincide at
    k = n/2, so that bin is counted once (as "sum")."""
    w = _pair_weight(n)
    if kind == "diff" and n % 2 == 0:
        w = w.clone()
        w[-1] = 0.0
    return w


def frequency_energy(x: Tensor, dim: int = -2) -> Tensor:
    """Energy of each frequency k = 1..n//2 along ``dim`` (n entries), summed over the last
    axis when ``dim`` is not it: ||projection onto cos_k and sin_k||^2. [..., n//2]."""
    n = x.shape[dim]
    spec = torch.fft.rfft(x.double(), dim=dim)
    power = spec.real.square() + spec.imag.square()
    power = power.movedim(dim, -1)[..., 1 : n // 2 + 1] * _pair_weight(n).to(x.device) / n
    return power.sum(dim=-2) if dim != -1 and x.ndim >= 2 else power


def constant_energy(x: Tensor, dim: int = -2) -> Tensor:
    return (x.double().sum(dim=dim).square() / x.shape[dim]).sum(dim=-1)


def key_frequencies(energy: Tensor, factor: float = KEY_SHARE_FACTOR) -> Tensor:
    """Boolean [..., K]: frequencies holding >= factor/K of the energy (module docstring)."""
    share = energy / energy.sum(dim=-1, keepdim=True).clamp(min=1e-300)
    return share >= factor / energy.shape[-1]


def gini(x: Tensor) -> Tensor:
    """Gini coefficient over the last axis: 0 for equal values, -> 1 when one dominates."""
    x = x.double().sort(dim=-1).values
    k = x.shape[-1]
    ranks = torch.arange(1, k + 1, dtype=x.dtype, device=x.device)
    return ((2 * ranks - k - 1) * x).sum(-1) / (k * x.sum(-1).clamp(min=1e-300))


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


# --- streaming analysis of one model -----------------------------------------------------
Chunk = tuple[Tensor, Tensor, Tensor]  # (row indices j_a [c], logits [c*n, p], neurons [c*n, m])


@dataclass
class LogitAnalysis:
    """Results for one model (see ``analyze``)."""

    logit_coef: Tensor  # [K] normalized cosine coefficients of cos(w_k (a o b - c))
    logit_residual: float  # fraction of centered logit variance the key cosines leave
    neuron_best_frac: Tensor  # [m] variance fraction explained by each neuron's best frequency
    neuron_best_freq: Tensor  # [m] that frequency (1..K)
    restricted_loss: float  # test split, neurons restricted to key frequencies
    excluded_loss: float  # train split, key frequencies removed from the logits
    full_test_loss: float
    full_train_loss: float


def analyze(
    group: CyclicGroup,
    chunks: Callable[[], Iterator[Chunk]],
    w_logit: Tensor,
    keys: Tensor,
    train_mask: Tensor,
) -> LogitAnalysis:
    """Logit, neuron, restricted and excluded measures of one model.

    ``chunks()`` yields the model's final-position logits and neuron activations for
    all group pairs, rows of j_a at a time (every j_b), twice: one pass accumulates
    spectra, the second computes the restricted and excluded losses. ``w_logit`` is
    W_out W_U [m, p]; ``keys`` [K] bool; ``train_mask`` [n, n] bool over (j_a, j_b).
    """
    n, K = group.n, group.n_freqs
    tok = group.tokens.to(w_logit.device)
    dev = w_logit.device
    jb_all = torch.arange(n, device=dev)
    m = w_logit.shape[0]
    agg = {
        k: torch.zeros(n, m, dtype=torch.float64, device=dev) for k in ("row", "col", "sum", "diff")
    }
    neuron_sq = torch.zeros(m, dtype=torch.float64, device=dev)
    logit_by_u = torch.zeros(n, n, dtype=torch.float64, device=dev)
    logit_sq = 0.0
    for ja, logits, neurons in chunks():
        ja_pairs = ja.repeat_interleave(n)
        jb_pairs = jb_all.repeat(len(ja))
        acts = neurons.double()
        neuron_sq += acts.square().sum(0)
        agg["row"].index_add_(0, ja_pairs, acts)
        agg["col"].index_add_(0, jb_pairs, acts)
        agg["sum"].index_add_(0, (ja_pairs + jb_pairs) % n, acts)
        agg["diff"].index_add_(0, (ja_pairs - jb_pairs) % n, acts)
        centered = logits[:, tok].double()
        centered = centered - centered.mean(-1, keepdim=True)
        logit_sq += float(centered.square().sum())
        logit_by_u.index_add_(0, group.combine(ja_pairs, jb_pairs), centered)

    # Logits: <L, cos(w_k (u - c))> = Re(FFT2(M)[k, -k]); ||cos pattern||^2 = n^2 * n / (2 or 1).
    f2 = torch.fft.fft2(logit_by_u)
    ks = torch.arange(1, K + 1, device=dev)
    inner = f2[ks, (-ks) % n].real
    pattern_sq = n**3 / _pair_weight(n).to(dev)
    coef = inner / pattern_sq.sqrt() / math.sqrt(max(logit_sq, 1e-300))
    residual = 1.0 - float((coef.square() * keys).sum())

    # Neurons: energy per frequency in its four component types (Parseval on the aggregates).
    spectra = {k: torch.fft.rfft(v, dim=0) for k, v in agg.items()}
    total_mean = agg["row"].sum(0) / n**2
    variance = neuron_sq - n**2 * total_mean.square()
    # DFT of each aggregate at k is the 2D bin (k,0), (0,k), (k,k) or (k,-k); Parseval: / n^2.
    weight = {kind: _type_weight(n, kind).to(dev) for kind in spectra}
    energy = (
        sum(spectra[kind][1 : K + 1].abs().square() * weight[kind][:, None] for kind in spectra)
        / n**2
    )  # [K, m]
    frac = (energy / variance.clamp(min=1e-300)).clamp(max=1.0)
    best_frac, best = frac.max(dim=0)

    restricted_num = excluded_num = full_test = full_train = 0.0
    n_test = int((~train_mask).sum())
    n_train = int(train_mask.sum())
    key_k = ks[keys]
    for ja, logits, neurons in chunks():
        ja_pairs = ja.repeat_interleave(n)
        jb_pairs = jb_all.repeat(len(ja))
        labels = tok[group.combine(ja_pairs, jb_pairs)]
        in_train = train_mask[ja_pairs, jb_pairs]
        # restricted neurons: mean + key-frequency components of each component type
        kept = total_mean[None, :].expand(len(ja_pairs), m).clone()
        phases = {
            "row": ja_pairs,
            "col": jb_pairs,
            "sum": (ja_pairs + jb_pairs) % n,
            "diff": (ja_pairs - jb_pairs) % n,
        }
        for kind, index in phases.items():
            basis = torch.exp(2j * math.pi * torch.outer(index.double(), key_k.double()) / n)
            coeffs = spectra[kind][key_k] * weight[kind][keys][:, None]
            kept += (basis @ coeffs).real / n**2
        logits64 = logits.double()
        restricted = logits64 - (neurons.double() - kept) @ w_logit.double()
        # excluded logits: key-frequency directions over the group's classes removed
        in_group = logits64[:, tok]
        spec = torch.fft.rfft(in_group, dim=-1)
        keep = torch.ones(spec.shape[-1], dtype=torch.bool, device=dev)
        keep[key_k] = False
        cleaned = torch.fft.irfft(spec * keep, n=n, dim=-1)
        excluded = logits64.clone()
        excluded[:, tok] = cleaned
        restricted_num += float(_nll(restricted, labels)[~in_train].sum())
        excluded_num += float(_nll(excluded, labels)[in_train].sum())
        full = _nll(logits64, labels)
        full_test += float(full[~in_train].sum())
        full_train += float(full[in_train].sum())
    return LogitAnalysis(
        logit_coef=coef,
        logit_residual=residual,
        neuron_best_frac=best_frac,
        neuron_best_freq=best + 1,
        restricted_loss=restricted_num / max(n_test, 1),
        excluded_loss=excluded_num / max(n_train, 1),
        full_test_loss=full_test / max(n_test, 1),
        full_train_loss=full_train / max(n_train, 1),
    )


def _nll(logits: Tensor, labels: Tensor) -> Tensor:
    return -logits.log_softmax(-1).gather(-1, labels[:, None])[:, 0]
