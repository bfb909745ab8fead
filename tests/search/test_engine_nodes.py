"""The real engine nodes carry the Chinese analysis a mapping may use, alike on both."""

import uuid

import pytest
import requests

from search.engine import BULK_LOAD_SETTINGS, ElasticsearchBackend, OpenSearchBackend
from tests.search.conftest import NODE_ENGINES, engine_node

ANALYSIS = {
    "analysis": {
        "filter": {"to_simplified": {"type": "icu_transform", "id": "Traditional-Simplified"}},
        "analyzer": {
            "icu_simplified": {
                "type": "custom",
                "tokenizer": "icu_tokenizer",
                "filter": ["to_simplified", "icu_folding"],
            },
            "smartcn": {"type": "custom", "tokenizer": "smartcn_tokenizer"},
        },
    }
}


def analyze(url, index, analyzer, text):
    response = requests.post(
        f"{url}/{index}/_analyze", json={"analyzer": analyzer, "text": text}, timeout=30
    )
    response.raise_for_status()
    return [token["token"] for token in response.json()["tokens"]]


@pytest.mark.parametrize("node", list(NODE_ENGINES))
def test_icu_and_smartcn_analysis_on_the_node(request, node):
    url = engine_node(request, NODE_ENGINES[node]).url
    index = "analysis-check"
    requests.put(f"{url}/{index}", json={"settings": ANALYSIS}, timeout=30).raise_for_status()
    try:
        # Traditional folded to Simplified, full-width folded to ASCII, in the engine.
        assert "".join(analyze(url, index, "icu_simplified", "北京華信科技")) == "北京华信科技"
        assert analyze(url, index, "icu_simplified", "ＡＢＣ") == ["abc"]
        # smartcn cuts words, not characters or bigrams.
        assert analyze(url, index, "smartcn", "北京科技有限公司")[:2] == ["北京", "科技"]
    finally:
        requests.delete(f"{url}/{index}", timeout=30)


# A name as members write it, and the form the registry knows it by.
VARIANTS = [
    ("北京華信科技有限責任公司", "北京华信科技有限公司"),  # Traditional, long legal form
    ("北京华信科技有限责任公司", "北京华信科技有限公司"),
    # Full width, ideographic spaces, the long English legal form.
    ("ＡＢＣ　Ｔｒａｄｉｎｇ　Ｃｏｍｐａｎｙ　Ｌｉｍｉｔｅｄ", "ABC Trading Co., Ltd."),
    ("abc trading corporation", "ABC TRADING CORP"),
    ("腾讯科技（深圳）有限公司", "騰訊科技(深圳)有限公司"),
]


@pytest.mark.parametrize("node", list(NODE_ENGINES))
def test_the_registry_index_folds_names_as_the_application_does(request, node):
    """The subjects index's own analysis (search.analysis) on a real node: every variant of
    a name gives the tokens of its registered form; codes fold width and case."""
    url = engine_node(request, NODE_ENGINES[node]).url
    backend = (OpenSearchBackend if node == "opensearch-node" else ElasticsearchBackend).connect(
        url, "analysis-check", 30
    )
    index = backend.index_name(1)
    backend.create_index(index)
    try:
        for typed, registered in VARIANTS:
            # Sorted: a synonym and its word share a position, in either order.
            assert sorted(analyze(url, index, "cjk_name", typed)) == sorted(
                analyze(url, index, "cjk_name", registered)
            ), typed
        # Bigrams with unigrams, as the application's n-grams: 信华 is not in 华信科技.
        assert {"华信", "华", "信"} <= set(analyze(url, index, "cjk_name", "華信科技"))
        assert "信华" not in analyze(url, index, "cjk_name", "華信科技")
        folded = requests.post(
            f"{url}/{index}/_analyze",
            json={"normalizer": "code", "text": "ｓｈｏｐ－９１ＡＢ"},
            timeout=30,
        )
        folded.raise_for_status()
        assert [t["token"] for t in folded.json()["tokens"]] == ["shop-91ab"]
        # A share of a name's terms is enough for a match query: its bigrams stacked on
        # unigrams are not a token graph whose every path the query would require.
        backend.index([{"id": "s1", "version": 1, "names": ["北京华信科技有限公司"]}], target=index)
        backend.client.indices.refresh(index=index)
        one_typo = {"match": {"names": {"query": "北京华信科枝", "minimum_should_match": "75%"}}}
        hits = backend.client.search(index=index, body={"query": one_typo})["hits"]["hits"]
        assert [hit["_id"] for hit in hits] == ["s1"]
    finally:
        backend.drop_index(index)
        backend.close()


def index_settings(backend, keys):
    answer = backend.client.indices.get_settings(index=backend.alias, flat_settings=True)
    (settings,) = (entry["settings"] for entry in answer.values())
    return {key: settings.get(f"index.{key}") for key in keys}


@pytest.mark.parametrize("node", list(NODE_ENGINES))
def test_a_bulk_load_shows_its_documents_when_it_ends_and_puts_the_settings_back(request, node):
    url = engine_node(request, NODE_ENGINES[node]).url
    backend = (OpenSearchBackend if node == "opensearch-node" else ElasticsearchBackend).connect(
        url, f"bulk{uuid.uuid4().hex[:8]}", 30
    )
    backend.ensure_index()
    keys = list(BULK_LOAD_SETTINGS)
    try:
        backend.client.indices.put_settings(
            index=backend.alias, body={"index": {"refresh_interval": "2s"}}
        )
        before = index_settings(backend, keys)
        previous = backend.begin_bulk_load()
        assert index_settings(backend, keys) == BULK_LOAD_SETTINGS
        document = {"id": str(uuid.uuid4()), "version": 1, "kind": "enterprise", "tokens": "华信"}
        assert backend.index([document]) == {"written": 1, "stale": 0}
        # No refresh while loading: written, not yet searchable.
        assert backend.client.count(index=backend.alias)["count"] == 0
        backend.end_bulk_load(previous)
        assert backend.client.count(index=backend.alias)["count"] == 1
        assert index_settings(backend, keys) == before
        assert before["refresh_interval"] == "2s"
    finally:
        for name in backend.client.indices.get(index=f"{backend.alias}-v*"):
            backend.drop_index(name)
        backend.close()
