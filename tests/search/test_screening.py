"""Screening: one scorer over any backend's candidates, explained, decided alike."""

import pytest

from search.screening import (
    ScreeningRow,
    Thresholds,
    backend_search,
    name_similarity,
    normalise_row,
    score,
    screen,
)
from tests.search.test_contract import companies, enterprise  # noqa: F401 - fixtures

THRESHOLDS = Thresholds(0.85, 0.6)


@pytest.mark.parametrize(
    ("query", "name", "at_least", "below"),
    [
        ("北京华信科技有限公司", "北京华信科技有限公司", 0.99, 1.01),
        ("北京華信科技股份有限公司", "北京华信科技有限公司", 0.99, 1.01),  # script and legal form
        ("华信科技", "北京华信科技有限公司", 0.6, 0.95),  # part of the name
        ("ABC Trading Company Limited", "ABC Trading Co., Ltd.", 0.99, 1.01),
        ("beijing huaxin keji", "北京华信科技有限公司", 0.85, 1.01),  # pinyin of the name
        ("深圳信华电子", "北京华信科技有限公司", 0.0, 0.5),  # shares characters, not the name
    ],
)
def test_name_similarity(query, name, at_least, below):
    similarity, _ = name_similarity(query, [name])
    assert at_least <= similarity < below


def test_an_exact_uscc_is_decisive_and_a_different_one_caps_the_score():
    document = {"id": "1", "name": "北京华信科技有限公司", "uscc": "91110000600037341L"}
    exact = score(ScreeningRow(name="完全不同的名字", uscc="91110000600037341L"), document)
    assert exact.score == 1.0 and exact.explanation[0]["feature"] == "uscc"
    other = score(ScreeningRow(name="北京华信科技有限公司", uscc="91310115MA1K3BTP2B"), document)
    assert other.score <= 0.5


def test_every_score_is_explained_by_its_parts():
    document = {
        "id": "1",
        "name": "北京华信科技有限公司",
        "names": ["北京华信科技有限公司"],
        "legal_form": "limited_company",
        "region": "110105",
    }
    scored = score(ScreeningRow(name="北京华信科技有限公司", region="110108"), document)
    features = {item["feature"]: item for item in scored.explanation}
    assert set(features) == {"name", "legal_form", "region"}
    assert features["region"]["similarity"] == 0.5  # same province, other district
    assert abs(sum(i["contribution"] for i in scored.explanation) - scored.score) < 0.001
    assert abs(sum(i["weight"] for i in scored.explanation) - 1.0) < 0.001


def test_rows_are_checked_with_every_problem_named():
    row, errors = normalise_row({"uscc": "9111 0000 6000 3734 1l", "region": "110105"})
    assert row.uscc == "91110000600037341L" and errors == {}
    _, errors = normalise_row({"uscc": "123", "region": "beijing"})
    assert set(errors) == {"uscc", "region"}
    _, errors = normalise_row({})
    assert set(errors) == {"name"}


def test_every_backend_gives_the_same_decisions(backend, session, companies):  # noqa: F811
    rows = [
        ScreeningRow(name="北京華信科技有限責任公司"),
        ScreeningRow(uscc=companies["abc"].uscc),
        ScreeningRow(name="华信科技"),
        ScreeningRow(name="ABC Trading Limited", region="310115"),
        ScreeningRow(name="完全无关的名称有限公司"),
        ScreeningRow(name="上海华信"),
    ]
    results = screen(rows, backend_search(backend, session), THRESHOLDS)
    decisions = [
        (r["decision"], r["matches"][0]["subject_id"] if r["matches"] else None) for r in results
    ]
    assert decisions == [
        ("match", str(companies["huaxin"].id)),
        ("match", str(companies["abc"].id)),
        ("possible", str(companies["huaxin"].id)),
        ("match", str(companies["abc"].id)),
        ("none", decisions[4][1]),
        ("possible", str(companies["huaxin_sh"].id)),
    ]
