"""The embedded backend: search inside the registry's own database, nothing else to run.

SQLite matches ``tokens`` through FTS5 and ranks with bm25; PostgreSQL matches a stored
``tsvector`` of them with a GIN index (``simple`` configuration: the tokens are already made)
and ranks with ``ts_rank``. Screening asks for candidates sharing any token with a name; the
tokens nearly every name has (科技, 北京) do not bring candidates in, which would otherwise
rank a fifth of the registry for every row, but they rank the candidates (PostgreSQL).

Documents are written with external versions, like an engine's: a write whose
version is not newer than the stored one changes nothing, and a deletion leaves a tombstone.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from search.query import (
    COMMON_TOKEN_FLOOR,
    COMMON_TOKENS_TTL_SECONDS,
    FACETS,
    SearchHit,
    SearchQuery,
    SearchResult,
    candidate_tokens,
    common_token_least,
    highlight,
)
from search.store import FTS_TABLE, FTS_VOCABULARY, SearchDocument

TABLE = cast(sa.Table, SearchDocument.__table__)
# PostgreSQL only: to_tsvector('simple', tokens), stored by the database (migration 0008).
TOKENS_VECTOR: sa.ColumnElement[Any] = sa.literal_column("search_documents.tokens_vector")

# Marks, in a connection's info, the transaction in which its searches plan per query.
_CUSTOM_PLANS = "creditreg.search.custom_plans"


def _uuid_key(value: str | uuid.UUID) -> str:
    """How the Uuid column stores an id on SQLite (32 hex digits), for the FTS table."""
    return uuid.UUID(str(value)).hex


def _row(document: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "subject_id": uuid.UUID(document["id"]),
        "version": int(document["version"]),
        "deleted": False,
        "kind": document["kind"],
        "region": document.get("region"),
        "industry": document.get("industry"),
        "grade": document.get("grade"),
        "lists": " ".join(document.get("lists") or []) or None,
        "uscc": document.get("uscc"),
        "shop_id": document.get("shop_id"),
        "id_number_hash": document.get("id_number_hash"),
        "name": document["name"],
        "name_normalised": document["name_normalised"],
        "tokens": document["tokens"],
        "document": document,
        "indexed_at": now,
    }


class SqlBackend:
    """Search inside the system of record itself."""

    name = "sql"

    def __init__(
        self,
        engine_getter: Callable[[], Engine],
        *,
        common_token_floor: int = COMMON_TOKEN_FLOOR,
        common_tokens_ttl: float = COMMON_TOKENS_TTL_SECONDS,
    ) -> None:
        self._engine_getter = engine_getter
        self.common_token_floor = common_token_floor
        self.common_tokens_ttl = common_tokens_ttl
        self._common_tokens: tuple[float, frozenset[str]] | None = None

    @property
    def engine(self) -> Engine:
        return self._engine_getter()

    @property
    def _sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    # --- writing -------------------------------------------------------------------------

    def ensure_index(self) -> None:
        """The table and its full-text index come with the migrations."""

    @contextmanager
    def _connection(self, session: Session | None) -> Iterator[Connection]:
        """The caller's transaction when it passes its session (the worker marks the outbox
        in the same one; tests roll it back), else a transaction of its own."""
        if session is not None:
            yield session.connection()
            return
        with self.engine.begin() as connection:
            yield connection

    def index(
        self, documents: Iterable[dict[str, Any]], *, session: Session | None = None
    ) -> dict[str, int]:
        """Write documents newer than what is stored; returns counts written and stale."""
        docs = {d["id"]: d for d in documents}
        if not docs:
            return {"written": 0, "stale": 0}
        now = datetime.now(UTC)
        with self._connection(session) as connection:
            stored = self._versions(connection, docs)
            fresh = [d for i, d in docs.items() if int(d["version"]) > stored.get(i, 0)]
            self._remove(connection, [d["id"] for d in fresh])
            if fresh:
                connection.execute(TABLE.insert(), [_row(d, now) for d in fresh])
                if self._sqlite:
                    connection.execute(
                        # FTS_TABLE is a constant of ours, not input.
                        sa.text(f"INSERT INTO {FTS_TABLE} (tokens, subject_id) VALUES (:t, :s)"),  # noqa: S608
                        [{"t": d["tokens"], "s": _uuid_key(d["id"])} for d in fresh],
                    )
        return {"written": len(fresh), "stale": len(docs) - len(fresh)}

    def delete(
        self, items: Iterable[tuple[str, int]], *, session: Session | None = None
    ) -> dict[str, int]:
        """Delete documents (id, version), leaving tombstones that keep the version."""
        wanted = dict(items)
        if not wanted:
            return {"deleted": 0, "stale": 0}
        now = datetime.now(UTC)
        with self._connection(session) as connection:
            stored = self._versions(connection, wanted)
            gone = [i for i, v in wanted.items() if int(v) > stored.get(i, 0)]
            self._remove(connection, gone)
            if gone:
                connection.execute(
                    TABLE.insert(),
                    [
                        {
                            "subject_id": uuid.UUID(i),
                            "version": int(wanted[i]),
                            "deleted": True,
                            "kind": "",
                            "name": "",
                            "name_normalised": "",
                            "tokens": "",
                            "document": {},
                            "indexed_at": now,
                        }
                        for i in gone
                    ],
                )
        return {"deleted": len(gone), "stale": len(wanted) - len(gone)}

    def replace_all(
        self, batches: Iterable[list[dict[str, Any]]], *, session: Session | None = None
    ) -> int:
        """Rebuild the whole table from ``batches`` of documents in one transaction: readers
        see the old documents until it commits, then the new ones."""
        now = datetime.now(UTC)
        written = 0
        with self._connection(session) as connection:
            connection.execute(TABLE.delete())
            if self._sqlite:
                connection.execute(sa.text(f"DELETE FROM {FTS_TABLE}"))  # noqa: S608
            for batch in batches:
                if not batch:
                    continue
                connection.execute(TABLE.insert(), [_row(d, now) for d in batch])
                if self._sqlite:
                    connection.execute(
                        sa.text(f"INSERT INTO {FTS_TABLE} (tokens, subject_id) VALUES (:t, :s)"),  # noqa: S608
                        [{"t": d["tokens"], "s": _uuid_key(d["id"])} for d in batch],
                    )
                written += len(batch)
        return written

    def _versions(self, connection: Connection, ids: Iterable[str]) -> dict[str, int]:
        keys = [uuid.UUID(i) for i in ids]
        rows = connection.execute(
            sa.select(TABLE.c.subject_id, TABLE.c.version).where(TABLE.c.subject_id.in_(keys))
        )
        return {str(subject_id): int(version) for subject_id, version in rows}

    def _remove(self, connection: Connection, ids: list[str]) -> None:
        if not ids:
            return
        connection.execute(
            TABLE.delete().where(TABLE.c.subject_id.in_([uuid.UUID(i) for i in ids]))
        )
        if self._sqlite:
            connection.execute(
                sa.text(f"DELETE FROM {FTS_TABLE} WHERE subject_id IN :keys").bindparams(  # noqa: S608
                    sa.bindparam("keys", expanding=True)
                ),
                {"keys": [_uuid_key(i) for i in ids]},
            )

    # --- reading -------------------------------------------------------------------------

    def get(self, subject_id: str, *, session: Session | None = None) -> dict[str, Any] | None:
        with self._connection(session) as connection:
            row = connection.execute(
                sa.select(TABLE.c.document).where(
                    TABLE.c.subject_id == uuid.UUID(subject_id), TABLE.c.deleted.is_(False)
                )
            ).first()
        return _as_dict(row[0]) if row else None

    def versions(self, *, session: Session | None = None) -> dict[str, int]:
        """Every live document's version."""
        return {i: v for page in self.version_pages(session=session) for i, v in page}

    def version_pages(
        self, *, session: Session | None = None, size: int = 1000
    ) -> Iterator[list[tuple[str, int]]]:
        """Every live document's (id, version), in pages in id order (for verify)."""
        after: uuid.UUID | None = None
        while True:
            query = (
                sa.select(TABLE.c.subject_id, TABLE.c.version)
                .where(TABLE.c.deleted.is_(False))
                .order_by(TABLE.c.subject_id)
                .limit(size)
            )
            if after is not None:
                query = query.where(TABLE.c.subject_id > after)
            with self._connection(session) as connection:
                rows = connection.execute(query).all()
            if rows:
                yield [(str(subject_id), int(version)) for subject_id, version in rows]
            if len(rows) < size:
                return
            after = rows[-1][0]

    def common_tokens(self, connection: Connection) -> frozenset[str]:
        """The common tokens (``search.query.common_token_least``), counted from the
        full-text index itself, which reads it whole: kept for ``common_tokens_ttl``."""
        cached = self._common_tokens
        if cached is not None and time.monotonic() - cached[0] < self.common_tokens_ttl:
            return cached[1]
        documents = connection.scalar(
            sa.select(sa.func.count()).select_from(TABLE).where(TABLE.c.deleted.is_(False))
        )
        least = common_token_least(int(documents or 0), self.common_token_floor)
        if self._sqlite:
            statement = sa.text(f"SELECT term FROM {FTS_VOCABULARY} WHERE doc > :least")  # noqa: S608
        else:
            statement = sa.text(
                "SELECT word FROM ts_stat('SELECT tokens_vector FROM search_documents') "
                "WHERE ndoc > :least"
            )
        common = frozenset(connection.scalars(statement, {"least": least}))
        self._common_tokens = (time.monotonic(), common)
        return common

    def _plan_per_query(self, connection: Connection) -> None:
        """On PostgreSQL, plan each search for its own parameters, for the rest of the
        transaction.

        psycopg prepares a statement once it has run a few times, and PostgreSQL may then
        settle on one generic plan, estimated without the query text. The same search
        statement matches ten documents for a full name and a hundred thousand for a common
        two-character fragment, so a plan fit for one is wrong for the other: after a few
        fragments, full-name lookups got a parallel plan whose worker start-up alone took
        20 ms of a 1 ms query (measured at 1,000,000 subjects). Planning a search costs a
        fraction of a millisecond. Set once per transaction: screening runs thousands of
        searches in one."""
        if self._sqlite:
            return
        transaction = connection.get_transaction()
        if connection.info.get(_CUSTOM_PLANS) is transaction:
            return
        connection.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))
        connection.info[_CUSTOM_PLANS] = transaction

    def search(self, query: SearchQuery, *, session: Session | None = None) -> SearchResult:
        with self._connection(session) as connection:
            self._plan_per_query(connection)
            matching, score = self._matching(query, connection)
            total = facets = None
            if query.facets:
                total, facets = self._total_and_facets(connection, matching)
            ranked = matching.add_columns(score.label("score")).subquery()
            page = sa.select(ranked.c.subject_id, ranked.c.document, ranked.c.score)
            if query.after is not None:
                last_score, last_id = query.after
                page = page.where(
                    sa.or_(
                        ranked.c.score < last_score,
                        sa.and_(
                            ranked.c.score == last_score,
                            ranked.c.subject_id > uuid.UUID(last_id),
                        ),
                    )
                )
            page = page.order_by(ranked.c.score.desc(), ranked.c.subject_id).limit(query.size)
            rows = connection.execute(page).all()
        return _result(query, rows, total, facets)

    def search_many(
        self, queries: list[SearchQuery], *, session: Session | None = None
    ) -> list[SearchResult]:
        """Each query answered as :meth:`search` answers it. On PostgreSQL, screening's asks
        (any token, no facets, no page token) that share their filters and size go in one
        statement: each ask's best candidates are found beside the others' (a lateral join
        over the asks), which spares every ask but one the round trip and planning of a
        statement of its own. The rest are searched one after the other."""
        answers: dict[int, SearchResult] = {}
        if not self._sqlite:
            alike: dict[tuple[Any, ...], list[int]] = {}
            for n, query in enumerate(queries):
                if query.match_any and query.tokens and not query.facets and not query.after:
                    key = (tuple(sorted(query.filters().items())), query.size)
                    alike.setdefault(key, []).append(n)
            for ns in alike.values():
                if len(ns) > 1:
                    found = self._candidates_of_each([queries[n] for n in ns], session)
                    answers.update(zip(ns, found, strict=True))
        return [
            answers[n] if n in answers else self.search(query, session=session)
            for n, query in enumerate(queries)
        ]

    def _candidates_of_each(
        self, queries: list[SearchQuery], session: Session | None
    ) -> list[SearchResult]:
        """Screening asks sharing their filters and size, in one statement (PostgreSQL):
        ranked and cut as :meth:`search` ranks and cuts each."""
        with self._connection(session) as connection:
            self._plan_per_query(connection)
            asks = []
            for n, query in enumerate(queries):
                wanted = self._candidate_tokens(query, connection)
                if wanted:  # else nothing to ask by: no candidates
                    asks.append(
                        (
                            n,
                            _tsquery_text(wanted, any_of=True),
                            _tsquery_text(query.tokens, any_of=True),
                        )
                    )
            rows: list[Any] = []
            if asks:
                given = sa.values(
                    sa.column("n", sa.Integer),
                    sa.column("matched", sa.Text),
                    sa.column("ranking", sa.Text),
                    name="given",
                ).data(asks)
                # Each ask's queries parsed once, not once per candidate row.
                ask = (
                    sa.select(
                        given.c.n,
                        sa.func.to_tsquery("simple", given.c.matched).label("matched"),
                        sa.func.to_tsquery("simple", given.c.ranking).label("ranking"),
                    )
                    .cte("ask")
                    .prefix_with("MATERIALIZED")
                )
                score: sa.ColumnElement[float] = sa.cast(
                    sa.func.ts_rank(TOKENS_VECTOR, ask.c.ranking), sa.Double()
                )
                best = (
                    self._filtered(queries[0])
                    .add_columns(score.label("score"))
                    .where(TOKENS_VECTOR.op("@@")(ask.c.matched))
                    .order_by(sa.desc("score"), TABLE.c.subject_id)
                    .limit(queries[0].size)
                    .lateral("best")
                )
                statement = sa.select(
                    ask.c.n, best.c.subject_id, best.c.document, best.c.score
                ).join_from(ask, best, sa.true())
                rows = list(connection.execute(statement))
        # Each ask's rows in the order search() gives them (the lateral join keeps none).
        found: dict[int, list[Any]] = {n: [] for n in range(len(queries))}
        for n, subject_id, document, score_value in sorted(rows, key=lambda r: (r[0], -r[3], r[1])):
            found[n].append((subject_id, document, score_value))
        return [_result(query, found[n], None, None) for n, query in enumerate(queries)]

    def _candidate_tokens(self, query: SearchQuery, connection: Connection) -> list[str]:
        """The tokens that bring a screening ask's candidates in (``candidate_tokens``); the
        ask by the trade name as written takes its one token, common or not: nothing to
        count."""
        common = frozenset() if query.by_exact_trade_name else self.common_tokens(connection)
        return candidate_tokens(query, common)

    @staticmethod
    def _filtered(query: SearchQuery) -> sa.Select[Any]:
        """The live documents (subject_id, document) that pass the query's filters."""
        base = sa.select(TABLE.c.subject_id, TABLE.c.document).where(TABLE.c.deleted.is_(False))
        for name, values in query.filters().items():
            column = TABLE.c[name]
            if name == "lists":
                # A space-separated set: match one whole word of it.
                padded = sa.func.coalesce(" " + column + " ", "")
                base = base.where(sa.or_(*(padded.contains(f" {v} ") for v in values)))
            else:
                base = base.where(column.in_(values))
        return base

    def _matching(self, query: SearchQuery, connection: Connection) -> tuple[sa.Select[Any], Any]:
        """The matching documents (subject_id, document) and their score expression."""
        base = self._filtered(query)
        uscc = query.uscc
        if uscc is not None:
            return base.where(TABLE.c.uscc == uscc), sa.literal(1.0)
        tokens: list[str] = query.tokens
        if not tokens:
            return base, sa.literal(0.0)
        # Screening: candidates share a rare token with the name, and rank by every token
        # of it, so that among those sharing 华瑞 the ones in 北京 and in 科技 come first.
        wanted = self._candidate_tokens(query, connection) if query.match_any else tokens
        if not wanted:  # a trade-name ask for a name that has none
            return base.where(sa.false()), sa.literal(0.0)
        if self._sqlite:
            # FTS5 ranks by the terms it matched: here, the rare ones only.
            fts = sa.table(FTS_TABLE, sa.column("subject_id"), sa.column("rank"))
            joiner = " OR " if query.match_any else " "
            match = joiner.join(
                _fts5_term(t, last=not query.match_any and i == len(wanted) - 1)
                for i, t in enumerate(wanted)
            )
            ranked = (
                sa.select(
                    fts.c.subject_id, (-sa.func.bm25(sa.literal_column(FTS_TABLE))).label("s")
                )
                .where(sa.literal_column(FTS_TABLE).op("MATCH")(match))
                .subquery()
            )
            # The FTS table keeps ids as the Uuid column stores them on SQLite (32 hex
            # digits), so the join is on the primary key itself and uses its index.
            joined = base.join_from(
                TABLE, ranked, ranked.c.subject_id == sa.type_coerce(TABLE.c.subject_id, sa.String)
            )
            return joined, ranked.c.s
        vector = TOKENS_VECTOR
        matched = _tsquery(wanted, any_of=query.match_any)
        ranking = _tsquery(tokens, any_of=query.match_any)
        # ts_rank is single precision; the page token carries a double. Ranking in double
        # precision makes the token compare equal to the score it came from, so a page that
        # ends in a tie goes on with the next id instead of skipping the rest of the tie.
        rank: sa.ColumnElement[float] = sa.cast(sa.func.ts_rank(vector, ranking), sa.Double())
        return base.where(vector.op("@@")(matched)), rank

    def _total_and_facets(
        self, connection: Connection, matching: sa.Select[Any]
    ) -> tuple[int, dict[str, dict[str, int]]]:
        """The number of matches and the facet counts, in one statement: the matching set
        is computed once (a common table expression) and grouped by each facet."""
        columns = [TABLE.c.subject_id, *(TABLE.c[name] for name in FACETS)]
        matched = matching.with_only_columns(*columns).cte("matched")
        label = sa.String(16)
        parts = [
            sa.select(
                sa.literal("total", label).label("facet"),
                sa.cast(sa.null(), sa.String).label("value"),
                sa.func.count().label("n"),
            ).select_from(matched)
        ]
        for name in FACETS:
            column = matched.c[name]
            parts.append(
                sa.select(sa.literal(name, label), sa.cast(column, sa.String), sa.func.count())
                .where(column.is_not(None))
                .group_by(column)
            )
        total = 0
        facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
        for facet, value, count in connection.execute(sa.union_all(*parts)):
            if facet == "total":
                total = int(count)
                continue
            for part in str(value).split() if facet == "lists" else [str(value)]:
                facets[facet][part] = facets[facet].get(part, 0) + int(count)
        return total, facets

    # --- operations ----------------------------------------------------------------------

    def health(self) -> Any:
        from search.backends import SearchHealth

        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            return SearchHealth(self.name, False, f"database unreachable: {type(exc).__name__}")
        return SearchHealth(
            self.name, True, "served by the database", {"dialect": self.engine.dialect.name}
        )

    def close(self) -> None:
        pass


