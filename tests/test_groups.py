"""grok.task.groups and grok.task.irreps: group axioms, Chughtai et al.'s element indexing,
and the real irreps (homomorphism, orthogonality, irreducibility, completeness)."""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

from grok.task.groups import ALLOWED, Group, parse_group, sign
from grok.task.irreps import (
    character,
    commutant_dim,
    irrep_partitions,
    irreps,
    matrix_element_basis,
)

ORDERS = {
    **{f"C{n}": n for n in (2, 3, 12, 59, 113)},
    **{f"D{n}": 2 * n for n in (3, 4, 5, 12, 59, 61)},
    **{f"S{n}": math.factorial(n) for n in (3, 4, 5, 6)},
    "A4": 12,
    "A5": 60,
}
GROUPS = list(ORDERS)

# sha256 (first 16 hex digits) of the element array forms as bytes, from sympy 1.11.1:
# SymmetricGroup(n)._elements, their A5 PermutationGroup((0 1 2 3 4), (1 2)(3 4)), and
# AlternatingGroup(4) (rep_theory/utils/groups.py; requirements.txt pins sympy==1.11.1).
SYMPY_111 = {
    "S3": ("f5cb4819cf71efb9", 0),
    "S4": ("57a1319e215567d2", 0),
    "S5": ("698cba89dd9b2e36", 20),
    "S6": ("f6cd9b8a2490f53c", 60),
    "A4": ("c977c7a12d3e6473", 0),
    "A5": ("c1fe2f30b875c921", 0),
}

# complex-type real irreps (a conjugate pair of complex irreps); all others are real type
COMPLEX = {"A4": {"a4_2d"}}


def complex_type(name: str, irrep: str) -> bool:
    return (irrep.startswith("freq_") and name[0] == "C") or irrep in COMPLEX.get(name, set())


def generators(group: Group) -> list[int]:
    """A generating set: r (and s) for C_n, D_n; the sympy generators for S_n, A_n."""
    n = group.degree
    if group.family == "C":
        return [1]
    if group.family == "D":
        return [1, n]
    perms = {
        "S": [(*range(1, n), 0), (1, 0, *range(2, n))],
        "A5": [(1, 2, 3, 4, 0), (0, 2, 1, 4, 3)],
        "A4": [(1, 2, 0, 3), (0, 2, 3, 1)],
    }
    return [group.index(p) for p in perms.get(group.family, perms.get(group.name, []))]


def closure(group: Group, gens: list[int]) -> int:
    seen, frontier = {group.identity}, [group.identity]
    while frontier:
        new = {int(group.table[x, g]) for x in frontier for g in gens} - seen
        seen |= new
        frontier = list(new)
    return len(seen)


@pytest.mark.parametrize("name", GROUPS)
def test_table_is_a_group(name: str) -> None:
    group = parse_group(name)
    t, n, e = group.table, group.order, group.identity
    assert n == ORDERS[name] and len(set(group.elements)) == n
    assert t.dtype == torch.long and t.shape == (n, n)
    ar = torch.arange(n)
    assert bool((t.sort(1).values == ar).all()) and bool((t.sort(0).values == ar[:, None]).all())
    assert torch.equal(t[e], ar) and torch.equal(t[:, e], ar)
    assert bool((t[ar, group.inverse] == e).all()) and bool((t[group.inverse, ar] == e).all())
    gens = generators(group)
    assert closure(group, gens) == n
    # Light's test: (x g) y = x (g y) for generators g and all x, y gives associativity
    for g in gens:
        assert torch.equal(t[t[:, g]], t[:, t[g]])
    if n <= 120:  # and by brute force where it is cheap
        assert torch.equal(t[t], t[:, t])  # [x, y, z]: (x y) z == x (y z)


@pytest.mark.parametrize("name", [g for g in GROUPS if g[0] in "SA"])
def test_permutation_order_is_sympy_1_11_1(name: str) -> None:
    """Element i is theirs: sympy's coset enumeration, x·y = apply x first (sympy x*y)."""
    group = parse_group(name)
    digest = hashlib.sha256(bytes(v for p in group.elements for v in p)).hexdigest()[:16]
    assert (digest, group.identity) == SYMPY_111[name]
    p = torch.tensor(group.elements)
    x, y = torch.meshgrid(torch.arange(group.order), torch.arange(group.order), indexing="ij")
    assert torch.equal(p[group.table], p[y[..., None], p[x]])  # (x·y)[i] = y[x[i]]
    if name[0] == "A":
        assert bool((sign(group) == 1).all())


