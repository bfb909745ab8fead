"""The name parser: division, trade name (字号), industry, form, branch."""

import pytest

from registry.name_parts import divisions_agree, parse_name


@pytest.mark.parametrize(
    ("name", "division", "trade", "industry", "legal_form"),
    [
        ("北京华信科技有限公司", "北京", "华信", "科技", "limited_company"),
        ("北京華信科技股份有限公司", "北京", "华信", "科技", "joint_stock_company"),
        # The division in parentheses after the trade name, full-width or not.
        ("华信科技（北京）有限公司", "北京", "华信", "科技", "limited_company"),
        ("腾讯科技(深圳)有限公司", "深圳", "腾讯", "科技", "limited_company"),
        # Several levels, each inside the one before; the longest industry term.
        ("江苏省苏州市金瑞祥电子有限公司", "江苏省苏州市", "金瑞祥", "电子", "limited_company"),
        ("北京市朝阳区华信科技有限公司", "北京市朝阳区", "华信", "科技", "limited_company"),
        ("昆山华信电子科技有限公司", "昆山", "华信", "电子科技", "limited_company"),
        # A place name that would leave no trade name is the trade name (东方 is a city).
        ("东方电气股份有限公司", None, "东方", "电气", "joint_stock_company"),
        ("上海华信", "上海", "华信", None, None),
        ("华信", None, "华信", None, None),
        # No industry term known: the rest is the trade name, compared whole.
        ("小米官方旗舰店", None, "小米官方旗舰店", None, None),
        ("北京华信科技集团有限公司", "北京", "华信", "科技", "limited_company"),
    ],
)
def test_chinese_names_split_into_their_parts(name, division, trade, industry, legal_form):
    parts = parse_name(name)
    assert (parts.division, parts.trade, parts.industry, parts.legal_form) == (
        division,
        trade,
        industry,
        legal_form,
    )
    assert not parts.latin and parts.branch is None


def test_a_division_is_known_by_its_codes_at_every_level():
    assert parse_name("北京华信科技有限公司").division_codes == {"110000"}
    # 朝阳区 is in Beijing and in Changchun; after 北京市 only Beijing's is meant.
    assert parse_name("北京市朝阳区华信科技有限公司").division_codes == {"110105"}
    suzhou = parse_name("苏州金瑞祥电子有限公司").division_codes
    assert divisions_agree(suzhou, parse_name("江苏金瑞祥电子有限公司").division_codes)
    assert divisions_agree(suzhou, frozenset({"320505"}))  # a district of Suzhou
    assert not divisions_agree(suzhou, parse_name("无锡金瑞祥电子有限公司").division_codes)


def test_branches_are_told_from_their_company():
    branch = parse_name("北京华信科技有限公司上海分公司")
    assert (branch.trade, branch.division, branch.branch) == ("华信", "北京", "上海分公司")
    bank = parse_name("中国工商银行股份有限公司北京分行")
    assert (bank.trade, bank.branch, bank.legal_form) == (
        "中国工商银行",
        "北京分行",
        "joint_stock_company",
    )
    assert parse_name("某某银行北京支行").branch == "北京支行"


@pytest.mark.parametrize(
    ("name", "division", "trade", "terms"),
    [
        ("Beijing Huaxin Technology Co., Ltd.", "beijing", "huaxin", {"科技", "技术"}),
        ("beijing huaxin keji", "beijing", "huaxin", {"科技"}),
        ("Huaxin Technology (Beijing) Co., Ltd.", "beijing", "huaxin", {"科技", "技术"}),
        ("ABC Trading Co., Ltd.", None, "abc", {"贸易", "商贸"}),
        ("Acme", None, "acme", set()),
    ],
)
def test_latin_names_find_divisions_and_industries_by_pinyin_and_english(
    name, division, trade, terms
):
    parts = parse_name(name)
    assert parts.latin
    assert (parts.division, parts.trade, set(parts.industry_terms)) == (division, trade, terms)


@pytest.mark.parametrize(
    "name",
    ["分公司", "营业部", "(北京)", "(北京)有限公司", "(北京)(集团)", "()", "有限公司", "集团"],
)
def test_names_of_odd_shape_still_parse_with_a_trade_name(name):
    # The registry accepts these as names (and screening rows and lookups as text): none
    # may stop indexing, a screening or a lookup.
    parts = parse_name(name)
    assert parts.trade
    from search.screening import explain_name
    from search.text import name_tokens

    name_tokens([name])
    assert explain_name(name, ["北京华信科技有限公司"])["parts"]


def test_a_group_is_its_own_part():
    assert parse_name("华信集团有限公司").group and not parse_name("华信有限公司").group
    assert parse_name("华信集团有限公司").trade == "华信"
