"""The options behind experiment=*_seed, on their own: dropout and random batches resume
exactly, a fused pack (one vmap) carries each member's own dropout, bad values are refused."""

from __future__ import annotations

import pytest

from tests.conftest import make_cfg
from tests.test_seed_presets import FRACTION


# --- the options themselves ------------------------------------------------------------------
def test_dropout_and_random_batches_resume_exactly(tmp_path):
    """Stopping inside the dropout phase and resuming draws the very masks and batches an
    uninterrupted run draws (the generators' states are checkpointed)."""
    from grok.run import run_pack
    from tests.conftest import read_metrics

    small = [*FRACTION, "train.eval_every=1", "train.checkpoint_every=3", "logger=none"]
    small += ["train.progress=false", "measures.names=[]"]
    run_pack([(make_cfg(*small, "train.epochs=6"), tmp_path / "straight")], False)
    run_pack([(make_cfg(*small, "train.epochs=3"), tmp_path / "resumed")], False)
    run_pack([(make_cfg(*small, "train.epochs=6"), tmp_path / "resumed")], False)

    def numbers(run):
        return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in read_metrics(run)]

    assert numbers(tmp_path / "resumed") == numbers(tmp_path / "straight")
    assert len(numbers(tmp_path / "straight")) == 7


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.ln_position=side", "model.ln_position='side': allowed are ['pre', 'post']"),
        ("model.dropout=1.5", "model.dropout=1.5: must be a number in [0, 1)"),
        ("model.dropout_steps=-1", "model.dropout_steps=-1: must be null"),
        ("model.io_init=xavier", "model.io_init='xavier': allowed are ['scheme', 'linear']"),
        ("model.bias_init=normal", "model.bias_init='normal': allowed are ['zero', 'linear']"),
        ("model.unembed_bias=maybe", "model.unembed_bias='maybe': must be null"),
        ("optim.warmup_offset=2", "optim.warmup_offset=2: allowed are 0"),
        ("optim.schedule_unit=batch", "optim.schedule_unit='batch': allowed are ['step', 'epoch']"),
        ("optim.cosine_peak=0", "optim.cosine_peak=0: must be a finite number > 0"),
        ("train.sampling=bootstrap", "train.sampling='bootstrap': allowed are"),
        ("measures.reversal.ablate=heads", "measures.reversal.ablate='heads': allowed are"),
        ("measures.reversal.sample=0", "measures.reversal.sample=0: must be null"),
    ],
)
def test_seed_options_reject_bad_values(override, message):
    from grok.config import problems

    errors = problems(make_cfg("experiment=quickstart", override))
    assert len(errors) == 1 and message in errors[0], errors


def test_post_ln_and_random_batches_say_what_they_need():
    from grok.config import problems

    (error,) = problems(make_cfg("model.ln_position=post"))  # the nanda model has no LN
    assert "model.ln_position=post: needs model.normalization=LN" in error
    (error,) = problems(make_cfg("train.sampling=random_batch"))  # full batch by default
    assert "train.sampling=random_batch: needs train.batch_size" in error


def test_fused_pack_with_dropout_runs_one_vmap(tmp_path):
    """train.fuse=true (the GPU path, here on CPU): one vmap over members whose dropout differs
    (a member that does not drop gets ones); each member still follows its own masks."""
    from grok.run import run_pack
    from tests.conftest import read_metrics

    small = [*FRACTION, "train.fuse=true", "train.eval_every=1", "logger=none"]
    small += ["train.progress=false", "measures.names=[]"]
    pack = [
        (make_cfg(*small), tmp_path / "0"),
        (make_cfg(*small, "model.dropout=0.0", "model.seed=4"), tmp_path / "1"),
    ]
    run_pack(pack, progress=False)
    run_pack([(make_cfg(*small), tmp_path / "alone")], progress=False)
    packed, alone = read_metrics(tmp_path / "0"), read_metrics(tmp_path / "alone")
    assert [r["train_loss"] for r in packed] == pytest.approx(
        [r["train_loss"] for r in alone], rel=1e-5
    )
    assert read_metrics(tmp_path / "1")[-1]["train_loss"] != packed[-1]["train_loss"]
