"""Real irreducible representations of the groups of ``grok.task.groups``.

``irreps(group)`` maps an irrep name to a float64 tensor [|G|, d, d] of orthogonal matrices
with rho(x·y) = rho(x) rho(y) for grok's product (``Group.table``). The measures of
Chughtai et al. (ICML 2023) work over the reals, so these are *real* irreps: a pair of
complex-conjugate complex irreps of dimension m is one real irrep of dimension 2m (the
"complex type"; its character has <chi, chi> = 2 and its d^2 matrix elements span only
d^2 / 2 functions). ``commutant_dim`` tells the two types apart (1 real, 2 complex); then
sum over irreps of d^2 / commutant_dim = |G|.

Names follow bilal-chughtai/rep-theory-mech-interp (``rep_theory/utils/groups.py``), so
their ``irreps.txt`` / ``key_reps.txt`` compare by name:

* ``C<n>``: ``trivial``, ``sign`` (n even, x -> (-1)^x), ``freq_k`` for
  k = 1..floor((n-1)/2): x -> rotation by 2 pi k x / n (complex type; Nanda et al.'s key
  frequency k). Their ``CyclicGroup``/``Cyclic2dRepresentation``.
* ``D<n>``: ``trivial``, ``sign`` (r^a s^b -> (-1)^b), for even n also ``parity``
  ((-1)^a) and ``parity_sign`` ((-1)^(a+b)) (grok's names: their repo has no even n),
  ``freq_k`` for k = 1..floor((n-1)/2): r^a s^b -> R(2 pi k a / n) diag(1, -1)^b, as their
  ``Dihedral2dRepresentation``. All of real type.
* ``S<n>``: Young's orthogonal form of the Specht module of each partition. Their names:
  ``trivial`` (n), ``sign`` (1^n), ``standard`` (n-1,1), ``standard_sign`` (2,1^(n-2)),
  ``s4_2d`` (2,2), ``s5_5d_a`` (2,2,1), ``s5_5d_b`` (3,2), ``s5_6d`` (3,1,1), ``s6_5d_a``
  (3,3), ``s6_5d_b`` (2,2,2) (their comments, checked by the traces of their generator
  matrices); S6's other five, absent from their repo, are named by partition, e.g. ``(4,2)``.
  For S3, (2,1) is its own conjugate: only ``standard`` (their repo also lists an
  equivalent ``standard_sign``). ``irrep_partitions(n)`` maps names to partitions.
* ``A<n>``: restrictions of S_n irreps. lambda and its conjugate restrict to the same
  irrep; a self-conjugate lambda restricts to a sum of two irreps, split here when they are
  of real type (A5: (3,1,1) -> ``a5_3d_a``, whose character at (0 1 2 3 4) is
  (1+sqrt 5)/2, and ``a5_3d_b``) and kept whole when they are a complex pair (A4: (2,2) ->
  ``a4_2d``, real 2-d of complex type). A5: ``trivial``, ``standard``, ``a5_5d_a``,
  ``a5_3d_a``, ``a5_3d_b`` (their names); A4: ``trivial``, ``standard``, ``a4_2d``.
  Their a5_3d_a is built from a rotation by 1.08 rad, not 2 pi/5, so is not a
  representation; ours is the irrep it aims at.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import Tensor

from grok.task.groups import Group, parse_group

_THEIR_SN_NAMES: dict[int, dict[tuple[int, ...], str]] = {
    4: {(2, 2): "s4_2d"},
    5: {(2, 2, 1): "s5_5d_a", (3, 2): "s5_5d_b", (3, 1, 1): "s5_6d"},
    6: {(3, 3): "s6_5d_a", (2, 2, 2): "s6_5d_b"},
}
# A_n irreps by the partition restricted (the larger of lambda and its conjugate); A5's
# self-conjugate (3,1,1) splits into a5_3d_a and a5_3d_b (see _alternating_irreps)
_AN_NAMES: dict[int, dict[tuple[int, ...], str]] = {
    4: {(4,): "trivial", (3, 1): "standard", (2, 2): "a4_2d"},
    5: {(5,): "trivial", (4, 1): "standard", (3, 2): "a5_5d_a"},
}


def partitions(n: int, most: int | None = None) -> list[tuple[int, ...]]:
    """Partitions of n, parts at most ``most``, in decreasing lexicographic order."""
    most = n if most is None else most
    if n == 0:
        return [()]
    return [(k, *rest) for k in range(min(n, most), 0, -1) for rest in partitions(n - k, k)]


def conjugate(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sum(1 for r in shape if r > c) for c in range(shape[0]))


def irrep_partitions(n: int) -> dict[str, tuple[int, ...]]:
    """S_n irrep name -> partition, in the order ``irreps`` lists them (theirs first)."""
    named = {(n,): "trivial", tuple([1] * n): "sign", (n - 1, 1): "standard"}
    named.setdefault((2, *[1] * (n - 2)), "standard_sign")  # S3: (2,1) is 'standard'
    named.update(_THEIR_SN_NAMES.get(n, {}))
    rest = [p for p in partitions(n) if p not in named]
    out = {name: p for p, name in named.items()}
    out.update({"(" + ",".join(map(str, p)) + ")": p for p in rest})
    return out


def _tableaux(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Standard Young tableaux of ``shape`` as the row of each letter 0..n-1 (Yamanouchi
    words), in lexicographic order of those words."""
    n, out = sum(shape), []

    def grow(rows: list[int], fill: list[int]) -> None:
        if len(rows) == n:
            out.append(tuple(rows))
            return
        for r, length in enumerate(shape):
            if fill[r] < length and (r == 0 or fill[r - 1] > fill[r]):
                fill[r] += 1
                rows.append(r)
                grow(rows, fill)
                rows.pop()
                fill[r] -= 1

    grow([], [0] * len(shape))
    return out


