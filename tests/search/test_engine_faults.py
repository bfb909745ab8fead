"""Faults on a real engine: the node killed while the worker indexes and while a reindex
builds, the node away while members look subjects up, and bulk writes the engine takes
only in part.

The tests that kill or freeze a node run on an OpenSearch node of their own (its own data
directory), taken from the run's node pool: the pool stops any other node first and stops
this one before another engine's tests, so no two JVMs run at once, and a node a failed
test left dead is started again for the next. Per-item errors need no killing: they run on
the shared nodes of both engines. Nothing of the engine is imitated: every error here is
the node's own answer (or its silence).
"""

from __future__ import annotations

import copy
import logging
import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import opensearchpy
import pytest
import requests

from config.settings import load_settings
from registry.db import db
from registry.outbox import pending_count
from registry.worker import Job, Worker
from search import create_backend, maintenance
from search.analysis import analysis_settings
from search.engine import (
    MAPPING,
    ElasticsearchBackend,
    EngineBackend,
    OpenSearchBackend,
    SearchFailed,
)
from search.maintenance import reindex, verify
from search.query import SearchQuery
from search.sync import drain, refusals
from tests import engines, factories
from tests.api.test_submissions import PENALTY, submit
from tests.monitoring_helpers import company, published_entry
from tests.search.conftest import NODE_ENGINES, engine_node
from tests.signing import signed_member

# Every index of these tests is named so; the node's template gives them no replica.
PREFIX = "fault"


class FaultNode:
    """The fault tests' own node, through the pool that owns its process."""

    def __init__(self, pool: engines.NodePool) -> None:
        self.pool = pool
        self.prefix = f"{PREFIX}{uuid.uuid4().hex[:8]}"

    @property
    def node(self) -> engines.EngineNode:
        assert self.pool.running is not None
        return self.pool.running

    @property
    def url(self) -> str:
        return self.node.url

    def backend(self, timeout: float = 30) -> OpenSearchBackend:
        return OpenSearchBackend.connect(self.url, self.prefix, timeout)

    def kill(self) -> None:
        self.node.kill()

    def restart(self) -> engines.EngineNode:
        with quick_start():
            return self.pool.restart()

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """The node stops answering but keeps its port: connections open, nothing comes
        back, as with a node lost in a long garbage collection or behind a dead link."""
        pid = self.node.process.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)


@contextmanager
def quick_start() -> Iterator[None]:
    """Nodes started meanwhile compile with C1 alone: they start in about half the time,
    and how fast this node runs afterwards does not matter to these tests."""
    with mock.patch.dict(os.environ, {"JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=1"}):
        yield


@pytest.fixture
def fault_node(request: pytest.FixtureRequest) -> Iterator[FaultNode]:
    pool: engines.NodePool = request.getfixturevalue("engine_nodes")
    try:
        with quick_start():
            node = pool.node("opensearch", name="faults")
    except engines.EngineUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    # One node can hold no replica: with the default one, an index stays yellow, and a
    # restarted node would never turn green, which is what starting a node waits for.
    requests.put(
        f"{node.url}/_index_template/faults",
        json={
            "index_patterns": [f"{PREFIX}*"],
            "template": {"settings": {"number_of_replicas": 0}},
        },
        timeout=30,
    ).raise_for_status()
    faults = FaultNode(pool)
    yield faults
    if pool.running is not None and pool.running.process.poll() is None:
        for name in requests.get(f"{faults.url}/{faults.prefix}-*", timeout=30).json():
            requests.delete(f"{faults.url}/{name}", timeout=30)


class KillsOnBulk:
    """The backend as it is, but the node is killed just as its ``at``-th bulk write of
    documents goes out: the write meets a dead node, as it would in a crash."""

    def __init__(self, backend: EngineBackend, faults: FaultNode, at: int) -> None:
        self.backend = backend
        self.faults = faults
        self.at = at
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def index(self, documents: Any, **options: Any) -> dict[str, int]:
        self.writes += 1
        if self.writes == self.at:
            self.faults.kill()
        return self.backend.index(documents, **options)


