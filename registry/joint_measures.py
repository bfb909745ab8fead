"""The catalogue of joint measures (联合奖惩措施), from configuration
(config/joint_measures.toml).

A list entry names its measures by code from this catalogue, each attached to the entry's
list kind; a member that applied one reports it by code (registry.listings.report_measure).
The file is read from :data:`DEFAULT_FILE` or the one ``JOINT_MEASURES_FILE`` names, and a
file that breaks a rule is refused at start, not at the first proposal.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.config_files import read_toml
from registry.list_kinds import ListKind, side_of

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "config" / "joint_measures.toml"

# Codes are stored with entries and reports: plain words, so they read the same everywhere.
CODE = re.compile(r"[a-z][a-z0-9_]{1,63}")
CODE_RULE = "2 to 64 lower-case letters, digits or '_', starting with a letter"

CATALOGUE_NOTE = "the catalogue of joint measures (GET /api/v1/public/measures)"


class JointMeasuresError(ValueError):
    """The catalogue file is missing, not TOML, or breaks a rule."""


@dataclass(frozen=True)
class Measure:
    code: str
    text: str
    legal_basis: str
    kinds: tuple[str, ...]

    def view(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "text": self.text,
            "legal_basis": self.legal_basis,
            "kinds": list(self.kinds),
        }


@dataclass(frozen=True)
class Catalogue:
    measures: dict[str, Measure]

    def for_kind(self, kind: str) -> list[Measure]:
        """The measures a proposal of this kind may name, in the file's order."""
        return [m for m in self.measures.values() if kind in m.kinds]

    def problem(self, code: str, kind: str | None) -> str | None:
        """Why ``code`` cannot be named for an entry of ``kind``; None when it can (with no
        kind, when it is known)."""
        measure = self.measures.get(code)
        if measure is None:
            return f"unknown measure {code!r}: the codes are those of {CATALOGUE_NOTE}"
        if kind is not None and kind not in measure.kinds:
            return (
                f"measure {code!r} does not attach to the list {kind} "
                f"(it attaches to {', '.join(measure.kinds)})"
            )
        return None

    def check(self, codes: Sequence[str], kind: str | None) -> dict[str, list[str]]:
        """Field errors for a proposal's codes, each at its position (``measures.1``), or
        ``measures`` itself when there is none: every one at once, none when all are good.
        With no kind (the proposal named none that exists) only unknown codes are errors."""
        if not codes:
            return {"measures": [f"name at least one measure code from {CATALOGUE_NOTE}"]}
        errors: dict[str, list[str]] = {}
        seen: set[str] = set()
        for position, code in enumerate(codes):
            problem = self.problem(code, kind)
            if problem is None and code in seen:
                problem = f"measure {code!r} is named twice"
            if problem is not None:
                errors[f"measures.{position}"] = [problem]
            seen.add(code)
        return errors

    def view(self) -> list[dict[str, Any]]:
        return [m.view() for m in self.measures.values()]


def _text(row: dict[str, Any], key: str) -> str:
    value = row[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be a non-empty string")
    return value.strip()


def _measure(code: str, row: Any) -> Measure:
    if not CODE.fullmatch(code):
        raise ValueError(f"a code is {CODE_RULE}")
    if not isinstance(row, dict):
        raise ValueError("must be a table")
    unknown = set(row) - {"text", "legal_basis", "kinds"}
    if unknown:
        raise ValueError(f"unknown keys {', '.join(sorted(unknown))}")
    kinds = row["kinds"]
    if not isinstance(kinds, list) or not kinds:
        raise ValueError("kinds must be a non-empty list of list kinds")
    # A value that is not a plain string (a table, a list) names no kind either.
    strange = [str(k) for k in kinds if not isinstance(k, str) or k not in set(ListKind)]
    if strange:
        raise ValueError(f"unknown kinds {', '.join(strange)}; the kinds are {', '.join(ListKind)}")
    if len(set(kinds)) != len(kinds):
        raise ValueError("kinds names a kind twice")
    # A sanction rewards nobody and an incentive punishes nobody.
    if len({side_of(k) for k in kinds}) > 1:
        raise ValueError("attaches to the redlist and to a blacklist: it is one or the other")
    return Measure(
        code=code,
        text=_text(row, "text"),
        legal_basis=_text(row, "legal_basis"),
        kinds=tuple(str(k) for k in kinds),
    )


def parse(data: dict[str, Any]) -> Catalogue:
    rows = data.get("measures")
    unknown = set(data) - {"measures"}
    if unknown:
        raise JointMeasuresError(f"unknown tables {', '.join(sorted(unknown))}")
    if not isinstance(rows, dict) or not rows:
        raise JointMeasuresError("no [measures.<code>] table")
    measures: dict[str, Measure] = {}
    for code, row in rows.items():
        try:
            measures[code] = _measure(code, row)
        except KeyError as exc:
            raise JointMeasuresError(f"measure {code}: {exc.args[0]} is missing") from exc
        except ValueError as exc:
            raise JointMeasuresError(f"measure {code}: {exc}") from exc
    bare = [k for k in ListKind if not any(k in m.kinds for m in measures.values())]
    if bare:
        raise JointMeasuresError(
            f"no measure attaches to {', '.join(bare)}: a proposal of that kind could name none"
        )
    return Catalogue(measures=measures)


@functools.cache
def load(path: str = "") -> Catalogue:
    """Read and check the file at ``path`` (the shipped one if empty); read once.

    :raises JointMeasuresError: the file is missing, not TOML, or breaks a rule.
    """
    return parse(read_toml(path, DEFAULT_FILE, JointMeasuresError, "joint-measures"))


def from_settings(settings: Any) -> Catalogue:
    return load(str(getattr(settings, "JOINT_MEASURES_FILE", "") or ""))


_in_force: list[Catalogue] = []


def use(settings: Any) -> Catalogue:
    """Make the settings' catalogue the one in force (the app does at start)."""
    catalogue = from_settings(settings)
    _in_force[:] = [catalogue]
    return catalogue


def in_force() -> Catalogue:
    """The catalogue the app started with; the shipped one before any app did."""
    return _in_force[0] if _in_force else load()


def text_of(code: str) -> str | None:
    """The measure's text in the catalogue in force; None for a code it no longer has."""
    measure = in_force().measures.get(code)
    return measure.text if measure is not None else None
