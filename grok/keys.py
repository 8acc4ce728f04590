"""Every config key, classified once: what may differ inside a fused pack, what makes a run.

This table is the single source of truth for
- packing (``grok.packing.pack_key``): ``PACK`` and ``RUNTIME`` keys must agree;
- the trainer: it checks that agreement at construction and reads ``MEMBER`` keys from each
  member's own config (``Pack.shared`` refuses a per-member key);
- resume (``grok.train.contract``): a run dir may continue under a config that differs only
  in ``RUNTIME`` and ``FREE`` keys (and ``train.epochs`` upward, see there);
- naming: run-dir names and the reports' swept-key columns use identity keys only
  (``MEMBER`` and ``PACK``);
- validation: a key that is not in this table is unknown (``+optim.weight_decay=0`` is an
  error, not a silently ignored key).

``example`` is another valid value of the key; the generated tests use it to check that a
pack whose members differ in a ``MEMBER`` key equals each member trained alone, and that
configs differing in a ``PACK``/``RUNTIME`` key land in different packs. ``context`` holds
overrides the example needs to have an effect (e.g. the LLC keys need the LLC measure on);
``task`` the task it needs (the reversal measure's options).
A new key in any ``conf/`` yaml without an entry here fails ``tests/test_keys.py``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from omegaconf import DictConfig, OmegaConf


class Scope(Enum):
    MEMBER = "member"  # defines the run; may differ between members of one pack
    PACK = "pack"  # defines the run; equal inside a pack (shapes, schedule length, ...)
    RUNTIME = "runtime"  # how it runs, not what: equal inside a pack, may change on resume
    FREE = "free"  # bookkeeping (logging, labels, notes): may differ anywhere

    @property
    def identity(self) -> bool:
        """Part of what a run *is*: changes its numbers or its record."""
        return self in (Scope.MEMBER, Scope.PACK)

    @property
    def pack_wide(self) -> bool:
        return self in (Scope.PACK, Scope.RUNTIME)


M, P, R, F = Scope.MEMBER, Scope.PACK, Scope.RUNTIME, Scope.FREE
SOURCE_RUN = "<source run>"  # an example that needs a trained run: tests/test_keys.py makes it


@dataclass(frozen=True)
class Key:
    scope: Scope
    example: Any = None  # another valid value (None: see ``derived``)
    context: tuple[str, ...] = ()  # overrides under which ``example`` has an effect
    derived: str = ""  # for a key that only changes together with another one
    task: str = ""  # the task under which ``example`` has an effect (a task's measure option)
    in_names: bool = True  # False: a path, which would nest run dirs (the source column shows it)


# Keys by dotted path; a ``*`` matches one or more path segments (free-form sub-trees).
KEYS: dict[str, Key] = {
    # --- task (every task) ---
    "task.name": Key(M, derived="task.op (the modular family's name is mod<op>)"),
    "task.train_frac": Key(M, 0.6),
    "task.data_seed": Key(M, 7),
    "task.split": Key(M, "sequential"),
    # modular family
    "task.op": Key(M, "add"),  # div drops b = 0: task.shape_key puts it in its own packs
    "task.p": Key(P, 29),
    "task.table_seed": Key(M, 3, context=("task.op=rand",)),
    "task.eq_token": Key(P, False),  # the input length
    "task.diff_vocab": Key(P, True),  # the vocabulary size
    # finite groups: groups of one order share a pack's shapes (S4, D12 and C24 fuse)
    "task.group": Key(M, "D12"),
    # sine (seed 000)
    "task.n_points": Key(P, 50),
    "task.k_min": Key(M, 0.5),
    "task.k_max": Key(M, 8.0),
    # sparse parity (Barak et al. 2022): n_bits is the input length; k and the subset per member
    "task.n_bits": Key(P, 12),
    "task.k": Key(M, 2),
    "task.subset_seed": Key(M, 3),
    # sine, fraction and sparse parity: the number of examples (members are padded to one length)
    "task.n_samples": Key(M, 800),
    # reversal (seed 004) and fraction (seed 002)
    "task.length": Key(P, 7),
    "task.vocab": Key(P, 5),
    "task.x_token": Key(M, 3),
    "task.x_count": Key(M, [2, 4]),
    # --- model ---
    "model.name": Key(F, "custom"),  # a label: the architecture keys below are the model
    "model.n_layers": Key(P, 2),
    "model.n_heads": Key(P, 1),
    "model.d_model": Key(P, 48),
    "model.d_head": Key(P, 8),
    "model.d_mlp": Key(P, 96),
    "model.act_fn": Key(P, "gelu"),
    "model.normalization": Key(P, "LN"),
    "model.bias": Key(P, True),
    "model.causal": Key(P, False),
    "model.seed": Key(M, 5),
    "model.init": Key(M, "xavier_normal"),
    "model.init_std": Key(M, 0.05),
    "model.init_gain": Key(M, 3.0, context=("model.init=xavier_normal",)),
    # per member: a fused template scales by a buffer each member fills with its own value
    "model.logit_scale": Key(M, 2.0),
    "model.attn_rate": Key(M, 0.3),  # a buffer per member, as logit_scale
    "model.mlp_bias": Key(P, True),
    # the model family (grok/model/mlp.py: Chughtai et al. 2023's MLP); shapes differ
    "model.arch": Key(P, "mlp"),
    "model.mlp_embed": Key(P, "shared", context=("model.arch=mlp",)),
    "model.mlp_combine": Key(P, "sum", context=("model.arch=mlp",)),
    # the seeds' architectures and inits (experiment=*_seed)
    "model.ln_position": Key(P, "post", context=("model.normalization=LN",)),
    "model.ln_final": Key(P, False, context=("model.normalization=LN",)),
    "model.unembed_bias": Key(P, True),
    "model.io_init": Key(M, "linear"),
    "model.bias_init": Key(M, "linear", context=("model.bias=true",)),
    "model.dropout": Key(M, 0.1),
    "model.dropout_steps": Key(M, 5, context=("model.dropout=0.1",)),
    # --- optim ---
    "optim.name": Key(P, "sgd"),
    "optim.lr": Key(M, 3e-3),
    "optim.wd": Key(M, 0.3),
    "optim.betas": Key(M, [0.8, 0.95]),
    "optim.eps": Key(M, 1e-6),
    "optim.momentum": Key(M, 0.5),
    "optim.nesterov": Key(M, True),
    "optim.warmup_steps": Key(M, 7),
    "optim.schedule": Key(M, "cosine"),
    "optim.min_lr_ratio": Key(M, 0.1, context=("optim.schedule=cosine",)),
    "optim.clip_grad_norm": Key(M, 0.05),
    "optim.warmup_offset": Key(M, 1, context=("optim.warmup_steps=5",)),
    "optim.schedule_unit": Key(M, "epoch", context=("optim.warmup_steps=5", "train.batch_size=64")),
    "optim.cosine_peak": Key(M, 1.3, context=("optim.schedule=cosine",)),
    "eff_wd": Key(M, 3e-3),  # sweeps/eff_wd.yaml: lr = eff_wd / wd
    # grokking methods (conf/optim/_methods.yaml): every switch and knob per member, so a sweep
    # over them fuses. grokfast.window too: the pack's ring buffer has its largest window and
    # each member uses its own first `window` slots (and checkpoints only those).
    "optim.grokfast.kind": Key(M, "ema"),
    "optim.grokfast.alpha": Key(M, 0.9, context=("optim.grokfast.kind=ema",)),
    "optim.grokfast.lamb": Key(M, 1.0, context=("optim.grokfast.kind=ema",)),
    "optim.grokfast.window": Key(M, 3, context=("optim.grokfast.kind=ma",)),
    "optim.orthograd": Key(M, True),
    "optim.fixed_norm": Key(M, True),
    "optim.fixed_norm_value": Key(M, 20.0, context=("optim.fixed_norm=true",)),
    # Muon's matrices (conf/optim/muon.yaml); optim.name=muon itself is pack-wide
    "optim.muon.lr": Key(M, 0.05),
    "optim.muon.wd": Key(M, 0.1),
    "optim.muon.momentum": Key(M, 0.8),
    "optim.muon.nesterov": Key(M, False),
    "optim.muon.ns_steps": Key(M, 3),
    # --- train ---
    "train.epochs": Key(P, 31),  # resume may raise it (grok.train.contract)
    # a stopped member leaves its pack (grok.train.stopping); resume may raise it or drop it
    "train.stop_after_grok": Key(M, 3),
    "train.batch_size": Key(P, 64),
    "train.sampling": Key(P, "random_batch", context=("train.batch_size=64",)),
    "train.eval_every": Key(M, 3),
    "train.eval_batch_size": Key(P, 100),  # chunked sums round differently
    "train.loss_dtype": Key(P, "float32"),
    "train.loss": Key(M, "stablemax"),  # a fused group that mixes losses picks per member
    "train.keep_weights": Key(M, 1),  # weights are data: a resume may not prune them
    "train.checkpoint_every": Key(R, 7),
    "train.checkpoint_schedule": Key(R, "log"),
    "train.keep_checkpoints": Key(R, 2),
    "train.log_every": Key(R, 3),
    "train.cuda_graph": Key(R, False),
    "train.fuse": Key(R, True),
    # another run's checkpoint to start from (grok.train.init_from); each member its own.
    # SOURCE_RUN: the generated tests substitute a run trained with the case's base config.
    "train.init_from": Key(M, SOURCE_RUN, in_names=False),
    "train.init_optimizer": Key(M, True, context=(f"train.init_from={SOURCE_RUN}",)),
    "init_source.*": Key(F),  # written by grok into config.yaml: the source checked at start
    "train.resume": Key(F, False),
    "train.progress": Key(F, False),
    # --- measures ---
    "measures.every": Key(M, 4),
    "measures.names": Key(M, ["weights"]),
    "measures.reversal.ablate": Key(M, "weights", task="reversal"),
    "measures.reversal.sample": Key(M, 4, task="reversal"),
    "measures.llc.every_factor": Key(M, 2, context=("measures.names=[weights,llc]",)),
    "measures.llc.epsilon": Key(M, 1e-4, context=("measures.names=[weights,llc]",)),
    "measures.llc.localization": Key(M, 10.0, context=("measures.names=[weights,llc]",)),
    "measures.llc.nbeta": Key(M, 5.0, context=("measures.names=[weights,llc]",)),
    "measures.llc.num_chains": Key(M, 1, context=("measures.names=[weights,llc]",)),
    "measures.llc.num_draws": Key(M, 4, context=("measures.names=[weights,llc]",)),
    "measures.llc.num_burnin_steps": Key(M, 2, context=("measures.names=[weights,llc]",)),
    "measures.llc.batch_size": Key(M, 16, context=("measures.names=[weights,llc]",)),
    # --- hardware: where and how fast, never what ---
    "hardware.device": Key(R, "cuda"),
    "hardware.threads": Key(R, 1),
    "hardware.tf32": Key(R, True),
    "hardware.name": Key(F, "other"),
    "hardware.partition": Key(F, "gpu_devel"),
    "hardware.gpu_type": Key(F, "a100"),
    "hardware.gpus": Key(F, 2),
    "hardware.venv": Key(F, "/tmp/venv"),
    "hardware.partitions.*": Key(F),
    "hardware.gpu_memory_gb.*": Key(F),
    # --- logger: a mirror of the run dir ---
    "logger.name": Key(F, "none"),
    "logger.mode": Key(F, "disabled"),
    "logger.project": Key(F, "other"),
    "logger.entity": Key(F, "someone"),
    "logger.group": Key(F, "g"),
    "logger.tags": Key(F, ["t"]),
    "logger.init_timeout": Key(F, 5.0),
    # --- method: the label conf/method/<name>.yaml sets with its keys
    "method": Key(M, derived="the keys its conf/method/ yaml sets"),
    # --- free-form metadata (the documented way to attach notes to a run) ---
    "notes": Key(F, "a note"),
    "meta": Key(F),  # empty by default
    "meta.*": Key(F),
}

# Config groups chosen on the command line (``task=modadd``): identity groups name run dirs;
# presets act through the keys they set (the sweep dir's multirun.yaml records them).
GROUPS: dict[str, Scope | None] = {
    "task": M,
    "model": M,
    "optim": M,
    "train": M,
    "measures": M,
    "hardware": R,
    "logger": F,
    "experiment": None,
    "method": M,  # names run dirs (method=muon); its yaml sets the label key ``method``
    "sweep": None,
}


class UnknownKey(KeyError):
    pass


def lookup(path: str) -> Key:
    """The entry for a dotted key (exact, then wildcard); ``UnknownKey`` if none."""
    if path in KEYS:
        return KEYS[path]
    for pattern, key in KEYS.items():
        if "*" in pattern and fnmatch.fnmatchcase(path, pattern):
            return key
    raise UnknownKey(path)


def scope(path: str) -> Scope:
    return lookup(path).scope


def flatten(node: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, leaf value) of a nested mapping; lists are leaves; a free-form subtree
    (``meta.*``) is one leaf per key under it; an empty mapping is a leaf."""
    for name, value in node.items():
        path = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(value, Mapping) and value:
            yield from flatten(value, path)
        else:
            yield path, value