def outbox_worker(clock, drain_into) -> Worker:
    return Worker(
        lambda: db.session,
        clock,
        jobs=[Job("search-outbox", 0.0, drain_into)],
        poll_interval=0,
        identity="fault-test",
    )


def app_search(app, faults: FaultNode, url: str, timeout: float = 1.0):
    """Point the app's lookups at the node at ``url``, built from settings as the app does."""
    settings = load_settings(
        "test",
        environ={},
        overrides={
            "DATABASE_URL": "sqlite://",  # required by the settings, unused by the backend
            "SEARCH_BACKEND": "opensearch",
            "SEARCH_URL": url,
            "SEARCH_INDEX_PREFIX": faults.prefix,
            "SEARCH_TIMEOUT": timeout,
        },
    )
    backend = create_backend(settings, lambda: db.engine)
    app.extensions["creditreg.search"] = backend
    return backend


def lookup(member, text: str):
    # Percent-encoded, as on the wire: the signature covers the query as sent.
    return member.get(f"/api/v1/subjects?{urlencode({'q': text, 'purpose': 'counterparty_check'})}")


def assert_away(member, client, session, *, within: float) -> None:
    """What members and probes see while the engine is away: lookups fail within
    ``within`` seconds with a problem they can act on, intake goes on (its outbox rows
    waiting), and readiness names the engine."""
    started = time.monotonic()
    response = lookup(member, "示范")
    assert time.monotonic() - started < within
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "/problems/search-unavailable"
    assert int(response.headers["Retry-After"]) > 0
    # A screening is a batch of lookups: the same answer, not a 500 or rows decided "none".
    rows = [{"name": "示范科技有限公司"}, {"name": "另一家贸易有限公司"}]
    started = time.monotonic()
    response = member.post("/api/v1/screening", {"purpose": "compliance_screening", "rows": rows})
    assert time.monotonic() - started < within
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json()["type"] == "/problems/search-unavailable"
    assert int(response.headers["Retry-After"]) > 0

    waiting = pending_count(session)
    assert submit(member, f"away-{uuid.uuid4().hex}", [PENALTY]).status_code == 201
    assert pending_count(session) == waiting + 1

    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["search"] == {"status": "unavailable"}
    assert body["checks"]["database"] == {"status": "ok"}


# --- the node killed while the worker indexes ----------------------------------------------


def test_a_node_killed_while_the_worker_indexes_loses_nothing(
    app, session, client, runtime, clock, fault_node
):
    backend = fault_node.backend()
    backend.ensure_index()
    member = signed_member(session, client, clock, roles=("submitter", "querier"))
    made = [company(session, runtime, seed) for seed in range(25)]
    session.commit()
    assert pending_count(session) == 25

    # Batches of 10: the first is written and committed; the node dies as the second goes.
    killer = KillsOnBulk(backend, fault_node, at=2)
    worker = outbox_worker(clock, lambda s, now: drain(s, killer, now, batch=10))
    assert worker.run_round() == {}
    assert worker._failures["search-outbox"] == 1  # the worker backs off
    assert pending_count(session) == 15  # the failed batch and the rest wait

    # Meanwhile: a refused connection, so lookups fail at once.
    search = app_search(app, fault_node, fault_node.url)  # the dead node's
    assert_away(member, client, session, within=2)
    search.close()

    node = fault_node.restart()  # on the same data, at a new address
    back = fault_node.backend()
    worker.jobs = [Job("search-outbox", 0.0, lambda s, now: drain(s, back, now, batch=10))]
    worker._next_due.clear()
    assert worker.run_round() == {"search-outbox": 16}
    assert pending_count(session) == 0
    # The first batch, acknowledged before the kill, survived it; the rest came after.
    report = verify(session, back)
    assert report.clean, report.as_dict()
    assert report.index == report.database == len(made) + 1
    assert report.database_checksum == report.index_checksum

    app_search(app, fault_node, node.url)
    found = lookup(member, "示范")
    assert found.status_code == 200
    assert found.get_json()["total"] == 25
    back.close()


