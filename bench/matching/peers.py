"""The published matchers the registry is compared with, on the same queries.

- OpenSanctions' yente scoring algorithms (``nomenklatura.matching``: logic-v1, logic-v2,
  name-based), each scoring a FollowTheMoney Company built from the query against one built
  from each candidate the registry's search retrieved, as yente scores the candidates its
  index returns. Candidates are ranked by score, ties in the order retrieved; the best is a
  match at ``threshold`` (yente's /match default: 0.7).
- A rapidfuzz baseline: the query's normalised name (``registry.names.normalize_name``
  base: Simplified, half-width, no legal form) against every name of every subject (current
  and former), a match at ``threshold`` (0 to 100). It reads names only: a row with a code
  and no name is a miss for it.

Both packages are bench-only: ``make bench-matching`` installs them
(bench/matching/requirements.txt).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

from registry.names import normalize_name

YENTE_ALGORITHMS = ("logic-v1", "logic-v2", "name-based")
FUZZ_SCORERS = {"ratio": fuzz.ratio, "WRatio": fuzz.WRatio}


@dataclass
class PeerAnswer:
    ranked: tuple[str, ...]  # subject keys, best first
    score: float


@dataclass
class Peer:
    name: str
    threshold: float
    seconds: float = 0.0
    answers: list[PeerAnswer] = field(default_factory=list)

    def decision(self, answer: PeerAnswer) -> str:
        return "match" if answer.ranked and answer.score >= self.threshold else "none"


class YentePeer(Peer):
    """One nomenklatura scoring algorithm over the registry's retrieved candidates."""

    def __init__(self, algorithm: str, threshold: float) -> None:
        from followthemoney import model
        from nomenklatura.matching import get_algorithm

        found = get_algorithm(algorithm)
        if found is None:
            raise SystemExit(f"nomenklatura has no algorithm {algorithm!r}")
        super().__init__(algorithm, threshold)
        self.model = model
        self.algorithm = found
        self.config = found.default_config()

    def entity(self, entity_id: str, names: Iterable[str], uscc: str | None) -> Any:
        entity = self.model.make_entity("Company")
        entity.id = entity_id
        names = list(names)
        if names:
            entity.add("name", names[0])
            entity.add("previousName", names[1:])
        if uscc:
            entity.add("uscCode", uscc)
        return entity

    def answer(self, row: dict[str, str], candidates: list[tuple[str, dict[str, Any]]]) -> None:
        """``candidates``: (subject key, search document), in the order retrieved."""
        started = time.perf_counter()
        name = row.get("name")
        # An id of its own for every query: logic-v2 caches a name's analysis by entity id.
        query_id = f"query-{len(self.answers)}"
        query = self.entity(query_id, [name] if name else [], row.get("uscc"))
        scored = []
        for order, (key, document) in enumerate(candidates):
            names = [
                document["name"],
                *(n for n in document.get("names") or [] if n != document["name"]),
            ]
            candidate = self.entity(key, names, document.get("uscc"))
            result = self.algorithm.compare(query, candidate, self.config)
            scored.append((-result.score, order, key))
        scored.sort()
        self.seconds += time.perf_counter() - started
        best = -scored[0][0] if scored else 0.0
        self.answers.append(PeerAnswer(tuple(key for _, _, key in scored), best))


class FuzzPeer(Peer):
    """rapidfuzz over every subject's normalised names."""

    def __init__(self, scorer: str, threshold: float, names: list[tuple[str, str]]) -> None:
        """``names``: (subject key, name) for every name of every subject."""
        super().__init__(f"rapidfuzz {scorer}", threshold)
        self.scorer = FUZZ_SCORERS[scorer]
        self.keys = [key for key, _ in names]
        self.choices = [normalize_name(name).base for _, name in names]

    def answer(self, row: dict[str, str]) -> None:
        started = time.perf_counter()
        ranked: list[str] = []
        best = 0.0
        if row.get("name"):
            wanted = normalize_name(row["name"]).base
            found = process.extract(
                wanted, self.choices, scorer=self.scorer, processor=None, limit=10
            )
            for _, _, index in found:
                if self.keys[index] not in ranked:
                    ranked.append(self.keys[index])
            best = found[0][1] if found else 0.0
        self.seconds += time.perf_counter() - started
        self.answers.append(PeerAnswer(tuple(ranked), best))
