"""Finite groups by name for a future ``task=group`` (Chughtai et al., ICML 2023).

``parse_group(name)`` accepts ``C<n>`` (cyclic, n >= 2), ``D<n>`` (dihedral of order 2n,
n >= 3), ``S3``..``S6`` (symmetric) and ``A4``, ``A5`` (alternating). A ``Group`` holds the
element list, ``table[x, y]`` = index of x·y, the inverse of each element and the identity.

The element indexing is that of bilal-chughtai/rep-theory-mech-interp
(``rep_theory/utils/groups.py``) so that their released models (trained on token = element
index) read with grok's indices:

* ``C<n>``: element k is k mod n, x·y = x + y mod n, identity 0 (their ``CyclicGroup``).
* ``D<n>``: element a + s·n is r^a s^s (a < n, s in {0, 1}): rotations first, then
  reflections; r^a s · r^b s^t = r^(a-b) s^(1+t) (their ``DihedralGroup.compose``).
* ``S<n>``: permutations of 0..n-1 in the order sympy 1.11.1 (their requirements.txt pin)
  lists ``SymmetricGroup(n)._elements``; ``A5``: the order of their
  ``PermutationGroup(Permutation(0,1,2,3,4), Permutation(1,2)(3,4))._elements``. Their repo
  has no A4; grok's A4 follows sympy's ``AlternatingGroup(4)``, the same machinery.
  Elements are array forms: p maps i to p[i]. The product follows sympy's ``p*q``, which
  applies p first: (x·y)[i] = y[x[i]]. Their ``SymmetricGroup.compose`` is
  ``idx_to_perm(x) * idx_to_perm(y)``, so table[x, y] here equals theirs.

sympy lists a permutation group's elements by coset enumeration over its base and strong
generating set (BSGS). We do not depend on sympy: ``_BSGS`` records, per group, the base
and strong generators that sympy 1.11.1's deterministic Schreier-Sims returns (data, not
code), and ``_coset_enumeration`` rebuilds the listing from them. tests/test_groups.py
checks the result against sympy when it is installed and against fixed checksums.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from grok.errors import ConfigError

ALLOWED = "C<n> (n>=2), D<n> (n>=3), S3-S6, A4, A5"

Perm = tuple[int, ...]


@dataclass(frozen=True)
class Group:
    """A finite group as a multiplication table over element indices 0..order-1.

    ``elements[i]`` describes element i: ``(k,)`` for C_n, ``(a, s)`` for r^a s^s in D_n,
    the array form of the permutation for S_n and A_n. Tensors are shared by the cache
    of ``parse_group``: do not modify them in place.
    """

    name: str
    elements: tuple[tuple[int, ...], ...]
    table: Tensor  # LongTensor [order, order], table[x, y] = index of x·y
    inverse: Tensor  # LongTensor [order]
    identity: int

    @property
    def order(self) -> int:
        return len(self.elements)

    @property
    def family(self) -> str:
        """'C', 'D', 'S' or 'A'."""
        return self.name[0]

    @property
    def degree(self) -> int:
        """The n of the name: C_n, D_n (order 2n), S_n, A_n."""
        return int(self.name[1:])

    def index(self, element: tuple[int, ...]) -> int:
        """Index of an element given as in ``elements``."""
        return self.elements.index(tuple(element))


# Base and strong generating set (array forms) of sympy 1.11.1's Schreier-Sims for the
# groups their repo builds: SymmetricGroup(n) (generators (0 1 .. n-1) and (0 1)), their A5
# (generators (0 1 2 3 4) and (1 2)(3 4)) and sympy's AlternatingGroup(4) ((0 1 2), (1 2 3)).
_BSGS: dict[str, tuple[list[int], list[Perm]]] = {
    "S3": ([0, 1], [(1, 2, 0), (1, 0, 2), (0, 2, 1)]),
    "S4": ([0, 1, 2], [(1, 2, 3, 0), (1, 0, 2, 3), (0, 3, 1, 2), (0, 1, 3, 2)]),
    "S5": (
        [0, 1, 3, 2],
        [(1, 2, 3, 4, 0), (1, 0, 2, 3, 4), (0, 4, 1, 2, 3), (0, 1, 2, 4, 3), (0, 1, 4, 3, 2)],
    ),
    "S6": (
        [0, 1, 4, 2, 3],
        [
            (1, 2, 3, 4, 5, 0),
            (1, 0, 2, 3, 4, 5),
            (0, 5, 1, 2, 3, 4),
            (0, 1, 2, 3, 5, 4),
            (0, 1, 3, 5, 4, 2),
            (0, 1, 2, 5, 4, 3),
        ],
    ),
    "A4": ([0, 1], [(1, 2, 0, 3), (0, 2, 3, 1)]),
    "A5": ([0, 1, 2], [(1, 2, 3, 4, 0), (0, 2, 1, 4, 3), (0, 4, 2, 1, 3), (0, 1, 3, 4, 2)]),
}


def _after(p: Perm, q: Perm) -> Perm:
    """p ∘ q as functions: apply q, then p."""
    return tuple(p[i] for i in q)


def _transversal(gens: list[Perm], point: int, degree: int) -> dict[int, Perm]:
    """Orbit of ``point`` by breadth-first search, with for each orbit point b the element
    that maps ``point`` to b, built as gen ∘ (element of the point it was reached from)."""
    found: dict[int, Perm] = {point: tuple(range(degree))}
    queue = [point]
    for x in queue:  # queue grows while we read it
        for gen in gens:
            y = gen[x]
            if y not in found:
                found[y] = _after(gen, found[x])
                queue.append(y)
    return found


def _coset_enumeration(base: list[int], strong: list[Perm]) -> list[Perm]:
    """All elements as t_0 ∘ t_1 ∘ ... ∘ t_{k-1}, t_j in the transversal of level j over
    its orbit points in increasing order, the last level's choice varying slowest: the
    order of sympy's ``generate_schreier_sims``."""
    degree = len(strong[0])
    levels = []
    for j, b in enumerate(base):
        gens = [g for g in strong if all(g[c] == c for c in base[:j])]
        tr = _transversal(gens, b, degree)
        levels.append([tr[pt] for pt in sorted(tr)])
    out = []
    for choice in itertools.product(*reversed(levels)):  # (t_{k-1}, ..., t_0)
        g = tuple(range(degree))
        for t in choice:
            g = _after(t, g)
        out.append(g)
    return out


