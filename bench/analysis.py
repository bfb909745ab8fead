"""Names on a real engine: matched by the application's tokens, or by the engine's analysis?

    .venv/bin/python bench/analysis.py [--engine opensearch|elasticsearch] [--engine-url URL]
                                       [--subjects 100000] [--queries 3000] [--seed 20151001]

Without ``--engine-url`` a node is started from ``search/nodes`` (``tests/engines.py``, 2 GB
heap) and stopped at the end. The subjects are those of ``bench/search.py`` (same generator,
same seed: Chinese names with region, trade name, industry and legal form, some English
ones), as search documents made in this process (``search.text``; no database). Two indices,
the same documents, the same bulk requests of 1,000:

- ``tokens``: the registry's mapping, queried as the registry queries it
  (``EngineBackend.search``): every query token (the application's CJK bigrams, Latin words,
  pinyin syllable pairs) must be among the document's ``tokens``; the engine's analysis of
  ``names`` (``search.analysis``) ranks.
- ``engine``: the same mapping without ``tokens``; a query is a ``match`` on ``names`` (the
  engine's analysis: Traditional to Simplified, width, legal forms, CJK bigrams with
  unigrams) with 75 % of its terms required, or a ``term`` on ``uscc``/``pinyin``/
  ``initials`` — what an engine-only design would ask.

For each: bulk indexing (documents/s), index size on disk, and for each kind of query (made
from sampled subjects as a member would type them) how often the right subject comes first,
how often it is in the first 20, and the p50/p99 of the engine's ``took``-free round trip.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zhconv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from registry.demo import make_uscc  # noqa: E402
from registry.names import normalize_name  # noqa: E402
from search.analysis import analysis_settings  # noqa: E402
from search.engine import (  # noqa: E402
    MAPPING,
    ElasticsearchBackend,
    EngineBackend,
    OpenSearchBackend,
)
from search.query import SearchQuery  # noqa: E402
from search.text import name_syllables, name_tokens, pinyin_forms  # noqa: E402
from tests import engines  # noqa: E402


def _load_search_bench() -> Any:
    """bench/search.py, for its name generator (its module name would shadow ``search``)."""
    spec = importlib.util.spec_from_file_location("bench_search", ROOT / "bench" / "search.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


DATASET = _load_search_bench()
BULK = 1000
KINDS = ("enterprise", "shop")


def documents(subjects: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every subject's document, and the documents queries are made from (every 50th)."""
    rng = random.Random(seed)
    names = DATASET.Names(rng)
    made: list[dict[str, Any]] = []
    for _ in range(subjects):
        name, region, industry, _form, _english = names.make()
        normalised = normalize_name(name)
        full, initials = pinyin_forms(name)
        made.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "version": 1,
                "kind": "enterprise",
                "name": name,
                "names": [name],
                "name_normalised": normalised.normalised,
                "name_base": normalised.base,
                "legal_form": normalised.legal_form,
                "pinyin": [full] if full else [],
                "initials": [initials] if initials else [],
                "uscc": make_uscc(rng, region),
                "region": region,
                "industry": industry,
                "tokens": " ".join(name_tokens([name])),
                "updated_at": "2026-12-01T00:00:00Z",
            }
        )
    return made, made[::50]


def full_width(text: str) -> str:
    return "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text
    )


