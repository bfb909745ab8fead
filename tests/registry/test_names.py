"""Name normalisation: the forms every matcher compares."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.names import normalize_name, normalize_text


@pytest.mark.parametrize(
    ("raw", "normalised", "base", "legal_form"),
    [
        # Traditional to Simplified, legal form recognised in either script.
        ("北京華信科技有限責任公司", "北京华信科技有限责任公司", "北京华信科技", "limited_company"),
        # Full-width letters and the ideographic space, English legal form.
        ("ＡＢＣ　Trading Co., Ltd.", "abc trading co., ltd.", "abc trading", "limited_company"),
        # The Chinese forms as English and pinyin paperwork write them.
        (
            "Yangjiang Jingxiangjun Insurance Agency Company Limited by Shares",
            "yangjiang jingxiangjun insurance agency company limited by shares",
            "yangjiang jingxiangjun insurance agency",
            "joint_stock_company",
        ),
        (
            "Ruilong Limited Liability Company",
            "ruilong limited liability company",
            "ruilong",
            "limited_company",
        ),
        (
            "Kaijinqi Tiyufazhan You Xian Gong Si",
            "kaijinqi tiyufazhan you xian gong si",
            "kaijinqi tiyufazhan",
            "limited_company",
        ),
        (
            "Zhengze Jiancai He Huo Qi Ye (You Xian He Huo)",
            "zhengze jiancai he huo qi ye (you xian he huo)",
            "zhengze jiancai",
            "partnership",
        ),
        (
            "Qigu Garments (Shijiazhuang) LP",
            "qigu garments (shijiazhuang) lp",
            "qigu garments (shijiazhuang)",
            "partnership",
        ),
        # Full-width brackets become ASCII; the place in brackets stays part of the name.
        ("腾讯科技（深圳）有限公司", "腾讯科技(深圳)有限公司", "腾讯科技(深圳)", "limited_company"),
        # Stray spaces inside a Chinese name; the longer form wins over 有限公司.
        (
            "北京 华信 科技 股份有限公司",
            "北京华信科技股份有限公司",
            "北京华信科技",
            "joint_stock_company",
        ),
        (
            "深圳前海投资合伙企业（有限合伙）",
            "深圳前海投资合伙企业(有限合伙)",
            "深圳前海投资",
            "partnership",
        ),
        (
            "上海某某律师事务所（特殊普通合伙）",
            "上海某某律师事务所(特殊普通合伙)",
            "上海某某律师事务所",
            "partnership",
        ),
        ("杭州张三个人独资企业", "杭州张三个人独资企业", "杭州张三", "sole_proprietorship"),
        (
            "Huawei Technologies Co.,Ltd",
            "huawei technologies co.,ltd",
            "huawei technologies",
            "limited_company",
        ),
        ("Foo Company Limited", "foo company limited", "foo", "limited_company"),
        ("Siemens  GmbH", "siemens gmbh", "siemens", "limited_company"),
        ("Acme Corp.", "acme corp.", "acme", "corporation"),
        ("Example, Inc.", "example, inc.", "example", "corporation"),
        ("Widget LLC", "widget llc", "widget", "limited_liability_company"),
        ("Big Plc", "big plc", "big", "public_limited_company"),
        # A suffix must be a word of its own, and a name is never reduced to nothing.
        ("Chemcorp", "chemcorp", "chemcorp", None),
        ("有限公司", "有限公司", "有限公司", None),
        ("李记小吃店", "李记小吃店", "李记小吃店", None),
    ],
)
def test_name_table(raw, normalised, base, legal_form):
    name = normalize_name(raw)
    assert (name.original, name.normalised, name.base, name.legal_form) == (
        raw,
        normalised,
        base,
        legal_form,
    )


def test_spelling_variants_of_one_company_meet():
    variants = [
        "北京華信科技有限責任公司",
        "北京华信科技有限公司",
        " 北京 华信科技 有限公司 ",
        "北京华信科技股份有限公司",
    ]
    assert {normalize_name(v).base for v in variants} == {"北京华信科技"}


def test_empty_names_are_refused():
    for raw in ["", "   ", "\u3000"]:
        with pytest.raises(ValueError):
            normalize_name(raw)


names = st.text(
    st.one_of(
        st.sampled_from("北京華信科技有限責任公司股份（）()　 ,.-ＡＢＣabcXYZ123"),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    max_size=40,
)


@given(names)
def test_normalising_twice_changes_nothing(raw):
    once = normalize_text(raw)
    assert normalize_text(once) == once


@given(names)
def test_normalised_forms_are_tidy(raw):
    text = normalize_text(raw)
    assert text == text.strip()
    assert "  " not in text
    assert "\u3000" not in text
    if text:
        name = normalize_name(raw)
        assert name.base and name.normalised.startswith(name.base)