def _perm_table(perms: list[Perm]) -> Tensor:
    """table[x, y] = index of x·y with (x·y)[i] = y[x[i]] (x first, as sympy's ``x*y``)."""
    p = np.asarray(perms, dtype=np.int64)
    n_el, deg = p.shape
    prod = p[np.arange(n_el)[None, :, None], p[:, None, :]]  # [x, y, i] = p[y, p[x, i]]
    weights = deg ** np.arange(deg, dtype=np.int64)
    keys, codes = p @ weights, prod @ weights
    order = np.argsort(keys)
    pos = np.searchsorted(keys[order], codes)
    if not np.array_equal(keys[order][pos], codes):
        raise AssertionError("permutation list not closed under composition")
    return torch.from_numpy(order[pos])


def _inverse_of(table: Tensor, identity: int) -> Tensor:
    return (table == identity).int().argmax(dim=1)


def _cyclic(n: int) -> Group:
    k = torch.arange(n)
    table = (k[:, None] + k[None, :]) % n
    return Group(f"C{n}", tuple((i,) for i in range(n)), table, (-k) % n, 0)


def _dihedral(n: int) -> Group:
    idx = torch.arange(2 * n)
    a, s = idx % n, idx // n
    # r^a s^s · r^b s^t = r^(a + (-1)^s b) s^(s+t)
    rot = (a[:, None] + (1 - 2 * s[:, None]) * a[None, :]) % n
    table = rot + n * ((s[:, None] + s[None, :]) % 2)
    elements = tuple((int(x), int(y)) for x, y in zip(a, s, strict=True))
    return Group(f"D{n}", elements, table, _inverse_of(table, 0), 0)


def _permutation_group(name: str) -> Group:
    perms = _coset_enumeration(*_BSGS[name])
    n = len(perms[0])
    expected = math.factorial(n) // (2 if name[0] == "A" else 1)
    if len(set(perms)) != expected:
        raise AssertionError(f"{name}: enumerated {len(set(perms))} elements, not {expected}")
    table = _perm_table(perms)
    identity = perms.index(tuple(range(n)))
    return Group(name, tuple(perms), table, _inverse_of(table, identity), identity)


def parse_group(name: str) -> Group:
    """The group called ``name``; ConfigError (a ValueError) names what is allowed."""
    match = re.fullmatch(r"([CDSA])(\d+)", str(name).strip()) if name is not None else None
    ok = match is not None and (
        (match[1] == "C" and int(match[2]) >= 2)
        or (match[1] == "D" and int(match[2]) >= 3)
        or f"{match[1]}{int(match[2])}" in _BSGS
    )
    if not ok:
        raise ConfigError(f"task.group={name!r}: allowed are {ALLOWED}")
    return _build(f"{match[1]}{int(match[2])}")


@functools.lru_cache(maxsize=32)
def _build(name: str) -> Group:
    family, n = name[0], int(name[1:])
    if family == "C":
        return _cyclic(n)
    if family == "D":
        return _dihedral(n)
    return _permutation_group(name)


def sign(group: Group) -> Tensor:
    """Parity (+1/-1, float64) of each element of S_n or A_n, as a permutation of 0..n-1."""
    if group.family not in "SA":
        raise ValueError(f"{group.name} is not a permutation group")
    p = torch.tensor(group.elements)
    inversions = (p[:, :, None] > p[:, None, :]).triu(diagonal=1).sum(dim=(1, 2))
    return 1.0 - 2.0 * (inversions % 2).double()
