"""Screening: one scorer over any backend's candidates, explained, decided alike."""

import pytest

from search.query import SearchQuery
from search.screening import (
    ScreeningRow,
    Thresholds,
    backend_search,
    closest_name,
    compare_names,
    normalise_row,
    score,
    screen,
)
from tests.search.test_contract import companies, enterprise  # noqa: F401 - fixtures

THRESHOLDS = Thresholds(0.85, 0.6)


@pytest.mark.parametrize(
    ("query", "name", "at_least", "below", "can_match"),
    [
        ("北京华信科技有限公司", "北京华信科技有限公司", 0.99, 1.01, True),
        # Script and legal form: the trade name agrees, the form barely counts.
        ("北京華信科技股份有限公司", "北京华信科技有限公司", 0.9, 0.99, True),
        ("华信科技（北京）有限公司", "北京华信科技有限公司", 0.99, 1.01, True),  # division moved
        ("华信科技", "北京华信科技有限公司", 0.9, 0.99, False),  # which 华信科技?
        ("ABC Trading Company Limited", "ABC Trading Co., Ltd.", 0.99, 1.01, True),
        ("beijing huaxin keji", "北京华信科技有限公司", 0.99, 1.01, False),  # 华信 or 华新?
        ("Beijing Huaxin Technology Co., Ltd.", "北京华信科技有限公司", 0.99, 1.01, False),
        ("beijinghuaxinkeji", "北京华信科技有限公司", 0.9, 1.01, False),
        ("深圳信华电子", "北京华信科技有限公司", 0.0, 0.5, False),  # shares characters only
        # Near names of other companies: the trade name carries the identity.
        ("苏州金瑞祥电子有限公司", "苏州金瑞电子有限责任公司", 0.6, 0.85, False),
        ("青岛海川宁物流有限公司", "青岛海川物流股份有限公司", 0.6, 0.85, False),
        ("无锡金瑞祥电子有限公司", "苏州金瑞祥电子有限公司", 0.6, 0.95, False),  # division
        ("苏州金瑞祥物流有限公司", "苏州金瑞祥电子有限公司", 0.6, 0.95, False),  # industry
        # A branch and its company are registered apart; so are a city's name and its
        # province's (泰安 lies in 山东).
        ("北京华信科技有限公司上海分公司", "北京华信科技有限公司", 0.8, 0.9, False),
        ("华信有限公司", "华信集团有限公司", 0.99, 1.01, False),  # a group is another person
        ("北京华信科技有限公司上海分公司", "北京華信科技有限公司上海分公司", 0.99, 1.01, True),
        ("泰安永中国际贸易有限公司", "山东永中国际贸易有限公司", 0.8, 0.95, False),
        ("江苏省苏州市金瑞祥电子有限公司", "苏州金瑞祥电子有限公司", 0.99, 1.01, True),
        # Legal forms in English and pinyin.
        (
            "Liuzhou Zhengze Building Materials LP",
            "柳州正泽建材合伙企业（有限合伙）",
            0.99,
            1.01,
            False,
        ),
        (
            "jining yangqi renliziyuan you xian gong si",
            "济宁阳骐人力资源有限公司",
            0.99,
            1.01,
            False,
        ),
        # A typo in the trade name: near, never the same company.
        ("苏州金瑞详电子有限公司", "苏州金瑞祥电子有限公司", 0.85, 0.99, False),
        ("苏州金瑞福祥电子有限公司", "苏州金瑞祥电子有限公司", 0.6, 0.95, False),
    ],
)
def test_names_compare_by_their_parts(query, name, at_least, below, can_match):
    compared = compare_names(query, name)
    assert at_least <= compared.similarity < below
    assert (not compared.not_a_match) is can_match, compared.not_a_match


