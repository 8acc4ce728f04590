"""Which algorithm did it learn: Zhong et al. 2023's Clock-vs-Pizza diagnostics.

"The Clock and the Pizza" (Zhong, Liu, Tegmark, Andreas; NeurIPS 2023; github.com/fjzzq2002/pizza)
tell Nanda et al.'s "clock" (the logit of c depends on a + b through cos(w(a + b - c))) from
their "pizza" (it also depends on the distance a - b) by two numbers, defined in
``code/eval-main.ipynb`` and re-implemented here (no code copied):

- distance irrelevance (cell "Distance Irrelevance"): over **all** p^2 pairs, the table
  T[s, d] = L(a, b) with s = (a + b) mod p, d = (a - b) mod p and L the correct-class logit at
  the read position; DI = mean_d std_s T[s, d] / std(T) (population stds). A clock's correct
  logit is the same along s's column whatever d: DI near 1 (0.85, their model B); a pizza's
  varies with d: DI low (0.17, model A).
- gradient symmetricity (cell "Gradient Symmetricity"): for triples (a, b, c), the cosine
  between d logit_c / d e_a and d logit_c / d e_b, the gradients with respect to the token
  embeddings at a's and b's positions (before the positional embedding is added); the mean.
  A pizza (and any model of e_a + e_b) gives ~1; a clock's products of a- and b-terms do not.
  The triples are the notebook's: the list of all p^3 (a, b, c), a outer and c inner,
  shuffled by ``random.Random(42)``, first 100. ``_all`` averages over every triple.
- circularity (the cell after): the principal components of W_E (rows: every token, centred),
  each scored by the share of its energy over the p residues at its strongest Fourier
  frequency, 2 |sum_t v[t i mod p] e^(2 pi i t / p)|^2 with sum v^2 = 1/p (clipped to 1);
  the mean over the first 4. The paper keeps only runs with circularity > 0.995.

**Which DI the paper's figures show.** The result tables behind the figures
(``result/1l_*.csv``) were written by the post-training block of ``code/train-main.py``,
which builds T from the **largest incorrect** logit (it computes the correct-logit table, then
overwrites it): ``distance_irrelevance_max_wrong`` here; the CSV values match it to 1e-7 where
their saved models can be checked. The notebook (and, as far as the repo shows, the paper's
text) uses the correct logit: ``distance_irrelevance``. Both tell the two apart (model A
0.17 / 0.22, model B 0.85 / 0.88).

For ``op=sub`` the labels are a - b: the roles swap (rows (a - b), columns (a + b)), as the
substitution b -> -b maps one task onto the other. With ``task.diff_vocab`` the inputs are the
model's own (b's shifted tokens); the notebook fed raw [a, b] even to such models.
"""

from __future__ import annotations

import math
import random
from typing import Any

import torch
from torch import Tensor

from grok.measures.base import Measure, MemberView

NOTEBOOK_TRIPLES = 100  # code/eval-main.ipynb: xs[:100] after random.Random(42).shuffle(xs)
NOTEBOOK_SEED = 42
CIRCULAR_COMPONENTS = 4  # code/eval-main.ipynb: first_k = 4


def notebook_triples(p: int, n: int = NOTEBOOK_TRIPLES) -> Tensor:
    """The notebook's (a, b, c) triples [n, 3]: all p^3 in lexicographic order, shuffled by
    Python's ``random.Random(42)``, the first ``n``."""
    triples = [(a, b, c) for a in range(p) for b in range(p) for c in range(p)]
    random.Random(NOTEBOOK_SEED).shuffle(triples)
    return torch.tensor(triples[:n])


def _all_logits(model: Any, task: Any) -> tuple[Tensor, Tensor, Tensor]:
    """(a, b, logits [p^2, C]) at the last read position, every pair, dataset order."""
    a = torch.arange(task.p).repeat_interleave(task.p)
    b = torch.arange(task.p).repeat(task.p)
    device = next(model.parameters()).device
    logits = model(task.encode(a, b).to(device), read_pos=task.read_pos)[:, -1]
    return a, b, logits.double().cpu()


def _irrelevance(table: Tensor) -> float:
    """mean over columns of the std over rows, over the std of every entry (ddof 0)."""
    return float(table.std(dim=0, correction=0).mean() / table.std(correction=0))


def distance_irrelevance(model: Any, task: Any) -> dict[str, float]:
    """DI from the correct-class logit (the notebook's) and from the largest incorrect one
    (train-main.py's, the result CSVs')."""
    a, b, logits = _all_logits(model, task)
    p = task.p
    labels = task.labels(a, b)
    other = (a - b) % p if task.op == "add" else (a + b) % p  # sub: the roles swap
    correct = logits.gather(1, labels[:, None])[:, 0]
    wrong = logits.scatter(1, labels[:, None], float("-inf")).max(dim=1).values
    out = {}
    for name, values in (("", correct), ("_max_wrong", wrong)):
        table = torch.empty(p, p, dtype=torch.float64)
        table[labels, other] = values  # each (label, other) pair is one (a, b): p is odd
        out[f"distance_irrelevance{name}"] = _irrelevance(table)
    return out