@pytest.mark.parametrize("name", [g for g in GROUPS if g[0] in "SA"])
def test_permutation_order_matches_installed_sympy(name: str) -> None:
    combinatorics = pytest.importorskip("sympy.combinatorics")
    named = pytest.importorskip("sympy.combinatorics.named_groups")
    n = int(name[1:])
    if name == "A5":
        gens = [combinatorics.Permutation(0, 1, 2, 3, 4), combinatorics.Permutation(1, 2)(3, 4)]
        sym = combinatorics.PermutationGroup(*gens)
    else:
        sym = (named.SymmetricGroup if name[0] == "S" else named.AlternatingGroup)(n)
    group = parse_group(name)
    theirs = list(sym.generate_schreier_sims())
    assert [list(p.array_form) for p in theirs] == [list(p) for p in group.elements]
    if group.order <= 60:  # their SymmetricGroup.compose: index of idx_to_perm(x) * (y)
        where = {p: i for i, p in enumerate(theirs)}
        table = [[where[x * y] for y in theirs] for x in theirs]
        assert torch.equal(group.table, torch.tensor(table))


@pytest.mark.parametrize("name", ["C12", "C113", "D4", "D59", "D61"])
def test_cyclic_dihedral_indexing(name: str) -> None:
    """C_n: k + l mod n. D_n: index a + s n is r^a s^s (their DihedralGroup)."""
    group = parse_group(name)
    n = group.degree
    if name[0] == "C":
        k = torch.arange(n)
        assert torch.equal(group.table, (k[:, None] + k[None, :]) % n)
        return
    r, s = 1, n
    assert group.elements[n + 3] == (3, 1) and group.table[3, s] == n + 3  # r^3 s
    assert int(group.table[group.table[s, r], s]) == n - 1  # s r s = r^-1
    # their DihedralGroup.compose, in words: a rotation x keeps y's reflection part and
    # adds rotations; a reflection x subtracts y's rotation and flips y's reflection part
    for x in range(2 * n):
        for y in range(2 * n):
            (a, fx), (b, fy) = divmod(x, n)[::-1], divmod(y, n)[::-1]
            z = (a + b) % n + n * fy if fx == 0 else (a - b) % n + n * (1 - fy)
            assert int(group.table[x, y]) == z


@pytest.mark.parametrize("bad", ["S7", "S2", "A3", "A6", "C1", "D2", "Z5", "c5", "", None])
def test_parse_group_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match=f"task.group={bad!r}: allowed are ") as info:
        parse_group(bad)  # type: ignore[arg-type]
    assert ALLOWED in str(info.value)


def conjugacy_classes(group: Group) -> int:
    t, inv = group.table, group.inverse
    seen, count = torch.zeros(group.order, dtype=torch.bool), 0
    for x in range(group.order):
        if not seen[x]:
            seen[t[t[:, x], inv]] = True  # g x g^-1 for all g
            count += 1
    return count


@pytest.mark.parametrize("name", GROUPS)
def test_irreps(name: str) -> None:
    """Each irrep: orthogonal matrices and a homomorphism (< 1e-9). Irreducible and
    inequivalent over R: <chi_i, chi_j> = delta_ij e_i with e_i = 1 (real type, irreducible
    over C already) or e_i = 2 for a complex pair, whose Frobenius-Schur sum mean chi(g^2) is
    0, so its two complex constituents are conjugate and it is irreducible over R. Complete:
    sum d^2 / e = |G|, and sum e = number of conjugacy classes (of complex irreps)."""
    group = parse_group(name)
    reps = irreps(group)
    n, t = group.order, group.table
    assert reps is irreps(name) and next(iter(reps)) == "trivial"
    gens = generators(group)
    pairs = torch.randint(0, n, (2, 4000), generator=torch.Generator().manual_seed(0))
    for irrep, rho in reps.items():
        d = rho.shape[1]
        assert rho.dtype == torch.float64 and rho.shape == (n, d, d)
        eye = torch.eye(d, dtype=torch.float64)
        assert (rho @ rho.transpose(1, 2) - eye).abs().max() < 1e-9, irrep
        assert (rho[group.identity] - eye).abs().max() < 1e-12, irrep
        # rho(x g) = rho(x) rho(g) for all x and generators g: by induction, all of G
        for g in gens:
            assert (rho[t[:, g]] - rho @ rho[g]).abs().max() < 1e-9, irrep
        if n <= 200:
            assert (rho[t] - rho[:, None] @ rho[None, :]).abs().max() < 1e-9, irrep
        x, y = pairs
        assert (rho[t[x, y]] - rho[x] @ rho[y]).abs().max() < 1e-9, irrep
    chars = torch.stack([character(r) for r in reps.values()])
    kinds = torch.tensor([2.0 if complex_type(name, k) else 1.0 for k in reps], dtype=chars.dtype)
    assert (chars @ chars.T / n - torch.diag(kinds)).abs().max() < 1e-9
    assert [commutant_dim(r) for r in reps.values()] == kinds.int().tolist()
    sq = t[torch.arange(n), torch.arange(n)]
    indicators = torch.stack([character(r)[sq].mean() for r in reps.values()])
    assert (indicators - (2 - kinds)).abs().max() < 1e-9
    assert sum(r.shape[1] ** 2 / k for r, k in zip(reps.values(), kinds.tolist(), strict=True)) == n
    assert int(kinds.sum()) == conjugacy_classes(group)


