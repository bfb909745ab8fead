"""Every search backend behind one fixture: the contract suite runs against each.

- ``sql``: the registry's database (SQLite, and PostgreSQL when configured), inside the
  test's transaction;
- ``opensearch``: opensearch-py against osmem, an in-memory OpenSearch-protocol server;
- ``opensearch-node``: opensearch-py against a real OpenSearch node (``tests/engines.py``),
  started once per run;
- ``elasticsearch-node``: the official client against a real Elasticsearch node, likewise;
- ``elasticsearch``: the official client against ``CREDITREG_TEST_ELASTICSEARCH_URL``, when set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from registry.db import db
from search.engine import ElasticsearchBackend, OpenSearchBackend
from search.sql import SqlBackend
from search.sync import drain_once
from tests import engines

ELASTICSEARCH_URL = os.environ.get("CREDITREG_TEST_ELASTICSEARCH_URL")
BACKENDS = ["sql", "opensearch", "opensearch-node", "elasticsearch-node"] + (
    ["elasticsearch"] if ELASTICSEARCH_URL else []
)


# The backends that need a real node, and the engine each one runs.
NODE_ENGINES = {"opensearch-node": "opensearch", "elasticsearch-node": "elasticsearch"}


# Last: pytest's own reordering by session-scoped parameters (the database) runs before it,
# so each engine's tests stay together across both databases and each node starts once.
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group the tests by the node they need, so that each engine starts once in a test
    process (run in parallel, each worker starts the nodes of the tests it is given)."""
    order = list(NODE_ENGINES)

    def engine_rank(item: pytest.Item) -> int:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec else {}
        kind = params.get("backend", params.get("node"))
        return order.index(kind) + 1 if kind in NODE_ENGINES else 0

    items.sort(key=engine_rank)


@pytest.fixture(scope="session")
def engine_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[engines.NodePool]:
    pool = engines.NodePool(tmp_path_factory.mktemp("engines"))
    yield pool
    pool.close()


def engine_node(request: pytest.FixtureRequest, engine: str) -> engines.EngineNode:
    """The running node of ``engine``; a node that cannot start fails the test, loudly."""
    try:
        return request.getfixturevalue("engine_nodes").node(engine)
    except engines.EngineUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(params=BACKENDS)
def backend(request, app_context, migrated_engine):
    kind = request.param
    prefix = f"t{uuid.uuid4().hex[:10]}"
    if kind == "sql":
        made = SqlBackend(lambda: migrated_engine)
    elif kind == "opensearch":
        server = request.getfixturevalue("osmem_server")
        made = OpenSearchBackend.connect(server.url, prefix, 10)
    elif kind == "opensearch-node":
        made = OpenSearchBackend.connect(engine_node(request, "opensearch").url, prefix, 10)
    elif kind == "elasticsearch-node":
        made = ElasticsearchBackend.connect(engine_node(request, "elasticsearch").url, prefix, 10)
    else:
        made = ElasticsearchBackend.connect(ELASTICSEARCH_URL, prefix, 10)
    made.ensure_index()
    yield made
    if kind != "sql":
        # Elasticsearch 8 refuses to delete by wildcard (action.destructive_requires_name):
        # each of this test's indices is named.
        for name in made.client.indices.get(index=f"{prefix}-subjects-*"):
            made.client.indices.delete(index=name)
        made.close()


def sync(backend, session, now):
    """Drain the outbox into the backend and make the result visible."""
    while drain_once(session, backend, now):
        pass
    session.flush()
    if hasattr(backend, "refresh"):
        backend.refresh()


@pytest.fixture
def indexed(backend, session, clock):
    """Call after changing data: brings the backend up to date."""
    return lambda: sync(backend, db.session, clock.now())
