"""The files shipped in config/: policy files (list kinds, joint measures) read as TOML, with
one clear error for a file that is missing or not TOML, so that a bad file stops the start;
data tables (regions, industry terms) read as tab-separated rows."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


def read_toml(path: str, default: Path, error: type[Exception], what: str) -> dict[str, Any]:
    """The TOML at ``path`` (``default`` if empty).

    :raises error: the file is missing (naming it as a ``what`` file) or not TOML.
    """
    file = Path(path) if path else default
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise error(f"no {what} file {file}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{file} is not valid TOML: {exc}") from exc


def read_table(path: Path) -> list[list[str]]:
    """The rows of one of our tab-separated data files, without its comments and header."""
    with path.open(encoding="utf-8") as lines:
        rows = [line.rstrip("\n").split("\t") for line in lines if not line.startswith("#")]
    return rows[1:]
