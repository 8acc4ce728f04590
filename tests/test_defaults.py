"""config.yaml says what ran: defaults a method or preset fills in are resolved in it."""

import pytest
import yaml
from omegaconf import OmegaConf

from tests.conftest import TINY, make_cfg


@pytest.mark.parametrize(
    ("overrides", "lamb"),
    [
        (["method=grokfast_ema"], 2.0),
        (["method=grokfast_ma"], 5.0),
        (["optim.grokfast.kind=ema"], 2.0),  # the filter chosen without the method preset
        (["optim.grokfast.kind=ma"], 5.0),
        (["method=grokfast_ema", "optim.grokfast.lamb=3.0"], 3.0),  # typed wins
        ([], None),  # no filter: nothing to fill in (as configs written before said)
    ],
)
def test_grokfast_lamb_is_resolved_in_the_config(overrides, lamb):
    from grok.optim.grokfast import settings

    cfg = make_cfg(*overrides)
    resolved = OmegaConf.to_container(cfg.optim, resolve=True)
    assert resolved["grokfast"]["lamb"] == lamb
    if lamb is not None:
        assert settings(resolved)["lamb"] == lamb  # the value the filter uses


def test_a_grokfast_ema_run_records_lamb_in_config_yaml(tmp_path):
    from grok.run import run

    cfg = make_cfg(*TINY, "method=grokfast_ema", "train.epochs=2", "logger=none")
    run(cfg, tmp_path / "run", progress=False)
    text = (tmp_path / "run" / "config.yaml").read_text()
    grokfast = yaml.safe_load(text)["optim"]["grokfast"]
    assert grokfast == {"kind": "ema", "alpha": 0.98, "lamb": 2.0, "window": 100}
    assert "lamb: null" not in text