def queries(samples: list[dict[str, Any]], count: int, seed: int) -> list[tuple[str, str, str]]:
    """(kind of query, text, the subject id it should find)."""
    rng = random.Random(seed ^ 0xA11)
    made: list[tuple[str, str, str]] = []
    chinese = [s for s in samples if s["pinyin"]]
    english = [s for s in samples if not s["pinyin"]]
    makers: list[tuple[str, list[dict[str, Any]], Callable[[dict[str, Any]], str]]] = [
        ("exact name", samples, lambda s: s["name"]),
        ("Traditional characters", chinese, lambda s: zhconv.convert(s["name"], "zh-tw")),
        ("other legal form", chinese, lambda s: other_form(s["name"])),
        ("name without legal form", chinese, lambda s: s["name_base"]),
        ("English name in full width", english, lambda s: full_width(s["name"])),
        ("pinyin, joined", chinese, lambda s: s["pinyin"][0]),
        ("pinyin, spaced by syllable", chinese, lambda s: " ".join(name_syllables(s["name"]))),
        ("pinyin initials", chinese, lambda s: s["initials"][0]),
        ("USCC in lower case", samples, lambda s: s["uscc"].lower()),
        ("one character mistyped", chinese, lambda s: mistyped(s["name_base"], rng)),
    ]
    for number in range(count):
        kind, pool, make = makers[number % len(makers)]
        sample = rng.choice(pool)
        made.append((kind, make(sample), sample["id"]))
    return made


def mistyped(base: str, rng: random.Random) -> str:
    """The name's base with one of its characters replaced by another."""
    position = rng.randrange(len(base))
    replacement = rng.choice([c for c in DATASET.TRADE_CHARS if c != base[position]])
    return base[:position] + replacement + base[position + 1 :]


def other_form(name: str) -> str:
    for form, replacement in DATASET.OTHER_FORM.items():
        if name.endswith(form):
            return name[: -len(form)] + replacement
    return name


# --- the two ways of matching -------------------------------------------------------------


def by_tokens(backend: EngineBackend, text: str) -> list[str]:
    """The registry's own lookup (what GET /api/v1/subjects asks, facets aside)."""
    result = backend.search(SearchQuery(text=text, kinds=KINDS, size=20, facets=False))
    return [hit.id for hit in result.hits]


def by_engine(backend: EngineBackend, text: str) -> list[str]:
    """Names matched by the engine's analysis alone; codes and pinyin as keywords."""
    folded = text.strip().lower()
    body = {
        "size": 20,
        "query": {
            "bool": {
                "filter": [{"terms": {"kind": list(KINDS)}}],
                "should": [
                    {"match": {"names": {"query": text, "minimum_should_match": "75%"}}},
                    {"term": {"uscc": folded}},
                    {"term": {"pinyin": folded}},
                    {"term": {"initials": folded}},
                ],
                "minimum_should_match": 1,
            }
        },
        "sort": [{"_score": "desc"}, {"id": "asc"}],
        "_source": False,
    }
    response = backend.client.search(index=backend.alias, body=body)
    return [hit["_id"] for hit in response["hits"]["hits"]]


# --- measuring ----------------------------------------------------------------------------


def load(backend: EngineBackend, docs: list[dict[str, Any]], with_tokens: bool) -> float:
    """Create the index and bulk-load it; returns documents/s (refresh included)."""
    mapping = json.loads(json.dumps(MAPPING))
    if not with_tokens:
        del mapping["properties"]["tokens"]
    name = backend.index_name(1)
    backend.client.indices.create(
        index=name,
        body={
            "settings": {
                "number_of_shards": 1,
                "number_of_replicas": 0,
                "refresh_interval": "-1",
                "analysis": analysis_settings(),
            },
            "mappings": mapping,
            "aliases": {backend.alias: {}},
        },
    )
    started = time.perf_counter()
    for first in range(0, len(docs), BULK):
        chunk = docs[first : first + BULK]
        if not with_tokens:
            chunk = [{k: v for k, v in d.items() if k != "tokens"} for d in chunk]
        backend.index(chunk)
    backend.client.indices.refresh(index=name)
    seconds = time.perf_counter() - started
    backend.client.indices.forcemerge(index=name, max_num_segments=1)
    return len(docs) / seconds


