"""Match quality on Chinese enterprise names: the registry's screening and its peers, on one
labelled set.

    make bench-matching   # once: the peers (nomenklatura, rapidfuzz) into .venv
    .venv/bin/python bench/matching/evaluate.py [--database-url URL] [--subjects 5000]
        [--queries 2400] [--negatives 600] [--seed 20240601] [--markdown FILE]
        [--details FILE.jsonl] [--examples 4] [--yente-threshold 0.7]
        [--fuzz-threshold 90] [--no-peers]

1. The set (``dataset.py``, from ``--seed``): ``--subjects`` enterprises and ``--queries``
   labelled screening rows spread over twelve kinds of variant, plus ``--negatives`` near
   misses whose right answer is "no such company".
2. The subjects go into a fresh database through the registry's own code (``check_subject``,
   ``add_subject``, ``rename_subject`` for a former name: audit events and search outbox
   included) and the outbox is drained into the SQL search backend (``search.sync.drain``).
   Without ``--database-url``: a SQLite file in a temporary directory. A PostgreSQL URL must
   name a database you can wipe (its name contains "bench" or "test").
3. Each row is screened as ``POST /api/v1/screening`` screens it: ``normalise_row``, then
   ``screen_row`` over ``backend_search`` with the configured ``Thresholds``. Recorded: the
   rank of the right company among the matches shown, the decision and the score.
4. The peers (``peers.py``) answer the same rows: yente's algorithms rank the candidates the
   registry's search retrieved, rapidfuzz searches all names.

The report: recall@1 per kind and overall, "match" precision, "match" and "possible"
decisions on the near misses, rows/s; then, per kind, a few rows the registry got wrong
(query → expected, got). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from harness import wipe_database  # noqa: E402

from api.screening import thresholds  # noqa: E402
from bench.matching.dataset import (  # noqa: E402
    KINDS,
    NEGATIVE_KINDS,
    EvaluationSet,
    Query,
    generate,
)
from bench.matching.scoring import Figures, Outcome, figures  # noqa: E402
from registry import migrate  # noqa: E402
from registry.app import create_app  # noqa: E402
from registry.audit import Actor  # noqa: E402
from registry.db import db  # noqa: E402
from registry.runtime import current_runtime  # noqa: E402
from registry.subjects import add_subject, check_subject, rename_subject  # noqa: E402
from search.screening import backend_search, normalise_row, screen_row  # noqa: E402
from search.sql import SqlBackend  # noqa: E402
from search.sync import drain  # noqa: E402

ACTOR = Actor.system("bench-matching")
Search = Callable[[Any], list[dict[str, Any]]]  # a SearchQuery in, documents out
FLUSH_EVERY = 500


@dataclass
class RegistryAnswer:
    query: Query
    outcome: Outcome
    matches: list[dict[str, Any]]  # as screen_row shows them
    candidates: list[tuple[str, dict[str, Any]]]  # (subject key, document), as retrieved


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def registry_app(database_url: str | None) -> Iterator[Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'matching.db'}"
        if url.startswith("postgresql"):
            url = wipe_database(url)
        app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
        with app.app_context():
            migrate.upgrade(db.engine)
            try:
                yield app
            finally:
                db.session.rollback()
                db.dispose(app)


def seed(dataset: EvaluationSet) -> dict[str, str]:
    """The subjects through the registry's own operations; returns subject id -> key."""
    vault = current_runtime().vault
    session = db.session
    start = datetime(2020, 1, 1, tzinfo=UTC)
    renamed = []
    keys: dict[str, str] = {}
    for number, spec in enumerate(dataset.subjects):
        draft = check_subject(
            vault=vault,
            kind="enterprise",
            name=spec.former_name or spec.name,
            uscc=spec.uscc,
            region_code=spec.region_code,
            industry_code=spec.industry_code,
        )
        subject = add_subject(session, actor=ACTOR, draft=draft, at=start)
        keys[str(subject.id)] = spec.key
        if spec.former_name:
            renamed.append((subject, spec.name))
        if (number + 1) % FLUSH_EVERY == 0:
            session.flush()
    session.flush()
    for subject, name in renamed:
        rename_subject(
            session, actor=ACTOR, subject=subject, new_name=name, now=start + timedelta(days=400)
        )
    session.commit()
    return keys


