"""The check vocabulary (grok/checks.py) and the one table of stored-config defaults."""

import math

from grok import checks
from grok.defaults import ADDED_KEYS, with_added_keys


def test_an_integer_is_never_a_bool_and_null_only_when_allowed():
    assert checks.integer("train.epochs", 1) == []
    assert checks.integer("train.epochs", 0) == ["train.epochs=0: must be an integer >= 1"]
    assert checks.integer("train.epochs", True) == ["train.epochs=True: must be an integer >= 1"]
    assert checks.integer("train.epochs", 2.0) == ["train.epochs=2.0: must be an integer >= 1"]
    assert checks.integer("x.n", None, null=True) == []
    assert checks.integer("x.n", None, low=0, text="must be null or >= 0") == [
        "x.n=None: must be null or >= 0"
    ]


def test_a_number_is_finite_unless_said_and_nan_fails_every_bound():
    assert checks.number("optim.lr", 1e-3, gt=0) == []
    assert checks.number("optim.lr", 0, gt=0) == ["optim.lr=0: must be a finite number > 0"]
    assert checks.number("optim.wd", math.inf, ge=0) == [
        "optim.wd=inf: must be a finite number >= 0"
    ]
    assert checks.number("optim.wd", False, ge=0) == [
        "optim.wd=False: must be a finite number >= 0"
    ]
    assert checks.number("a.b", 1, ge=0, lt=1) == ["a.b=1: must be a number in [0, 1)"]
    assert checks.number("a.b", 1, ge=0, le=1) == []
    assert checks.number("a.t", math.inf, gt=0, finite=False) == []
    assert checks.number("a.t", math.nan, gt=0, finite=False) != []
    assert checks.number("a.c", None, gt=0, null=True) == []


def test_boolean_and_choice():
    assert checks.boolean("optim.orthograd", 1) == ["optim.orthograd=1: must be true or false"]
    assert checks.boolean("optim.orthograd", False) == []
    assert checks.choice("task.split", "x", ("random", "sequential")) == [
        "task.split='x': allowed are ['random', 'sequential']"
    ]
    assert checks.choice("o.name", "adamw", {"adamw": 1}) == []


def test_a_stored_config_gets_the_keys_added_since_and_keeps_its_own():
    old = {"model": {"n_layers": 1, "init": "xavier_normal"}, "task": {"p": 7}}
    filled = with_added_keys(old)
    assert filled["model"]["init"] == "xavier_normal"
    assert filled["model"]["ln_position"] == ADDED_KEYS["model"]["ln_position"] == "pre"
    assert filled["task"] == {"p": 7} and "ln_position" not in old["model"]  # not mutated
