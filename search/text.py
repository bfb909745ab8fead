"""The searchable text of names, made once by the application for every backend.

A Chinese name has no spaces between words, so it is searched by character n-grams: every
character (unigram) and every pair of neighbours (bigram), the way Elasticsearch's
``cjk_bigram`` filter with ``output_unigrams`` does. A two-character query such as 华信
then finds 北京华信科技 through the bigram 华信. Latin words stay words. Pinyin (full and
initials) lets a user type ``huaxin`` or ``bjhx`` on a keyboard without a Chinese input
method.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pypinyin import lazy_pinyin

from registry.names import normalize_name, normalize_text

_CJK_CHAR = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_RUNS = re.compile(rf"[{_CJK_CHAR}]+|[0-9a-z]+")
_CJK_RUN = re.compile(rf"^[{_CJK_CHAR}]+$")


def _ngrams(run: str, *, unigrams: bool) -> list[str]:
    if len(run) == 1:
        return [run]
    bigrams = [run[i : i + 2] for i in range(len(run) - 1)]
    return (list(run) + bigrams) if unigrams else bigrams


def _tokens(text: str, *, unigrams: bool) -> list[str]:
    tokens: list[str] = []
    for run in _RUNS.findall(normalize_text(text)):
        if _CJK_RUN.match(run):
            tokens.extend(_ngrams(run, unigrams=unigrams))
        else:
            tokens.append(run)
    return tokens


def index_tokens(text: str) -> list[str]:
    """Tokens to store for ``text``: CJK unigrams and bigrams, Latin words and numbers."""
    return _tokens(text, unigrams=True)


def query_tokens(text: str) -> list[str]:
    """Tokens a query must match: CJK bigrams (a lone character as itself), Latin words."""
    return list(dict.fromkeys(_tokens(text, unigrams=False)))


@lru_cache(maxsize=65536)
def pinyin_forms(name: str) -> tuple[str, str]:
    """The full pinyin (syllables joined) and the initials of a name's base, lower case.

    Only the Chinese characters are spelt; anything else is left out. Cached: the same
    names come back for every document and every screening candidate.
    """
    base = normalize_name(name).base
    syllables = [s for s in lazy_pinyin(base, errors="ignore") if s.isascii() and s.isalnum()]
    return "".join(syllables).lower(), "".join(s[0] for s in syllables).lower()


def name_tokens(names: list[str]) -> list[str]:
    """Everything a subject's names contribute to ``tokens``: n-grams of every name and of
    its base (legal form stripped), and its pinyin and initials."""
    tokens: list[str] = []
    for name in names:
        tokens.extend(index_tokens(name))
        tokens.extend(index_tokens(normalize_name(name).base))
        full, initials = pinyin_forms(name)
        if full:
            tokens.append(full)
        if len(initials) > 1:
            tokens.append(initials)
    return list(dict.fromkeys(tokens))
