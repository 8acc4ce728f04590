"""The command line, checked before Hydra composes it.

Hydra answers ``task=nonexistent`` or a misspelt key (``optim.wdd=1``) with a traceback
that ends in exit 1 and, for a key, suggests ``+optim.wdd`` -- adding the typo. Here both
are one line naming the bad value and what exists (the options of the group, the key
``grok/keys.py`` knows that is closest), and exit 2 before Hydra writes anything. Keys
added with ``+`` are left to grok's config check, which refuses unknown ones the same way.

Importing this module does not import torch: the check runs at ``launch.py`` start-up.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grok import keys

CONF = Path(__file__).resolve().parents[1] / "conf"


def problems(argv: list[str], config_dir: Path = CONF) -> list[str]:
    """One line per override naming a group option or a key that does not exist."""
    parsed = _parse(argv)
    if parsed is None:
        return []  # Hydra's own usage message is the right answer
    overrides, loader = parsed
    out = []
    for override in overrides:
        name = override.key_or_group
        if override.is_delete() or "@" in name or name.startswith("hydra."):
            continue
        if loader.repository.group_exists(name):
            out += _option_problems(loader, name, override)
        elif not override.is_add() and not override.is_force_add() and not _known(name):
            out.append(f"{name}: unknown key (no config group defines it){keys.suggest(name)}")
    return out


def exit_on_bad_command_line(argv: list[str]) -> None:
    found = list(dict.fromkeys(problems(argv)))  # a zip repeats a key once per row
    if found:
        print("grok: invalid command line:\n  " + "\n  ".join(found), file=sys.stderr)
        sys.exit(2)


def _parse(argv: list[str]) -> tuple[list[Any], Any] | None:
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path, get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        args = get_args_parser().parse_args(argv)
    except SystemExit:
        return None
    if args.help or args.hydra_help or args.shell_completion or args.config_dir:
        return None
    try:
        overrides = OverridesParser.create().parse_overrides(args.overrides)
    except HydraException:
        return None
    search_path = create_config_search_path(str(CONF))
    for override in overrides:  # hydra.searchpath=[file://...] adds config dirs, as Hydra does
        if override.key_or_group == "hydra.searchpath" and not override.is_delete():
            value = override.value()
            for path in value if isinstance(value, list) else [value]:
                search_path.append(provider="command-line", path=str(path))
    return overrides, ConfigLoaderImpl(config_search_path=search_path)


def _option_problems(loader: Any, group: str, override: Any) -> list[str]:
    options = loader.get_group_options(group)
    public = [o for o in options if not Path(o).name.startswith("_")]
    bad = [v for v in _values(override) if v not in options and v != "null"]
    return [
        f"{group}={value}: no such {group} option; choose one of: {', '.join(public)}"
        for value in bad
    ]


def _values(override: Any) -> Iterator[str]:
    if override.is_sweep_override():
        yield from override.sweep_string_iterator()
    else:
        yield override.get_value_element_as_str()


def _known(name: str) -> bool:
    """A key of the table, or a mapping above some (``optim.grokfast={...}``)."""
    try:
        keys.lookup(name)
        return True
    except keys.UnknownKey:
        return any(k.startswith(name + ".") for k in keys.KEYS)
