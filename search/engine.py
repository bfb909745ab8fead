"""Elasticsearch and OpenSearch: one query DSL, two official clients.

The Elasticsearch client insists on its own compatibility media types, which OpenSearch
servers refuse, so each engine gets its own client; both receive the same bodies.

Matching runs on ``tokens``, the text the application made (CJK unigrams and bigrams, Latin
words, pinyin) indexed with a whitespace analyzer, so an engine matches exactly what the SQL
backend matches. Names are also analysed by the engine (``search.analysis``: Traditional to
Simplified, width, legal forms, CJK bigrams), which ranks a lookup's matches; screening's
candidates rank by the name's tokens, as on PostgreSQL. Screening leaves out the common tokens as
the SQL backend does (``search.query.COMMON_TOKEN_SHARE``), so both pick candidates from the
same tokens and reach the same decisions.
Documents are written with external versions (the subject's revision): a retry or a late
write of an older state is refused by the engine and counted as stale, never applied.
A bulk write keeps what the engine took: items it could not take for the moment (a blocked
index, an overloaded node) are sent again after a pause, and whatever still failed comes
back as :class:`ItemErrors`, told apart from documents the engine refuses outright.
The ``session`` argument of the interface is for the SQL backend; engines ignore it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from search.analysis import analysis_settings
from search.documents import CATEGORIES, POLARITIES
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

log = logging.getLogger(__name__)

_KEYWORD = {"type": "keyword"}
_CODE = {"type": "keyword", "normalizer": "code"}
_COUNT = {"type": "integer"}


def _counts_mapping() -> dict[str, Any]:
    per_polarity = {"type": "object", "properties": {p: _COUNT for p in POLARITIES}}
    return {
        "type": "object",
        "properties": {
            "total": _COUNT,
            **{p: _COUNT for p in POLARITIES},
            "by_category": {
                "type": "object",
                "properties": {c: per_polarity for c in CATEGORIES},
            },
        },
    }


MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": _KEYWORD,
        "version": {"type": "long"},
        "kind": _KEYWORD,
        "name": {"type": "text", "analyzer": "cjk_name", "fields": {"sort": _CODE}},
        "names": {"type": "text", "analyzer": "cjk_name"},
        "name_normalised": _CODE,
        "name_base": {"type": "text", "analyzer": "cjk_name"},
        "legal_form": _KEYWORD,
        "pinyin": _CODE,
        "initials": _CODE,
        "uscc": _CODE,
        "shop_id": _CODE,
        "platform_id": _KEYWORD,
        "operator_uscc": _CODE,
        "id_number_hash": _KEYWORD,
        "region": _KEYWORD,
        "industry": _KEYWORD,
        "lists": _KEYWORD,
        "list_entries": {
            "type": "object",
            "properties": {
                "list": _KEYWORD,
                "authority": {"type": "text", "analyzer": "cjk_name"},
                "since": {"type": "date"},
                "until": {"type": "date"},
                "disputed": {"type": "boolean"},
            },
        },
        "disputed": _COUNT,
        "grade": _KEYWORD,
        "record_counts": _counts_mapping(),
        "updated_at": {"type": "date"},
        "tokens": {"type": "text", "analyzer": "app_tokens"},
        # The parts of the current name (registry.name_parts), and every name's trade name.
        "name_parts": {
            "type": "object",
            "properties": {
                "division": _KEYWORD,
                "trade_name": _KEYWORD,
                "industry": _KEYWORD,
                "branch": _KEYWORD,
            },
        },
        "trade_names": _KEYWORD,
    },
}


# One item of a bulk request: its action line, then its document (none for a delete).
BulkAction = tuple[dict[str, Any], ...]

# Item errors that say nothing against the document itself: the index is blocked (by an
# operator, or by the engine when its disk fills up), closed or missing. With 408, 429
# and 5xx (an overloaded or recovering node) they are tried again; any other error is the
# engine refusing the document as it is (a mapping that rejects a field, say), which no
# retry can change.
INDEX_ERRORS = frozenset(
    {"cluster_block_exception", "index_closed_exception", "index_not_found_exception"}
)


@dataclass(frozen=True)
class ItemError:
    """One item of a bulk write that the engine did not apply."""

    subject_id: str
    version: int
    status: int
    type: str
    reason: str

    @classmethod
    def of(cls, action: dict[str, Any], status: int, error: Any) -> ItemError:
        (meta,) = action.values()
        if not isinstance(error, dict):
            error = {"type": str(error or status)}
        return cls(
            subject_id=str(meta["_id"]),
            version=int(meta["version"]),
            status=status,
            type=str(error.get("type", status)),
            # Bounded: a reason may quote the document's value at length.
            reason=str(error.get("reason") or "")[:500],
        )

    @property
    def transient(self) -> bool:
        return self.type in INDEX_ERRORS or self.status in (408, 429) or self.status >= 500


class ItemErrors(RuntimeError):
    """Some items of a bulk write failed; every other item was applied (``counts``).

    ``refused``: documents the engine will not take as they are; ``deferred``: items that
    still failed for the moment after the retries, to be written again later.
    """

    def __init__(
        self, counts: dict[str, int], refused: list[ItemError], deferred: list[ItemError]
    ) -> None:
        kinds = sorted({error.type for error in refused + deferred})
        super().__init__(
            f"the engine refused {len(refused)} item(s) and deferred {len(deferred)}: {kinds}"
        )
        self.counts = counts
        self.refused = refused
        self.deferred = deferred


class SearchFailed(RuntimeError):
    """One search of a multi-search failed (the engine answers the others): ``status`` and
    ``error`` as the engine gave them."""

    def __init__(self, status: int | None, error: Any) -> None:
        kind = error.get("type") if isinstance(error, dict) else error
        super().__init__(f"the engine failed a search ({status}): {kind}")
        self.status = status
        self.error = error


# Tokens whose documents one multi-search counts (EngineBackend.common_among).
TOKENS_COUNTED_AT_ONCE = 300

BULK_LOAD_SETTINGS = {
    "refresh_interval": "-1",
    "number_of_replicas": "0",
    "translog.durability": "async",
}


class EngineBackend:
    """An Elasticsearch or OpenSearch cluster; subclasses only make the client."""

    name = "engine"

    def __init__(
        self,
        client: Any,
        index_prefix: str,
        *,
        common_token_floor: int = COMMON_TOKEN_FLOOR,
        common_tokens_ttl: float = COMMON_TOKENS_TTL_SECONDS,
        shards: int = 1,
        replicas: int | None = None,
    ) -> None:
        self.client = client
        self.alias = f"{index_prefix}-subjects"
        # Of each new versioned index; an existing index keeps what it was made with. No
        # replicas given: the cluster's index template (or its default) decides.
        self.shards = shards
        self.replicas = replicas
        self.common_token_floor = common_token_floor
        self.common_tokens_ttl = common_tokens_ttl
        # What was found out about tokens: since when, the threshold counted then, and token
        # -> common or not. Request threads share it: it is replaced whole when it expires,
        # and its answers are only ever added, one key at a time.
        self._commonness: tuple[float, int, dict[str, bool]] | None = None
        # Whether the live index has been given this release's fields (once per process).
        self._mapping_brought_up = False

    # --- index management ----------------------------------------------------------------

    def index_name(self, generation: int) -> str:
        return f"{self.alias}-v{generation}"

    def ensure_index(self) -> None:
        """Create the first versioned index behind the alias, unless the alias exists; an
        index made by an earlier release gets the fields this one added to the mapping (the
        mapping is strict: it would refuse documents that carry them). Fields only ever
        added: a change to an existing field's analysis needs ``search reindex``."""
        if not self.client.indices.exists_alias(name=self.alias):
            self.create_index(self.index_name(1), alias=True)
        elif not self._mapping_brought_up:
            self._add_missing_fields()
        self._mapping_brought_up = True

    def _add_missing_fields(self) -> None:
        """Put on the live index the fields of MAPPING it lacks (only those: a field it has
        with another definition is for a reindex to change, and must not stop indexing)."""
        (current,) = self.client.indices.get_mapping(index=self.alias).values()
        have = current.get("mappings", {}).get("properties", {})
        missing = {k: v for k, v in MAPPING["properties"].items() if k not in have}
        if not missing:
            return
        try:
            self.client.indices.put_mapping(index=self.alias, body={"properties": missing})
        except Exception:  # noqa: BLE001 - documents carrying them will be refused and say so
            log.warning("could not add fields %s to the search index", sorted(missing))

    def create_index(self, name: str, *, alias: bool = False) -> None:
        body: dict[str, Any] = {
            "settings": {
                "number_of_shards": self.shards,
                "analysis": analysis_settings(),
                **({"number_of_replicas": self.replicas} if self.replicas is not None else {}),
            },
            "mappings": MAPPING,
        }
        if alias:
            body["aliases"] = {self.alias: {}}
        self.client.indices.create(index=name, body=body)

    def refresh(self) -> None:
        self.client.indices.refresh(index=self.alias)

    def current_index(self) -> str | None:
        """The versioned index the alias points at."""
        if not self.client.indices.exists_alias(name=self.alias):
            return None
        (name,) = self.client.indices.get_alias(name=self.alias).keys()
        return str(name)

    def next_index(self) -> str:
        current = self.current_index()
        generation = int(current.rsplit("-v", 1)[1]) + 1 if current and "-v" in current else 1
        return self.index_name(generation)

    def swap_alias(self, old: str | None, new: str) -> None:
        """Point the alias at ``new`` in one atomic step; searches never see a gap."""
        actions: list[dict[str, Any]] = [{"add": {"index": new, "alias": self.alias}}]
        if old is not None:
            actions.insert(0, {"remove": {"index": old, "alias": self.alias}})
        self.client.indices.update_aliases(body={"actions": actions})

    def drop_index(self, name: str) -> None:
        self.client.indices.delete(index=name)

    def stray_indices(self) -> list[str]:
        """The alias's versioned indices it does not point at: a rebuild that died before
        its switch, or an old generation a rebuild died before dropping."""
        found = self.client.indices.get(
            index=f"{self.alias}-v*", expand_wildcards="open,closed", ignore_unavailable=True
        )
        current = self.current_index()
        return sorted(name for name in found if name != current)

    def begin_bulk_load(self, index: str | None = None) -> dict[str, str | None]:
        """Settings for writing many documents at once (a first load, a rebuild): no
        refresh until :meth:`end_bulk_load`, no replicas to copy each write to, and the
        translog synced in the background rather than on every bulk request. Documents
        written meanwhile are not searchable, and a node lost before the translog's next
        sync (5 s) loses its last writes: the outbox rows are marked processed, so
        ``search verify --repair`` or the rebuild must be run again. Returns the settings
        replaced (None: the engine's default), for :meth:`end_bulk_load`."""
        name = index or self.alias
        answer = self.client.indices.get_settings(index=name, flat_settings=True)
        (current,) = (entry["settings"] for entry in answer.values())
        previous = {key: current.get(f"index.{key}") for key in BULK_LOAD_SETTINGS}
        self.client.indices.put_settings(index=name, body={"index": BULK_LOAD_SETTINGS})
        return previous

    def end_bulk_load(self, previous: dict[str, str | None], index: str | None = None) -> None:
        """Put back the settings :meth:`begin_bulk_load` replaced, and refresh."""
        name = index or self.alias
        self.client.indices.put_settings(index=name, body={"index": previous})
        self.client.indices.refresh(index=name)

    # --- writing -------------------------------------------------------------------------

    # Pauses before each new try of the items a bulk write could not place for the moment;
    # the whole series stays well inside a worker round.
    retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0)

    def index(
        self,
        documents: Iterable[dict[str, Any]],
        *,
        target: str | None = None,
        session: Session | None = None,
    ) -> dict[str, int]:
        """Write documents with external versions; returns counts written and stale.

        Raises :class:`ItemErrors` when the engine did not take some of them (the others
        are written), and the client's transport errors when the engine does not answer.
        """
        actions: list[BulkAction] = [
            (
                {
                    "index": {
                        "_index": target or self.alias,
                        "_id": document["id"],
                        "version": int(document["version"]),
                        "version_type": "external",
                    }
                },
                document,
            )
            for document in documents
        ]
        if not actions:
            return {"written": 0, "stale": 0}
        return self._bulk(actions, "written")

    def delete(
        self,
        items: Iterable[tuple[str, int]],
        *,
        target: str | None = None,
        session: Session | None = None,
    ) -> dict[str, int]:
        """Delete documents (id, version); returns counts deleted and stale. Raises as
        :meth:`index` does."""
        actions: list[BulkAction] = [
            (
                {
                    "delete": {
                        "_index": target or self.alias,
                        "_id": subject_id,
                        "version": int(version),
                        "version_type": "external",
                    }
                },
            )
            for subject_id, version in items
        ]
        if not actions:
            return {"deleted": 0, "stale": 0}
        return self._bulk(actions, "deleted")

    def _bulk(self, actions: list[BulkAction], done: str) -> dict[str, int]:
        """Send the actions; try again, after a pause, the items failing for the moment."""
        counts = {done: 0, "stale": 0}
        refused: list[ItemError] = []
        for delay in (*self.retry_delays, None):
            response = self.client.bulk(body=[line for action in actions for line in action])
            retry: list[BulkAction] = []
            deferred: list[ItemError] = []
            for action, item in zip(actions, response["items"], strict=True):
                (result,) = item.values()
                status = int(result.get("status", 500))
                # A delete of a document that is not there is done; a missing index is not.
                if status < 300 or (done == "deleted" and status == 404 and "error" not in result):
                    counts[done] += 1
                elif status == 409:
                    # A newer (or the same) version is there already: nothing to do.
                    counts["stale"] += 1
                else:
                    error = ItemError.of(action[0], status, result.get("error"))
                    if error.transient:
                        retry.append(action)
                        deferred.append(error)
                    else:
                        refused.append(error)
            if not retry or delay is None:
                break
            log.info(
                "the engine could not take %d item(s) for now (%s); trying again in %.1fs",
                len(retry),
                deferred[0].type,
                delay,
            )
            time.sleep(delay)
            actions = retry
        if refused or deferred:
            raise ItemErrors(counts, refused, deferred)
        return counts

    # --- reading -------------------------------------------------------------------------

    def _get_or_404(self, subject_id: str) -> Any:
        raise NotImplementedError

    def get(self, subject_id: str, *, session: Session | None = None) -> dict[str, Any] | None:
        response = self._get_or_404(subject_id)
        if not response.get("found"):
            return None
        return dict(response["_source"])

    def versions(self, *, session: Session | None = None) -> dict[str, int]:
        """Every live document's version."""
        return {i: v for page in self.version_pages(session=session) for i, v in page}

    def version_pages(
        self, *, session: Session | None = None, size: int = 1000
    ) -> Iterator[list[tuple[str, int]]]:
        """Every live document's (id, version), in pages in id order (for verify, which
        walks them beside the database's without holding either whole)."""
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": size,
                "query": {"match_all": {}},
                "_source": ["version"],
                "sort": [{"id": "asc"}],
            }
            if after is not None:
                body["search_after"] = after
            hits = self.client.search(index=self.alias, body=body)["hits"]["hits"]
            if hits:
                yield [(hit["_id"], int(hit["_source"]["version"])) for hit in hits]
            if len(hits) < size:
                return
            after = hits[-1]["sort"]

    def common_among(self, tokens: Iterable[str]) -> frozenset[str]:
        """Which of ``tokens`` are common (``search.query.common_token_least``).

        An engine cannot list its common terms cheaply, but it counts one term's documents
        fast, and can stop counting once past the threshold (``track_total_hits``): the
        tokens not asked about lately are counted in one multi-search, and the answers kept
        for ``common_tokens_ttl`` seconds, as the SQL backend keeps its list."""
        now = time.monotonic()
        known = self._commonness
        if known is None or now - known[0] > self.common_tokens_ttl or len(known[2]) > 500_000:
            documents = int(self.client.count(index=self.alias)["count"])
            known = (now, common_token_least(documents, self.common_token_floor), {})
            self._commonness = known
        _, least, answers = known
        asked = list(dict.fromkeys(tokens))
        unknown = [t for t in asked if t not in answers]
        # A batch of rows brings a few thousand tokens new to the cache: counted a few
        # hundred a request, so that no one request runs into the client's timeout.
        for start in range(0, len(unknown), TOKENS_COUNTED_AT_ONCE):
            chunk = unknown[start : start + TOKENS_COUNTED_AT_ONCE]
            lines: list[dict[str, Any]] = []
            for token in chunk:
                counted = {"term": {"tokens": token}}
                lines += [{}, {"size": 0, "track_total_hits": least + 1, "query": counted}]
            responses = self.client.msearch(index=self.alias, body=lines)["responses"]
            for token, response in zip(chunk, responses, strict=True):
                if "error" in response:
                    # Not counted: the token stays in the query, as a rare one would.
                    log.warning("search: could not count token documents: %s", response["error"])
                    continue
                answers[token] = _total(response["hits"]) > least
        return frozenset(t for t in asked if answers.get(t))

    def search(self, query: SearchQuery, *, session: Session | None = None) -> SearchResult:
        body = self._body(query)
        if body is None:
            return SearchResult([], 0, {}, None)
        return self._result(query, self.client.search(index=self.alias, body=body))

    def search_many(
        self, queries: list[SearchQuery], *, session: Session | None = None
    ) -> list[SearchResult]:
        """Each query answered as :meth:`search` answers it, in one round trip (a
        multi-search): screening asks for a whole batch of rows at once, and the node runs
        the searches side by side instead of waiting for the registry between them. The
        tokens of every query are counted (common or not) together first."""
        counted = [t for q in queries if self._counts_tokens(q) for t in q.tokens]
        common = self.common_among(counted) if counted else frozenset()
        bodies = [self._body(query, common) for query in queries]
        lines: list[dict[str, Any]] = []
        for body in bodies:
            if body is not None:
                lines += [{}, body]
        responses = iter(
            self.client.msearch(index=self.alias, body=lines)["responses"] if lines else []
        )
        results: list[SearchResult] = []
        for query, body in zip(queries, bodies, strict=True):
            if body is None:
                results.append(SearchResult([], 0, {}, None))
                continue
            response = next(responses)
            if "error" in response:
                # As a failed search would: the caller's outage, never "no candidates".
                raise SearchFailed(response.get("status"), response["error"])
            results.append(self._result(query, response))
        return results

    @staticmethod
    def _counts_tokens(query: SearchQuery) -> bool:
        """Whether the query leaves out common tokens (which are counted to know them): a
        screening ask, but for the one by the trade name as written, taken common or not."""
        return (
            query.match_any
            and query.uscc is None
            and bool(query.tokens)
            and not query.by_exact_trade_name
        )

    def _body(
        self, query: SearchQuery, common: frozenset[str] | None = None
    ) -> dict[str, Any] | None:
        """The search request for ``query``; None when it cannot match anything (a
        trade-name ask for a name that has none). ``common``: the common tokens among the
        query's, when already counted."""
        filters: list[dict[str, Any]] = [
            {"terms": {name: list(values)}} for name, values in query.filters().items()
        ]
        must: list[dict[str, Any]] = []
        should: list[dict[str, Any]] = []
        uscc = query.uscc
        tokens: list[str] = query.tokens
        if uscc is not None:
            filters.append({"term": {"uscc": uscc}})
        elif tokens:
            if query.match_any:
                if not self._counts_tokens(query):
                    common = frozenset()
                elif common is None:
                    common = self.common_among(tokens)
                candidates_share = candidate_tokens(query, common)
                if not candidates_share:
                    return None
                must.append(
                    {
                        "bool": {
                            "should": [{"term": {"tokens": t}} for t in candidates_share],
                            "minimum_should_match": 1,
                        }
                    }
                )
                # Candidates rank by every token of the name, common ones too (those in
                # 北京 and in 科技 first; the rare ones that brought them in count twice), as
                # PostgreSQL ranks them by all of them. Not by the engine's analysis of the
                # names: that match took most of a screening ask's engine time at a million
                # subjects (bench/RESULTS.md, "the rows' asks batched").
                should.extend({"term": {"tokens": t}} for t in tokens)
            else:
                for i, token in enumerate(tokens):
                    last = i == len(tokens) - 1
                    clause = "prefix" if last and token.isascii() else "term"
                    must.append({clause: {"tokens": token}})
                should.append({"match": {"names": {"query": query.text}}})
        ranked = bool(must)
        body: dict[str, Any] = {
            "size": query.size,
            "track_total_hits": query.facets,
            "query": {"bool": {"filter": filters, "must": must, "should": should}},
            # Facets are named after the document fields they count.
            "aggs": {
                name: {"terms": {"field": name, "size": 50}} for name in FACETS if query.facets
            },
            # Relevance first, the id breaking ties; a listing without text goes by id.
            "sort": ([{"_score": "desc"}] if ranked else []) + [{"id": "asc"}],
        }
        if query.after is not None:
            score, last_id = query.after
            body["search_after"] = [score, last_id] if ranked else [last_id]
        if query.fields is not None:
            body["_source"] = list(query.fields)
        return body

    def _result(self, query: SearchQuery, response: dict[str, Any]) -> SearchResult:
        ranked = query.uscc is None and bool(query.tokens)  # as _body sorts
        hits = [
            SearchHit(
                id=hit["_id"],
                score=float(hit.get("_score") or 0.0) if ranked else 0.0,
                document=hit["_source"],
                highlights=highlight(hit["_source"].get("names", []), query.tokens),
            )
            for hit in response["hits"]["hits"]
        ]
        facets = {
            name: {str(b["key"]): int(b["doc_count"]) for b in agg["buckets"]}
            for name, agg in response.get("aggregations", {}).items()
        }
        total_count = _total(response["hits"], default=len(hits))
        next_after = (hits[-1].score, hits[-1].id) if len(hits) == query.size else None
        return SearchResult(hits, total_count, facets, next_after)

    # --- operations ----------------------------------------------------------------------

    def health(self) -> Any:
        from search.backends import SearchHealth

        try:
            info = self.client.info()
            cluster = self.client.cluster.health()
        except Exception as exc:  # noqa: BLE001 - any transport failure means "unavailable"
            return SearchHealth(self.name, False, f"unreachable: {type(exc).__name__}")
        status = str(cluster.get("status", "unknown"))
        version = (info.get("version") or {}).get("number", "unknown")
        return SearchHealth(
            self.name,
            status in {"green", "yellow"},
            f"cluster status {status}",
            {"version": version, "cluster_status": status},
        )

    def close(self) -> None:
        self.client.close()