def _embedding_gradients(model: Any, tokens: Tensor, classes: Tensor, task: Any) -> Tensor:
    """d logit_{classes[i]} / d (token embedding of example i) [n, n_ctx, d_model]: the
    embedding is made a leaf at ``hook_embed``, before ``hook_pos_embed`` is added."""
    leaf: list[Tensor] = []

    def make_leaf(embed: Tensor, hook: Any) -> Tensor:
        leaf.append(embed.detach().requires_grad_())
        return leaf[0]

    with torch.enable_grad(), model.hooks(fwd_hooks=[("hook_embed", make_leaf)]):
        logits = model(tokens, read_pos=task.read_pos)[:, -1]
        logits.gather(1, classes[:, None]).sum().backward()  # examples are independent
    return leaf[0].grad


def _cosines(grads: Tensor) -> Tensor:
    """cos(grad at a's position, grad at b's position) per example, in float64."""
    ga, gb = grads[:, 0].double(), grads[:, 1].double()
    return (ga * gb).sum(-1) / (ga.norm(dim=-1) * gb.norm(dim=-1))


def gradient_symmetricity(model: Any, task: Any, every_triple: bool = False) -> float:
    """Mean cosine over the notebook's 100 triples, or over all p^3 (``every_triple``: one
    backward pass per class c over all p^2 pairs)."""
    device = next(model.parameters()).device
    if not every_triple:
        abc = notebook_triples(task.p)
        tokens = task.encode(abc[:, 0], abc[:, 1]).to(device)
        return float(
            _cosines(_embedding_gradients(model, tokens, abc[:, 2].to(device), task)).mean()
        )
    a = torch.arange(task.p).repeat_interleave(task.p)
    b = torch.arange(task.p).repeat(task.p)
    tokens = task.encode(a, b).to(device)
    total = torch.zeros((), dtype=torch.float64)
    for c in range(task.p):
        classes = torch.full((len(a),), c, device=device)
        total += _cosines(_embedding_gradients(model, tokens, classes, task)).sum().cpu()
    return float(total / task.p**3)


def circularity(w_e: Tensor, p: int, components: int = CIRCULAR_COMPONENTS) -> float:
    """The notebook's circularity of an embedding W_E [d_vocab, d_model] (every row in the
    PCA, the first p rows in the Fourier sum), averaged over the first ``components``."""
    centred = w_e.double() - w_e.double().mean(dim=0)
    u, s, _ = torch.linalg.svd(centred, full_matrices=False)
    scores = u[:, :components] * s[:components]  # [d_vocab, k]: PCA's transformed rows
    t = torch.arange(p, dtype=torch.float64)
    total = 0.0
    for k in range(scores.shape[1]):
        v = scores[:, k] / scores[:, k].norm() / math.sqrt(p)
        best = 0.0
        for i in range(1, p):  # sum_t v[t i mod p] e^(2 pi i t / p): frequency i^-1
            phase = 2 * math.pi * t / p
            vv = v[(torch.arange(p) * i) % p]
            s_i = torch.complex((vv * phase.cos()).sum(), (vv * phase.sin()).sum())
            best = max(best, 2 * float(s_i.abs()) ** 2)
        total += min(best, 1.0)
    return total / scores.shape[1]


@torch.no_grad()
def pizza_values(model: Any, task: Any) -> dict[str, float]:
    """Every Clock/Pizza diagnostic of ``model`` (a grok Transformer) on ``task`` (modular
    add or sub), under the names the ``pizza`` measure logs them."""
    values = distance_irrelevance(model, task)
    values["gradient_symmetricity"] = gradient_symmetricity(model, task)
    values["gradient_symmetricity_all"] = gradient_symmetricity(model, task, every_triple=True)
    values["circularity"] = circularity(model.W_E.detach(), task.p)
    return values


class PizzaMeasure(Measure):
    """``measures.names: [..., pizza]``: the diagnostics above, as ``pizza/<name>``."""

    name = "pizza"

    def applies(self, task: Any) -> bool:
        return getattr(task, "op", None) in ("add", "sub")

    @staticmethod
    def values(model: Any, task: Any) -> dict[str, Any]:
        """The logged values (``grok measure`` computes them on each checkpoint too)."""
        return {f"pizza/{k}": v for k, v in pizza_values(model, task).items()}

    def compute(self, view: MemberView) -> dict[str, Any]:
        return self.values(view.model, view.task)
