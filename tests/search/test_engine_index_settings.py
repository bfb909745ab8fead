"""The shards and replicas of the engine's index are settings, on both real engines: a new
versioned index (the first, and every reindex) is made with them, and searches across the
shards find what one shard would."""

from __future__ import annotations

import uuid

import pytest

from config.settings import load_settings
from registry.subjects import register_subject
from search import create_backend, engine
from search.maintenance import reindex, verify
from search.query import SearchQuery
from tests import factories
from tests.factories import TEST_ACTOR
from tests.search.conftest import NODE_ENGINES, engine_node, sync


def index_settings(backend) -> tuple[str, str]:
    (entry,) = backend.client.indices.get_settings(index=backend.alias).values()
    settings = entry["settings"]["index"]
    return settings["number_of_shards"], settings["number_of_replicas"]


def node_backend(request, node, session, **overrides):
    """A backend on the real node of ``node`` with an index prefix of its own, its indices
    deleted after the test."""
    settings = load_settings(
        "test",
        environ={},
        overrides={
            "SEARCH_BACKEND": NODE_ENGINES[node],
            "SEARCH_URL": engine_node(request, NODE_ENGINES[node]).url,
            "SEARCH_INDEX_PREFIX": f"t{uuid.uuid4().hex[:10]}",
            **overrides,
        },
    )
    backend = create_backend(settings, lambda: session.get_bind())

    def clean_up() -> None:
        for name in backend.client.indices.get(index=f"{backend.alias}-*"):
            backend.client.indices.delete(index=name)
        backend.close()

    request.addfinalizer(clean_up)
    return backend


@pytest.mark.parametrize("node", list(NODE_ENGINES))
def test_new_indices_take_the_shards_and_replicas_of_the_settings(
    request, node, session, runtime, clock
):
    backend = node_backend(request, node, session, SEARCH_INDEX_SHARDS=3, SEARCH_INDEX_REPLICAS=0)
    backend.ensure_index()
    assert index_settings(backend) == ("3", "0")
    made = [
        register_subject(
            session, actor=TEST_ACTOR, vault=runtime.vault, kind="enterprise",
            name=f"华信第{n}分部有限公司", uscc=factories.uscc(700 + n, "110105"),
        )
        for n in range(12)
    ]  # fmt: skip
    session.flush()
    sync(backend, session, clock.now())
    found = backend.search(SearchQuery(text="华信", size=20), session=session)
    assert sorted(hit.id for hit in found.hits) == sorted(str(s.id) for s in made)
    assert found.total == 12

    # A reindex builds its new index with the settings too, then swaps the alias.
    old = backend.current_index()
    reindex(session, backend, clock.now())
    backend.refresh()
    assert backend.current_index() != old and index_settings(backend) == ("3", "0")
    assert verify(session, backend).clean


@pytest.mark.parametrize("node", list(NODE_ENGINES))
def test_an_index_of_an_earlier_release_gets_the_new_fields_at_start(
    request, node, session, runtime, clock, monkeypatch
):
    # The mapping is strict: an index made before name_parts and trade_names existed would
    # refuse every document that carries them, until a reindex. ensure_index adds them.
    backend = node_backend(request, node, session)
    earlier = {
        **engine.MAPPING,
        "properties": {
            k: v
            for k, v in engine.MAPPING["properties"].items()
            if k not in ("name_parts", "trade_names")
        },
    }
    with monkeypatch.context() as patched:
        patched.setattr(engine, "MAPPING", earlier)
        backend.create_index(backend.index_name(1), alias=True)
    made = register_subject(
        session, actor=TEST_ACTOR, vault=runtime.vault, kind="enterprise",
        name="苏州金瑞祥电子有限公司", uscc=factories.uscc(720, "320505"),
    )  # fmt: skip
    session.flush()
    backend.ensure_index()  # as the worker does before its first write
    sync(backend, session, clock.now())
    (mapping,) = backend.client.indices.get_mapping(index=backend.alias).values()
    assert mapping["mappings"]["properties"]["trade_names"] == {"type": "keyword"}
    document = backend.get(str(made.id))
    assert document is not None and document["trade_names"] == ["金瑞祥"]
    assert document["name_parts"]["division"] == "苏州"
    assert verify(session, backend).clean
