"""The search port: one interface, three backends.

- ``sql``: the registry's own database (SQLite FTS5, PostgreSQL full text), the default;
- ``opensearch``: OpenSearch 2/3 through ``opensearch-py``;
- ``elasticsearch``: Elasticsearch 8/9 through the official client.

Every backend takes documents built by ``search.documents`` with external versions,
answers :class:`~search.query.SearchQuery` with the same tokens, and reports its health.
Callers pass their database session: the SQL backend works inside that transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from config import Settings
from search.engine import ElasticsearchBackend, EngineBackend, OpenSearchBackend
from search.query import SearchQuery, SearchResult
from search.sql import SqlBackend


@dataclass(frozen=True)
class SearchHealth:
    backend: str
    ok: bool
    detail: str
    info: dict[str, Any] = field(default_factory=dict)


class SearchBackend(Protocol):
    name: str

    def ensure_index(self) -> None: ...

    def index(
        self, documents: Iterable[dict[str, Any]], *, session: Session | None = None
    ) -> dict[str, int]: ...

    def delete(
        self, items: Iterable[tuple[str, int]], *, session: Session | None = None
    ) -> dict[str, int]: ...

    def get(self, subject_id: str, *, session: Session | None = None) -> dict[str, Any] | None: ...

    def versions(self, *, session: Session | None = None) -> dict[str, int]: ...

    def version_pages(
        self, *, session: Session | None = None, size: int = 1000
    ) -> Iterator[list[tuple[str, int]]]: ...

    def search(self, query: SearchQuery, *, session: Session | None = None) -> SearchResult: ...

    def search_many(
        self, queries: list[SearchQuery], *, session: Session | None = None
    ) -> list[SearchResult]: ...

    def health(self) -> SearchHealth: ...

    def close(self) -> None: ...


def create_backend(settings: Settings, engine_getter: Callable[[], Engine]) -> SearchBackend:
    """The backend named by ``SEARCH_BACKEND``; engines connect lazily, on first request."""
    engines: dict[str, type[OpenSearchBackend] | type[ElasticsearchBackend]] = {
        "opensearch": OpenSearchBackend,
        "elasticsearch": ElasticsearchBackend,
    }
    engine = engines.get(settings.SEARCH_BACKEND)
    if engine is None:
        return SqlBackend(engine_getter)
    return engine.connect(
        settings.SEARCH_URL,
        settings.SEARCH_INDEX_PREFIX,
        settings.SEARCH_TIMEOUT,
        ca_certs=settings.SEARCH_CA_CERTS,
        shards=settings.SEARCH_INDEX_SHARDS,
        replicas=settings.SEARCH_INDEX_REPLICAS,
    )


__all__ = [
    "ElasticsearchBackend",
    "EngineBackend",
    "OpenSearchBackend",
    "SearchBackend",
    "SearchHealth",
    "SqlBackend",
    "create_backend",
]
