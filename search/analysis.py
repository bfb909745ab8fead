"""How Elasticsearch and OpenSearch analyse names: the same folding the application does.

Matching runs on the application's own tokens (see ``search.text``), so every backend finds
the same subjects; the engine's analysis of ``names`` ranks them. That analysis folds a name
the way ``registry.names.normalize_text`` does, with nothing but what every Elasticsearch and
OpenSearch distribution ships (analysis-common), so a stock cluster needs no plugin:

- Traditional to Simplified: a ``mapping`` character filter made from the single-character
  table of the converter the application uses (zhconv), so 華信 and 华信 index alike;
- full width to half width (``cjk_width``) and lower case: ＡＢＣ is abc;
- legal forms: 有限责任公司 read as 有限公司 (a character filter), and the English words
  as synonyms (Co/Company, Ltd/Limited, ...);
- CJK bigrams with unigrams, as the application's own n-grams.

Pinyin stays with the application: no pinyin analysis is bundled with either engine.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import zhconv

# The legal forms the application folds together (registry.names), as the engine sees them
# after the Traditional-to-Simplified step.
CHINESE_LEGAL_FORMS = ["有限责任公司 => 有限公司"]
ENGLISH_LEGAL_FORMS = [
    "co, company",
    "ltd, limited",
    "corp, corporation",
    "inc, incorporated",
]


@cache
def traditional_to_simplified() -> list[str]:
    """``mapping`` rules, one per Traditional character zhconv converts on its own."""
    table = json.loads(Path(zhconv.__file__).with_name("zhcdict.json").read_text("utf-8"))
    pairs = {**table["zh2Hans"], **table["zh2CN"]}
    return sorted(
        f"{trad} => {simp}"
        for trad, simp in pairs.items()
        if len(trad) == len(simp) == 1 and trad != simp and _plain(trad) and _plain(simp)
    )


def _plain(char: str) -> bool:
    """Not a character the mapping syntax reserves (none of them is a Han character)."""
    return char.isprintable() and char not in "=>\\ "


def analysis_settings() -> dict[str, Any]:
    """The ``analysis`` part of every subjects index's settings."""
    return {
        "char_filter": {
            "traditional_to_simplified": {
                "type": "mapping",
                "mappings": traditional_to_simplified(),
            },
            "chinese_legal_forms": {"type": "mapping", "mappings": CHINESE_LEGAL_FORMS},
        },
        "filter": {
            "cjk_bigram_unigrams": {"type": "cjk_bigram", "output_unigrams": True},
            "english_legal_forms": {"type": "synonym", "synonyms": ENGLISH_LEGAL_FORMS},
        },
        "analyzer": {
            "cjk_name": {
                "type": "custom",
                "char_filter": ["traditional_to_simplified", "chinese_legal_forms"],
                "tokenizer": "standard",
                "filter": [
                    "cjk_width",
                    "lowercase",
                    "english_legal_forms",
                    "cjk_bigram_unigrams",
                ],
            },
            "app_tokens": {"type": "custom", "tokenizer": "whitespace", "filter": ["lowercase"]},
        },
        # Codes (USCC, shop ids) typed in full width or another case find the same keyword.
        "normalizer": {"code": {"type": "custom", "filter": ["cjk_width", "lowercase", "trim"]}},
    }
