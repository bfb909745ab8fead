"""Batch screening: each row of a member's list against the registry's subjects.

Candidate retrieval is the backend's job (any token of the name may match); ranking and
the decision are this module's, the same for every backend, so an engine and the embedded
SQL search give the same decisions. Every score comes with its explanation: which features
matched and how much each contributed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from registry.identifiers import (
    ID_NUMBER_IN_TEXT,
    IdentifierError,
    contains_id_number,
    validate_uscc,
)
from registry.names import normalize_name, normalize_text
from search.query import SearchQuery
from search.text import index_tokens, pinyin_forms

# How much each feature weighs when both sides have it. Features a row lacks (no region
# given, say) drop out and the rest are rescaled, so a name-only row can still score 1.
WEIGHTS = {"name": 0.8, "region": 0.15, "legal_form": 0.05}
CANDIDATES = 10
SHOWN = 3


@dataclass(frozen=True)
class Thresholds:
    match: float = 0.85
    possible: float = 0.6

    def decide(self, score: float) -> str:
        if score >= self.match:
            return "match"
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


def _dice(left: set[str], right: set[str]) -> float:
    if not left or not right:
        return 0.0
    return 2 * len(left & right) / (len(left) + len(right))


def _sequence(left: str, right: str) -> float:
    return SequenceMatcher(None, left.replace(" ", ""), right.replace(" ", "")).ratio()


def name_similarity(query: str, candidate_names: list[str]) -> tuple[float, str]:
    """The best similarity of ``query`` to any of the candidate's names, in [0, 1]: the
    mean of token overlap (CJK bigrams, words) and character sequence similarity, on the
    names without legal form. A Latin query is also compared with the names' pinyin."""
    wanted = normalize_name(query).base
    wanted_tokens = set(index_tokens(wanted))
    best, best_name = 0.0, ""
    for name in candidate_names:
        base = normalize_name(name).base
        overlap = _dice(wanted_tokens, set(index_tokens(base)))
        similarity = (overlap + _sequence(wanted, base)) / 2
        if wanted.isascii():
            # Pinyin is one run of letters: only the sequence of letters can be compared.
            full, _ = pinyin_forms(name)
            if full:
                similarity = max(similarity, _sequence(wanted, full))
        if similarity > best:
            best, best_name = similarity, name
    return best, best_name


def score(row: ScreeningRow, document: dict[str, Any]) -> Scored:
    """How well ``document`` fits ``row``, with the contribution of each feature."""
    if row.uscc and document.get("uscc") == row.uscc:
        return Scored(
            document,
            1.0,
            [{"feature": "uscc", "matched": True, "contribution": 1.0, "detail": "same USCC"}],
        )
    parts: list[tuple[str, float, str]] = []
    if row.name:
        similarity, which = name_similarity(row.name, document.get("names") or [document["name"]])
        parts.append(("name", similarity, f"closest name {which}"))
        wanted_form = normalize_name(row.name).legal_form
        if wanted_form and document.get("legal_form"):
            same = wanted_form == document["legal_form"]
            parts.append(
                ("legal_form", 1.0 if same else 0.0, f"{wanted_form} / {document['legal_form']}")
            )
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
    return Scored(document, round(min(max(result, 0.0), 1.0), 4), explanation)


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


Search = Callable[[SearchQuery], list[dict[str, Any]]]


def screen_row(row: ScreeningRow, search: Search, thresholds: Thresholds) -> dict[str, Any]:
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
        for document in search(SearchQuery(text=row.uscc, size=1, facets=False)):
            candidates[document["id"]] = document
    exact = next((d for d in candidates.values() if d.get("uscc") == row.uscc), None)
    if exact is None and row.name:
        query = SearchQuery(text=row.name, size=CANDIDATES, match_any=True, facets=False)
        for document in search(query):
            candidates.setdefault(document["id"], document)
    ranked = sorted(
        (score(row, document) for document in candidates.values()),
        key=lambda s: (-s.score, s.document["id"]),
    )
    best = ranked[0].score if ranked else 0.0
    return {
        "reference": row.reference,
        "input": {"name": row.name, "uscc": row.uscc, "region": row.region},
        "decision": "match" if exact is not None else thresholds.decide(best),
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
                "decision": "match" if exact is s.document else thresholds.decide(s.score),
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


def backend_search(backend: Any, session: Any) -> Search:
    """Candidate retrieval through a backend: enterprises and shops (never persons by name)."""

    def search(query: SearchQuery) -> list[dict[str, Any]]:
        scoped = SearchQuery(
            text=query.text,
            kinds=("enterprise", "shop"),
            size=query.size,
            match_any=query.match_any,
            facets=False,
        )
        return [hit.document for hit in backend.search(scoped, session=session).hits]

    return search


def screen(
    rows: list[ScreeningRow], search: Search, thresholds: Thresholds
) -> list[dict[str, Any]]:
    results = []
    for index, row in enumerate(rows):
        result = screen_row(row, search, thresholds)
        results.append({"row": index, **result})
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