def flat_config(cfg: Any) -> dict[str, Any]:
    """Flattened resolved config (DictConfig or plain dict), without Hydra's node."""
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    return {k: v for k, v in flatten(cfg) if not k.startswith("hydra.")}


def freeze(value: Any) -> Any:
    """A hashable copy of a config value (lists become tuples, mappings sorted pairs), so
    per-section checks and task builds can be cached by value."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    return value


def thaw(items: tuple) -> dict[str, Any]:
    """The nested dict of frozen (dotted key, value) pairs; tuples become lists again."""

    def unfrozen(value: Any) -> Any:
        return [unfrozen(v) for v in value] if isinstance(value, tuple) else value

    out: dict[str, Any] = {}
    for path, value in items:
        node = out
        *parents, leaf = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = unfrozen(value)
    return out


def unknown_keys(flat: Mapping[str, Any]) -> list[str]:
    out = []
    for path in flat:
        try:
            lookup(path)
        except UnknownKey:
            out.append(path)
    return out


def split_by_scope(flat: Mapping[str, Any]) -> dict[Scope, dict[str, Any]]:
    """``flat`` (from ``flatten``) grouped by scope; unknown keys raise ``UnknownKey``."""
    out: dict[Scope, dict[str, Any]] = {s: {} for s in Scope}
    for path, value in flat.items():
        out[scope(path)][path] = value
    return out


def naming_excluded(key: str) -> bool:
    """Overrides left out of run-dir names and W&B names: not part of the run's identity."""
    name = key.lstrip("+~")
    if name in GROUPS:
        chosen = GROUPS[name]
        return chosen is None or not chosen.identity
    try:
        entry = lookup(name)
    except UnknownKey:
        return False  # let validation name it
    return not entry.scope.identity or not entry.in_names


