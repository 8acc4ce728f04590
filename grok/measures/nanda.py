"""Seed 001's logit, neuron and loss progress measures (Nanda et al. 2023), streamed.

Definitions, as seed 001 computes them (``L[a, b, c]``: final-position logits over all
pairs; ``N``: final-position activations of the (last) MLP, one row per pair; ``u = a o b``
the op; ``w_k = 2 pi k / n``; k = 1..n//2):

- ``cos_sim[k]`` (``get_cos_sim``): <C_k, L> / ||L||, C_k = cos(w_k (u - c)) normalised to
  unit norm over the whole [a, b, c] cube; raw logits, not centred.
- ``residual`` (``get_residual_cos_sim``): ||L - sum_k <C_k, L> C_k|| / ||L||, all k.
  ``residual_key``: the same over the key frequencies only (seed 001's "Residual fraction
  of norm", printed before ``get_cos_coeffs``).
- ``neuron_freq_norm[k, i]``: the share of neuron i's 2D-Fourier energy over (a, b), the
  [0, 0] term zeroed, that lies in the 3x3 block {1, cos_k, sin_k}^2.
- ``restricted_loss`` (``get_restricted_loss``): ``approx`` = N projected onto the unit
  vectors cos(w_k u) and sin(w_k u) over the pairs, for the key k; logits approx W_out W_U,
  shifted so that their mean over all pairs is the model's; float64 cross-entropy on the
  test pairs.
- ``excluded_loss`` (``get_excluded_loss``): logits of (N - approx) W_out + resid_mid
  (b_out, ln_final and b_U applied as the model applies them, see below); float64
  cross-entropy on the train pairs.

Groups. add/sub: Z_p, u = a + b or a - b, classes c = 0..p-1 (n = p). mul/div: the nonzero
residues re-indexed by a generator g (``op_group``: j -> g^j, n = p - 1), u = j_a + j_b or
j_a - j_b, and every "frequency" is over Z_{p-1}: the cube, the 2D transform and the
projections run over the (p-1)^2 pairs of nonzero operands and the cos_sim cube over the
p - 1 nonzero classes in that order. Pairs with a zero operand (a = 0 for div, since the
task already drops b = 0; a = 0 or b = 0 for mul) and the logit of class 0 are outside the
group and left out of every measure here; the losses still take the softmax over all p
classes, as the model does. For even n the frequency n/2 has no sine (sin(pi u) = 0): its
3x3 block is {1, cos}^2 and the restricted projection keeps its cosine only (seed 001,
written for odd p, would divide that zero vector by its zero norm).

How it streams. Everything but the excluded loss depends on the pairs only through sums,
gathered in one pass over the model's outputs (``accumulate``): the logits summed over the
pairs with equal u ([n, n]); each neuron summed over rows, columns, a+b and a-b diagonals
([n, m] each); ||L||^2; the mean logits. Then <C_k, L> is one 2D FFT of the first sum, the
3x3 block energies are the DFTs of the four neuron sums at k (Parseval), and ``approx``
depends on u alone, so the restricted logits are n distinct rows. The excluded loss needs
the final residual stream of each train pair: since the model's final residual is
resid_mid + N W_out + b_out, seed 001's (N - approx) W_out + resid_mid is the stored final
residual minus approx[u] W_out; it is unembedded the model's way (``unembed``: ln_final,
W_U and b_U; the Nanda model has no LayerNorm and zero biases, so there it is seed 001's
``@ W_U`` exactly, b_out included). Nothing of size p^3 (seed 001: 56 x 113^3 floats).

Cost, n = |group|, m = d_mlp, d = d_model: one forward pass over the n^2 pairs;
O(n^2 (n + m)) additions; O(n^2 log n + n m log n) FFTs; the excluded loss unembeds the
n_train stored residuals, O(n_train d p). Memory: O(n^2 + n m) float64 sums, n_train x d
stored residuals (model dtype), one chunk of ~``CHUNK_VALUES`` output floats. At p = 997
(Nanda model, train_frac 0.3): sums 24 MB, stored residuals 150 MB, a chunk (10 rows of
j_a, ~10^4 pairs, with the forward's one-hot embedding and float64 copies) ~0.5 GB.
Measured (one ``fourier_values`` call, forward included, Nanda model d_model 128, d_mlp
512, float32, sub, 2 shared CPU cores at load ~3, 2026-11): p = 113: 0.12-0.20 s wall
(0.23-0.36 s CPU; the first call 0.5 s); p = 997: 52 s wall (65 s CPU), peak RSS 1.20 GiB
(0.85 GiB over the process before the call); about half of it the forward pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from grok.measures.fourier import CyclicGroup, pair_weight

CHUNK_VALUES = 2**24  # output floats (logits + neurons + residual) per chunk; ~64 MB


class Chunk(NamedTuple):
    """Final-position outputs for some pairs (group indices j_a, j_b), any order."""

    ja: Tensor  # [c] long
    jb: Tensor  # [c] long
    logits: Tensor  # [c, p] every class
    neurons: Tensor  # [c, m] the last MLP's activations
    resid: Tensor  # [c, d] the residual stream ln_final / the unembedding read


@dataclass
class PairSums:
    """One pass over all n^2 pairs (``accumulate``): what every measure here reads."""

    group: CyclicGroup
    logits_by_u: Tensor  # [n, n] sum over pairs with a o b = u of the group classes' logits
    logit_sq: float  # ||L||^2 over the [n, n, n] cube
    logit_mean: Tensor  # [p] mean over the pairs of every class's logit
    neurons_by: dict[str, Tensor]  # "row" j_a, "col" j_b, "sum" j_a+j_b, "diff" j_a-j_b: [n, m]
    neuron_sq: Tensor  # [m] sum of squares over the pairs
    test_count: Tensor  # [n] test pairs per u
    train_u: Tensor  # [n_train] u of each train pair
    train_resid: Tensor  # [n_train, d] their final residual stream
    train_nll: float  # model's own losses, summed over the group's train / test pairs
    test_nll: float


@dataclass
class NandaMeasures:
    cos_sim: Tensor  # [n//2]
    residual: float
    residual_key: float
    neuron_freq_norm: Tensor  # [n//2, m]
    restricted_loss: float  # test pairs
    excluded_loss: float  # train pairs
    test_loss: float  # the model's own, on the same pairs
    train_loss: float


def accumulate(group: CyclicGroup, chunks: Iterable[Chunk], train_mask: Tensor) -> PairSums:
    """Sum the model's outputs over all n^2 pairs; ``train_mask`` [n, n] over (j_a, j_b)."""
    n, tok = group.n, group.tokens.to(train_mask.device)
    acc: dict[str, Tensor] = {}
    train_u, train_resid = [], []
    seen = 0
    for ja, jb, logits, neurons, resid in chunks:
        logits, acts, u = logits.double(), neurons.double(), group.combine(ja, jb)
        if not acc:
            f64 = {"dtype": torch.float64, "device": logits.device}
            m, p = acts.shape[1], logits.shape[1]
            shapes = {"logits_by_u": (n, n), "logit_sum": (p,), "neuron_sq": (m,)}
            shapes |= {kind: (n, m) for kind in ("row", "col", "sum", "diff")}
            shapes |= {"test_count": (n,), "logit_sq": (), "train_nll": (), "test_nll": ()}
            acc = {key: torch.zeros(shape, **f64) for key, shape in shapes.items()}
        train = train_mask[ja, jb]
        in_group = logits[:, tok]
        nll = _nll(logits, tok[u])
        acc["logits_by_u"].index_put_((u,), in_group, accumulate=True)
        acc["logit_sq"] += in_group.square().sum()
        acc["logit_sum"] += logits.sum(0)
        acc["neuron_sq"] += acts.square().sum(0)
        for kind, index in (("row", ja), ("col", jb), ("sum", ja + jb), ("diff", ja - jb)):
            acc[kind].index_put_((index % n,), acts, accumulate=True)
        acc["test_count"].index_add_(0, u[~train], torch.ones_like(nll[~train]))
        acc["train_nll"] += nll[train].sum()
        acc["test_nll"] += nll[~train].sum()
        train_u.append(u[train])
        train_resid.append(resid[train])
        seen += len(ja)
    if seen != n * n:
        raise ValueError(f"chunks covered {seen} pairs; the group has {n * n}")
    return PairSums(
        group=group,
        logits_by_u=acc["logits_by_u"],
        logit_sq=float(acc["logit_sq"]),
        logit_mean=acc["logit_sum"] / n**2,
        neurons_by={kind: acc[kind] for kind in ("row", "col", "sum", "diff")},
        neuron_sq=acc["neuron_sq"],
        test_count=acc["test_count"],
        train_u=torch.cat(train_u),
        train_resid=torch.cat(train_resid),
        train_nll=float(acc["train_nll"]),
        test_nll=float(acc["test_nll"]),
    )