def _total(hits: dict[str, Any], default: int = 0) -> int:
    """The hit count of a search response: ``{"value": n, "relation": ...}`` or a bare
    number (older engines)."""
    total = hits.get("total", default)
    return int(total["value"] if isinstance(total, dict) else total)


class OpenSearchBackend(EngineBackend):
    name = "opensearch"

    @classmethod
    def connect(
        cls,
        url: str,
        index_prefix: str,
        timeout: float,
        *,
        ca_certs: str | None = None,
        shards: int = 1,
        replicas: int | None = None,
    ) -> OpenSearchBackend:
        """``ca_certs``: the operator's CA bundle, which an https cluster's certificates are
        verified against; None keeps the client's usual trusted CAs."""
        from opensearchpy import OpenSearch

        client = OpenSearch(hosts=[url], timeout=timeout, max_retries=0, ca_certs=ca_certs)
        return cls(client, index_prefix, shards=shards, replicas=replicas)

    def _get_or_404(self, subject_id: str) -> Any:
        return self.client.get(index=self.alias, id=subject_id, ignore=404)


class ElasticsearchBackend(EngineBackend):
    name = "elasticsearch"

    @classmethod
    def connect(
        cls,
        url: str,
        index_prefix: str,
        timeout: float,
        *,
        ca_certs: str | None = None,
        shards: int = 1,
        replicas: int | None = None,
    ) -> ElasticsearchBackend:
        """``ca_certs`` as for OpenSearch (this client refuses it with an http URL)."""
        from elasticsearch import Elasticsearch

        # This client takes no None for "its usual CAs": the option is left out instead.
        tls: dict[str, Any] = {"ca_certs": ca_certs} if ca_certs is not None else {}
        client = Elasticsearch(hosts=[url], request_timeout=timeout, max_retries=0, **tls)
        return cls(client, index_prefix, shards=shards, replicas=replicas)

    def _get_or_404(self, subject_id: str) -> Any:
        return self.client.options(ignore_status=404).get(index=self.alias, id=subject_id)