def test_the_company_that_agrees_on_every_part_comes_first(backend, session, runtime, indexed):
    # Three companies share 华信 and score alike on what they say; the one naming the same
    # division and industry as the row is first, and the row is a match.
    made = {
        name: str(enterprise(session, runtime, name, 340 + n).id)
        for n, name in enumerate(["华信科技有限公司", "北京华信有限公司", "北京华信科技有限公司"])
    }
    session.flush()
    indexed()
    (result,) = screen(
        [ScreeningRow(name="北京华信科技有限公司")], backend_search(backend, session), THRESHOLDS
    )
    assert result["decision"] == "match"
    assert result["matches"][0]["subject_id"] == made["北京华信科技有限公司"]
    assert [m["decision"] for m in result["matches"][1:]] == ["possible", "possible"]


def test_a_mistyped_trade_name_sharing_no_rare_token_is_found_by_its_neighbourhood(
    backend, session, runtime, indexed
):
    # 科技 is common here and 华新 shares nothing with 华信: the asks by the trade name as
    # written and by the rare tokens find nothing, the last (by the trade name's one-edit
    # neighbourhood) finds the company, as "possible".
    backend.common_token_floor = 2
    backend.common_tokens_ttl = 0
    names = ["北京华信科技有限公司", "长城科技有限公司", "东方科技有限公司"]
    made = {
        name: str(enterprise(session, runtime, name, 360 + n).id) for n, name in enumerate(names)
    }
    session.flush()
    indexed()
    (result,) = screen(
        [ScreeningRow(name="华新科技有限公司")], backend_search(backend, session), THRESHOLDS
    )
    assert result["decision"] == "possible"
    assert result["matches"][0]["subject_id"] == made["北京华信科技有限公司"]


def recording_search(backend, session):
    """A screening search through ``backend`` that keeps the queries it was asked."""
    asked: list[SearchQuery] = []
    search = backend_search(backend, session)

    def counted(queries: list[SearchQuery]) -> list[list[dict]]:
        asked.extend(queries)
        return search(queries)

    return counted, asked


def test_a_row_naming_a_company_is_settled_by_its_trade_name_alone(
    backend, session, runtime, indexed
):
    # The ask by the trade name as written finds the company and decides the row: the ask
    # by the name's rare tokens, whose candidates grow with the registry, is not made. A row
    # that is no match goes on to it (and to the neighbourhood of its trade name).
    made = {
        name: str(enterprise(session, runtime, name, 370 + n).id)
        for n, name in enumerate(["北京华信科技有限公司", "北京华瑞科技有限公司"])
    }
    session.flush()
    indexed()
    counted, asked = recording_search(backend, session)

    (result,) = screen([ScreeningRow(name="北京华信科技有限公司")], counted, THRESHOLDS)
    assert result["decision"] == "match"
    assert result["matches"][0]["subject_id"] == made["北京华信科技有限公司"]
    assert [(q.by_exact_trade_name, q.by_trade_name) for q in asked] == [(True, False)]
    asked.clear()
    (result,) = screen([ScreeningRow(name="北京华新科技有限公司")], counted, THRESHOLDS)
    assert result["decision"] == "possible"
    assert [(q.by_exact_trade_name, q.by_trade_name) for q in asked] == [
        (True, False),
        (False, False),
    ]


def test_a_lesser_match_by_the_trade_name_is_not_settled_before_the_other_asks(
    backend, session, runtime, indexed
):
    # The company of the same name is registered in another district than the row's; one of
    # a trade name that sounds the same (华新 for 华信) is in the row's district and scores
    # above it. Only the rare-token ask brings that one, and with it first the row is only
    # "possible": the first ask's lesser match must not settle the row.
    made = {
        "same name, other district": str(
            enterprise(session, runtime, "北京华信科技有限公司", 390, region="310101").id
        ),
        "sounds the same, same district": str(
            enterprise(session, runtime, "北京华新科技有限公司", 391, region="110105").id
        ),
    }
    session.flush()
    indexed()
    counted, asked = recording_search(backend, session)

    (result,) = screen(
        [ScreeningRow(name="北京华信科技有限公司", region="110105")], counted, THRESHOLDS
    )
    assert [m["subject_id"] for m in result["matches"]] == [
        made["sounds the same, same district"],
        made["same name, other district"],
    ]
    assert result["decision"] == "possible"
    assert [q.by_exact_trade_name for q in asked][:2] == [True, False]


