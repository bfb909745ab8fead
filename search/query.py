"""What a lookup asks and what every backend answers, independent of any engine."""

from __future__ import annotations

import base64
import html
import json
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from registry.identifiers import IdentifierError, validate_uscc
from registry.name_parts import parse_name
from registry.names import normalize_name, normalize_text
from search.text import is_trade_name_token, query_tokens, trade_name_tokens

FACETS = ("kind", "region", "industry", "lists", "grade")

# Screening leaves out of its candidate queries the tokens nearly every name has (科技,
# 北京): ranked, they would bring a fifth of the registry into every row's query. A token
# is common when more than COMMON_TOKEN_SHARE of the documents have it, and more than
# COMMON_TOKEN_FLOOR of them: below the floor a token costs little to rank whatever its
# share. Every backend applies the same cut, so they pick candidates from the same tokens.
COMMON_TOKEN_SHARE = 0.01
COMMON_TOKEN_FLOOR = 500
# Which tokens are common changes slowly; backends keep what they counted this long.
COMMON_TOKENS_TTL_SECONDS = 900.0


def common_token_least(documents: int, floor: int = COMMON_TOKEN_FLOOR) -> int:
    """A token in more than this many of ``documents`` is common."""
    return max(floor, int(COMMON_TOKEN_SHARE * documents))


def without_common(tokens: list[str], common: frozenset[str] | set[str]) -> list[str]:
    """``tokens`` less the common ones; all of them when every one is common (a name made
    only of common tokens keeps its candidates rather than finding nothing)."""
    return [t for t in tokens if t not in common] or tokens


def candidate_tokens(query: SearchQuery, common: frozenset[str] | set[str]) -> list[str]:
    """The tokens that bring a screening query's candidates in (any one of them will do):
    the name's rare tokens; for a query ``by_trade_name`` its trade-name tokens alone; for
    one ``by_exact_trade_name`` the token of the trade name as written, common or not.
    Every backend asks this, so they pick candidates alike; all of ``query.tokens`` rank."""
    trade = [t for t in query.tokens if is_trade_name_token(t)]
    if query.by_exact_trade_name:
        return trade[:1]
    if not query.by_trade_name:
        return without_common(query.tokens, common)
    return without_common(trade, common)


@dataclass(frozen=True)
class SearchQuery:
    text: str | None = None
    kinds: tuple[str, ...] = ()
    region: str | None = None
    industry: str | None = None
    list_kind: str | None = None
    grade: str | None = None
    id_number_hash: str | None = None
    size: int = 20
    after: tuple[float, str] | None = None
    # Screening asks for candidates: any token may match (ranked by how many and how
    # rare), and neither facets nor a total are needed.
    match_any: bool = False
    facets: bool = True
    # Screening's last ask, for a row whose earlier ones found no trade name one edit from
    # its own: candidates by the trade name's one-edit neighbourhood (search.text).
    by_trade_name: bool = False
    # Screening's first ask for a name: the subjects whose trade name is the row's as
    # written (and those one character longer, which share its token); its one token is
    # never cut as common. Their number does not grow with the registry the way a bigram's
    # does.
    by_exact_trade_name: bool = False
    # The document fields the caller reads (None: the whole document). An engine sends only
    # these; the SQL backend, which stores each document whole, may return more.
    fields: tuple[str, ...] | None = None

    @cached_property
    def uscc(self) -> str | None:
        """The USCC the text is, however it was typed (lower case, spaces, full width)."""
        if not self.text:
            return None
        try:
            return validate_uscc(self.text).code
        except IdentifierError:
            return None

    @cached_property
    def tokens(self) -> list[str]:
        """What the text must match. A legal form typed in the query is left out, so
        有限责任公司 and 有限公司, Co., Ltd. and Limited, find the same companies."""
        if not self.text or not normalize_text(self.text) or self.uscc:
            return []
        tokens = query_tokens(normalize_name(self.text).base)
        if self.by_trade_name or self.by_exact_trade_name:
            parts = parse_name(self.text)
            trade = trade_name_tokens(parts.trade, parts.industry)
            tokens.extend(t for t in trade if t not in tokens)
        return tokens

    def filters(self) -> dict[str, tuple[str, ...]]:
        """Field -> the values it may have (any of them)."""
        named: dict[str, tuple[str, ...]] = {
            "kind": self.kinds,
            "region": (self.region,) if self.region else (),
            "industry": (self.industry,) if self.industry else (),
            "lists": (self.list_kind,) if self.list_kind else (),
            "grade": (self.grade,) if self.grade else (),
            "id_number_hash": (self.id_number_hash,) if self.id_number_hash else (),
        }
        return {k: v for k, v in named.items() if v}


@dataclass
class SearchHit:
    id: str
    score: float
    document: dict[str, Any]
    highlights: list[str] = field(default_factory=list)


@dataclass
class SearchResult:
    hits: list[SearchHit]
    total: int
    facets: dict[str, dict[str, int]]
    next_after: tuple[float, str] | None


def encode_after(after: tuple[float, str] | None) -> str | None:
    """The opaque next-page token: the last hit's score and id."""
    if after is None:
        return None
    raw = json.dumps([after[0], after[1]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_after(token: str) -> tuple[float, str]:
    """:raises ValueError: the token was not made by :func:`encode_after`."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        score, last_id = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise ValueError("not a page token of this registry") from exc
    if not isinstance(score, int | float) or not isinstance(last_id, str):
        raise ValueError("not a page token of this registry")
    try:
        uuid.UUID(last_id)  # a subject id; anything else would fail in the backend's query
    except ValueError:
        raise ValueError("not a page token of this registry") from None
    return float(score), last_id


def highlight(names: list[str], tokens: list[str]) -> list[str]:
    """The names that contain a query token, with the matches in ``<em>`` (HTML-escaped).

    Done by the application, so every backend highlights alike.
    """
    marked: list[str] = []
    wanted = [t for t in tokens if t]
    if not wanted:
        return marked
    for name in names:
        text = normalize_text(name)
        # Show the name as written when normalising kept its length (positions line up),
        # else its normalised form.
        shown = name if len(name) == len(text) else text
        spans = [False] * len(text)
        for token in wanted:
            start = text.find(token)
            while start != -1:
                for i in range(start, start + len(token)):
                    spans[i] = True
                start = text.find(token, start + 1)
        if not any(spans):
            continue
        out: list[str] = []
        inside = False
        for char, on in zip(shown, spans, strict=True):
            if on and not inside:
                out.append("<em>")
            if not on and inside:
                out.append("</em>")
            inside = on
            out.append(html.escape(char))
        if inside:
            out.append("</em>")
        marked.append("".join(out))
    return marked
