"""The architecture a model is built from (no TransformerLens import here: configs are
checked and compared long before a model is built).

One dataclass for both families (``arch``: ``Transformer`` or the MLP of
``grok/model/mlp.py``), so ``model_config`` stays the one entry point and a checkpoint's
``model_args`` is one dict either way; each family reads the fields it uses."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch.nn.functional as F

from grok.model.init import BIAS_INITS, INITS, IO_INITS

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "gelu_new": lambda x: F.gelu(x, approximate="tanh")}
NORMALIZATIONS = (None, "LN")
INPUT_KINDS = ("tokens", "scalar")
LN_POSITIONS = ("pre", "post")
ARCHS = ("transformer", "mlp")
MLP_EMBEDS = ("separate", "shared")  # W_x, W_y per operand (Chughtai et al.), or one W_E
MLP_COMBINES = ("concat", "sum")  # operand embeddings concatenated (theirs) or summed


@dataclass(frozen=True)
class TransformerConfig:
    """Shapes and architecture switches; field names follow HookedTransformerConfig."""

    n_layers: int
    n_heads: int
    d_model: int
    d_head: int
    d_mlp: int
    d_vocab: int
    d_vocab_out: int
    n_ctx: int
    act_fn: str = "relu"
    normalization_type: str | None = None
    bias: bool = False  # False: biases exist as zero buffers (seed 001 froze them at 0)
    causal: bool = True
    init_std: float | None = None  # None: 0.8/sqrt(d_model), HookedTransformer's "gpt2" init
    init: str = "normal"  # or "xavier_normal" / "xavier_normal_packed" (seed 002), x init_gain
    init_gain: float = 1.0
    input_kind: str = "tokens"  # "scalar": one real number per example (seed 000's k)
    attn_only: bool = False
    logit_scale: float = 1.0  # multiplies the logits (Kumar et al. 2024); 1.0: no multiply
    # Zhong et al. 2023 (code/train-main.py): pattern = rate * softmax + (1 - rate); 1: plain
    attn_rate: float = 1.0
    ln_position: str = "pre"  # "post": LN after each residual add (seed 002's encoder layers)
    ln_final: bool = True  # False: no LN before the unembedding (seeds 000 and 002)
    unembed_bias: bool | None = None  # trainable b_U; None: as ``bias`` (seed 000: True)
    io_init: str = "scheme"  # "linear": W_E (scalar input) and W_U as nn.Linear (seed 000)
    bias_init: str = "zero"  # "linear": nn.Linear's U(+-1/sqrt(fan_in)) (grok/model/init.py)
    mlp_bias: bool | None = None  # trainable b_in, b_out; None: as ``bias`` (Zhong et al.: True)
    arch: str = "transformer"  # or "mlp": Chughtai et al. 2023's OneLayerMLP family
    mlp_embed: str = "separate"  # mlp: one embedding per operand, or "shared"
    mlp_combine: str = "concat"  # mlp: concatenate the operand embeddings, or "sum"
    operand_pos: tuple[int, ...] = ()  # mlp: input positions read (task.operand_positions)

    def __post_init__(self) -> None:
        # a checkpoint's model_args may hand back a list
        object.__setattr__(self, "operand_pos", tuple(int(i) for i in self.operand_pos))
        if self.act_fn not in ACTIVATIONS:
            raise ValueError(f"act_fn={self.act_fn!r}; allowed: {sorted(ACTIVATIONS)}")
        if self.input_kind not in INPUT_KINDS:
            raise ValueError(f"input_kind={self.input_kind!r}; allowed: {INPUT_KINDS}")
        for name, allowed in (
            ("init", INITS),
            ("io_init", IO_INITS),
            ("bias_init", BIAS_INITS),
            ("ln_position", LN_POSITIONS),
            ("arch", ARCHS),
            ("mlp_embed", MLP_EMBEDS),
            ("mlp_combine", MLP_COMBINES),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r}; allowed: {allowed}")
        if self.normalization_type not in NORMALIZATIONS:
            raise ValueError(
                f"normalization_type={self.normalization_type!r}; allowed: None or 'LN'"
            )

    @property
    def initializer_range(self) -> float:
        return self.init_std if self.init_std is not None else 0.8 / math.sqrt(self.d_model)

    def to_dict(self) -> dict:
        return asdict(self)


# Per-member numbers a model holds as buffers (buffer name -> TransformerConfig field): a
# fused pack passes each member's own value through ``functional_call``; a model holds the
# buffer only when its value is not the field's default, so a plain model is unchanged.
MEMBER_BUFFERS = {"logit_scale": "logit_scale", "attn_rate": "attn_rate"}