def test_the_closest_of_a_candidates_names_counts():
    best = closest_name("北京旧名科技有限公司", ["北京华信科技有限公司", "北京旧名科技有限公司"])
    similarity, closest = best.similarity, best.name
    assert similarity == 1.0 and closest == "北京旧名科技有限公司"


def test_a_trade_name_that_differs_is_at_most_possible_and_shows_the_difference():
    document = {"id": "1", "name": "苏州金瑞祥电子有限公司", "names": ["苏州金瑞祥电子有限公司"]}
    scored = score(ScreeningRow(name="苏州金瑞详电子有限公司"), document)
    assert scored.score >= THRESHOLDS.match and scored.not_a_match
    assert THRESHOLDS.decide(scored.score, match_allowed=not scored.not_a_match) == "possible"
    features = {item["feature"]: item for item in scored.explanation}
    assert features["trade_name"]["detail"] == "trade name 金瑞祥 / 金瑞[祥→详]"
    assert "the trade names differ" in features["decision"]["detail"]


def test_a_row_region_stands_for_a_division_the_name_leaves_out():
    document = {"id": "1", "name": "北京华信科技有限公司", "names": ["北京华信科技有限公司"]}
    assert not score(ScreeningRow(name="华信科技有限公司", region="110105"), document).not_a_match
    elsewhere = score(ScreeningRow(name="华信科技有限公司", region="310115"), document)
    assert "the divisions differ" in elsewhere.not_a_match


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
    assert set(features) == {"trade_name", "industry", "division", "legal_form", "region"}
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
        ScreeningRow(name="北京华新科技有限公司"),  # the trade name mistyped
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
        ("possible", str(companies["huaxin"].id)),
    ]


def test_rows_screened_together_ask_in_rounds_and_decide_as_alone(
    backend,
    session,
    companies,  # noqa: F811
):
    # Screening sends the rows' asks together, round by round (each row's first ask, then
    # the next ask of the rows not yet decided...): a batch of rows takes as many trips to
    # the backend as its most asking row, and each row's result is the one it gets alone.
    rows = [
        ScreeningRow(name="北京华信科技有限公司"),  # settled by its first ask
        ScreeningRow(uscc=companies["abc"].uscc),  # by its USCC
        ScreeningRow(name="上海华信", region="310115"),
        ScreeningRow(name="完全无关的名称有限公司"),  # asks three times
        ScreeningRow(name="ABC Trading Limited"),  # no trade-name token: one ask fewer
        ScreeningRow(errors={"name": "a name of 1 to 300 characters"}),  # never asks
        ScreeningRow(name="北京华新科技有限公司"),
    ]
    counted, asked = recording_search(backend, session)
    batches: list[int] = []

    def batched(queries):
        batches.append(len(queries))
        return counted(queries)

    together = screen(rows, batched, THRESHOLDS)
    alone_asked = []
    alone = []
    for row in rows:
        asked.clear()
        alone.extend(screen([row], counted, THRESHOLDS, rows_at_once=1))
        alone_asked.append(len(asked))
    assert [r["decision"] for r in together] == [
        "match", "match", "possible", "none", "match", "error", "possible"
    ]  # fmt: skip
    assert [r["row"] for r in together] == list(range(len(rows)))
    assert [{**r, "row": 0} for r in together] == [{**r, "row": 0} for r in alone]
    assert alone_asked == [1, 1, 2, 3, 1, 0, 2]
    # Rounds: six rows ask first, three of them again, one a third time.
    assert batches == [6, 3, 1]
    assert sum(batches) == sum(alone_asked)

    # A smaller batch of rows at once: the same answers, in more trips.
    batches.clear()
    assert screen(rows, batched, THRESHOLDS, rows_at_once=3) == together
    assert len(batches) == 7
