"""Search backends behind one interface.

Elasticsearch is reached with the official ``elasticsearch`` client and OpenSearch with
``opensearch-py``: the Elasticsearch client insists on its own compatibility media types,
which OpenSearch servers refuse. Both receive the same query bodies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from config import Settings


@dataclass(frozen=True)
class SearchHealth:
    backend: str
    ok: bool
    detail: str
    info: dict[str, Any] = field(default_factory=dict)


class SearchBackend(Protocol):
    name: str

    def health(self) -> SearchHealth: ...

    def close(self) -> None: ...


class SqlBackend:
    """Search inside the system of record itself: nothing else to run."""

    name = "sql"

    def __init__(self, engine_getter: Callable[[], Engine]) -> None:
        self._engine_getter = engine_getter

    def health(self) -> SearchHealth:
        engine = self._engine_getter()
        try:
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            return SearchHealth(self.name, False, f"database unreachable: {type(exc).__name__}")
        return SearchHealth(
            self.name, True, "served by the database", {"dialect": engine.dialect.name}
        )

    def close(self) -> None:
        pass


class _EngineBackend:
    name = "engine"

    def __init__(self, client: Any, index_prefix: str) -> None:
        self.client = client
        self.index_prefix = index_prefix

    def health(self) -> SearchHealth:
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


class OpenSearchBackend(_EngineBackend):
    name = "opensearch"

    @classmethod
    def connect(cls, url: str, index_prefix: str, timeout: float) -> OpenSearchBackend:
        from opensearchpy import OpenSearch

        return cls(OpenSearch(hosts=[url], timeout=timeout, max_retries=0), index_prefix)


class ElasticsearchBackend(_EngineBackend):
    name = "elasticsearch"

    @classmethod
    def connect(cls, url: str, index_prefix: str, timeout: float) -> ElasticsearchBackend:
        from elasticsearch import Elasticsearch

        client = Elasticsearch(hosts=[url], request_timeout=timeout, max_retries=0)
        return cls(client, index_prefix)


def create_backend(settings: Settings, engine_getter: Callable[[], Engine]) -> SearchBackend:
    """The backend named by ``SEARCH_BACKEND``; engines connect lazily, on first request."""
    kind = settings.SEARCH_BACKEND
    if kind == "opensearch":
        return OpenSearchBackend.connect(
            settings.SEARCH_URL, settings.SEARCH_INDEX_PREFIX, settings.SEARCH_TIMEOUT
        )
    if kind == "elasticsearch":
        return ElasticsearchBackend.connect(
            settings.SEARCH_URL, settings.SEARCH_INDEX_PREFIX, settings.SEARCH_TIMEOUT
        )
    return SqlBackend(engine_getter)
