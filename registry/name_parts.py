"""A Chinese enterprise name by its parts: division, trade name (字号), industry, form.

The enterprise-name registration rules build a name from four parts in this order:
administrative division + trade name + industry or business feature + organisational form,
北京 | 华信 | 科技 | 有限公司. The trade name is what tells one company from another: two
companies whose trade names differ are different legal persons, however alike the rest. So
screening compares names part by part (``search.screening``) rather than as strings.

Names come with variants the parser undoes:

- the division at several levels (江苏省苏州市), written short (苏州) or in full (苏州市);
- the division in parentheses after the trade name: 华信科技(北京)有限公司;
- a branch (分支机构): 北京华信科技有限公司上海分公司, 某银行北京支行;
- names in Latin letters, in pinyin or English: "Beijing Huaxin Technology Co., Ltd.", whose
  division and industry words are recognised from their pinyin and English equivalents.

The divisions are those of ``config/regions.tsv`` (GB/T 2260) and the industry terms those of
``config/industry_terms.tsv``. A part the parser cannot find is None; what is left after the
division, industry and form is the trade name, so a name the parser does not understand is
compared whole, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from registry.config_files import read_table
from registry.names import normalize_name
from registry.regions import REGIONS_FILE

INDUSTRY_TERMS_FILE = Path(__file__).resolve().parent.parent / "config" / "industry_terms.tsv"

# A trade name has at least two characters (the registration rules); a division or industry
# term that would leave fewer is part of the trade name (东方电气: 东方 is also a city).
TRADE_NAME_LEAST = 2

_BRANCH_WORDS = ("分公司", "分行", "支行", "分店", "营业部", "办事处", "分厂", "分部", "分所")
_BRANCH = re.compile(rf"(?:{'|'.join(_BRANCH_WORDS)})$")
_PARENTHESISED = re.compile(r"\(([^()]*)\)")
# 集团 at the end of a name: a group, a legal person apart from its members' companies.
_GROUP_WORDS = re.compile(r"(?:\(集团\)|集团)$")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_LATIN_WORDS = re.compile(r"[0-9a-z]+")
# The suffix that makes a division's short form: 江苏省 -> 江苏, 广西壮族自治区 -> 广西,
# 延边朝鲜族自治州 -> 延边.
_DIVISION_SUFFIX = re.compile(
    r"^(.{2,}?)(?:(?:[\u4e00-\u9fff]{1,4}族|维吾尔)*自治(?:区|州|县|旗)|特别行政区|省|市|地区|盟)$"
)
# Rows of the division list that name no place of their own.
_PLACEHOLDERS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


@dataclass(frozen=True)
class NameParts:
    """What the parser found in one name. ``trade`` is never empty."""

    base: str  # the normalised name without its legal form (registry.names)
    division: str | None  # as written in the name, normalised: 北京, 江苏省苏州市, beijing
    division_codes: frozenset[str]  # the GB/T 2260 codes it may mean (朝阳区: two of them)
    trade: str  # 字号: the characters, or for a Latin name its letters without spaces
    industry: str | None  # as written: 科技, technology
    industry_terms: frozenset[str]  # the Chinese terms it stands for: {科技, 技术}
    legal_form: str | None
    branch: str | None  # 上海分公司 for a branch, else None
    latin: bool  # written in Latin letters (pinyin or English)
    group: bool = False  # 集团: a group's name (a legal person apart from its members)


# --- the data -----------------------------------------------------------------------------


@cache
def _divisions() -> dict[str, frozenset[str]]:
    """Division name (full, and short when that leaves two characters) -> its codes.

    Counties keep their full name only (海淀区), but county-level cities are also known short
    (昆山, 义乌): companies are named after them."""
    found: dict[str, set[str]] = {}
    for code, name, _full in read_table(REGIONS_FILE):
        if name in _PLACEHOLDERS:
            continue
        found.setdefault(name, set()).add(code)
        county = not code.endswith("00")
        short = _DIVISION_SUFFIX.match(name)
        if short and (not county or name.endswith("市")):
            found.setdefault(short.group(1), set()).add(code)
    return {name: frozenset(codes) for name, codes in found.items()}


@cache
def _division_pinyin() -> dict[str, frozenset[str]]:
    """Provinces and prefecture-level cities by the pinyin of their short names (beijing,
    suzhou), for names written in Latin letters; counties are left out, their pinyin too
    often a common word."""
    from search.text import name_syllables

    spelt: dict[str, set[str]] = {}
    for name, codes in _divisions().items():
        upper = {c for c in codes if c.endswith("00")}
        if not upper or not _DIVISION_SUFFIX.match(name + "市") or len(name) > 4:
            continue
        letters = "".join(name_syllables(name))
        if letters:
            spelt.setdefault(letters, set()).update(upper)
    return {letters: frozenset(codes) for letters, codes in spelt.items()}


@cache
def _industries() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """(Chinese term -> itself, English words or pinyin -> the terms they stand for)."""
    from search.text import name_syllables

    chinese: dict[str, frozenset[str]] = {}
    latin: dict[str, set[str]] = {}
    for term, english in read_table(INDUSTRY_TERMS_FILE):
        chinese[term] = frozenset({term})
        for words in [*english.split(","), "".join(name_syllables(term))]:
            key = " ".join(_LATIN_WORDS.findall(words.lower()))
            if key:
                latin.setdefault(key, set()).add(term)
    return chinese, {words: frozenset(terms) for words, terms in latin.items()}


# --- parsing ------------------------------------------------------------------------------


def within(code: str, other: str) -> bool:
    """Whether division ``code`` lies in (or is) division ``other``: a county in its city and
    province, a city in its province."""
    if code == other:
        return True
    if other.endswith("0000"):
        return code[:2] == other[:2]
    if other.endswith("00"):
        return code[:4] == other[:4]
    return False


def divisions_agree(left: frozenset[str], right: frozenset[str]) -> bool:
    """Two divisions agree when one of the places either may mean lies in the other's."""
    return any(within(a, b) or within(b, a) for a in left for b in right)


