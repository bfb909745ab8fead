"""The searchable text of names, made once by the application for every backend.

A Chinese name has no spaces between words, so it is searched by character n-grams: every
character (unigram) and every pair of neighbours (bigram), the way Elasticsearch's
``cjk_bigram`` filter with ``output_unigrams`` does. A two-character query such as 华信
then finds 北京华信科技 through the bigram 华信. Latin words stay words. Pinyin (full and
initials) lets a user type ``huaxin`` or ``bjhx`` on a keyboard without a Chinese input
method.

Romanised names are matched the way Chinese ones are, by neighbouring pairs: the syllables
of 北京华信 (bei jing hua xin) give the tokens ``beijing``, ``jinghua`` and ``huaxin``, and
a query typed in pinyin, however it is spaced ("hua xin", "Beijing Huaxin",
"beijinghuaxin"), is split into syllables and asks for the same pairs. Latin words in a
name that spell pinyin (the English name "Beijing Huaxin Technology") are split the same
way, so both sides always agree.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pypinyin.converter import UltimateConverter
from pypinyin.core import Pinyin

from registry.names import normalize_name, normalize_text

_CJK_CHAR = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_RUNS = re.compile(rf"[{_CJK_CHAR}]+|[0-9a-z]+")
_CJK_RUN = re.compile(rf"^[{_CJK_CHAR}]+$")
_LETTERS = re.compile(r"^[a-z]+$")

# Every toneless pinyin syllable (pypinyin's spelling: ü as v), as pypinyin spells the
# characters of the basic CJK block; tests/search/test_text.py checks it against pypinyin.
SYLLABLES = frozenset(
    """
