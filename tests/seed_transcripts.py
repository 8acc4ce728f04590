"""The seeds' models, transcribed from their notebooks for tests/test_seed_presets.py.

Seeds 000 and 004 build TransformerLens 2.x's ``HookedTransformer``, which TL 4 removed;
``TLTransformer`` computes what it computed, in plain torch with TL's parameter names and
shapes (so seed 000's ``if "b_" in name`` freezing hits the same tensors): pre-LN blocks,
LayerNorm ``(x - mean) / sqrt(mean((x - mean)^2) + 1e-5) * w + b``, causal attention with
the future masked to -inf, scores divided by sqrt(d_head), ``ln_final`` and ``W_U + b_U``.
Seed 002's model is its own ``MLP`` class (``nn.TransformerEncoderLayer``), verbatim.
``load_grok`` copies a grok model's weights into these modules, so a loop transcribed from a
seed can start from exactly the weights grok starts from.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class TLLayerNorm(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d))
        self.b = nn.Parameter(torch.zeros(d))

    def forward(self, x: Tensor) -> Tensor:
        x = x - x.mean(-1, keepdim=True)
        scale = (x.pow(2).mean(-1, keepdim=True) + 1e-5).sqrt()
        return x / scale * self.w + self.b


class TLAttention(nn.Module):
    def __init__(self, d: int, h: int, e: int):
        super().__init__()
        self.W_Q, self.W_K, self.W_V = (nn.Parameter(torch.empty(h, d, e)) for _ in range(3))
        self.W_O = nn.Parameter(torch.empty(h, e, d))
        self.b_Q, self.b_K, self.b_V = (nn.Parameter(torch.zeros(h, e)) for _ in range(3))
        self.b_O = nn.Parameter(torch.zeros(d))
        self.e = e

    def forward(self, x: Tensor) -> Tensor:
        q = torch.einsum("bpd,hde->bphe", x, self.W_Q) + self.b_Q
        k = torch.einsum("bpd,hde->bphe", x, self.W_K) + self.b_K
        v = torch.einsum("bpd,hde->bphe", x, self.W_V) + self.b_V
        scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(self.e)
        n = x.shape[1]
        future = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
        pattern = scores.masked_fill(future, float("-inf")).softmax(-1)
        z = torch.einsum("bkhe,bhqk->bqhe", v, pattern)
        return torch.einsum("bqhe,hed->bqd", z, self.W_O) + self.b_O


class TLMLP(nn.Module):
    def __init__(self, d: int, m: int):
        super().__init__()
        self.W_in = nn.Parameter(torch.empty(d, m))
        self.b_in = nn.Parameter(torch.zeros(m))
        self.W_out = nn.Parameter(torch.empty(m, d))
        self.b_out = nn.Parameter(torch.zeros(d))

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x @ self.W_in + self.b_in) @ self.W_out + self.b_out


class TLBlock(nn.Module):
    def __init__(self, d: int, h: int, e: int, m: int):
        super().__init__()
        self.ln1, self.ln2 = TLLayerNorm(d), TLLayerNorm(d)
        self.attn, self.mlp = TLAttention(d, h, e), TLMLP(d, m)

    def forward(self, resid: Tensor) -> Tensor:
        resid = resid + self.attn(self.ln1(resid))
        return resid + self.mlp(self.ln2(resid))


class _Embed(nn.Module):
    def __init__(self, v: int, d: int):
        super().__init__()
        self.W_E = nn.Parameter(torch.empty(v, d))


class _PosEmbed(nn.Module):
    def __init__(self, n: int, d: int):
        super().__init__()
        self.W_pos = nn.Parameter(torch.empty(n, d))


class _Unembed(nn.Module):
    def __init__(self, d: int, v: int):
        super().__init__()
        self.W_U = nn.Parameter(torch.empty(d, v))
        self.b_U = nn.Parameter(torch.zeros(v))


class TLTransformer(nn.Module):
    """HookedTransformer(cfg) with normalization_type='LN' (seed 004), TL's init on request."""

    def __init__(self, n_layers: int, d: int, h: int, e: int, m: int, vocab: int, n_ctx: int):
        super().__init__()
        self.embed, self.pos_embed = _Embed(vocab, d), _PosEmbed(n_ctx, d)
        self.blocks = nn.ModuleList(TLBlock(d, h, e, m) for _ in range(n_layers))
        self.ln_final = TLLayerNorm(d)
        self.unembed = _Unembed(d, vocab)
        self.d = d

    def tl_init(self) -> None:
        """TL's ``_init_weights_gpt2``: N(0, 0.8 / sqrt(d_model)) for every W_* (global RNG)."""
        for name, p in self.named_parameters():
            if "W_" in name:
                nn.init.normal_(p, std=0.8 / math.sqrt(self.d))

    def residual(self, tokens: Tensor) -> Tensor:
        resid = self.embed.W_E[tokens] + self.pos_embed.W_pos[: tokens.shape[1]]
        for block in self.blocks:
            resid = block(resid)
        return resid

    def forward(self, tokens: Tensor) -> Tensor:
        return self.ln_final(self.residual(tokens)) @ self.unembed.W_U + self.unembed.b_U