# --- the node killed while a reindex builds -------------------------------------------------


def test_a_node_killed_during_a_reindex_leaves_the_alias_on_the_complete_index(
    app, session, runtime, clock, fault_node, monkeypatch
):
    backend = fault_node.backend()
    backend.ensure_index()
    for seed in range(12):
        company(session, runtime, seed)
    session.commit()
    assert drain(session, backend, clock.now()) == 12
    first = backend.current_index()

    # Copies of 5: the node dies as the second goes, with 5 documents in the new index.
    monkeypatch.setattr(maintenance, "CHUNK", 5)
    with pytest.raises(opensearchpy.ConnectionError):
        reindex(session, KillsOnBulk(backend, fault_node, at=2), clock.now())
    backend.close()

    fault_node.restart()
    back = fault_node.backend()
    assert back.current_index() == first  # never switched to the half-built index
    (half_built,) = back.stray_indices()
    back.client.indices.refresh(index=half_built)
    assert back.client.count(index=half_built)["count"] == 5
    back.refresh()
    assert len(back.versions()) == 12  # lookups still see everything

    # The next reindex drops the half-built index and builds the generation anew.
    monkeypatch.setattr(maintenance, "CHUNK", 1000)
    result = reindex(session, back, clock.now())
    assert result["dropped"] == [half_built]
    assert result["index"] == half_built and result["previous"] == first
    assert result["documents"] == 12
    assert back.current_index() == half_built
    assert back.stray_indices() == []  # the old generation went after the switch
    assert verify(session, back).clean
    back.close()


# --- the node away during lookups -----------------------------------------------------------


def test_lookups_while_the_node_does_not_answer_fail_fast_and_intake_goes_on(
    app, session, client, runtime, clock, fault_node
):
    backend = fault_node.backend()
    backend.ensure_index()
    member = signed_member(session, client, clock, roles=("submitter", "querier"))
    company(session, runtime, 1)
    session.commit()
    drain(session, backend, clock.now())
    backend.refresh()
    search = app_search(app, fault_node, fault_node.url)
    assert lookup(member, "示范").get_json()["total"] == 1

    with fault_node.frozen():
        # One try within SEARCH_TIMEOUT (1 s here), no retries: no long hang.
        assert_away(member, client, session, within=3)

    assert lookup(member, "示范").status_code == 200
    assert drain(session, backend, clock.now()) == 1
    assert verify(session, backend).clean
    search.close()
    backend.close()


# --- bulk responses with per-item errors, on both engines ------------------------------------


def node_backend(request: pytest.FixtureRequest, node: str) -> EngineBackend:
    url = engine_node(request, NODE_ENGINES[node]).url
    kind = OpenSearchBackend if NODE_ENGINES[node] == "opensearch" else ElasticsearchBackend
    backend = kind.connect(url, f"t{uuid.uuid4().hex[:10]}", 10)

    def clean_up() -> None:
        for name in backend.client.indices.get(index=f"{backend.alias}-*"):
            backend.client.indices.delete(index=name)
        backend.close()

    request.addfinalizer(clean_up)
    return backend