a ai an ang ao ba bai ban bang bao bei ben beng bi bian biao bie bin bing bo bu ca cai
can cang cao ce cen ceng cha chai chan chang chao che chen cheng chi chong chou chu chua
chuai chuan chuang chui chun chuo ci cong cou cu cuan cui cun cuo da dai dan dang dao de
den deng di dian diao die ding diu dong dou du duan dui dun duo e ei en eng er fa fan
fang fei fen feng fiao fo fou fu ga gai gan gang gao ge gei gen geng gong gou gu gua
guai guan guang gui gun guo ha hai han hang hao he hei hen heng hm hong hou hu hua huai
huan huang hui hun huo ji jia jian jiang jiao jie jin jing jiong jiu ju juan jue jun ka
kai kan kang kao ke ken keng kong kou ku kua kuai kuan kuang kui kun kuo la lai lan lang
lao le lei leng li lia lian liang liao lie lin ling liu lo long lou lu luan lun luo lv
lve m ma mai man mang mao me mei men meng mi mian miao mie min ming miu mo mou mu n na
nai nan nang nao ne nei nen neng ni nian niang niao nie nin ning niu nong nou nu nuan
nun nuo nv nve o ou pa pai pan pang pao pei pen peng pi pian piao pie pin ping po pou pu
qi qia qian qiang qiao qie qin qing qiong qiu qu quan que qun ran rang rao re ren reng
ri rong rou ru rua ruan rui run ruo sa sai san sang sao se sen seng sha shai shan shang
shao she shen sheng shi shou shu shua shuai shuan shuang shui shun shuo si song sou su
suan sui sun suo ta tai tan tang tao te teng ti tian tiao tie ting tong tou tu tuan tui
tun tuo wa wai wan wang wei wen weng wo wu xi xia xian xiang xiao xie xin xing xiong xiu
xu xuan xue xun ya yan yang yao ye yi yin ying yo yong you yu yuan yue yun za zai zan
zang zao ze zei zen zeng zha zhai zhan zhang zhao zhe zhen zheng zhi zhong zhou zhu zhua
zhuai zhuan zhuang zhui zhun zhuo zi zong zou zu zuan zui zun zuo
""".split()  # noqa: SIM905 - a list literal would take 410 lines
)
_LONGEST_SYLLABLE = max(map(len, SYLLABLES))


def _ngrams(run: str, *, unigrams: bool) -> list[str]:
    if len(run) == 1:
        return [run]
    bigrams = [run[i : i + 2] for i in range(len(run) - 1)]
    return (list(run) + bigrams) if unigrams else bigrams


def _tokens(text: str, *, unigrams: bool) -> list[str]:
    return _tokens_of_normalised(normalize_text(text), unigrams=unigrams)


def _tokens_of_normalised(normalised: str, *, unigrams: bool) -> list[str]:
    tokens: list[str] = []
    for run in _RUNS.findall(normalised):
        if _CJK_RUN.match(run):
            tokens.extend(_ngrams(run, unigrams=unigrams))
        else:
            tokens.append(run)
    return tokens


@lru_cache(maxsize=65536)
def syllables_of(word: str) -> tuple[str, ...] | None:
    """``word`` split into pinyin syllables, or None if it is not pinyin.

    Of all the splits, the one with the fewest syllables, the longer first syllable breaking
    ties: "xian" is 先 (one syllable) rather than 西安, "changan" is chang-an. A name spelt
    from the characters (xi an) then differs from the typed word; the neighbouring pair
    "xian" still matches it as a token.
    """
    if not _LETTERS.match(word):
        return None
    # Worked out from the end: fewest[i] is the fewest syllables word[i:] splits into (None:
    # it does not), first_end[i] where the first of them ends. Ends are tried longest first
    # and only a strictly smaller count replaces, so ties keep the longer first syllable.
    # (Counts and ends rather than whole splits, which were copied at every step.)
    length = len(word)
    fewest: list[int | None] = [None] * length + [0]
    first_end = [0] * length
    for start in range(length - 1, -1, -1):
        for end in range(min(length, start + _LONGEST_SYLLABLE), start, -1):
            rest = fewest[end]
            if rest is None or word[start:end] not in SYLLABLES:
                continue
            current = fewest[start]
            if current is None or rest + 1 < current:
                fewest[start] = rest + 1
                first_end[start] = end
    if fewest[0] is None:
        return None
    split: list[str] = []
    start = 0
    while start < length:
        split.append(word[start : first_end[start]])
        start = first_end[start]
    return tuple(split)


def syllable_pairs(syllables: list[str] | tuple[str, ...]) -> list[str]:
    """Neighbouring syllables joined: bei jing hua xin -> beijing, jinghua, huaxin."""
    return ["".join(syllables[i : i + 2]) for i in range(len(syllables) - 1)]


def _romanised_groups(runs: list[str]) -> list[list[str] | str]:
    """The runs of a text with each stretch of consecutive pinyin words gathered into one
    list of syllables; every other run left as it is."""
    out: list[list[str] | str] = []
    group: list[str] = []
    for run in runs:
        spelt = syllables_of(run)
        if spelt is not None:
            group.extend(spelt)
            continue
        if group:
            out.append(group)
            group = []
        out.append(run)
    if group:
        out.append(group)
    return out


def index_tokens(text: str) -> list[str]:
    """Tokens to store for ``text``: CJK unigrams and bigrams, Latin words and numbers."""
    return _tokens(text, unigrams=True)


def query_tokens(text: str) -> list[str]:
    """Tokens a query must match: CJK bigrams (a lone character as itself), Latin words,
    and for words typed in pinyin the pairs of neighbouring syllables (a lone syllable as
    itself)."""
    tokens: list[str] = []
    for part in _romanised_groups(_RUNS.findall(normalize_text(text))):
        if isinstance(part, list):
            tokens.extend(syllable_pairs(part) if len(part) > 1 else part)
        elif _CJK_RUN.match(part):
            tokens.extend(_ngrams(part, unigrams=False))
        else:
            tokens.append(part)
    return list(dict.fromkeys(tokens))


def romanised_tokens(normalised: str) -> list[str]:
    """The syllable pairs of the pinyin words written in ``normalised`` (its Latin part), a
    text already through ``normalize_text``."""
    pairs: list[str] = []
    for part in _romanised_groups(_RUNS.findall(normalised)):
        if isinstance(part, list):
            pairs.extend(syllable_pairs(part))
    return pairs


class _WordCache(UltimateConverter):
    """pypinyin's own converter (the one ``lazy_pinyin`` uses), remembering each word it
    spelt.

    pypinyin cuts a text into words and spells each word on its own, so a word always reads
    the same; registry names are made of few distinct words (places, trade names,
    industries), so most words are spelt once. Spelling every word anew was the largest
    part of building a search document.
    """

    @lru_cache(maxsize=65536)  # noqa: B019 - one instance, alive as long as the module
    def _spelt(
        self, words: str, style: Any, errors: str, strict: bool
    ) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(item) for item in super().convert(words, style, False, errors, strict))

    def convert(
        self,
        words: str,
        style: Any,
        heteronym: bool,
        errors: Any,
        strict: bool = True,
        **kwargs: Any,
    ) -> list[list[str]]:
        if heteronym or kwargs or not isinstance(errors, str):
            return list(super().convert(words, style, heteronym, errors, strict, **kwargs))
        return [list(item) for item in self._spelt(words, style, errors, strict)]


_PINYIN = Pinyin(_WordCache())


@lru_cache(maxsize=65536)
def name_syllables(name: str) -> tuple[str, ...]:
    """The pinyin syllables of the Chinese characters of a name's base, lower case.

    Anything else is left out. Cached: the same names come back for every document and
    every screening candidate.
    """
    base = normalize_name(name).base
    spelt = _PINYIN.lazy_pinyin(base, errors="ignore")
    return tuple(s.lower() for s in spelt if s.isascii() and s.isalnum())


def pinyin_forms(name: str) -> tuple[str, str]:
    """The full pinyin (syllables joined) and the initials of a name's base, lower case."""
    syllables = name_syllables(name)
    return "".join(syllables), "".join(s[0] for s in syllables)