class SineTransformer(TLTransformer):
    """Seed 000's ``SineTransformer``: embed / unembed deleted, k through nn.Linear(1, d), the
    readout nn.Linear(d, 1); ``ln_final`` exists (TL made it) but the forward skips it."""

    def __init__(self, d: int, h: int, e: int, m: int, n_ctx: int, seed: int | None = None):
        super().__init__(1, d, h, e, m, 10, n_ctx)  # seed 000's dummy d_vocab 10
        if seed is not None:  # HookedTransformerConfig(seed=999): TL seeds, then initialises
            torch.manual_seed(seed)
            self.tl_init()
        del self.embed, self.unembed
        self.k_input_projection = nn.Linear(1, d)
        self.output_projection = nn.Linear(d, 1)

    def forward(self, k_values: Tensor) -> Tensor:
        resid = self.k_input_projection(k_values).unsqueeze(1) + self.pos_embed.W_pos
        for block in self.blocks:
            resid = block(resid)
        return self.output_projection(resid).squeeze(-1)


class FractionModel(nn.Module):
    """Seed 002's ``MLP`` class (its name), verbatim but for the sizes as arguments."""

    def __init__(self, vocab_size: int, seq_length: int, embed_dim: int, hidden_size: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.pos_encoding = nn.Embedding(seq_length, embed_dim)
        self.transformer_layers = nn.ModuleList(
            [
                nn.TransformerEncoderLayer(
                    d_model=embed_dim, nhead=4, dim_feedforward=hidden_size, batch_first=True
                )
                for _ in range(2)
            ]
        )
        self.output = nn.Linear(embed_dim, 1)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_normal_(p, gain=2.0)

    def forward(self, x: Tensor) -> Tensor:
        batch_size, seq_len = x.shape
        token_embeds = self.embedding(x)
        positions = torch.arange(seq_len, device=x.device).unsqueeze(0).expand(batch_size, -1)
        x = token_embeds + self.pos_encoding(positions)
        causal_mask = torch.triu(torch.ones(seq_len, seq_len), diagonal=1).bool().to(x.device)
        for transformer_layer in self.transformer_layers:
            x = transformer_layer(x, src_mask=causal_mask)
        x = self.output(x).squeeze(-1)
        return torch.sigmoid(x)


def seed004_lr_lambda(epoch: int, warmup_epochs: int = 5, num_epochs: int = 40) -> float:
    """Seed 004's ``lr_lambda``, verbatim."""
    if epoch < warmup_epochs:
        return float(epoch + 1) / warmup_epochs
    else:
        return 0.65 * (
            1 + math.cos(math.pi * (epoch - warmup_epochs) / (num_epochs - warmup_epochs))
        )


# --- grok weights -> the seeds' modules -----------------------------------------------------
@torch.no_grad()
def load_grok(seed_model: nn.Module, grok: dict[str, Tensor]) -> None:
    """Copy grok parameters (TL names) into a transcribed seed model."""
    own = dict(seed_model.named_parameters())
    if isinstance(seed_model, FractionModel):
        _load_fraction(seed_model, grok)
        return
    for name, value in grok.items():
        if name == "embed.W_E" and "k_input_projection.weight" in own:
            own["k_input_projection.weight"].copy_(value.T)
        elif name == "embed.b_E":
            own["k_input_projection.bias"].copy_(value)
        elif name == "unembed.W_U" and "output_projection.weight" in own:
            own["output_projection.weight"].copy_(value.T)
        elif name == "unembed.b_U" and "output_projection.bias" in own:
            own["output_projection.bias"].copy_(value)
        else:
            own[name].copy_(value)


def _load_fraction(model: FractionModel, grok: dict[str, Tensor]) -> None:
    model.embedding.weight.copy_(grok["embed.W_E"])
    model.pos_encoding.weight.copy_(grok["pos_embed.W_pos"])
    for i, layer in enumerate(model.transformer_layers):
        g = {
            k.removeprefix(f"blocks.{i}."): v
            for k, v in grok.items()
            if k.startswith(f"blocks.{i}.")
        }
        # torch packs q, k, v as in_proj_weight [3 h e, d]: row h * e + j is W_X[h, :, j]
        packed = [
            g[f"attn.W_{x}"].permute(0, 2, 1).reshape(-1, g["attn.W_Q"].shape[1]) for x in "QKV"
        ]
        layer.self_attn.in_proj_weight.copy_(torch.cat(packed))
        layer.self_attn.in_proj_bias.copy_(torch.cat([g[f"attn.b_{x}"].reshape(-1) for x in "QKV"]))
        layer.self_attn.out_proj.weight.copy_(g["attn.W_O"].reshape(-1, g["attn.W_O"].shape[2]).T)
        layer.self_attn.out_proj.bias.copy_(g["attn.b_O"])
        layer.linear1.weight.copy_(g["mlp.W_in"].T)
        layer.linear1.bias.copy_(g["mlp.b_in"])
        layer.linear2.weight.copy_(g["mlp.W_out"].T)
        layer.linear2.bias.copy_(g["mlp.b_out"])
        for n in (1, 2):
            getattr(layer, f"norm{n}").weight.copy_(g[f"ln{n}.w"])
            getattr(layer, f"norm{n}").bias.copy_(g[f"ln{n}.b"])
    model.output.weight.copy_(grok["unembed.W_U"].T)
    model.output.bias.copy_(grok["unembed.b_U"])


def grok_names_of_fraction(model: FractionModel) -> dict[str, list[str]]:
    """Seed 002's parameter -> the grok parameters it becomes (for init statistics)."""
    out = {
        "embedding.weight": ["embed.W_E"],
        "pos_encoding.weight": ["pos_embed.W_pos"],
        "output.weight": ["unembed.W_U"],
        "output.bias": ["unembed.b_U"],
    }
    for i in range(len(model.transformer_layers)):
        p, b = f"transformer_layers.{i}.", f"blocks.{i}."
        out |= {
            p + "self_attn.in_proj_weight": [b + f"attn.W_{x}" for x in "QKV"],
            p + "self_attn.in_proj_bias": [b + f"attn.b_{x}" for x in "QKV"],
            p + "self_attn.out_proj.weight": [b + "attn.W_O"],
            p + "self_attn.out_proj.bias": [b + "attn.b_O"],
            p + "linear1.weight": [b + "mlp.W_in"],
            p + "linear1.bias": [b + "mlp.b_in"],
            p + "linear2.weight": [b + "mlp.W_out"],
            p + "linear2.bias": [b + "mlp.b_out"],
            p + "norm1.weight": [b + "ln1.w"],
            p + "norm1.bias": [b + "ln1.b"],
            p + "norm2.weight": [b + "ln2.w"],
            p + "norm2.bias": [b + "ln2.b"],
        }
    return out