def index(backend: SqlBackend) -> int:
    documents = 0
    while handled := drain(db.session, backend, datetime.now(UTC), max_batches=50):
        documents += handled
    engine = db.engine
    # Fresh statistics, as autovacuum would leave them, so the planner sees the real tables.
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(sa.text("ANALYZE"))
    return documents


def keeping(search: Search, retrieved: dict[str, dict[str, Any]]) -> Search:
    """``search``, keeping every document it returns (the candidates the peers rank)."""

    def kept(queries: list[Any]) -> list[list[dict[str, Any]]]:
        answers = search(queries)
        for document in (d for documents in answers for d in documents):
            retrieved.setdefault(document["id"], document)
        return answers

    return kept


def screen_all(
    dataset: EvaluationSet, backend: SqlBackend, keys: dict[str, str]
) -> tuple[list[RegistryAnswer], float]:
    """Every query screened as the API screens a row; returns the answers and the seconds
    screening took (retrieval, scoring and deciding)."""
    limits = thresholds()
    search = backend_search(backend, db.session)
    answers = []
    seconds = 0.0
    for query in dataset.queries:
        retrieved: dict[str, dict[str, Any]] = {}
        started = time.perf_counter()
        row, _ = normalise_row({**query.row, "reference": query.key})
        result = screen_row(row, keeping(search, retrieved), limits)
        seconds += time.perf_counter() - started
        ranked = tuple(keys.get(m["subject_id"], "?") for m in result["matches"])
        outcome = Outcome(query.kind, query.expected, ranked, result["decision"], result["score"])
        candidates = [(keys.get(i, "?"), d) for i, d in retrieved.items()]
        answers.append(RegistryAnswer(query, outcome, result["matches"], candidates))
    db.session.rollback()
    return answers, seconds


def run_peers(
    dataset: EvaluationSet, answers: list[RegistryAnswer], args: argparse.Namespace
) -> list[tuple[str, list[Outcome], float, str]]:
    """(peer, outcomes, rows/s, what counts as its match) for each peer that can run."""
    try:
        import nomenklatura.matching  # noqa: F401 - the yente peers need it, not this module

        from bench.matching.peers import YENTE_ALGORITHMS, FuzzPeer, YentePeer
    except ImportError as exc:
        progress(f"peers skipped: {exc} (install them: make bench-matching)")
        return []
    names = [(s.key, s.name) for s in dataset.subjects] + [
        (s.key, s.former_name) for s in dataset.subjects if s.former_name
    ]
    peers: list[Any] = [YentePeer(a, args.yente_threshold) for a in YENTE_ALGORITHMS]
    peers += [FuzzPeer(scorer, args.fuzz_threshold, names) for scorer in ("ratio", "WRatio")]
    results = []
    for peer in peers:
        progress(f"peer {peer.name}")
        for answer in answers:
            if isinstance(peer, YentePeer):
                peer.answer(answer.query.row, answer.candidates)
            else:
                peer.answer(answer.query.row)
        outcomes = [
            Outcome(a.query.kind, a.query.expected, p.ranked, peer.decision(p), p.score)
            for a, p in zip(answers, peer.answers, strict=True)
        ]
        rate = len(answers) / peer.seconds if peer.seconds else 0.0
        results.append((peer.name, outcomes, rate, f"score >= {peer.threshold:g}"))
    return results


# --- the report -----------------------------------------------------------------------------


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def retrieval_recall(answers: list[RegistryAnswer], kind: str) -> str:
    rows = [a for a in answers if a.query.kind == kind]
    found = sum(a.query.expected in {key for key, _ in a.candidates} for a in rows)
    return percent(found / len(rows)) if rows else "–"


