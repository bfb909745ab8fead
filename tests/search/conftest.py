"""Every search backend behind one fixture: the contract suite runs against each.

- ``sql``: the registry's database (SQLite, and PostgreSQL when configured), inside the
  test's transaction;
- ``opensearch``: opensearch-py against osmem, an in-memory OpenSearch-protocol server;
- ``opensearch-node``: opensearch-py against a real OpenSearch node (``tests/engines.py``),
  started once per run;
- ``elasticsearch``: the official client, when ``CREDITREG_TEST_ELASTICSEARCH_URL`` is set.
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
BACKENDS = ["sql", "opensearch", "opensearch-node"] + (
    ["elasticsearch"] if ELASTICSEARCH_URL else []
)


@pytest.fixture(scope="session")
def opensearch_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[engines.EngineNode]:
    """One real OpenSearch node for the whole run; a node that cannot start fails the tests."""
    try:
        node = engines.start("opensearch", tmp_path_factory.mktemp("opensearch"))
    except engines.EngineUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    yield node
    node.stop()


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
        made = OpenSearchBackend.connect(request.getfixturevalue("opensearch_node").url, prefix, 10)
    else:
        made = ElasticsearchBackend.connect(ELASTICSEARCH_URL, prefix, 10)
    made.ensure_index()
    yield made
    if kind != "sql":
        made.client.indices.delete(index=f"{prefix}-subjects-*", ignore_unavailable=True)
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
