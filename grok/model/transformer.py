"""A small transformer with TransformerLens names, hooks and weight shapes.

TransformerLens 4.0 removed ``HookedTransformer``; it kept ``HookedRootModule``,
``HookPoint`` and ``ActivationCache``. This module rebuilds the part of
HookedTransformer that grokking work uses on that kept infrastructure, so that
``model.run_with_cache(tokens)``, ``cache["post", 0, "mlp"]``, ``model.W_E`` and
``model.blocks[0].attn.W_V`` behave as in the Nanda et al. notebooks.

``forward`` reads nothing but its parameters, buffers and arguments, so
``torch.func.functional_call`` + ``torch.vmap`` can run many same-shape models
(a fused pack) through this very code.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from transformer_lens import ActivationCache, HookedRootModule
from transformer_lens.hook_points import HookPoint

from grok.model.config import ACTIVATIONS, TransformerConfig
from grok.model.init import init_weights


def _bias(module: nn.Module, name: str, shape: tuple[int, ...], trainable: bool) -> None:
    """Trainable parameter, or a zero buffer that keeps TL's state-dict keys."""
    if trainable:
        module.register_parameter(name, nn.Parameter(torch.zeros(shape)))
    else:
        module.register_buffer(name, torch.zeros(shape))


class Embed(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.W_E = nn.Parameter(torch.empty(cfg.d_vocab, cfg.d_model))

    def forward(self, tokens: Tensor) -> Tensor:
        return one_hot_embed(tokens, self.W_E)


def one_hot_embed(tokens: Tensor, weight: Tensor) -> Tensor:
    """weight[tokens] as a one-hot matmul instead of indexing: the same values (x*1 + 0s is
    exact), but the backward is a matmul, not a scatter-add. Scatter-add accumulates in an
    order that depends on the pack size (and on GPU, on thread timing), and grokking
    amplifies such rounding differences into different runs. (F.one_hot checks token ranges
    with a host sync; a comparison does not.)"""
    vocab = torch.arange(weight.shape[0], device=tokens.device)
    return (tokens[..., None] == vocab).to(weight.dtype) @ weight


class ScalarEmbed(nn.Module):
    """Seed 000's input: a real number k projected to d_model and fed at every position,
    so the positional embedding alone tells positions (the x grid) apart."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.n_ctx = cfg.n_ctx
        self.W_E = nn.Parameter(torch.empty(1, cfg.d_model))
        self.b_E = nn.Parameter(torch.zeros(cfg.d_model))  # trainable, as seed 000's nn.Linear

    def forward(self, values: Tensor) -> Tensor:
        """values: [batch, 1] -> [batch, n_ctx, d_model]."""
        embed = values @ self.W_E + self.b_E
        return embed[:, None, :].expand(-1, self.n_ctx, -1)


class PosEmbed(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.W_pos = nn.Parameter(torch.empty(cfg.n_ctx, cfg.d_model))

    def forward(self, embed: Tensor) -> Tensor:
        batch, n_pos = embed.shape[:2]
        return self.W_pos[:n_pos].expand(batch, -1, -1)  # [batch, pos, d_model], as TL


class LayerNorm(nn.Module):
    def __init__(self, cfg: TransformerConfig, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.w = nn.Parameter(torch.ones(cfg.d_model))
        self.b = nn.Parameter(torch.zeros(cfg.d_model))
        self.hook_scale = HookPoint()
        self.hook_normalized = HookPoint()

    def forward(self, x: Tensor) -> Tensor:
        x = x - x.mean(-1, keepdim=True)
        scale = self.hook_scale((x.pow(2).mean(-1, keepdim=True) + self.eps).sqrt())
        return self.hook_normalized(x / scale) * self.w + self.b


def _norm(cfg: TransformerConfig) -> nn.Module:
    return LayerNorm(cfg) if cfg.normalization_type == "LN" else nn.Identity()


def _dropped(x: Tensor, mask: Tensor | None) -> Tensor:
    """Dropout with a given mask (keep / (1 - p), drawn outside the forward, per member)."""
    return x if mask is None else x * mask


class Attention(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        h, d, e = cfg.n_heads, cfg.d_model, cfg.d_head
        self.W_Q = nn.Parameter(torch.empty(h, d, e))
        self.W_K = nn.Parameter(torch.empty(h, d, e))
        self.W_V = nn.Parameter(torch.empty(h, d, e))
        self.W_O = nn.Parameter(torch.empty(h, e, d))
        for name, shape in (("b_Q", (h, e)), ("b_K", (h, e)), ("b_V", (h, e)), ("b_O", (d,))):
            _bias(self, name, shape, cfg.bias)
        self.use_bias = cfg.bias
        self.causal = cfg.causal
        self.scale = math.sqrt(e)
        self.mixed = cfg.attn_rate != 1.0
        if self.mixed:  # a buffer: a fused pack passes each member's own rate (MEMBER_BUFFERS)
            self.register_buffer("attn_rate", torch.tensor(cfg.attn_rate), persistent=False)
        for hook in ("q", "k", "v", "attn_scores", "pattern", "z"):
            setattr(self, f"hook_{hook}", HookPoint())

    def _project(self, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        out = torch.einsum("bpd,hde->bphe", x, weight)
        return out + bias if self.use_bias else out  # frozen zero biases: skip the add

    def forward(
        self, x_q: Tensor, x_kv: Tensor, q_pos: slice, drop: Tensor | None = None
    ) -> Tensor:
        """x_q: [batch, q, d_model] at positions ``q_pos``; x_kv: [batch, k, d_model];
        ``drop``: a dropout mask [batch, heads, q, k] for the pattern (training only)."""
        q = self.hook_q(self._project(x_q, self.W_Q, self.b_Q))
        k = self.hook_k(self._project(x_kv, self.W_K, self.b_K))
        v = self.hook_v(self._project(x_kv, self.W_V, self.b_V))
        scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / self.scale
        if self.causal:
            k_pos = torch.arange(x_kv.shape[1], device=x_kv.device)
            future = k_pos[None, :] > k_pos[q_pos][:, None]
            scores = scores.masked_fill(future, float("-inf"))
        pattern = self.hook_attn_scores(scores).softmax(dim=-1)
        if self.mixed:
            # Zhong et al. 2023 (code/train-main.py): (1 - rate) is added to every entry, not
            # renormalised (a row sums to rate + (1 - rate) n_keys); rate 0 is constant
            # attention, their model A ("pizza"). Their causal mask is never applied; here a
            # causal model keeps its future entries at 0 (model.causal=false is theirs).
            pattern = self.attn_rate * pattern + (1 - self.attn_rate)
            if self.causal:
                pattern = pattern.masked_fill(future, 0.0)
        pattern = _dropped(self.hook_pattern(pattern), drop)
        z = self.hook_z(torch.einsum("bkhe,bhqk->bqhe", v, pattern))
        out = torch.einsum("bqhe,hed->bqd", z, self.W_O)
        return out + self.b_O if self.use_bias else out


class MLP(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.W_in = nn.Parameter(torch.empty(cfg.d_model, cfg.d_mlp))
        self.W_out = nn.Parameter(torch.empty(cfg.d_mlp, cfg.d_model))
        trainable = cfg.bias if cfg.mlp_bias is None else cfg.mlp_bias
        _bias(self, "b_in", (cfg.d_mlp,), trainable)
        _bias(self, "b_out", (cfg.d_model,), trainable)
        self.use_bias = trainable
        self.act = ACTIVATIONS[cfg.act_fn]
        self.hook_pre = HookPoint()
        self.hook_post = HookPoint()

    def forward(self, x: Tensor, drop: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(output, neuron activations): measures read the activations without hooks.
        ``drop``: a dropout mask for the activations (training only)."""
        pre = x @ self.W_in
        post = self.hook_post(self.act(self.hook_pre(pre + self.b_in if self.use_bias else pre)))
        out = _dropped(post, drop) @ self.W_out
        return (out + self.b_out if self.use_bias else out), post


class TransformerBlock(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.post_ln = cfg.ln_position == "post"
        self.ln1 = _norm(cfg)
        self.attn = Attention(cfg)
        self.attn_only = cfg.attn_only
        if not cfg.attn_only:
            self.ln2 = _norm(cfg)
            self.mlp = MLP(cfg)
        for hook in ("resid_pre", "attn_out", "resid_mid", "mlp_out", "resid_post"):
            setattr(self, f"hook_{hook}", HookPoint())

    def forward(
        self,
        resid: Tensor,
        q_pos: slice | None = None,
        drop: dict[str, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """q_pos: the positions whose outputs are needed (all when None).

        Keys and values always see every position; queries, the MLP and the
        rest of the residual stream are computed only at ``q_pos``. ``drop``: dropout
        masks by site (``grok.model.dropout``), during training steps only. Pre-LN (TL):
        x + attn(ln1(x)), then + mlp(ln2(.)); post-LN (torch's encoder layer, seed 002):
        ln1(x + attn(x)), then ln2(. + mlp(.)).
        """
        drop = drop or {}
        resid = self.hook_resid_pre(resid)
        normed = resid if self.post_ln else self.ln1(resid)
        if q_pos is None:
            q_pos = slice(None)
            resid_q, normed_q = resid, normed
        else:
            resid_q, normed_q = resid[:, q_pos], normed[:, q_pos]
        attn = self.attn(normed_q, normed, q_pos, drop.get("pattern"))
        attn_out = self.hook_attn_out(_dropped(attn, drop.get("attn_out")))
        resid = resid_q + attn_out
        resid = self.hook_resid_mid(self.ln1(resid) if self.post_ln else resid)
        post = None
        if not self.attn_only:
            mlp_out, post = self.mlp(resid if self.post_ln else self.ln2(resid), drop.get("post"))
            resid = resid + self.hook_mlp_out(_dropped(mlp_out, drop.get("mlp_out")))
            if self.post_ln:
                resid = self.ln2(resid)
        return self.hook_resid_post(resid), post


class Unembed(nn.Module):
    def __init__(self, cfg: TransformerConfig, d_in: int | None = None):
        """``d_in``: the width it reads (d_model; the MLP's: d_mlp)."""
        super().__init__()
        self.W_U = nn.Parameter(torch.empty(d_in or cfg.d_model, cfg.d_vocab_out))
        trainable = cfg.bias if cfg.unembed_bias is None else cfg.unembed_bias
        _bias(self, "b_U", (cfg.d_vocab_out,), trainable)
        self.use_bias = trainable

    def forward(self, x: Tensor) -> Tensor:
        if self.W_U.shape[1] == 1:
            # One output (regression): a matrix-vector product takes a different BLAS path
            # with and without a member batch dim, which would break pack == lone-run.
            out = (x * self.W_U[:, 0]).sum(-1, keepdim=True)
        else:
            out = x @ self.W_U
        return out + self.b_U if self.use_bias else out


class HookedModel(HookedRootModule):
    """What both model families share: TL's hooks and cache, HookedTransformer's ``to``,
    and the seeded init (``grok/model/init.py``)."""

    def to(self, *args: Any, print_details: bool = True, **kwargs: Any) -> HookedModel:
        """nn.Module.to, accepting HookedTransformer's ``print_details`` (devinterp passes it)."""
        return super().to(*args, **kwargs)

    def run_with_cache(self, *args, **kwargs) -> tuple[Tensor, ActivationCache]:
        """As HookedTransformer: the cache comes back as an ``ActivationCache``."""
        out, cache = super().run_with_cache(*args, **kwargs)
        return out, ActivationCache(cache, self)

    def init_weights(self, seed: int) -> None:
        """HookedTransformer's default init: N(0, initializer_range) for every W_*;
        or xavier-normal (seed 002) with ``init_gain``; the seeds' torch inits on request
        (``grok/model/init.py``). A private generator: the result depends on ``seed`` alone,
        not on what else ran in the process (fused packs match lone runs)."""
        init_weights(self, seed)

    def register_logit_scale(self, cfg: TransformerConfig) -> None:
        if cfg.logit_scale != 1.0:
            # A buffer, not a constant: a fused pack passes each member's own scale through
            # functional_call. Not in the state dict: model_args (the config) carries it.
            self.register_buffer("logit_scale", torch.tensor(cfg.logit_scale), persistent=False)

    def scaled(self, logits: Tensor) -> Tensor:
        return logits * self.logit_scale if self.cfg.logit_scale != 1.0 else logits

    @property
    def W_E(self) -> Tensor:
        return self.token_embedding(dict(self.named_parameters()))

    @property
    def W_U(self) -> Tensor:
        return self.unembed.W_U


class Transformer(HookedModel):
    """Decoder-only transformer, TL-compatible; see the module docstring."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = Embed(cfg) if cfg.input_kind == "tokens" else ScalarEmbed(cfg)
        self.hook_embed = HookPoint()
        self.pos_embed = PosEmbed(cfg)
        self.hook_pos_embed = HookPoint()
        self.blocks = nn.ModuleList(TransformerBlock(cfg) for _ in range(cfg.n_layers))
        self.ln_final = _norm(cfg) if cfg.ln_final else nn.Identity()
        self.unembed = Unembed(cfg)
        self.register_logit_scale(cfg)
        self.setup()

    def forward(
        self,
        tokens: Tensor,
        read_pos: slice | None = None,
        return_neurons: bool = False,
        return_resid: bool = False,
        dropout: list[dict[str, Tensor]] | None = None,
    ) -> Tensor | tuple[Tensor, ...]:
        """Logits [batch, pos, d_vocab_out]; only at ``read_pos`` when given.

        The loss reads few positions (the last one for modular arithmetic), so
        the final block computes its queries and MLP only there. ``return_neurons``
        also returns the final block's MLP activations at those positions, and
        ``return_resid`` the residual stream that ``ln_final`` and the unembedding
        read there (``hook_resid_post`` of the last block), in that order after the
        logits: measures run under ``torch.vmap``, where hooks are not available.
        ``dropout``: one dict of masks per block (``grok.model.dropout``), for training steps.
        """
        squeeze = tokens.ndim == 1 and self.cfg.input_kind == "tokens"
        if squeeze:
            tokens = tokens[None]
        embed = self.hook_embed(self.embed(tokens))
        resid = embed + self.hook_pos_embed(self.pos_embed(embed))
        post = None
        for i, block in enumerate(self.blocks):
            q_pos = read_pos if i == len(self.blocks) - 1 else None
            resid, post = block(resid, q_pos, dropout[i] if dropout is not None else None)
        logits = self.scaled(self.unembed(self.ln_final(resid)))
        if squeeze:
            logits, resid = logits[0], resid[0]
            post = post[0] if post is not None else None
        if not (return_neurons or return_resid):
            return logits
        return (logits, *([post] if return_neurons else []), *([resid] if return_resid else []))

    # What the Fourier suite reads of a model's weights (``params``: by parameter name), in
    # the same form for both families (grok/model/mlp.py has its own).
    def token_embedding(self, params: dict[str, Tensor]) -> Tensor:
        """[d_vocab, width]: each token's embedding."""
        return params["embed.W_E"]

    def operand_embeddings(self, params: dict[str, Tensor]) -> list[Tensor]:
        """Per operand position, [d_vocab, d_model]: the token embedding (the residual stream
        reads every position through one W_E)."""
        return [params["embed.W_E"]] * 2

    def neuron_readout(self, params: dict[str, Tensor]) -> tuple[Tensor, Tensor] | None:
        """(W_out [d_mlp, d_model], W_U [d_model, d_vocab_out]): how the last MLP's neurons
        reach the final residual and the logits; None without an MLP."""
        if self.cfg.attn_only:
            return None
        return params[f"blocks.{self.cfg.n_layers - 1}.mlp.W_out"], params["unembed.W_U"]

    # Weight views with HookedTransformer's names and shapes (stacked over layers).
    @property
    def W_pos(self) -> Tensor:
        return self.pos_embed.W_pos

    def _stack(self, module: str, name: str) -> Tensor:
        return torch.stack([getattr(getattr(b, module), name) for b in self.blocks])

    @property
    def W_Q(self) -> Tensor:
        return self._stack("attn", "W_Q")

    @property
    def W_K(self) -> Tensor:
        return self._stack("attn", "W_K")

    @property
    def W_V(self) -> Tensor:
        return self._stack("attn", "W_V")

    @property
    def W_O(self) -> Tensor:
        return self._stack("attn", "W_O")

    @property
    def W_in(self) -> Tensor:
        return self._stack("mlp", "W_in")

    @property
    def W_out(self) -> Tensor:
        return self._stack("mlp", "W_out")