def naming_exclude_list() -> list[str]:
    """Exact keys for Hydra's ``override_dirname.exclude_keys`` (it compares names exactly)."""
    keys = [k for k, v in KEYS.items() if "*" not in k and (not v.scope.identity or not v.in_names)]
    return [*keys, *(g for g, s in GROUPS.items() if s is None or not s.identity)]


# Names other codebases use for our keys (for the "did you mean" hint).
ALIASES = {
    "weight_decay": "wd",
    "learning_rate": "lr",
    "frac_train": "train_frac",
    "num_epochs": "epochs",
    "n_epochs": "epochs",
    "warmup": "warmup_steps",
    "prime": "p",
    "seed": "seed",
    "operation": "op",
    "d_ff": "d_mlp",
    "num_layers": "n_layers",
    "num_heads": "n_heads",
}


def suggest(path: str) -> str:
    """' (did you mean X?)' for a misspelt key."""
    import difflib

    known = [k for k in KEYS if "*" not in k]
    group, _, leaf = path.rpartition(".")
    alias = f"{group}.{ALIASES[leaf]}" if leaf in ALIASES else ""
    if alias in KEYS:
        return f" (did you mean {alias}?)"
    close = difflib.get_close_matches(path, known, n=1, cutoff=0.6)
    if not close:
        group = path.split(".", 1)[0]
        same = [k for k in known if k.startswith(group + ".")]
        close = difflib.get_close_matches(path, same, n=1, cutoff=0.3)
    return f" (did you mean {close[0]}?)" if close else ""