def shown_arguments() -> str:
    """The command's arguments, a database URL's password masked."""
    shown = []
    for argument in sys.argv[1:]:
        if "://" in argument:
            argument = sa.make_url(argument).render_as_string(hide_password=True)
        elif argument.startswith("--database-url="):
            url = argument.split("=", 1)[1]
            argument = "--database-url=" + sa.make_url(url).render_as_string(hide_password=True)
        shown.append(argument)
    return " ".join(shown)


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def report(
    dataset: EvaluationSet,
    answers: list[RegistryAnswer],
    rate: float,
    peers: list[tuple[str, list[Outcome], float, str]],
    args: argparse.Namespace,
    dialect: str,
    limits: Any,
) -> str:
    ours = figures([a.outcome for a in answers])
    theirs = [(name, figures(outcomes)) for name, outcomes, _, _ in peers]
    both = [ours] + [f for _, f in theirs]

    def row(*cells: object) -> str:
        return "| " + " | ".join(str(cell) for cell in cells) + " |"

    def decisions(kind: Any) -> str:
        counts = kind.decisions
        text = f"{counts['match']} / {counts['possible']} / {counts['none']}"
        return text + (f" / {counts['error']}" if counts["error"] else "")

    names = [name for name, _ in theirs]
    lines = [
        f"{len(dataset.subjects):,} subjects, {ours.positives:,} queries and"
        f" {ours.negatives:,} near misses (seed {dataset.seed}); registry on {dialect}, SQL"
        f" search backend, thresholds match {limits.match:g} / possible {limits.possible:g};"
        f" commit {commit()}",
        "",
        f"command: `.venv/bin/python bench/matching/evaluate.py {shown_arguments()}`",
        "",
        "Recall@1 (%: the right company ranked first) by kind of query; flagged: first and"
        ' decided match or possible (first under "none" passes unflagged); registry'
        " decisions match / possible / none (/ error); retrieved: the right company among the"
        " registry's candidates (what the yente algorithms rank).",
        "",
        row("kind", "queries", "registry", "flagged", "decisions", "retrieved", *names),
        "|---|---:|---:|---:|---|---:|" + "---:|" * len(theirs),
    ]
    for kind_name in KINDS:
        kind = ours.by_kind.get(kind_name)
        if kind is not None:
            lines.append(
                row(
                    kind_name,
                    kind.queries,
                    percent(kind.recall_at_1),
                    percent(kind.flagged_at_1),
                    decisions(kind),
                    retrieval_recall(answers, kind_name),
                    *(percent(f.by_kind[kind_name].recall_at_1) for _, f in theirs),
                )
            )
    lines.append(
        row(
            "**all**",
            ours.positives,
            f"**{percent(ours.recall_at_1)}**",
            percent(ours.flagged_at_1),
            "",
            "",
            *(f"**{percent(f.recall_at_1)}**" for _, f in theirs),
        )
    )
    lines += [
        "",
        'Near misses (no such company): "match" decisions are false matches; registry'
        " decisions match / possible / none, peers' false matches.",
        "",
        row("kind", "queries", "registry", *names),
        "|---|---:|---|" + "---:|" * len(theirs),
    ]
    for kind_name in NEGATIVE_KINDS:
        kind = ours.by_kind.get(kind_name)
        if kind is not None:
            false_matches = (f.by_kind[kind_name].decisions["match"] for _, f in theirs)
            lines.append(row(kind_name, kind.queries, decisions(kind), *false_matches))
    lines += [
        "",
        row("", "registry", *names),
        "|---|---|" + "---|" * len(theirs),
        row("what counts as a match", 'decision "match"', *(rule for _, _, _, rule in peers)),
        row("recall@1, all kinds", *(percent(f.recall_at_1) for f in both)),
        row('"match" precision', *(precision(f) for f in both)),
        row(
            f"false matches on the {ours.negatives} near misses",
            *(f.negative_matches for f in both),
        ),
        row('"possible" on the near misses', ours.negative_possible, *("–" for _ in theirs)),
        row("rows/s", f"{rate:,.0f}", *(f"{r:,.0f}" for _, _, r, _ in peers)),
        "",
        "rows/s: the registry's whole screening of a row (retrieval, scoring, decision); a"
        " yente algorithm's scoring of the retrieved candidates alone; rapidfuzz's search of"
        " all names. rapidfuzz reads names only (a row with a code and no name is a miss).",
    ]
    lines += losses(answers, dataset, args.examples)
    return "\n".join(lines) + "\n"