def cos_sim(s: PairSums) -> Tensor:
    """``get_cos_sim``: [n//2]. <cos(w_k (u - c)), L> = Re FFT2(logits_by_u)[k, -k]."""
    n, k = s.group.n, torch.arange(1, s.group.n_freqs + 1, device=s.logits_by_u.device)
    inner = torch.fft.fft2(s.logits_by_u)[k, (-k) % n].real
    cube_norm = (n**3 / pair_weight(n).to(inner.device)).sqrt()  # ||cos(w_k (u - c))||
    return inner / cube_norm / math.sqrt(max(s.logit_sq, 1e-300))


def residual(s: PairSums, keys: Sequence[int] | Tensor | None = None) -> float:
    """``get_residual_cos_sim`` (all k), or over ``keys`` only. The cubes are orthonormal,
    so ||L - sum_k <C_k, L> C_k||^2 = ||L||^2 - sum_k <C_k, L>^2."""
    sim = cos_sim(s)
    if keys is not None:
        sim = sim[[k - 1 for k in _key_list(keys)]]
    return math.sqrt(max(0.0, 1.0 - float(sim.square().sum())))


def neuron_freq_norm(s: PairSums) -> Tensor:
    """Seed 001's ``neuron_freq_norm`` [n//2, m]. The 2D DFT of a neuron over (j_a, j_b) at
    (k, 0), (0, k), (k, k), (k, -k) is the DFT at k of its row, column, a+b and a-b sums;
    with their conjugates they are the block's 8 non-constant terms (4 distinct ones
    at k = n/2). A dead neuron (no non-constant energy) gets 0 where seed 001 gets 0/0."""
    n, big_k = s.group.n, s.group.n_freqs
    energy = 0.0
    for kind, v in s.neurons_by.items():
        w = pair_weight(n).to(v.device)
        if kind == "diff" and n % 2 == 0:
            w[-1] = 0.0  # at k = n/2 the a-b bin is the a+b bin
        spec = torch.fft.rfft(v, dim=0)[1 : big_k + 1]
        energy = energy + (spec.real.square() + spec.imag.square()) * w[:, None]
    total = s.neuron_sq - s.neurons_by["row"].sum(0).square() / n**2  # [0, 0] term zeroed
    live = total > 1e-12 * s.neuron_sq.clamp(min=1e-300)
    return torch.where(live, energy / n**2 / total.clamp(min=1e-300), 0.0)


