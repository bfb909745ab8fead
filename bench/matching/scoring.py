"""Scoring a matcher's answers to the labelled queries: recall@1, "match" precision, false
"match" decisions on the near misses. The same for the registry and for each peer."""

from __future__ import annotations

from dataclasses import dataclass, field

DECISIONS = ("match", "possible", "none", "error")


@dataclass(frozen=True)
class Outcome:
    """One matcher's answer to one query."""

    kind: str
    expected: str | None  # the right subject; None: no such company
    ranked: tuple[str, ...]  # the subjects it returned, best first
    decision: str  # match, possible, none (error: the row was refused)
    score: float = 0.0

    @property
    def rank(self) -> int | None:
        """1-based place of the right subject among those returned; None if absent."""
        if self.expected is None or self.expected not in self.ranked:
            return None
        return self.ranked.index(self.expected) + 1

    @property
    def first_right(self) -> bool:
        return self.rank == 1

    @property
    def flagged_first(self) -> bool:
        """The right subject first and flagged: decided "match" or "possible", so that a
        screening user sees it (ranked first under "none", it passes unflagged)."""
        return self.first_right and self.decision in {"match", "possible"}

    @property
    def false_match(self) -> bool:
        """A "match" on a company that is not the one meant (or on none at all)."""
        return self.decision == "match" and not self.first_right


@dataclass
class KindFigures:
    queries: int = 0
    first: int = 0  # right subject first
    flagged: int = 0  # right subject first, decided "match" or "possible"
    decisions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DECISIONS, 0))

    @property
    def recall_at_1(self) -> float:
        return self.first / self.queries if self.queries else 0.0

    @property
    def flagged_at_1(self) -> float:
        return self.flagged / self.queries if self.queries else 0.0


@dataclass
class Figures:
    by_kind: dict[str, KindFigures]
    positives: int
    first: int  # positives with the right subject first
    flagged: int  # of those, decided "match" or "possible"
    matches: int  # "match" decisions, positives and negatives
    right_matches: int  # of those, on the right subject
    negatives: int
    negative_matches: int  # "match" decisions on the near misses
    negative_possible: int

    @property
    def recall_at_1(self) -> float:
        return self.first / self.positives if self.positives else 0.0

    @property
    def flagged_at_1(self) -> float:
        return self.flagged / self.positives if self.positives else 0.0

    @property
    def match_precision(self) -> float | None:
        return self.right_matches / self.matches if self.matches else None


def figures(outcomes: list[Outcome]) -> Figures:
    by_kind: dict[str, KindFigures] = {}
    for outcome in outcomes:
        kind = by_kind.setdefault(outcome.kind, KindFigures())
        kind.queries += 1
        kind.first += outcome.first_right
        kind.flagged += outcome.flagged_first
        kind.decisions[outcome.decision] += 1
    positives = [o for o in outcomes if o.expected is not None]
    negatives = [o for o in outcomes if o.expected is None]
    matches = [o for o in outcomes if o.decision == "match"]
    return Figures(
        by_kind=by_kind,
        positives=len(positives),
        first=sum(o.first_right for o in positives),
        flagged=sum(o.flagged_first for o in positives),
        matches=len(matches),
        right_matches=sum(not o.false_match for o in matches),
        negatives=len(negatives),
        negative_matches=sum(o.decision == "match" for o in negatives),
        negative_possible=sum(o.decision == "possible" for o in negatives),
    )