SCOPE_DOC = {
    Scope.MEMBER: "may differ between the members of a fused pack; part of the run",
    Scope.PACK: "equal inside a pack; part of the run",
    Scope.RUNTIME: "equal inside a pack; may change when a run resumes",
    Scope.FREE: "bookkeeping; may differ anywhere",
}


def markdown() -> str:
    """docs/config_keys.md: the table as a reference (``python -m grok.keys``)."""
    lines = [
        "# Config keys",
        "",
        "Generated from `grok/keys.py` by `python -m grok.keys > docs/config_keys.md`",
        "(a test checks it is current). Scopes:",
        "",
        *(f"- **{s.value}**: {doc}" for s, doc in SCOPE_DOC.items()),
        "",
        "| key | scope | example of another value | notes |",
        "|---|---|---|---|",
    ]
    for path, key in KEYS.items():
        notes = key.derived and f"changes with {key.derived}"
        if key.context:
            notes = f"with {' '.join(key.context)}"
        if key.task:
            notes = f"{notes + ', ' if notes else ''}under task={key.task}"
        example = "" if key.example is None else f"`{key.example}`"
        lines.append(f"| `{path}` | {key.scope.value} | {example} | {notes or ''} |")
    groups = ", ".join(f"`{g}` ({s.value if s else 'preset'})" for g, s in GROUPS.items())
    lines += ["", f"Config groups chosen on the command line: {groups}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