def key_vectors(group: CyclicGroup, keys: Sequence[int] | Tensor) -> Tensor:
    """[n, J]: seed 001's unit vectors cos(w_k u), sin(w_k u) over the n^2 pairs, as
    functions of u (each u is n pairs); no sine at k = n/2, where it vanishes."""
    n = group.n
    u = torch.arange(n, dtype=torch.float64)
    cols = []
    for k in _key_list(keys):
        for wave in (torch.cos, torch.sin):
            if wave is torch.sin and 2 * k == n:
                continue
            v = wave(2 * math.pi * k * u / n)
            cols.append(v / (n * v.square().sum()).sqrt())
    return torch.stack(cols, dim=1) if cols else torch.zeros(n, 0, dtype=torch.float64)


def approx_neurons(s: PairSums, keys: Sequence[int] | Tensor) -> Tensor:
    """Seed 001's ``approx_neuron_acts`` [n, m], one row per u: sum over key vectors v of
    <N, v> v, where <N, v> = sum_u v(u) * (N summed over the pairs with a o b = u)."""
    by_u = s.neurons_by["diff" if s.group.subtract else "sum"]
    v = key_vectors(s.group, keys).to(by_u.device)
    return v @ (v.T @ by_u)


def restricted_loss(s: PairSums, keys: Sequence[int] | Tensor, w_out: Tensor, w_u: Tensor) -> float:
    """``get_restricted_loss``: approx W_out W_U + mean(logits) - mean(restricted), over
    all pairs; cross-entropy on the test pairs. Every test pair with the same u has the
    same restricted logits and label, so the loss is a weighted sum over the n rows. Biases
    are constant over the pairs and cancel in the shift; ln_final (absent in the Nanda
    model) is not applied: this is the paper's linear W_L = W_U W_out."""
    restricted = approx_neurons(s, keys) @ w_out.double() @ w_u.double()  # [n, p]
    restricted = restricted + s.logit_mean - restricted.mean(0)  # each u is n of the pairs
    nll = _nll(restricted, s.group.tokens.to(restricted.device))
    return float((s.test_count * nll).sum() / s.test_count.sum().clamp(min=1))


