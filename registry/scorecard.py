"""The credit scorecard: a versioned data file (``config/scorecards/*.toml``) and the one
function that applies it.

Scoring is pure: it takes a subject's records and published list entries as plain values
and returns the score, the grade, the risk band and the explanation — one line per point
that moved the score, which add up to the score exactly. Nothing here reads the database,
so the same inputs give the same rating wherever and whenever they are scored.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

SCORECARD_DIR = Path(__file__).resolve().parent.parent / "config" / "scorecards"
CENT = Decimal("0.01")


class ScorecardError(ValueError):
    """The scorecard file is missing or does not say what a scorecard must."""


@dataclass(frozen=True)
class Rule:
    id: str
    points: Decimal
    category: str | None = None
    polarity: str | None = None
    severity: str | None = None

    def matches(self, record: RecordFacts) -> bool:
        return all(
            wanted is None or wanted == actual
            for wanted, actual in (
                (self.category, record.category),
                (self.polarity, record.polarity),
                (self.severity, record.severity),
            )
        )


@dataclass(frozen=True)
class ListRule:
    list_kind: str
    points: Decimal
    grade_cap: str | None = None  # at best this grade
    band_cap: str | None = None  # at best this risk band


@dataclass(frozen=True)
class Scorecard:
    version: str
    description: str
    base: Decimal
    grades: tuple[tuple[str, int], ...]  # (grade, minimum score), best first
    risk_bands: tuple[tuple[str, int], ...]
    half_life_months: float
    max_age_months: float
    amount_reference: Decimal
    amount_per_tenfold: float
    amount_max_factor: float
    rules: tuple[Rule, ...]
    list_rules: tuple[ListRule, ...]

    @property
    def grade_order(self) -> list[str]:
        return [grade for grade, _ in self.grades]

    def grade_for(self, score: int) -> str:
        return next(grade for grade, least in self.grades if score >= least)

    def band_for(self, score: int) -> str:
        return next(band for band, least in self.risk_bands if score >= least)

    def grade_distance(self, one: str, other: str) -> int:
        order = self.grade_order
        return abs(order.index(one) - order.index(other))


@dataclass(frozen=True)
class RecordFacts:
    """What the scorecard reads of a record."""

    id: str
    version: int
    category: str
    polarity: str
    severity: str | None
    on: date | None  # decision date, else event date
    amount: Decimal | None


@dataclass(frozen=True)
class ListFacts:
    id: str
    list_kind: str


@dataclass(frozen=True)
class Rating:
    scorecard: str
    score: int
    grade: str
    risk_band: str
    explanation: list[dict[str, Any]]
    basis: str  # digest of the inputs: the same basis never needs scoring again


def load_scorecard(version: str, directory: Path = SCORECARD_DIR) -> Scorecard:
    """Read and check ``<directory>/<version>.toml``."""
    path = directory / f"{version}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ScorecardError(f"no scorecard {version!r} in {directory}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScorecardError(f"scorecard {version!r} is not valid TOML: {exc}") from exc
    try:
        card = _parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ScorecardError(f"scorecard {version!r}: {exc}") from exc
    if card.version != version:
        raise ScorecardError(f"scorecard file {path.name} says version {card.version!r}")
    return card


def _ordered(rows: list[dict[str, Any]], name: str) -> tuple[tuple[str, int], ...]:
    pairs = tuple((str(row[name]), int(row["min"])) for row in rows)
    minimums = [least for _, least in pairs]
    if minimums != sorted(minimums, reverse=True) or not pairs or minimums[-1] != 0:
        raise ValueError(f"{name}s must go from the highest minimum down to 0")
    return pairs


def _parse(data: dict[str, Any]) -> Scorecard:
    rules = tuple(
        Rule(
            id=str(row["id"]),
            points=Decimal(str(row["points"])),
            category=row.get("category"),
            polarity=row.get("polarity"),
            severity=row.get("severity"),
        )
        for row in data["rules"]
    )
    if len({rule.id for rule in rules}) != len(rules):
        raise ValueError("rule ids must be unique")
    grades = _ordered(data["grades"], "grade")
    bands = _ordered(data["risk_bands"], "band")
    list_rules = tuple(
        ListRule(
            str(row["list"]),
            Decimal(str(row["points"])),
            row.get("grade_cap"),
            row.get("band_cap"),
        )
        for row in data.get("list_rules", [])
    )
    for rule in list_rules:
        if rule.grade_cap is not None and rule.grade_cap not in {g for g, _ in grades}:
            raise ValueError(f"list rule {rule.list_kind}: unknown grade {rule.grade_cap}")
        if rule.band_cap is not None and rule.band_cap not in {b for b, _ in bands}:
            raise ValueError(f"list rule {rule.list_kind}: unknown risk band {rule.band_cap}")
    half_life = float(data["recency"]["half_life_months"])
    if half_life <= 0:
        raise ValueError("recency.half_life_months must be above 0")
    return Scorecard(
        version=str(data["version"]),
        description=str(data.get("description", "")),
        base=Decimal(str(data["base"])),
        grades=grades,
        risk_bands=bands,
        half_life_months=half_life,
        max_age_months=float(data["recency"]["max_age_months"]),
        amount_reference=Decimal(str(data["amount"]["reference"])),
        amount_per_tenfold=float(data["amount"]["per_tenfold"]),
        amount_max_factor=float(data["amount"]["max_factor"]),
        rules=rules,
        list_rules=list_rules,
    )


def _months(since: date, until: date) -> float:
    return max(0.0, (until - since).days / (365.25 / 12))


def _cents(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def score(
    card: Scorecard, records: list[RecordFacts], entries: list[ListFacts], *, as_of: date
) -> Rating:
    """The rating these records and entries earn on ``as_of``, with its explanation."""
    lines: list[dict[str, Any]] = [
        {"kind": "base", "points": str(card.base), "detail": "every rated subject starts here"}
    ]
    total = card.base
    for record in sorted(records, key=lambda r: (r.on or date.min, r.id)):
        rule = next((rule for rule in card.rules if rule.matches(record)), None)
        if rule is None:
            continue
        age = _months(record.on, as_of) if record.on else 0.0
        if age > card.max_age_months:
            continue
        recency = 0.5 ** (age / card.half_life_months)
        amount = 1.0
        if record.amount is not None and record.amount > card.amount_reference:
            tenfolds = math.log10(float(record.amount / card.amount_reference))
            amount = min(card.amount_max_factor, 1.0 + card.amount_per_tenfold * tenfolds)
        points = _cents(float(rule.points) * recency * amount)
        if points == 0:
            continue
        total += points
        lines.append(
            {
                "kind": "record",
                "record_id": record.id,
                "record_version": record.version,
                "rule": rule.id,
                "rule_points": str(rule.points),
                "age_months": round(age, 1),
                "recency_factor": round(recency, 4),
                "amount_factor": round(amount, 4),
                "points": str(points),
            }
        )
    caps: list[tuple[str, str]] = []
    band_caps: list[tuple[str, str]] = []
    for entry in sorted(entries, key=lambda e: e.id):
        list_rule = next((r for r in card.list_rules if r.list_kind == entry.list_kind), None)
        if list_rule is None:
            continue
        total += list_rule.points
        lines.append(
            {
                "kind": "list_entry",
                "entry_id": entry.id,
                "list": entry.list_kind,
                "points": str(list_rule.points),
                "grade_cap": list_rule.grade_cap,
            }
        )
        if list_rule.grade_cap:
            caps.append((list_rule.grade_cap, entry.list_kind))
        if list_rule.band_cap:
            band_caps.append((list_rule.band_cap, entry.list_kind))
    bounded = min(Decimal(100), max(Decimal(0), total))
    if bounded != total:
        lines.append({"kind": "bounds", "points": str(bounded - total), "detail": "kept to 0-100"})
    final = int(bounded.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if final != bounded:
        lines.append({"kind": "rounding", "points": str(final - bounded)})
    grade = card.grade_for(final)
    order = card.grade_order
    for cap, list_kind in caps:
        if order.index(grade) < order.index(cap):
            lines.append(
                {"kind": "grade_cap", "points": "0", "detail": f"{list_kind}: at best {cap}"}
            )
            grade = cap
    band = card.band_for(final)
    band_order = [name for name, _ in card.risk_bands]  # best first
    for cap, list_kind in band_caps:
        if band_order.index(band) < band_order.index(cap):
            lines.append(
                {"kind": "band_cap", "points": "0", "detail": f"{list_kind}: at best {cap} risk"}
            )
            band = cap
    basis = hashlib.sha256(
        json.dumps(
            {
                "scorecard": card.version,
                "records": sorted((r.id, r.version) for r in records),
                "entries": sorted(e.id for e in entries),
                # Ages move with the calendar: a month later is a new basis.
                "month": as_of.isoformat()[:7],
            }
        ).encode()
    ).hexdigest()
    return Rating(card.version, final, grade, band, lines, basis)


def explained_total(explanation: list[dict[str, Any]]) -> Decimal:
    """The sum of an explanation's points (equal to the score it explains)."""
    return sum((Decimal(line["points"]) for line in explanation), Decimal(0))