def _as_dict(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


def _fts5_term(token: str, *, last: bool) -> str:
    # Tokens are letters, digits and CJK characters only; quoting keeps FTS5 syntax out.
    quoted = '"' + token.replace('"', "") + '"'
    # The last Latin word may be unfinished: match it as a prefix ("huax" finds "huaxin").
    return quoted + "*" if last and token.isascii() else quoted


def _tsquery(tokens: list[str], *, any_of: bool) -> sa.ColumnElement[Any]:
    """All of ``tokens`` (the last one as a prefix when Latin), or any of them."""
    return sa.func.to_tsquery("simple", _tsquery_text(tokens, any_of=any_of))


def _tsquery_text(tokens: list[str], *, any_of: bool) -> str:
    return (" | " if any_of else " & ").join(
        _tsquery_term(t, last=not any_of and i == len(tokens) - 1) for i, t in enumerate(tokens)
    )


def _tsquery_term(token: str, *, last: bool) -> str:
    quoted = "'" + token.replace("'", "").replace("\\", "") + "'"
    return quoted + ":*" if last and token.isascii() else quoted


def _result(
    query: SearchQuery,
    rows: Iterable[Any],
    total: int | None,
    facets: dict[str, dict[str, int]] | None,
) -> SearchResult:
    """The hits of (subject_id, document, score) rows, best first, and the next page's token
    when the page is full."""
    hits = [
        SearchHit(
            id=str(subject_id),
            score=float(score_value),
            document=(doc := _as_dict(document)),
            highlights=highlight(doc.get("names", []), query.tokens),
        )
        for subject_id, document, score_value in rows
    ]
    next_after = (hits[-1].score, hits[-1].id) if len(hits) == query.size else None
    return SearchResult(hits, int(total or len(hits)), facets or {}, next_after)
