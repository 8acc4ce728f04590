"""Files of a run dir: atomic, strict JSON, readable by the lab, tolerant of a torn tail.

- Writes go to a temp file that is renamed into place, so a kill never leaves half a
  ``summary.json`` or checkpoint. Temp files from ``mkstemp`` are mode 0600; the final
  file gets the mode ``open()`` would give (0666 minus the umask), so lab-shared
  directories on clusters stay readable.
- JSON on disk is strict (RFC 8259): non-finite floats are written as ``null``, which every
  JSON reader accepts (bare ``NaN`` breaks JavaScript's ``JSON.parse``).
- ``read_jsonl`` is the package's one reader of ``metrics.jsonl``: a kill or a full disk can
  cut the last line short; it is dropped with a warning naming the file and line. Damage
  anywhere else raises ``DamagedFile`` naming the file and line.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


class DamagedFile(ValueError):
    """A run-dir file that cannot be read; the message names the file (and line)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """What ``open(path, "w")`` would create under the current umask."""
    return 0o666 & ~_umask()


def _atomic(path: Path, write: Callable[[str], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        # The failed writer (torch's zip writer on a full disk) may still hold the file open
        # from its frame: clear the frames so the space is freed now, not when the
        # exception is finally dropped (after the failure is recorded, which needs space).
        traceback.clear_frames(sys.exc_info()[2])
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file + rename so a killed job never leaves half a file."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    _atomic(Path(path), write)


def atomic_torch_save(obj: Any, path: Path) -> None:
    import torch

    _atomic(Path(path), lambda tmp: torch.save(obj, tmp))


def strict(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (recursively)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    return json.dumps(strict(value), allow_nan=False, **kwargs)


def write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, (dumps(value, indent=2) + "\n").encode())


def overwrite_json(path: Path, value: Any) -> None:
    """In place, for a full disk where a temp file does not fit: truncating the old file
    frees the space the new one needs. Not atomic: only for recording a failure."""
    with open(path, "wb") as f:
        f.write((dumps(value, indent=2) + "\n").encode())


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DamagedFile(f"{path}: not valid JSON ({e})") from None


def jsonl_lines(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(dumps(row) + "\n" for row in rows)


def read_jsonl(path: Path, warn: bool = True) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file; a torn last line is dropped (see module docstring)."""
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = text.split("\n")
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise json.JSONDecodeError("not an object", line, 0)
            rows.append(row)
        except json.JSONDecodeError:
            is_tail = all(not rest.strip() for rest in lines[number:])
            if not is_tail:
                raise DamagedFile(f"{path}, line {number}: not valid JSON") from None
            if warn:
                warnings.warn(
                    f"{path}, line {number}: incomplete last line dropped (the writer was "
                    "killed or the disk was full)",
                    stacklevel=2,
                )
    return rows