def _leading_divisions(text: str) -> tuple[str, frozenset[str], str]:
    """The divisions ``text`` starts with (江苏省苏州市华信 -> 江苏省苏州市), their codes (the
    innermost level's), and the rest; each must lie in the one before it."""
    divisions = _divisions()
    taken, codes, rest = "", frozenset[str](), text
    while True:
        for length in range(min(len(rest) - TRADE_NAME_LEAST, 12), 1, -1):
            found = divisions.get(rest[:length])
            if found is None:
                continue
            inner = (
                frozenset(c for c in found if any(within(c, o) for o in codes)) if codes else found
            )
            if inner:
                taken, codes, rest = taken + rest[:length], inner, rest[length:]
                break
        else:
            return taken, codes, rest


def _trailing_industry(text: str) -> tuple[str | None, str]:
    """The longest industry term ``text`` ends with, leaving a trade name, and the rest."""
    chinese, _ = _industries()
    for length in range(min(len(text) - TRADE_NAME_LEAST, 8), 0, -1):
        if text[-length:] in chinese:
            return text[-length:], text[:-length]
    return None, text


def _split_branch(normalised: str) -> tuple[str, str | None]:
    """(the company's own name, the branch) for a branch's name: the branch is what follows
    the company's organisational form (…有限公司上海分公司), or else a division and the branch
    word at the end (…银行北京支行)."""
    word = _BRANCH.search(normalised)
    # A name that is nothing but a branch word names no company to be a branch of.
    if word is None or not normalised[: word.start()].strip(" ()"):
        return normalised, None
    form_end = normalised.rfind("公司", 0, len(normalised) - 3)
    if form_end != -1:
        return normalised[: form_end + 2], normalised[form_end + 2 :]
    head = normalised[: word.start()]
    for length in range(min(len(head) - TRADE_NAME_LEAST, 12), 1, -1):
        if head[-length:] in _divisions():
            return head[:-length], head[-length:] + word.group(0)
    return head, word.group(0)


# About 700 bytes an entry: 32,768 names are some 23 MB in each process.
@lru_cache(maxsize=32768)
def parse_name(raw: str) -> NameParts:
    """The parts of ``raw`` (any spelling: normalised first). Cached: screening parses the
    same candidates' names again and again.

    :raises ValueError: the name is empty once normalised."""
    whole = normalize_name(raw)
    own, branch = _split_branch(whole.normalised)
    forms = normalize_name(own) if branch else whole
    if not _CJK.search(forms.base):
        return _parse_latin(forms.base, forms.legal_form, branch)
    group = _GROUP_WORDS.search(forms.base) is not None
    text = _GROUP_WORDS.sub("", forms.base) or forms.base
    division, codes = "", frozenset[str]()
    # A division in parentheses after the trade name: 华信科技(北京).
    for inner in _PARENTHESISED.finditer(text):
        found = _divisions().get(inner.group(1))
        if found is not None and not division:
            division, codes = inner.group(1), found
            text = text[: inner.start()] + text[inner.end() :]
            break
    industry, rest = _trailing_industry(text)
    if not division:
        division, codes, after_division = _leading_divisions(text)
        industry_after, rest_after = _trailing_industry(after_division)
        # A place name that would swallow the industry is the trade name (东方电气: 东方 is
        # also a city, but then 电气 would be the trade name and no industry left).
        if division and (industry_after or not industry):
            industry, rest = industry_after, rest_after
        else:
            division, codes = "", frozenset()
    # Never empty: a name that is all division and industry ((北京)有限公司) is compared whole.
    trade = rest.replace("(", "").replace(")", "") or forms.base
    return NameParts(
        base=forms.base,
        division=division or None,
        division_codes=codes,
        trade=trade,
        industry=industry,
        industry_terms=frozenset({industry}) if industry else frozenset(),
        legal_form=forms.legal_form,
        branch=branch,
        latin=False,
        group=group,
    )


def _parse_latin(base: str, legal_form: str | None, branch: str | None) -> NameParts:
    """A name in Latin letters: division words at the start or in parentheses, industry
    words at the end (English or pinyin), the trade name between them."""
    words = _LATIN_WORDS.findall(base)
    if not words:
        return NameParts(base, None, frozenset(), base, None, frozenset(), legal_form, branch, True)
    places = _division_pinyin()
    division, codes = None, frozenset[str]()
    inner = _PARENTHESISED.search(base)
    if inner is not None and "".join(_LATIN_WORDS.findall(inner.group(1))) in places:
        inner_words = _LATIN_WORDS.findall(inner.group(1))
        division, codes = " ".join(inner_words), places["".join(inner_words)]
        words = _LATIN_WORDS.findall(base[: inner.start()] + " " + base[inner.end() :])
    elif len(words) > 1:
        for count in (2, 1):
            joined = "".join(words[:count])
            if count < len(words) and joined in places:
                division, codes, words = " ".join(words[:count]), places[joined], words[count:]
                break
    _, latin_terms = _industries()
    industry, terms = None, frozenset[str]()
    for count in (4, 3, 2, 1):
        if count >= len(words):
            continue
        key = " ".join(words[-count:])
        if key in latin_terms:
            industry, terms, words = key, latin_terms[key], words[:-count]
            break
    return NameParts(
        base=base,
        division=division,
        division_codes=codes,
        trade="".join(words),
        industry=industry,
        industry_terms=terms,
        legal_form=legal_form,
        branch=branch,
        latin=True,
    )
