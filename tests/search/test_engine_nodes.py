"""The real engine nodes carry the Chinese analysis a mapping may use, alike on both."""

import pytest
import requests

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
