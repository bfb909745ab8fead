"""The searchable text the application makes: syllable splitting and the tokens of
romanised names, on both sides of a match."""

import pytest
from pypinyin import lazy_pinyin

from registry.names import normalize_name
from search.text import SYLLABLES, name_syllables, name_tokens, query_tokens, syllables_of


def test_the_syllable_list_is_pypinyins():
    spelt = set()
    for code in range(0x4E00, 0x9FA6):
        spelt.update(s for s in lazy_pinyin(chr(code), errors="ignore") if s.isalpha())
    assert spelt == SYLLABLES


@pytest.mark.parametrize(
    ("word", "syllables"),
    [
        ("beijinghuaxin", ("bei", "jing", "hua", "xin")),
        ("xian", ("xian",)),  # fewest syllables: not xi-an
        ("changan", ("chang", "an")),  # a tie goes to the longer first syllable
        ("zhuangyuan", ("zhuang", "yuan")),
        ("lvse", ("lv", "se")),
    ],
)
def test_pinyin_words_split_into_syllables(word, syllables):
    assert syllables_of(word) == syllables


def preferred_split(word):
    """The rule by brute force: of every split into syllables, the fewest syllables, then
    the longer first syllable, then (recursively) the same for the rest."""
    if not word:
        return ()
    splits = [
        (word[:end], *rest)
        for end in range(len(word), 0, -1)
        if word[:end] in SYLLABLES and (rest := preferred_split(word[end:])) is not None
    ]
    return min(splits, key=len) if splits else None


def test_long_pinyin_words_split_by_the_rule():
    import random

    chooser = random.Random(20261203)
    syllables = sorted(SYLLABLES)
    for _ in range(300):
        word = "".join(chooser.choice(syllables) for _ in range(chooser.randint(2, 7)))
        assert syllables_of(word) == preferred_split(word), word


@pytest.mark.parametrize("word", ["trading", "bjhx", "abc", "huax", "3m", ""])
def test_words_that_are_not_pinyin_are_left_alone(word):
    assert syllables_of(word) is None


@pytest.mark.parametrize("typed", ["hua xin", "Huaxin", "HUA-XIN", "ｈｕａｘｉｎ"])
def test_pinyin_typed_any_way_asks_for_the_same_pairs(typed):
    assert query_tokens(typed) == ["huaxin"]


def test_a_query_in_pinyin_matches_the_tokens_of_the_chinese_name():
    indexed = set(name_tokens(["北京华信科技有限公司"]))
    for typed in ("Beijing Huaxin", "beijinghuaxin", "hua xin ke ji", "jing hua"):
        assert set(query_tokens(typed)) <= indexed, typed
    # 信华 is not 华信, in pinyin as in characters.
    assert not set(query_tokens("xin hua")) <= indexed


def test_pinyin_words_of_an_english_name_are_split_alike():
    indexed = set(name_tokens(["Beijing Huaxin Technology Co., Ltd."]))
    assert set(query_tokens("huaxin technology")) <= indexed
    assert set(query_tokens("jinghua")) <= indexed


def test_pinyin_typed_without_spaces_finds_names_split_otherwise():
    """西安 is xi-an character by character, but "xian" typed alone is one syllable: the
    joined spelling of the name is split the way a typed query is, and indexed too."""
    indexed = set(name_tokens(["西安方案科技有限公司"]))  # xi an fang an ke ji
    for typed in ("xianfangankeji", "xi an fang an ke ji", "Xian Fangan"):
        assert set(query_tokens(typed)) <= indexed, typed


def test_names_are_spelt_as_pypinyin_spells_them_whatever_came_before():
    """Spelling is remembered word by word (search.text._WordCache): a character still
    reads as the word it stands in asks, 重 in 重庆 and 重要, 行 in 银行 and 行长, 乐 in 音乐
    and 快乐, in whichever order the names come."""
    names = [
        "重庆银行股份有限公司",
        "重要行业协会",
        "银行行长",
        "音乐快乐文化传媒有限公司",
        "长沙朝阳科技有限公司",
        "朝气长大",
        "Beijing Huaxin 华信科技（北京）有限公司",
    ]
    for name in names + names[::-1]:
        spelt = lazy_pinyin(normalize_name(name).base, errors="ignore")
        expected = tuple(s.lower() for s in spelt if s.isascii() and s.isalnum())
        assert name_syllables.__wrapped__(name) == expected, name
