"""The list kinds and their rules, from configuration (config/list_kinds.toml).

The codes are fixed (entries store them; the database checks them); the period, extension,
repair and publicity of each are policy, read from the file :data:`DEFAULT_FILE` or the one
``LIST_KINDS_FILE`` names. A file that leaves a kind out, names an unknown one or gives an
impossible number is refused at start, not at the first proposal.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from registry.config_files import read_toml

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "config" / "list_kinds.toml"


class ListKind(StrEnum):
    JUDGMENT_DEBTOR = "judgment_debtor"  # 失信被执行人
    SERIOUS_ILLEGAL = "serious_illegal"  # 严重违法失信名单
    WATCH = "watch"  # 重点关注名单
    ABNORMAL = "abnormal"  # 经营异常名录
    REDLIST = "redlist"  # 守信激励名单


class Side(StrEnum):
    BLACK = "black"
    RED = "red"


# The public pages and lookups still know the two sides by their old names.
SIDE_LISTS = {Side.BLACK: "blacklist", Side.RED: "redlist"}


def side_of(code: str) -> Side:
    """A kind's side is what it is, not policy: the redlist rewards, every other list is a
    blacklist (惩戒)."""
    return Side.RED if code == ListKind.REDLIST else Side.BLACK


def side_list(code: str) -> str:
    """``blacklist`` or ``redlist``: the public name of the kind's side."""
    return SIDE_LISTS[side_of(code)]


def list_names(codes: Iterable[str]) -> list[str]:
    """The kinds and their sides, sorted: what a lookup or a search document lists."""
    codes = list(codes)
    return sorted({*codes, *(side_list(code) for code in codes)})


# What a search may filter on: a side or a kind.
LIST_NAMES = [*SIDE_LISTS.values(), *(k for k in ListKind if k not in SIDE_LISTS.values())]


class ListKindsError(ValueError):
    """The list-kinds file is missing, not TOML, or breaks a rule."""


@dataclass(frozen=True)
class KindRules:
    code: str
    name: str
    side: Side
    public: bool
    period_months: int
    max_period_months: int
    extension_min_months: int
    extension_max_months: int
    repair_after_months: int | None  # None: no repair route
    scorecard_list: str | None

    @property
    def extendable(self) -> bool:
        return self.extension_max_months > 0

    @property
    def side_list(self) -> str:
        """``blacklist`` or ``redlist``: the side's public name."""
        return SIDE_LISTS[self.side]


@dataclass(frozen=True)
class ListKinds:
    kinds: dict[str, KindRules]
    aliases: dict[str, str]

    def resolve(self, code: str) -> str | None:
        """The kind ``code`` names (itself, or what an alias stands for); None if neither."""
        code = self.aliases.get(code, code)
        return code if code in self.kinds else None

    def of(self, code: str) -> KindRules:
        return self.kinds[code]

    def public_kinds(self, listed: str) -> list[str]:
        """The public kinds a public list page shows: one kind, or a side's (``blacklist``,
        ``redlist``). Empty for a kind that is not public or a name that is no list."""
        if listed in self.kinds:
            return [listed] if self.kinds[listed].public else []
        return [k for k, r in self.kinds.items() if r.public and r.side_list == listed]

    def public_lists(self) -> list[str]:
        """Every name a public list page answers to: the sides, then the public kinds."""
        return [*SIDE_LISTS.values(), *(k for k, r in self.kinds.items() if r.public)]


def _int(row: dict[str, Any], key: str, *, minimum: int, maximum: int = 1200) -> int:
    """A whole number of months; 1200 (a century) is the most the API takes."""
    value = row[key]
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise ValueError(f"{key} must be a whole number from {minimum} to {maximum}")
    return value


def _rules(code: str, row: dict[str, Any]) -> KindRules:
    # The code and the side are not the file's to say (see side_of).
    unknown = set(row) - (set(KindRules.__dataclass_fields__) - {"code", "side"})
    if unknown:
        raise ValueError(f"unknown keys {', '.join(sorted(unknown))}")
    public = row["public"]
    if not isinstance(public, bool):
        raise ValueError("public must be true or false")
    rules = KindRules(
        code=code,
        name=str(row["name"]),
        side=side_of(code),
        public=public,
        period_months=_int(row, "period_months", minimum=1),
        max_period_months=_int(row, "max_period_months", minimum=1),
        extension_min_months=_int(row, "extension_min_months", minimum=0),
        extension_max_months=_int(row, "extension_max_months", minimum=0),
        repair_after_months=(
            _int(row, "repair_after_months", minimum=0) if "repair_after_months" in row else None
        ),
        scorecard_list=str(row["scorecard_list"]) if "scorecard_list" in row else None,
    )
    if rules.period_months > rules.max_period_months:
        raise ValueError("period_months is above max_period_months")
    if rules.extension_min_months > rules.extension_max_months:
        raise ValueError("extension_min_months is above extension_max_months")
    if rules.extendable and rules.extension_min_months < 1:
        raise ValueError("an extendable kind extends by at least 1 month")
    return rules


def parse(data: dict[str, Any]) -> ListKinds:
    rows = data.get("kinds") or {}
    missing = sorted(set(ListKind) - set(rows))
    unknown = sorted(set(rows) - set(ListKind))
    if missing or unknown:
        raise ListKindsError(
            "the kinds are " + ", ".join(ListKind)
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(unknown)}" if unknown else "")
        )  # fmt: skip
    kinds: dict[str, KindRules] = {}
    for code in ListKind:
        try:
            kinds[code] = _rules(code, rows[code])
        except KeyError as exc:
            raise ListKindsError(f"kind {code}: {exc.args[0]} is missing") from exc
        except ValueError as exc:
            raise ListKindsError(f"kind {code}: {exc}") from exc
    if kinds[ListKind.REDLIST].extendable:
        raise ListKindsError("kind redlist: is never extended")
    aliases = {str(k): str(v) for k, v in (data.get("aliases") or {}).items()}
    for alias, target in aliases.items():
        if target not in kinds or alias in kinds:
            raise ListKindsError(f"alias {alias}: must name a kind and not be one")
    return ListKinds(kinds=kinds, aliases=aliases)


@functools.cache
def load(path: str = "") -> ListKinds:
    """Read and check the file at ``path`` (the shipped one if empty); read once."""
    return parse(read_toml(path, DEFAULT_FILE, ListKindsError, "list-kinds"))


def from_settings(settings: Any) -> ListKinds:
    return load(str(getattr(settings, "LIST_KINDS_FILE", "") or ""))


_in_force: list[ListKinds] = []


def use(settings: Any) -> ListKinds:
    """Make the settings' kinds the ones in force (the app does at start)."""
    kinds = from_settings(settings)
    _in_force[:] = [kinds]
    return kinds


def in_force() -> ListKinds:
    """The kinds the app started with; the shipped file before any app did."""
    return _in_force[0] if _in_force else load()


def public_codes() -> list[str]:
    return [code for code, rules in in_force().kinds.items() if rules.public]
