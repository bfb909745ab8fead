"""Batch screening: each row of a member's list against the registry's subjects.

Candidate retrieval is the backend's job (any token of the name may match); ranking and
the decision are this module's, the same for every backend, so an engine and the embedded
SQL search give the same decisions. Every score comes with its explanation: which features
matched and how much each contributed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from typing import Any

from registry.identifiers import (
    ID_NUMBER_IN_TEXT,
    IdentifierError,
    contains_id_number,
    validate_uscc,
)
from registry.name_parts import NameParts, divisions_agree, parse_name
from registry.names import normalize_text
from search.query import SearchQuery
from search.text import name_syllables, trade_name_tokens

# How much each feature weighs when both sides have it. Features a side lacks (no region
# given, no industry in the name) drop out and the rest are rescaled, so a name-only row can
# still score 1. The trade name (字号) carries a name's identity; the division and industry
# confirm it; the legal form barely matters (registry.name_parts).
WEIGHTS = {
    "trade_name": 0.55,
    "industry": 0.15,
    "division": 0.1,
    "legal_form": 0.05,
    "region": 0.15,
    "branch": 0.15,
}
CANDIDATES = 10
SHOWN = 3
# A trade name that differs but sounds the same (详 / 祥, what a pinyin input method mistypes)
# is nearer than one that differs in sound.
SAME_SOUND_SIMILARITY = 0.9
# A division or industry named by one of two names only: neither confirmed nor denied.
UNCONFIRMED = 0.5


@dataclass(frozen=True)
class Thresholds:
    match: float = 0.85
    possible: float = 0.6

    def decide(self, score: float, *, match_allowed: bool = True) -> str:
        if score >= self.match:
            return "match" if match_allowed else "possible"
        if score >= self.possible:
            return "possible"
        return "none"


@dataclass(frozen=True)
class ScreeningRow:
    name: str | None = None
    uscc: str | None = None
    region: str | None = None
    reference: str | None = None  # the member's own row id, echoed back
    # A row that cannot be screened: field -> what is wrong. It is answered with these
    # errors (decision "error") and the others are screened, unless the request asked for
    # all or nothing. A field in error is not kept (it may be an ID number).
    errors: dict[str, str] | None = None


@dataclass
class Scored:
    document: dict[str, Any]
    score: float
    explanation: list[dict[str, Any]] = field(default_factory=list)
    # Why this candidate cannot be a "match", whatever its score: empty when it can.
    not_a_match: list[str] = field(default_factory=list)


def _edits(left: str, right: str) -> int:
    """Levenshtein distance (names' parts are short: a plain table is quick enough)."""
    previous = list(range(len(right) + 1))
    for i, a in enumerate(left, 1):
        current = [i]
        for j, b in enumerate(right, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1]


def _difference(left: str, right: str) -> str:
    """The second text with what differs from the first marked: 金瑞[祥→详], 金瑞[+福]祥."""
    out = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, left, right, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(right[j1:j2])
        elif op == "replace":
            out.append(f"[{left[i1:i2]}→{right[j1:j2]}]")
        elif op == "delete":
            out.append(f"[-{left[i1:i2]}]")
        else:
            out.append(f"[+{right[j1:j2]}]")
    return "".join(out)


def _letters(parts: NameParts) -> str:
    """A trade name as letters: itself when Latin, else its pinyin."""
    return parts.trade if parts.latin else "".join(name_syllables(parts.trade))


_DIVISION_SHORT = re.compile(r"^(.{2,}?)(?:省|市|区|县)$")


def _spelt(text: str | None) -> tuple[str, ...]:
    """The pinyin of a division or industry as written, full and short (北京市: beijingshi,
    beijing), to find it in a romanised name typed without spaces."""
    if not text:
        return ()
    full = "".join(name_syllables(text))
    short = _DIVISION_SHORT.match(text)
    return (full, "".join(name_syllables(short.group(1)))) if short else (full,)


def _read_romanised(latin: NameParts, other: NameParts) -> NameParts:
    """A romanised name read against a Chinese one: where the parser found no division or
    industry in it (a name typed without spaces: beijinghuaxinkeji), the other name's
    division and industry spelt in pinyin at its start and end are taken as such, and the
    letters between are its trade name."""
    letters, division, industry = latin.trade, latin, latin
    if latin.division is None:
        for spelt in _spelt(other.division):
            if spelt and letters.startswith(spelt) and len(letters) > len(spelt):
                letters, division = letters[len(spelt) :], other
                break
    if latin.industry is None:
        for spelt in _spelt(other.industry):
            if spelt and letters.endswith(spelt) and len(letters) > len(spelt):
                letters, industry = letters[: -len(spelt)], other
                break
    return replace(
        latin,
        trade=letters,
        division=division.division if division is other else latin.division,
        division_codes=division.division_codes,
        industry=industry.industry if industry is other else latin.industry,
        industry_terms=industry.industry_terms,
    )


def _compare_trade(query: NameParts, candidate: NameParts) -> tuple[float, bool, str]:
    """(similarity, written the same, detail) of two trade names. Written in different
    scripts, they compare by sound, which cannot tell homophones apart (华信 / 华新)."""
    if query.latin == candidate.latin:
        left, right = candidate.trade, query.trade
        if left == right:
            return 1.0, True, f"same trade name {left}"
        similarity = 1 - 2 * _edits(left, right) / (len(left) + len(right))
        if not query.latin and _letters(query) == _letters(candidate):
            similarity = max(similarity, SAME_SOUND_SIMILARITY)
        return max(similarity, 0.0), False, f"trade name {left} / {_difference(left, right)}"
    left, right = _letters(candidate), _letters(query)
    similarity = 1 - 2 * _edits(left, right) / (len(left) + len(right)) if left or right else 0.0
    detail = f"trade name {candidate.trade} / {query.trade}, compared in pinyin"
    return max(similarity, 0.0), False, detail


def _compare_industry(query: NameParts, candidate: NameParts) -> float:
    if query.industry_terms & candidate.industry_terms:
        return 1.0
    # 信息科技 and 科技: one says more than the other, not something else.
    nested = any(a in b or b in a for a in query.industry_terms for b in candidate.industry_terms)
    return 0.5 if nested else 0.0


@dataclass(frozen=True)
class NameComparison:
    name: str  # the candidate's name compared
    parts: list[tuple[str, float, str]]  # (feature, similarity, detail)
    not_a_match: list[str]

    @property
    def similarity(self) -> float:
        """The name parts' weighted similarity, in [0, 1]."""
        weight = sum(WEIGHTS[f] for f, _, _ in self.parts)
        return sum(WEIGHTS[f] * v for f, v, _ in self.parts) / weight if weight else 0.0


def compare_names(query: str, candidate: str, region: str | None = None) -> NameComparison:
    """Two names part by part (registry.name_parts), with what keeps them from being the
    same company. ``region``, the row's division code, stands for a division the query's
    name leaves out."""
    wanted, found = parse_name(query), parse_name(candidate)
    if wanted.latin and not found.latin:
        wanted = _read_romanised(wanted, found)
    elif found.latin and not wanted.latin:
        found = _read_romanised(found, wanted)
    parts: list[tuple[str, float, str]] = []
    reasons: list[str] = []
    similarity, same, detail = _compare_trade(wanted, found)
    parts.append(("trade_name", similarity, detail))
    if not same:
        reasons.append(
            "the trade names are compared by sound, which cannot tell homophones apart"
            if similarity == 1.0
            else "the trade names differ"
        )
    if wanted.division_codes and found.division_codes:
        # The same place, whatever the spelling (江苏省苏州市 / 苏州); a city and its province
        # (泰安 / 山东) are different names, so different companies.
        agree = bool(wanted.division_codes & found.division_codes)
        parts.append(("division", 1.0 if agree else 0.0, f"{wanted.division} / {found.division}"))
        if not agree:
            reasons.append("the divisions differ")
    elif region and found.division_codes:
        # A name without its division may still be placed by the row's region code, where
        # the company is registered: inside the division its name bears. (A member's list
        # often shortens names; a candidate named without one is another registered name.)
        agree = divisions_agree(frozenset({region}), found.division_codes)
        parts.append(("division", 1.0 if agree else 0.0, f"region {region} / {found.division}"))
        if not agree:
            reasons.append("the divisions differ")
    elif wanted.division_codes or found.division_codes:
        # Neither confirmed nor denied: half, so a name that agrees on it ranks first.
        shown = f"{wanted.division or '-'} / {found.division or '-'}"
        parts.append(("division", UNCONFIRMED, shown))
        reasons.append("the division is named on one side only")
    if wanted.industry_terms and found.industry_terms:
        value = _compare_industry(wanted, found)
        parts.append(("industry", value, f"{wanted.industry} / {found.industry}"))
        if value < 1.0:
            reasons.append("the industries differ")
    elif wanted.industry_terms or found.industry_terms:
        shown = f"{wanted.industry or '-'} / {found.industry or '-'}"
        parts.append(("industry", UNCONFIRMED, shown))
        reasons.append("the industry is named on one side only")
    if wanted.group != found.group:
        reasons.append("one is a group (集团), the other not")
    if wanted.legal_form and found.legal_form:
        same_form = wanted.legal_form == found.legal_form
        parts.append(
            ("legal_form", 1.0 if same_form else 0.0, f"{wanted.legal_form} / {found.legal_form}")
        )
    if wanted.branch or found.branch:
        # A branch is registered on its own: the company and each of its branches are told
        # apart, so the one the row names ranks first.
        parts.append(
            ("branch", 1.0 if wanted.branch == found.branch else 0.0,
             f"{wanted.branch or '-'} / {found.branch or '-'}")
        )  # fmt: skip
    if wanted.branch != found.branch:
        reasons.append(
            "one is a branch of the other"
            if None in (wanted.branch, found.branch)
            else "different branches"
        )
    return NameComparison(candidate, parts, reasons)


def closest_name(
    query: str, candidate_names: list[str], region: str | None = None
) -> NameComparison:
    """The comparison of ``query`` with the nearest of a candidate's names, current or
    former (the one that could be a match first, among equally similar ones)."""
    return max(
        (compare_names(query, name, region) for name in candidate_names),
        key=lambda c: (c.similarity, not c.not_a_match),
    )


def explain_name(query: str, candidate_names: list[str]) -> dict[str, Any]:
    """How a searched name compares with a hit's names, part by part, for a lookup's hit:
    the name compared, each part's similarity and detail, and what keeps them from being
    the same company (empty when nothing does)."""
    best = closest_name(query, candidate_names)
    return {
        "name": best.name,
        "parts": [
            {"feature": feature, "similarity": round(value, 4), "detail": detail}
            for feature, value, detail in best.parts
        ],
        "differences": best.not_a_match,
    }


def _trade_name_near(trade: str, document: dict[str, Any]) -> bool:
    """Whether one of the document's trade names is at most one edit from ``trade``
    (documents indexed before trade_names existed: from their names)."""
    names = document.get("trade_names") or [
        parse_name(name).trade for name in document.get("names") or [document["name"]]
    ]
    return any(abs(len(t) - len(trade)) <= 1 and _edits(t, trade) <= 1 for t in names)


def _ranked(
    row: ScreeningRow, candidates: dict[str, dict[str, Any]], scored: dict[str, Scored]
) -> list[Scored]:
    """The candidates scored (each once: ``scored`` keeps them by id across the asks), best
    first; among equal scores one that can be a match first (北京华信科技 before 北京华信 for
    北京华信科技有限公司)."""
    for key, document in candidates.items():
        if key not in scored:
            scored[key] = score(row, document)
    return sorted(
        scored.values(),
        key=lambda s: (-s.score, bool(s.not_a_match), s.document["id"]),
    )


def _agrees_on_every_part(ranked: list[Scored], thresholds: Thresholds) -> bool:
    """Whether the best candidate is a match that nothing can outrank: a score of 1 (scores
    are rounded to four places), and among equal scores one that can be a match is first."""
    if not ranked or ranked[0].score < 1.0:
        return False
    return thresholds.decide(ranked[0].score, match_allowed=not ranked[0].not_a_match) == "match"


def score(row: ScreeningRow, document: dict[str, Any]) -> Scored:
    """How well ``document`` fits ``row``, with the contribution of each feature."""
    if row.uscc and document.get("uscc") == row.uscc:
        return Scored(
            document,
            1.0,
            [{"feature": "uscc", "matched": True, "contribution": 1.0, "detail": "same USCC"}],
        )
    parts: list[tuple[str, float, str]] = []
    reasons: list[str] = []
    if row.name:
        # The closest of the candidate's names, current or former, part by part.
        best = closest_name(row.name, document.get("names") or [document["name"]], row.region)
        parts.extend(best.parts)
        reasons.extend(best.not_a_match)
        if best.name != document.get("name"):
            feature, value, detail = parts[0]
            parts[0] = (feature, value, f"{detail} (closest name {best.name})")
    if row.region and document.get("region"):
        # Same region code, or the same province (first two digits) for half.
        region = document["region"]
        value = 1.0 if region == row.region else (0.5 if region[:2] == row.region[:2] else 0.0)
        parts.append(("region", value, f"{row.region} / {region}"))
    total_weight = sum(WEIGHTS[name] for name, _, _ in parts) or 1.0
    explanation: list[dict[str, Any]] = [
        {
            "feature": name,
            "similarity": round(value, 4),
            "weight": round(WEIGHTS[name] / total_weight, 4),
            "contribution": round(value * WEIGHTS[name] / total_weight, 4),
            "detail": detail,
        }
        for name, value, detail in parts
    ]
    result = float(sum(value * WEIGHTS[name] / total_weight for name, value, _ in parts))
    if row.uscc and document.get("uscc") and document["uscc"] != row.uscc:
        # Two different valid codes are two different organisations, whatever the name.
        result = min(result, 0.5)
        explanation.append(
            {
                "feature": "uscc",
                "matched": False,
                "contribution": 0.0,
                "detail": "different USCC; capped at 0.5",
            }
        )
    if reasons:
        explanation.append(
            {
                "feature": "decision",
                "contribution": 0.0,
                "detail": "at most a possible match: " + "; ".join(reasons),
            }
        )
    return Scored(document, round(min(max(result, 0.0), 1.0), 4), explanation, reasons)


def normalise_row(raw: dict[str, Any]) -> tuple[ScreeningRow, dict[str, str]]:
    """A row from the member, checked; returns the row and its field errors."""
    errors: dict[str, str] = {}
    texts: dict[str, str | None] = {}
    for key in ("name", "uscc", "region"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            errors[key] = "a string"
            value = None
        texts[key] = (value or "").strip() or None
    name, uscc_raw, region = texts["name"], texts["uscc"], texts["region"]
    uscc = None
    if uscc_raw:
        try:
            uscc = validate_uscc(uscc_raw).code
        except IdentifierError as exc:
            errors["uscc"] = str(exc)
    if name is not None and (len(name) > 300 or not normalize_text(name)):
        errors["name"] = "a name of 1 to 300 characters"
    if region is not None and not (len(region) == 6 and region.isdigit()):
        errors["region"] = "a six-digit GB/T 2260 code"
    if not name and not uscc_raw and "name" not in errors and "uscc" not in errors:
        errors["name"] = "each row needs a name or a uscc"
    reference = None if raw.get("reference") is None else str(raw["reference"])
    # A job stores its rows and results: a person's number must not ride along in clear.
    for key, text in (("name", name), ("reference", reference)):
        if text and contains_id_number(text):
            errors[key] = ID_NUMBER_IN_TEXT
    if errors:
        kept = {"name": name, "uscc": uscc, "region": region, "reference": reference}
        kept = {k: (None if k in errors else v) for k, v in kept.items()}
        return ScreeningRow(**kept, errors=dict(errors)), errors
    return ScreeningRow(name, uscc, region, reference), errors


# Candidate retrieval for screening: each query of a batch answered by its documents, in
# order. Screening asks for many rows at once, so an engine answers them in one round trip.
Search = Callable[[list[SearchQuery]], list[list[dict[str, Any]]]]
# One row's screening: it yields each query it needs answered and is sent the documents
# found; it returns the row's result. Rows are screened side by side, their asks batched.
Asks = Generator[SearchQuery, list[dict[str, Any]], dict[str, Any]]


def screen_row(row: ScreeningRow, search: Search, thresholds: Thresholds) -> dict[str, Any]:
    """One row screened on its own: its result, as ``screen`` gives it without the row number."""
    (result,) = screen([row], search, thresholds)
    del result["row"]
    return result


def _screening(row: ScreeningRow, thresholds: Thresholds) -> Asks:
    """Candidates for one row, scored and decided. An exact USCC is decisive. A row in
    error is answered with its errors, unsearched."""
    if row.errors:
        return {
            "reference": row.reference,
            "input": {"name": row.name, "uscc": row.uscc, "region": row.region},
            "decision": "error",
            "score": 0.0,
            "matches": [],
            "errors": [{"field": k, "message": v} for k, v in row.errors.items()],
        }
    candidates: dict[str, dict[str, Any]] = {}
    if row.uscc:
        for document in (yield SearchQuery(text=row.uscc, size=1, facets=False)):
            candidates[document["id"]] = document
    exact = next((d for d in candidates.values() if d.get("uscc") == row.uscc), None)
    settled: list[Scored] | None = None
    scored: dict[str, Scored] = {}
    if exact is None and row.name:
        trade = parse_name(row.name)
        # First the subjects bearing the row's trade name as written: a row naming a company
        # of the registry finds it among them. When one agrees with the row on every part
        # (a score of 1), no candidate of the later asks could outrank it, and the row is
        # decided here: those asks' candidates (other trade names) would only have filled
        # the places after it. A lesser match is not settled so: a candidate of another
        # trade name that sounds the same (华新 for 华信) in the row's own district may score
        # above it and make the row only "possible". This ask stays small however large the
        # registry grows, where the one by the name's rare tokens grows with it.
        if trade_name_tokens(trade.trade, trade.industry):
            first = SearchQuery(
                text=row.name,
                size=CANDIDATES,
                match_any=True,
                facets=False,
                by_exact_trade_name=True,
            )
            for document in (yield first):
                candidates.setdefault(document["id"], document)
            ranked = _ranked(row, candidates, scored)
            if _agrees_on_every_part(ranked, thresholds):
                settled = ranked
        if not settled:
            query = SearchQuery(text=row.name, size=CANDIDATES, match_any=True, facets=False)
            for document in (yield query):
                candidates.setdefault(document["id"], document)
        # A mistyped trade name may share no rare token with its company (华新 / 华信, and
        # 科技 common): when no candidate's trade name is one edit from the row's, ask a
        # third time, by the trade name's one-edit neighbourhood. Asked only then: its tokens
        # in the rare-token ask cost every row a third more search time (bench/RESULTS.md).
        if (
            not settled
            and not trade.latin
            and not any(_trade_name_near(trade.trade, d) for d in candidates.values())
        ):
            again = SearchQuery(
                text=row.name, size=CANDIDATES, match_any=True, facets=False, by_trade_name=True
            )
            for document in (yield again):
                candidates.setdefault(document["id"], document)
    ranked = settled or _ranked(row, candidates, scored)
    best = ranked[0].score if ranked else 0.0
    # A match needs the top candidate's trade name to agree (or an exact USCC).
    match_allowed = bool(ranked) and not ranked[0].not_a_match
    return {
        "reference": row.reference,
        "input": {"name": row.name, "uscc": row.uscc, "region": row.region},
        "decision": "match"
        if exact is not None
        else thresholds.decide(best, match_allowed=match_allowed),
        "score": best,
        "matches": [
            {
                "subject_id": s.document["id"],
                "kind": s.document.get("kind"),
                "name": s.document.get("name"),
                "uscc": s.document.get("uscc"),
                "region": s.document.get("region"),
                "lists": s.document.get("lists") or [],
                "grade": s.document.get("grade"),
                # Items of the subject under an open objection (异议); 0 in documents indexed
                # before objections existed, until they are rebuilt.
                "disputed": s.document.get("disputed", 0),
                "score": s.score,
                "decision": "match"
                if exact is s.document
                else thresholds.decide(s.score, match_allowed=not s.not_a_match),
                "explanation": s.explanation,
            }
            for s in ranked[:SHOWN]
        ],
    }


# --- running screenings --------------------------------------------------------------------


def matched_subject_ids(results: list[dict[str, Any]]) -> list[str]:
    """The subjects a screening showed as a match or possible match (for the query log)."""
    matched = [m["subject_id"] for r in results for m in r["matches"] if m["decision"] != "none"]
    return list(dict.fromkeys(matched))


def summary(results: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"match": 0, "possible": 0, "none": 0, "error": 0}
    for result in results:
        counts[result["decision"]] += 1
    return counts


class SearchUnavailable(RuntimeError):
    """The search backend failed a screening's asks: the caller's outage (503), not a fault
    of the screening itself."""


# What screening reads of a candidate's document: to score it (its names, trade names, USCC,
# region) and to show it. The rest (tokens, record counts) an engine need not send.
CANDIDATE_FIELDS = (
    "id",
    "kind",
    "name",
    "names",
    "trade_names",
    "uscc",
    "region",
    "lists",
    "grade",
    "disputed",
)


def backend_search(backend: Any, session: Any) -> Search:
    """Candidate retrieval through a backend: enterprises and shops (never persons by name)."""

    def search(queries: list[SearchQuery]) -> list[list[dict[str, Any]]]:
        scoped = [
            replace(query, kinds=("enterprise", "shop"), facets=False, fields=CANDIDATE_FIELDS)
            for query in queries
        ]
        try:
            answers = backend.search_many(scoped, session=session)
        except Exception as exc:  # any backend failure: away, too slow, refusing a search
            raise SearchUnavailable(str(exc)) from exc
        return [[hit.document for hit in answer.hits] for answer in answers]

    return search


# Rows screened side by side: their asks of each round go to the backend together.
ROWS_AT_ONCE = 100


def screen(
    rows: list[ScreeningRow],
    search: Search,
    thresholds: Thresholds,
    *,
    rows_at_once: int = ROWS_AT_ONCE,
) -> list[dict[str, Any]]:
    """Every row screened as ``screen_row`` screens it, ``rows_at_once`` rows at a time:
    each row asks its first query, all of them are sent in one batch, each row is given its
    answer and asks its next, and so on until every row is decided. A row's asks and result
    are those it would have on its own."""
    results: list[dict[str, Any]] = []
    for start in range(0, len(rows), rows_at_once):
        chunk = rows[start : start + rows_at_once]
        decided: dict[int, dict[str, Any]] = {}
        asking: dict[int, tuple[Asks, SearchQuery]] = {}
        for index, row in enumerate(chunk):
            asks = _screening(row, thresholds)
            try:
                asking[index] = (asks, next(asks))
            except StopIteration as done:
                decided[index] = done.value
        while asking:
            answers = search([query for _, query in asking.values()])
            still: dict[int, tuple[Asks, SearchQuery]] = {}
            for (index, (asks, _)), documents in zip(asking.items(), answers, strict=True):
                try:
                    still[index] = (asks, asks.send(documents))
                except StopIteration as done:
                    decided[index] = done.value
            asking = still
        results.extend({"row": start + i, **decided[i]} for i in range(len(chunk)))
    return results


def run_jobs(
    session: Any, backend: Any, now: Any, thresholds: Thresholds, *, chunk: int = 500
) -> int:
    """Advance queued screening jobs by up to ``chunk`` rows each; commits as it goes so
    progress is visible and a crash loses at most one chunk. Returns rows screened."""
    import sqlalchemy as sa

    from registry.screening_jobs import JobStatus, ScreeningJob

    job = session.scalar(
        sa.select(ScreeningJob)
        .where(ScreeningJob.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
        .order_by(ScreeningJob.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if job is None:
        return 0
    if job.status == JobStatus.QUEUED:
        job.status = JobStatus.RUNNING
        job.started_at = now
    start = job.done_rows
    rows = [ScreeningRow(**row) for row in job.rows[start : start + chunk]]
    results = screen(rows, backend_search(backend, session), thresholds)
    for result in results:
        result["row"] += start
    job.results = [*job.results, *results]
    job.done_rows = start + len(rows)
    if job.done_rows >= job.total_rows:
        job.status = JobStatus.DONE
        job.finished_at = now
        from registry.querylog import QueryKind, log_query

        log_query(
            session,
            member_id=job.member_id,
            key_id=job.key_id,
            at=now,
            kind=QueryKind.SCREENING,
            purpose=job.purpose,
            query={"rows": job.total_rows, "job_id": str(job.id)},
            results=job.total_rows,
            subject_ids=matched_subject_ids(job.results),
        )
    session.commit()
    return len(rows)