@pytest.mark.parametrize("node", list(NODE_ENGINES))
def test_a_document_the_engine_refuses_is_reported_and_holds_up_nothing(
    request, node, app, session, client, runtime, clock, caplog
):
    backend = node_backend(request, node)
    app.extensions["creditreg.search"] = backend
    # An index made by an earlier release, before list entries said whether they are
    # disputed: the strict mapping refuses the document of a listed subject, and only it.
    earlier = copy.deepcopy(MAPPING)
    del earlier["properties"]["list_entries"]["properties"]["disputed"]
    backend.client.indices.create(
        index=backend.index_name(1),
        body={
            "settings": {"number_of_shards": 1, "analysis": analysis_settings()},
            "mappings": earlier,
            "aliases": {backend.alias: {}},
        },
    )
    regulator = factories.member(session, kind="regulator", roles=("regulator", "submitter"))
    listed = company(session, runtime, 1)
    others = [company(session, runtime, seed) for seed in (2, 3, 4)]
    published_entry(session, regulator, listed, clock)
    session.commit()
    queued = pending_count(session)

    with caplog.at_level(logging.ERROR, logger="search.sync"):
        assert drain(session, backend, clock.now()) == queued
    assert pending_count(session) == 0  # nothing left to block the rows behind
    (logged,) = [r for r in caplog.records if r.name == "search.sync"]
    assert str(listed.id) in logged.getMessage()
    assert "strict_dynamic_mapping_exception" in logged.getMessage()

    report = verify(session, backend)
    assert report.missing == [str(listed.id)]
    assert report.index == len(others)
    (refusal,) = report.refused
    assert refusal["subject_id"] == str(listed.id) and refusal["status"] == 400
    assert refusal["error_type"] == "strict_dynamic_mapping_exception"
    assert refusal["version"] == session.get(type(listed), listed.id).revision
    runner = app.test_cli_runner()
    shown = runner.invoke(args=["search", "verify"])
    assert shown.exit_code == 1 and "refused by the engine: 1" in shown.output
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "degraded"
    assert ready["checks"]["search"] == {"status": "documents-refused"}

    # Later changes still flow.
    late = company(session, runtime, 5)
    session.commit()
    assert drain(session, backend, clock.now()) == 1
    backend.refresh()
    assert str(late.id) in backend.versions()

    # A reindex builds with today's mapping: the refused document goes in, the note goes.
    result = reindex(session, backend, clock.now())
    assert result["refused"] == 0
    assert refusals(session) == []
    backend.refresh()
    assert verify(session, backend).clean
    assert client.get("/readyz").get_json()["status"] == "ok"


@pytest.mark.parametrize("node", list(NODE_ENGINES))
def test_items_the_engine_cannot_take_for_now_are_retried_then_left_pending(
    request, node, session, runtime, clock, caplog
):
    backend = node_backend(request, node)
    backend.retry_delays = (0.05, 0.1)
    backend.ensure_index()
    for seed in (1, 2, 3):
        company(session, runtime, seed)
    session.commit()
    assert drain(session, backend, clock.now()) == 3
    for seed in (4, 5):
        company(session, runtime, seed)
    session.commit()
    index = backend.current_index()
    worker = outbox_worker(clock, lambda s, now: drain(s, backend, now))

    # A full disk makes the engine block writes (429), an operator's block refuses them
    # (403): either way the documents are fine and wait for the index.
    for block in ("index.blocks.read_only_allow_delete", "index.blocks.write"):
        backend.client.indices.put_settings(index=index, body={block: True})
        caplog.clear()
        try:
            with caplog.at_level(logging.INFO, logger="search.engine"):
                assert worker.run_round() == {}
        finally:
            backend.client.indices.put_settings(index=index, body={block: None})
        retries = [r for r in caplog.records if "trying again" in r.getMessage()]
        assert len(retries) == len(backend.retry_delays)
        assert "cluster_block_exception" in retries[0].getMessage()
        assert worker._failures["search-outbox"] >= 1  # backs off
        assert pending_count(session) == 2
        assert refusals(session) == []  # not refused: only deferred
        worker._next_due.clear()

    assert worker.run_round() == {"search-outbox": 2}
    assert pending_count(session) == 0
    assert verify(session, backend).clean


@pytest.mark.parametrize("node", list(NODE_ENGINES))
def test_a_search_the_engine_fails_in_a_batch_fails_the_batch(request, node):
    # An engine answers a multi-search item by item: one search it refuses (here a page past
    # its result window) must not come back as "no candidates" for that row while the
    # others are answered, or screening would decide it "none". The batch fails as one
    # search would.
    backend = node_backend(request, node)
    backend.ensure_index()
    beyond_the_window = SearchQuery(text="华信", size=20_000, facets=False)
    with pytest.raises(SearchFailed) as failed:
        backend.search_many([SearchQuery(text="华信"), beyond_the_window])
    assert failed.value.status == 400