def excluded_loss(
    s: PairSums,
    keys: Sequence[int] | Tensor,
    w_out: Tensor,
    unembed: Callable[[Tensor], Tensor],
    block: int = 2**14,
) -> float:
    """``get_excluded_loss``: cross-entropy on the train pairs of unembed(final residual -
    approx[u] W_out), which is unembed((N - approx) W_out + b_out + resid_mid). ``unembed``
    maps a float64 final residual [c, d] to logits the model's way (ln_final, W_U, b_U)."""
    removed = approx_neurons(s, keys) @ w_out.double()  # [n, d]
    tok = s.group.tokens.to(removed.device)
    total = 0.0
    for start in range(0, len(s.train_u), block):
        u = s.train_u[start : start + block]
        resid = s.train_resid[start : start + block].double() - removed[u]
        total += float(_nll(unembed(resid), tok[u]).sum())
    return total / max(len(s.train_u), 1)


def nanda_measures(
    group: CyclicGroup,
    chunks: Iterable[Chunk],
    w_out: Tensor,
    w_u: Tensor,
    keys: Sequence[int] | Tensor,
    train_mask: Tensor,
    unembed: Callable[[Tensor], Tensor] | None = None,
) -> NandaMeasures:
    """All of the module's measures from one pass over ``chunks`` (every pair once).
    ``w_out`` [m, d], ``w_u`` [d, p]; ``keys``: frequencies (ints) or a [n//2] bool mask;
    ``unembed``: the model's final residual -> logits (default ``resid @ w_u``)."""
    s = accumulate(group, chunks, train_mask)
    w_u64 = w_u.double()
    n_train, n_test = len(s.train_u), float(s.test_count.sum())
    return NandaMeasures(
        cos_sim=cos_sim(s),
        residual=residual(s),
        residual_key=residual(s, keys),
        neuron_freq_norm=neuron_freq_norm(s),
        restricted_loss=restricted_loss(s, keys, w_out, w_u),
        excluded_loss=excluded_loss(s, keys, w_out, unembed or (lambda r: r @ w_u64)),
        test_loss=s.test_nll / max(n_test, 1.0),
        train_loss=s.train_nll / max(n_train, 1),
    )


def pair_chunks(
    group: CyclicGroup,
    forward: Callable[[Tensor], tuple[Tensor, Tensor, Tensor]],
    encode: Callable[[Tensor, Tensor], Tensor],
    width: int,
    device: torch.device,
    chunk_values: int = CHUNK_VALUES,
) -> Iterator[Chunk]:
    """The model's outputs for all group pairs, rows of j_a at a time (every j_b).
    ``forward`` maps tokens [b, n_ctx] (``encode(a, b)``, the task's) to (logits, neurons,
    final residual) at its read positions, of which the last is kept; ``width`` = floats
    per pair (p + d_mlp + d_model), so a chunk holds ~``chunk_values`` of them."""
    n = group.n
    rows = max(1, chunk_values // (n * width))
    tokens = group.tokens.to(device)
    jb = torch.arange(n, device=device)
    for start in range(0, n, rows):
        ja = torch.arange(start, min(start + rows, n), device=device)
        ja_pairs, jb_pairs = ja.repeat_interleave(n), jb.repeat(len(ja))
        a, b = tokens[ja_pairs], tokens[jb_pairs]
        logits, neurons, resid = forward(encode(a, b))
        yield Chunk(ja_pairs, jb_pairs, logits[:, -1], neurons[:, -1], resid[:, -1])


def _key_list(keys: Sequence[int] | Tensor) -> list[int]:
    if isinstance(keys, Tensor) and keys.dtype == torch.bool:
        return (torch.nonzero(keys)[:, 0] + 1).tolist()
    return [int(k) for k in keys]


def _nll(logits: Tensor, labels: Tensor) -> Tensor:
    return -logits.log_softmax(-1).gather(-1, labels[:, None])[:, 0]