def size_mb(backend: EngineBackend) -> float:
    stats = backend.client.indices.stats(index=backend.alias, metric="store")
    (index,) = stats["indices"].values()
    return int(index["primaries"]["store"]["size_in_bytes"]) / 1e6


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure(
    run: Callable[[str], list[str]], wanted: list[tuple[str, str, str]]
) -> dict[str, dict[str, float]]:
    by_kind: dict[str, dict[str, list[float]]] = {}
    for kind, text, subject_id in wanted:
        started = time.perf_counter()
        found = run(text)
        elapsed = (time.perf_counter() - started) * 1000
        figures = by_kind.setdefault(kind, {"first": [], "top20": [], "ms": []})
        figures["first"].append(float(bool(found) and found[0] == subject_id))
        figures["top20"].append(float(subject_id in found))
        figures["ms"].append(elapsed)
    everything = {
        "first": [x for f in by_kind.values() for x in f["first"]],
        "top20": [x for f in by_kind.values() for x in f["top20"]],
        "ms": [x for f in by_kind.values() for x in f["ms"]],
    }
    return {
        kind: {
            "first": 100 * sum(f["first"]) / len(f["first"]),
            "top20": 100 * sum(f["top20"]) / len(f["top20"]),
            "p50": percentile(f["ms"], 0.5),
            "p99": percentile(f["ms"], 0.99),
        }
        for kind, f in [*by_kind.items(), ("all queries", everything)]
    }


def connect(engine: str, url: str, prefix: str) -> EngineBackend:
    made = OpenSearchBackend if engine == "opensearch" else ElasticsearchBackend
    return made.connect(url, prefix, 120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=("opensearch", "elasticsearch"), default="opensearch")
    parser.add_argument("--engine-url", default=None)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=3_000)
    parser.add_argument("--seed", type=int, default=20151001)
    args = parser.parse_args()

    node = None
    url = args.engine_url
    if url is None:
        engines.HEAP = "2g"
        workdir = Path(tempfile.mkdtemp(prefix="creditreg-bench-analysis-"))
        print(f"starting a {args.engine} node under {workdir}", file=sys.stderr)
        node = engines.start(args.engine, workdir)
        url = node.url
    try:
        started = time.perf_counter()
        docs, samples = documents(args.subjects, args.seed)
        print(
            f"{len(docs):,} documents made in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        wanted = queries(samples, args.queries, args.seed)
        results = {}
        for label, with_tokens, run in (
            ("tokens", True, by_tokens),
            ("engine", False, by_engine),
        ):
            backend = connect(args.engine, url, f"bench-analysis-{label}")
            rate = load(backend, docs, with_tokens)
            size = size_mb(backend)
            print(f"{label}: {rate:,.0f} docs/s, {size:.1f} MB", file=sys.stderr)
            # Warm up, then measure.
            for _, text, _ in wanted[:200]:
                run(backend, text)
            results[label] = (
                rate,
                size,
                measure(lambda text, b=backend, r=run: r(b, text), wanted),
            )
            backend.drop_index(backend.index_name(1))
            backend.close()
        report(args, results)
    finally:
        if node is not None:
            node.stop()


def report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    print(f"\n{args.engine}, {args.subjects:,} subjects, {args.queries:,} queries\n")
    print("| | app tokens | engine analysis |")
    print("|---|---|---|")
    print(f"| bulk indexing, docs/s | {results['tokens'][0]:,.0f} | {results['engine'][0]:,.0f} |")
    print(f"| index size, MB | {results['tokens'][1]:.1f} | {results['engine'][1]:.1f} |")
    kinds = list(results["tokens"][2])
    for kind in kinds:
        a = results["tokens"][2][kind]
        b = results["engine"][2][kind]
        print(
            f"| {kind}: first / in top 20 / p50 / p99 ms | "
            f"{a['first']:.1f} % / {a['top20']:.1f} % / {a['p50']:.1f} / {a['p99']:.1f} | "
            f"{b['first']:.1f} % / {b['top20']:.1f} % / {b['p50']:.1f} / {b['p99']:.1f} |"
        )


if __name__ == "__main__":
    main()