EXPECTED_NAMES = {
    "C113": ["trivial", *[f"freq_{k}" for k in range(1, 57)]],  # their C113 irreps.txt
    "C12": ["trivial", "sign", *[f"freq_{k}" for k in range(1, 6)]],
    "D59": ["trivial", "sign", *[f"freq_{k}" for k in range(1, 30)]],  # their D59
    "D61": ["trivial", "sign", *[f"freq_{k}" for k in range(1, 31)]],  # their D61
    "D12": ["trivial", "sign", "parity", "parity_sign", *[f"freq_{k}" for k in range(1, 6)]],
    "S3": ["trivial", "sign", "standard"],
    "S4": ["trivial", "sign", "standard", "standard_sign", "s4_2d"],
    "S5": ["trivial", "sign", "standard", "standard_sign", "s5_5d_a", "s5_5d_b", "s5_6d"],
    "S6": [
        "trivial",
        "sign",
        "standard",
        "standard_sign",
        "s6_5d_a",
        "s6_5d_b",
        "(4,2)",
        "(4,1,1)",
        "(3,2,1)",
        "(3,1,1,1)",
        "(2,2,1,1)",
    ],
    "A4": ["trivial", "standard", "a4_2d"],
    "A5": ["trivial", "standard", "a5_5d_a", "a5_3d_a", "a5_3d_b"],  # their A5 irreps.txt
}


@pytest.mark.parametrize("name", list(EXPECTED_NAMES))
def test_irrep_names(name: str) -> None:
    assert list(irreps(name)) == EXPECTED_NAMES[name]


@pytest.mark.parametrize("name", ["S3", "S4", "S5", "S6", "A4", "A5"])
def test_permutation_irreps_are_the_named_ones(name: str) -> None:
    """Characters pin the names: standard = fixed points - 1, sign = parity, and for a
    partition, chi at a transposition = dim * sum_i l_i (l_i - 2i + 1) / (n (n - 1))."""
    group, reps = parse_group(name), irreps(name)
    p, n = torch.tensor(group.elements), group.degree
    fixed = (p == torch.arange(n)).sum(1).double()
    assert torch.allclose(character(reps["standard"]), fixed - 1)
    assert torch.allclose(character(reps["trivial"]), torch.ones(group.order, dtype=torch.float64))
    if name[0] == "S":
        assert torch.allclose(character(reps["sign"]), sign(group))
        tau = group.index((1, 0, *range(2, n)))
        for irrep, shape in irrep_partitions(n).items():
            dim = (
                math.prod(range(1, n + 1))
                // math.prod(  # hook length formula
                    (shape[i] - j) + sum(1 for r in shape[i + 1 :] if r > j)
                    for i in range(len(shape))
                    for j in range(shape[i])
                )
            )
            s = sum(li * (li - 2 * i - 1) for i, li in enumerate(shape))
            assert reps[irrep].shape[1] == dim, irrep
            assert math.isclose(float(character(reps[irrep])[tau]), dim * s / (n * (n - 1)))
        if "standard_sign" in reps:
            assert torch.allclose(
                character(reps["standard_sign"]), sign(group) * character(reps["standard"])
            )
    if name == "A5":
        cycle = group.index((1, 2, 3, 4, 0))
        golden = (1 + math.sqrt(5)) / 2
        assert math.isclose(float(character(reps["a5_3d_a"])[cycle]), golden)
        assert math.isclose(float(character(reps["a5_3d_b"])[cycle]), 1 - golden)


@pytest.mark.parametrize("name", ["C113", "D59", "D12"])
def test_rotation_irreps_are_theirs(name: str) -> None:
    """freq_k: x -> R(2 pi k x / n) on C_n; r^a s -> [[cos, sin], [sin, -cos]] on D_n."""
    group, reps = parse_group(name), irreps(name)
    n, k = group.degree, 3
    theta = torch.tensor(2 * math.pi * k * 2 / n, dtype=torch.float64)
    c, s = torch.cos(theta), torch.sin(theta)
    assert torch.allclose(
        reps[f"freq_{k}"][2], torch.stack([torch.stack([c, -s]), torch.stack([s, c])])
    )
    if name[0] == "D":
        mat = torch.stack([torch.stack([c, s]), torch.stack([s, -c])])
        assert torch.allclose(reps[f"freq_{k}"][n + 2], mat)


@pytest.mark.parametrize("name", GROUPS)
def test_matrix_element_basis(name: str) -> None:
    """d^2 orthonormal functions per real-type irrep, d^2/2 per complex pair; together an
    orthonormal basis of R^|G| (Peter-Weyl over the reals)."""
    group, reps = parse_group(name), irreps(name)
    blocks = []
    for irrep, rho in reps.items():
        basis = matrix_element_basis(rho)
        d = rho.shape[1]
        assert basis.shape == (group.order, d * d // (2 if complex_type(name, irrep) else 1))
        blocks.append(basis)
    full = torch.cat(blocks, 1)
    assert full.shape == (group.order, group.order)
    assert (full.T @ full - torch.eye(group.order, dtype=torch.float64)).abs().max() < 1e-9
