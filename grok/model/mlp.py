"""The MLP of the grokking literature: Chughtai et al. 2023 ("A Toy Model of Universality",
bilal-chughtai/rep-theory-mech-interp, ``rep_theory/utils/models.py``: ``OneLayerMLP``),
as in Gromov 2023 and Liu et al. 2022.

Each operand token (the task's ``operand_positions``: a and b of the modular family, so
'=' is never read) is embedded by its own matrix (``embed.W_x``, ``embed.W_y``: theirs) or
one shared ``embed.W_E`` (``mlp_embed``); the embeddings are concatenated (theirs: W_in is
[2 d_model, d_mlp]) or summed (``mlp_combine``) and go through ``n_layers`` hidden layers of
width ``d_mlp`` (act_fn; theirs: one, ReLU), then ``unembed.W_U`` [d_mlp, d_vocab_out].
Their model has no biases: ``model.bias=false`` (``mlp_bias``, ``unembed_bias``) keeps
them zero buffers, as in the Transformer.

Names are TransformerLens's: hidden layer i is ``blocks.{i}.mlp`` (``W_in``, ``b_in``,
``hook_pre``, ``hook_post``), so ``cache["post", 0, "mlp"]`` is the hidden layer, the
Fourier suite reads the last one as "the MLP neurons" and Muon treats its W_in as a hidden
matrix. The forward is the Transformer's contract: logits [batch, len(read_pos),
d_vocab_out] (the one output, broadcast over the read positions), the neurons and the
residual the unembedding reads (both the last hidden layer) at those positions; it reads
nothing but its parameters, buffers and arguments, so a fused pack runs it under
``torch.func.functional_call`` + ``torch.vmap`` as it runs the Transformer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from transformer_lens.hook_points import HookPoint

from grok.model.config import ACTIVATIONS, TransformerConfig
from grok.model.transformer import HookedModel, Unembed, _bias, one_hot_embed


class OperandEmbed(nn.Module):
    """[batch, operands] tokens -> [batch, operands, d_model]: W_x, W_y, or one W_E."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.names = ("W_E",) if cfg.mlp_embed == "shared" else ("W_x", "W_y")
        for name in self.names:
            self.register_parameter(name, nn.Parameter(torch.empty(cfg.d_vocab, cfg.d_model)))

    def forward(self, tokens: Tensor) -> Tensor:
        if len(self.names) == 1:
            return one_hot_embed(tokens, self.W_E)
        parts = [one_hot_embed(tokens[:, i], getattr(self, n)) for i, n in enumerate(self.names)]
        return torch.stack(parts, dim=1)


class Hidden(nn.Module):
    """One hidden layer: act(x @ W_in + b_in), hooked as TL's MLP (``hook_pre``, ``hook_post``)."""

    def __init__(self, cfg: TransformerConfig, d_in: int):
        super().__init__()
        self.W_in = nn.Parameter(torch.empty(d_in, cfg.d_mlp))
        trainable = cfg.bias if cfg.mlp_bias is None else cfg.mlp_bias
        _bias(self, "b_in", (cfg.d_mlp,), trainable)
        self.use_bias = trainable
        self.act = ACTIVATIONS[cfg.act_fn]
        self.hook_pre = HookPoint()
        self.hook_post = HookPoint()

    def forward(self, x: Tensor) -> Tensor:
        pre = x @ self.W_in
        return self.hook_post(self.act(self.hook_pre(pre + self.b_in if self.use_bias else pre)))


class Block(nn.Module):
    """Holds layer i as ``blocks.{i}.mlp``: TL's names for the cache and the measures."""

    def __init__(self, cfg: TransformerConfig, d_in: int):
        super().__init__()
        self.mlp = Hidden(cfg, d_in)


class MLPNet(HookedModel):
    """Chughtai et al.'s MLP family, TL-compatible; see the module docstring."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        if cfg.input_kind != "tokens" or not cfg.operand_pos:
            raise ValueError("the MLP reads operand tokens: needs input_kind='tokens', operand_pos")
        if cfg.mlp_embed == "separate" and len(cfg.operand_pos) != 2:
            raise ValueError(f"mlp_embed='separate' needs two operands; got {cfg.operand_pos}")
        self.cfg = cfg
        self.operands = list(cfg.operand_pos)
        self.embed = OperandEmbed(cfg)
        self.hook_embed = HookPoint()
        width = cfg.d_model * (len(self.operands) if cfg.mlp_combine == "concat" else 1)
        self.blocks = nn.ModuleList(
            Block(cfg, width if i == 0 else cfg.d_mlp) for i in range(cfg.n_layers)
        )
        self.ln_final = nn.Identity()  # none; kept so readers of ln_final + unembed read both
        self.unembed = Unembed(cfg, d_in=cfg.d_mlp)
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
        """Logits [batch, positions, d_vocab_out] at ``read_pos`` (every position when None),
        the same output at each; then the last hidden layer (``return_neurons``; it is also
        the residual ``return_resid``: what the unembedding reads) in that shape."""
        if dropout is not None:
            raise ValueError("the MLP has no dropout sites (model.dropout needs arch=transformer)")
        squeeze = tokens.ndim == 1
        if squeeze:
            tokens = tokens[None]
        embed = self.hook_embed(self.embed(tokens[:, self.operands]))  # [batch, k, d_model]
        x = embed.flatten(-2) if self.cfg.mlp_combine == "concat" else embed.sum(-2)
        for block in self.blocks:
            x = block.mlp(x)
        logits = self.scaled(self.unembed(self.ln_final(x)))
        n_ctx = self.cfg.n_ctx
        n_pos = n_ctx if read_pos is None else len(range(*read_pos.indices(n_ctx)))
        logits, post = (t[:, None].expand(-1, n_pos, -1) for t in (logits, x))
        if squeeze:
            logits, post = logits[0], post[0]
        if not (return_neurons or return_resid):
            return logits
        return (logits, *([post] if return_neurons else []), *([post] if return_resid else []))

    def token_embedding(self, params: dict[str, Tensor]) -> Tensor:
        """[d_vocab, width]: W_E, or [W_x | W_y] (each token as either operand)."""
        return torch.cat([params[f"embed.{n}"] for n in self.embed.names], dim=-1)

    def operand_embeddings(self, params: dict[str, Tensor]) -> list[Tensor]:
        """Per operand, [d_vocab, d_mlp]: what each token adds to the first hidden layer's
        pre-activation at that operand (Chughtai et al.'s "total embedding", W_x W[:d])."""
        w_in, d = params["blocks.0.mlp.W_in"], self.cfg.d_model
        tables = [params[f"embed.{n}"] for n in self.embed.names]
        if len(tables) == 1:  # shared: one W_E at every operand (sparse parity reads n)
            tables = tables * len(self.operands)
        if self.cfg.mlp_combine == "sum":
            return [table @ w_in for table in tables[: len(self.operands)]]
        return [tables[i] @ w_in[i * d : (i + 1) * d] for i in range(len(self.operands))]

    def neuron_readout(self, params: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """(I [d_mlp, d_mlp], W_U): the last hidden layer is what the unembedding reads."""
        w_u = params["unembed.W_U"]
        return torch.eye(w_u.shape[0], dtype=w_u.dtype, device=w_u.device), w_u