# Marks the tokens of a trade name (字号) apart from the n-grams of the whole name: "tn华信"
# is 华信 as a trade name. Letters then CJK: every backend's tokenizer keeps it one token.
TRADE_NAME_MARK = "tn"
# Trade names are a few characters; a longer "trade name" is a name the parser could not
# take apart, whose n-grams already serve, and whose deletions would only swell the index.
TRADE_NAME_LEAST, TRADE_NAME_MOST = 2, 8


def is_trade_name_token(token: str) -> bool:
    """Whether ``token`` was made by :func:`trade_name_tokens` (a Latin word starting with
    "tn" was not: those tokens always hold a Chinese character)."""
    return token.startswith(TRADE_NAME_MARK) and not token.isascii()


def trade_name_tokens(trade: str, industry: str | None = None) -> list[str]:
    """A Chinese trade name and each of its one-character deletions, marked: 金瑞祥 gives
    tn金瑞祥, tn瑞祥, tn金祥, tn金瑞.

    Two trade names one edit apart share one of these (the deletion neighbourhood): a
    character replaced (金瑞详) deletes to tn金瑞 as well, one dropped (金祥) is itself a
    deletion of the indexed name, one inserted (金瑞福祥) deletes to the indexed name. So a
    screening row with a mistyped trade name still finds the company among its candidates,
    where the bigrams alone may share nothing. A two-character trade name deletes to single
    characters, which would join it to every trade name holding either: its deletions keep
    their place and the name's industry (华信 in 北京华信科技: tn1华科技, tn2信科技), so
    华新科技 finds it through tn1华科技 but neither 新华科技 nor 华新物流 does. A Latin trade
    name gives none: its words and pinyin pairs already serve."""
    if not _CJK_RUN.match(trade) or not TRADE_NAME_LEAST <= len(trade) <= TRADE_NAME_MOST:
        return []
    if len(trade) == 2:
        deletions = [f"1{trade[0]}{industry or ''}", f"2{trade[1]}{industry or ''}"]
    else:
        deletions = [trade[:i] + trade[i + 1 :] for i in range(len(trade))]
    return [TRADE_NAME_MARK + t for t in dict.fromkeys([trade, *deletions])]


def name_tokens(names: list[str]) -> list[str]:
    """Everything a subject's names contribute to ``tokens``: n-grams of every name and of
    its base (legal form stripped), its pinyin (in full, as pairs of neighbouring syllables,
    and as initials), the syllable pairs of the pinyin words written in it, and its trade
    name's tokens (``trade_name_tokens``)."""
    from registry.name_parts import parse_name

    tokens: list[str] = []
    for name in names:
        parts = parse_name(name)
        tokens.extend(trade_name_tokens(parts.trade, parts.industry))
        # Both forms are normalised already (normalize_name is cached, and normalising is
        # idempotent): the tokens are made from them without a second pass.
        forms = normalize_name(name)
        tokens.extend(_tokens_of_normalised(forms.normalised, unigrams=True))
        tokens.extend(_tokens_of_normalised(forms.base, unigrams=True))
        tokens.extend(romanised_tokens(forms.normalised))
        syllables = name_syllables(name)
        if syllables:
            joined = "".join(syllables)
            tokens.append(joined)
            tokens.extend(syllable_pairs(syllables))
            # The pinyin typed without spaces is split by syllables_of, which may cut it
            # elsewhere than the characters do (西安 xi-an, typed "xian"): its pairs too.
            tokens.extend(syllable_pairs(syllables_of(joined) or ()))
        if len(syllables) > 1:
            tokens.append("".join(s[0] for s in syllables))
    return list(dict.fromkeys(tokens))
