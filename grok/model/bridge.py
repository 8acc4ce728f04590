"""Export a grok model to TransformerLens 4's ``TransformerBridge``.

Lets users hand a trained checkpoint to TL 4 tooling (and lets the tests prove
our forward pass is TransformerLens's). Token-input models only.
"""

from __future__ import annotations

import torch
from transformer_lens import TransformerBridge, TransformerBridgeConfig

from grok.model.transformer import Transformer


def bridge_config(model: Transformer) -> TransformerBridgeConfig:
    c = model.cfg
    return TransformerBridgeConfig(
        d_model=c.d_model,
        d_head=c.d_head,
        n_layers=c.n_layers,
        n_ctx=c.n_ctx,
        n_heads=c.n_heads,
        d_vocab=c.d_vocab,
        d_vocab_out=c.d_vocab_out,
        d_mlp=c.d_mlp,
        act_fn=c.act_fn,
        normalization_type=c.normalization_type,
        attention_dir="causal" if c.causal else "bidirectional",
        attn_only=c.attn_only,
    )


def native_state_dict(model: Transformer) -> dict[str, torch.Tensor]:
    """Our TL-shaped weights in the layout of TL 4's native model (nn.Linear: [out, in])."""
    c = model.cfg
    if torch.count_nonzero(model.unembed.b_U):
        raise ValueError("TL 4's native model has no unembedding bias; b_U must be zero")
    head = model.W_U.T * c.logit_scale if c.logit_scale != 1.0 else model.W_U.T  # folded in
    sd = {"tok_embed.weight": model.W_E, "pos.weight": model.W_pos, "head.weight": head}
    for i, block in enumerate(model.blocks):
        a, pre = block.attn, f"layers.{i}."
        for name in "QKV":
            w = getattr(a, f"W_{name}")  # [heads, d_model, d_head] -> [heads*d_head, d_model]
            sd[f"{pre}attn.{name.lower()}.weight"] = w.permute(0, 2, 1).reshape(-1, c.d_model)
            sd[f"{pre}attn.{name.lower()}.bias"] = getattr(a, f"b_{name}").reshape(-1)
        sd[f"{pre}attn.o.weight"] = a.W_O.reshape(-1, c.d_model).T
        sd[f"{pre}attn.o.bias"] = a.b_O
        norms = [("ln1", block.ln1)]
        if not c.attn_only:
            sd[f"{pre}mlp.fc_in.weight"] = block.mlp.W_in.T
            sd[f"{pre}mlp.fc_in.bias"] = block.mlp.b_in
            sd[f"{pre}mlp.fc_out.weight"] = block.mlp.W_out.T
            sd[f"{pre}mlp.fc_out.bias"] = block.mlp.b_out
            norms.append(("ln2", block.ln2))
        for name, ln in norms:
            if c.normalization_type == "LN":
                sd[f"{pre}{name}.weight"], sd[f"{pre}{name}.bias"] = ln.w, ln.b
    if c.normalization_type == "LN":
        sd["ln_out.weight"], sd["ln_out.bias"] = model.ln_final.w, model.ln_final.b
    return {k: v.detach().clone() for k, v in sd.items()}


def to_transformer_bridge(model: Transformer) -> TransformerBridge:
    """A TL 4 bridge holding ``model``'s weights (logits agree to float precision)."""
    bridge = TransformerBridge.boot_native(bridge_config(model))
    ours = native_state_dict(model)
    loaded: set[str] = set()
    with torch.no_grad():
        # The bridge wraps each native module; its state-dict keys carry
        # "._original_component" segments and aliases (mlp.in = mlp.fc_in).
        for key, tensor in bridge.original_model.state_dict(keep_vars=True).items():
            plain = key.replace("._original_component", "")
            plain = plain.replace("mlp.in.", "mlp.fc_in.").replace("mlp.out.", "mlp.fc_out.")
            if plain in ours:
                tensor.copy_(ours[plain])
                loaded.add(plain)
            elif plain == "head.bias":
                tensor.zero_()
    if missing := sorted(set(ours) - loaded):
        raise RuntimeError(f"TransformerBridge has no slot for {missing}")
    return bridge.to(next(model.parameters()).device)