def precision(f: Figures) -> str:
    if f.match_precision is None:
        return "–"
    return f"{percent(f.match_precision)} ({f.right_matches}/{f.matches})"


def losses(answers: list[RegistryAnswer], dataset: EvaluationSet, count: int) -> list[str]:
    """A few rows per kind the registry got wrong: the right company not first or not
    flagged, or a "match" on a near miss."""
    lines = [
        "",
        "Registry losses, a few per kind (query → expected; got: decision score name):",
        "",
    ]
    for kind_name in (*KINDS, *NEGATIVE_KINDS):
        wrong = [
            a
            for a in answers
            if a.query.kind == kind_name
            and (
                (a.query.expected is not None and not a.outcome.flagged_first)
                or (a.query.expected is None and a.outcome.decision == "match")
            )
        ]
        for answer in wrong[:count]:
            expected = (
                dataset.by_key[answer.query.expected].name if answer.query.expected else "none"
            )
            top = answer.matches[0] if answer.matches else None
            got = f"{top['decision']} {top['score']:.3f} {top['name']}" if top else "nothing"
            shown = json.dumps(answer.query.row, ensure_ascii=False)
            lines.append(f"- {kind_name}: {shown} → {expected}; got: {got}")
    return lines


def write_details(path: str, dataset: EvaluationSet, answers: list[RegistryAnswer]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for a in answers:
            expected = dataset.by_key[a.query.expected].name if a.query.expected else None
            record = {
                "query": a.query.key,
                "kind": a.query.kind,
                "row": a.query.row,
                "expected": expected,
                "rank": a.outcome.rank,
                "decision": a.outcome.decision,
                "score": a.outcome.score,
                "matches": [
                    {k: m.get(k) for k in ("name", "score", "decision")} for m in a.matches
                ],
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--subjects", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=2400, help="labelled, over 12 kinds")
    parser.add_argument("--negatives", type=int, default=600, help="near misses, over 3 kinds")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--markdown", default=None, help="also write the report to this file")
    parser.add_argument("--details", default=None, help="every registry answer, JSON lines")
    parser.add_argument("--examples", type=int, default=4, help="losses shown per kind")
    parser.add_argument("--yente-threshold", type=float, default=0.7)
    parser.add_argument("--fuzz-threshold", type=float, default=90.0)
    parser.add_argument("--no-peers", dest="peers", action="store_false")
    args = parser.parse_args()

    dataset = generate(args.subjects, args.queries, args.negatives, args.seed)
    progress(f"{len(dataset.subjects):,} subjects, {len(dataset.queries):,} queries")
    with registry_app(args.database_url):
        started = time.perf_counter()
        keys = seed(dataset)
        progress(f"seeded in {time.perf_counter() - started:.1f} s")
        backend = SqlBackend(lambda: db.engine)
        started = time.perf_counter()
        documents = index(backend)
        progress(f"indexed {documents:,} documents in {time.perf_counter() - started:.1f} s")
        answers, seconds = screen_all(dataset, backend, keys)
        progress(f"screened {len(answers):,} rows in {seconds:.1f} s")
        limits = thresholds()
        dialect = db.engine.dialect.name
    peers = run_peers(dataset, answers, args) if args.peers else []
    text = report(dataset, answers, len(answers) / seconds, peers, args, dialect, limits)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    if args.details:
        write_details(args.details, dataset, answers)


if __name__ == "__main__":
    main()