def young_orthogonal(shape: tuple[int, ...]) -> Tensor:
    """[n-1, f, f]: Young's orthogonal form of the adjacent transpositions (k, k+1).

    On tableau T, (k k+1) gives (1/r) T + sqrt(1 - 1/r^2) T' with r the axial distance
    content(k+1) - content(k) (content = column - row) and T' the tableau with k, k+1
    swapped (standard whenever |r| > 1). Symmetric involutions satisfying the Coxeter
    relations, hence orthogonal generators of S_n."""
    tabs = _tableaux(shape)
    where = {t: i for i, t in enumerate(tabs)}
    n = sum(shape)
    out = torch.zeros(max(n - 1, 0), len(tabs), len(tabs), dtype=torch.float64)
    for i, rows in enumerate(tabs):
        content = []
        for letter, r in enumerate(rows):
            content.append(rows[:letter].count(r) - r)
        for k in range(n - 1):
            dist = content[k + 1] - content[k]
            out[k, i, i] = 1.0 / dist
            if abs(dist) > 1:
                swapped = list(rows)
                swapped[k], swapped[k + 1] = swapped[k + 1], swapped[k]
                out[k, where[tuple(swapped)], i] = math.sqrt(1.0 - 1.0 / dist**2)
    return out


def _spanning_tree(group: Group, gens: list[int]) -> list[tuple[Tensor, Tensor, Tensor]]:
    """Breadth-first levels (child, parent, generator position) with child = parent·gen."""
    seen = np.zeros(group.order, dtype=bool)
    seen[group.identity] = True
    frontier, levels = np.array([group.identity]), []
    table = group.table.numpy()
    while len(frontier):
        cand = table[frontier][:, gens].reshape(-1)
        fresh, first = np.unique(cand, return_index=True)
        keep = ~seen[fresh]
        fresh, first = fresh[keep], first[keep]
        seen[fresh] = True
        parent, gen = frontier[first // len(gens)], first % len(gens)
        levels.append(tuple(torch.from_numpy(a) for a in (fresh, parent, gen)))
        frontier = fresh
    if not seen.all():
        raise ValueError(f"{group.name}: the given elements do not generate the group")
    return levels


def extend(group: Group, gens: list[int], mats: Tensor) -> Tensor:
    """rho on all of G from rho(gens[i]) = mats[i], multiplying along a spanning tree.
    A homomorphism exactly when the matrices satisfy the group's relations (tested)."""
    out = torch.empty(group.order, *mats.shape[1:], dtype=mats.dtype)
    out[group.identity] = torch.eye(mats.shape[1], dtype=mats.dtype)
    for child, parent, gen in _spanning_tree(group, gens):
        out[child] = out[parent] @ mats[gen]
    return out


def _rotations(angle: Tensor) -> Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def _cyclic_irreps(n: int) -> dict[str, Tensor]:
    x = torch.arange(n, dtype=torch.float64)
    out = {"trivial": torch.ones(n, 1, 1, dtype=torch.float64)}
    if n % 2 == 0:
        out["sign"] = (1 - 2 * (torch.arange(n) % 2)).double().view(n, 1, 1)
    for k in range(1, (n - 1) // 2 + 1):
        out[f"freq_{k}"] = _rotations(2 * math.pi * k * x / n)
    return out


def _dihedral_irreps(group: Group) -> dict[str, Tensor]:
    n = group.degree
    a, b = torch.tensor(group.elements).T

    def one(v: Tensor) -> Tensor:
        return v.double().view(-1, 1, 1)

    out = {"trivial": one(torch.ones_like(a)), "sign": one(1 - 2 * b)}
    if n % 2 == 0:
        out["parity"] = one(1 - 2 * (a % 2))
        out["parity_sign"] = one(1 - 2 * ((a + b) % 2))
    flip = torch.tensor([[1.0, 0.0], [0.0, -1.0]], dtype=torch.float64)
    flips = torch.where(b.view(-1, 1, 1) == 1, flip, torch.eye(2, dtype=torch.float64))
    for k in range(1, (n - 1) // 2 + 1):
        out[f"freq_{k}"] = _rotations(2 * math.pi * k * a.double() / n) @ flips
    return out


def _symmetric_irreps(group: Group) -> dict[str, Tensor]:
    n = group.degree
    swaps = []
    for k in range(n - 1):
        p = list(range(n))
        p[k], p[k + 1] = p[k + 1], p[k]
        swaps.append(group.index(tuple(p)))
    return {
        name: extend(group, swaps, young_orthogonal(shape))
        for name, shape in irrep_partitions(n).items()
    }


def _split(rep: Tensor) -> list[Tensor]:
    """Two inequivalent real-type summands of ``rep`` (commutant R + R), each in an
    orthonormal basis: the eigenspaces of a generic element of the commutant (a group
    average of a fixed symmetric matrix), each basis fixed by Gram-Schmidt on the
    projections of the standard basis vectors so that it does not depend on LAPACK."""
    d = rep.shape[1]
    gen = torch.Generator().manual_seed(0)
    m = torch.randn(d, d, generator=gen, dtype=torch.float64)
    avg = (rep @ (m + m.T) @ rep.transpose(1, 2)).mean(0)
    _, vecs = torch.linalg.eigh((avg + avg.T) / 2)
    parts = []
    for q in (vecs[:, : d // 2], vecs[:, d // 2 :]):
        basis = _gram_schmidt(q @ q.T)[:, : d // 2]
        parts.append(basis.T @ rep @ basis)
    return parts


def _alternating_irreps(group: Group) -> dict[str, Tensor]:
    n = group.degree
    parent = parse_group(f"S{n}")
    where = {p: i for i, p in enumerate(parent.elements)}
    inside = torch.tensor([where[p] for p in group.elements])
    full = _irreps_of(parent.name)
    out: dict[str, Tensor] = {}
    for name, shape in irrep_partitions(n).items():
        conj = conjugate(shape)
        if conj > shape:
            continue  # same restriction as its conjugate, listed under the larger one
        rep = full[name][inside]
        if conj == shape and _indicator(group, rep) > 1.5:  # two real-type summands
            halves = _split(rep)
            cycle = group.index(tuple([*range(1, n), 0]))
            golden = (1 + math.sqrt(5)) / 2
            halves.sort(key=lambda r: abs(float(torch.trace(r[cycle])) - golden))
            half = rep.shape[1] // 2
            out[f"a{n}_{half}d_a"], out[f"a{n}_{half}d_b"] = halves
        else:  # irreducible, or a complex pair that is one real irrep (A4's (2,2))
            out[_AN_NAMES[n][shape]] = rep
    return out


def _indicator(group: Group, rep: Tensor) -> float:
    """Frobenius-Schur sum mean_g chi(g^2): the number of real-type complex constituents."""
    squares = group.table[torch.arange(group.order), torch.arange(group.order)]
    return float(character(rep)[squares].mean())


@functools.lru_cache(maxsize=16)
def _irreps_of(name: str) -> dict[str, Tensor]:
    group = parse_group(name)
    if group.family == "C":
        return _cyclic_irreps(group.degree)
    if group.family == "D":
        return _dihedral_irreps(group)
    if group.family == "S":
        return _symmetric_irreps(group)
    return _alternating_irreps(group)


def irreps(group: Group | str) -> dict[str, Tensor]:
    """Real irreps of ``group`` by name (cached per group name; do not modify in place)."""
    return _irreps_of(group if isinstance(group, str) else group.name)


def character(rep: Tensor) -> Tensor:
    """chi(g) = trace rho(g), [|G|]."""
    return rep.diagonal(dim1=-2, dim2=-1).sum(-1)


def commutant_dim(rep: Tensor) -> int:
    """<chi, chi> over G for a real irrep: 1 (real type), 2 (a complex pair), 4 (quaternionic
    type); it is the dimension of the real matrices commuting with rho."""
    return round(float((character(rep) ** 2).mean()))


def _gram_schmidt(cols: Tensor, rtol: float = 1e-8) -> Tensor:
    """Orthonormal columns spanning ``cols``, in column order, dropping dependent ones."""
    basis = cols.new_zeros(cols.shape[0], min(cols.shape))
    scale = max(float(cols.norm(dim=0).max()), 1.0) if cols.numel() else 1.0
    k = 0
    for v in cols.T:
        for _ in range(2):  # twice is enough for float64
            v = v - basis[:, :k] @ (basis[:, :k].T @ v)
        norm = float(v.norm())
        if norm > rtol * scale and k < basis.shape[1]:
            basis[:, k] = v / norm
            k += 1
    return basis[:, :k]


def matrix_element_basis(rep: Tensor) -> Tensor:
    """Orthonormal basis (over G: sum_g f(g)^2 = 1) of the functions g -> rho(g)_ij, [|G|, r].

    Gram-Schmidt in row-major (i, j) order. r = d^2 for a real-type irrep (the entries are
    already orthogonal: Schur), d^2 / 2 for a complex pair (entries repeat up to sign, e.g.
    cos and sin for C_n's freq_k), so the union over all irreps is an orthonormal basis of
    R^|G| (Peter-Weyl): the space the measures split a network's functions into.
    """
    return _gram_schmidt(rep.reshape(rep.shape[0], -1).double())
