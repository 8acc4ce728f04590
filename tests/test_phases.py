"""Phase boundaries follow the paper's named turning points (grok/measures/phases.py)."""

import math

from grok.measures.phases import phases


def paper_like_rows() -> list[dict]:
    """A run shaped like Nanda et al.'s Fig. 7, evaluated every 10 and measured every 100
    epochs: memorized by 300, circuit formed by 1200, test loss drops 1200-1400, Gini rises
    sharply 1200-1600."""

    def ramp(x: float, a: float, b: float) -> float:
        return min(1.0, max(0.0, (x - a) / (b - a)))

    rows = []
    for epoch in range(0, 2001, 10):
        row = {
            "epoch": epoch,
            "train_loss": 4.0 * (1 - ramp(epoch, 0, 300)) + 1e-3,
            # rises while memorizing, then falls 4 decades (a straight line on a log plot)
            "test_loss": (4.0 + 6.0 * ramp(epoch, 0, 300)) * 1e-4 ** ramp(epoch, 1200, 1400),
        }
        if epoch % 100 == 0:
            row["fourier/excluded_loss"] = (
                4.0
                - 3.9 * ramp(epoch, 0, 300)
                + 8.0 * ramp(epoch, 300, 1200)
                + 0.01 * math.sin(epoch)
            )
            row["fourier/restricted_loss"] = 5.0 - 4.9 * ramp(epoch, 300, 1600)
            row["fourier/gini_embed"] = (
                0.2 + 0.05 * ramp(epoch, 300, 1200) + 0.6 * ramp(epoch, 1200, 1600)
            )
            row["fourier/gini_logit"] = 0.3 + 0.5 * ramp(epoch, 1250, 1550)
        rows.append(row)
    return rows


def test_boundaries_are_the_turning_points_the_paper_names():
    got = phases(paper_like_rows(), {"memorization_epoch": 250, "grok_epoch": 1350})
    assert got == {
        "memorization_end": 300,  # excluded loss stops falling
        "circuit_formation_end": 1210,  # last epoch before test loss < half its peak
        "cleanup_end": 1600,  # both Gini coefficients past 90% of their rise
        "generalization": 1350,
    }


def test_without_fourier_measures_or_without_a_grok():
    rows = [{k: v for k, v in r.items() if not k.startswith("fourier/")} for r in paper_like_rows()]
    assert phases(rows, {"memorization_epoch": 250, "grok_epoch": 1350}) == {
        "memorization_end": 250,
        "generalization": 1350,
    }
    # memorized within one measure interval: the excluded loss is lowest at epoch 0
    fast = paper_like_rows()
    fast[0]["fourier/excluded_loss"] = 0.0
    milestones = {"memorization_epoch": 80, "grok_epoch": 1350}
    assert phases(fast, milestones)["memorization_end"] == 80
    early = [r for r in paper_like_rows() if r["epoch"] <= 900]
    assert phases(early, {"memorization_epoch": 250, "grok_epoch": None}) == {
        "memorization_end": 300,
        "circuit_formation_end": None,
        "cleanup_end": None,
        "generalization": None,
    }


def test_a_run_without_the_papers_flat_stretch_says_its_phases_are_approximate():
    """The quickstart's shape: the test loss peaks at the end of memorization and falls from
    there on, measured every 100 epochs; the paper-like run gets no note."""
    rows = []
    for epoch in range(0, 801, 10):
        row = {"epoch": epoch, "test_loss": 6.8 if epoch <= 80 else 6.8 * 0.993 ** (epoch - 80)}
        if epoch % 100 == 0:
            row |= {"fourier/excluded_loss": 5.0 + epoch / 100, "fourier/gini_embed": epoch / 800}
            row["fourier/gini_logit"] = epoch / 800
        rows.append(row)
    got = phases(rows, {"memorization_epoch": 80, "grok_epoch": 700})
    assert "circuit formation and clean-up overlap" in got["note"]
    assert "holds 1 measurement(s)" in got["note"]
    assert "note" not in phases(paper_like_rows(), {"memorization_epoch": 250, "grok_epoch": 1350})
