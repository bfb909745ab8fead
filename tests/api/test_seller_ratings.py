"""Seller ratings end to end: platforms through the signed API, reviewers through
`creditreg ratings sellers`, consumers through the public page and JSON, with time travel."""

import dataclasses
import hashlib
import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from registry.audit import AuditEvent
from registry.clock import local_date
from registry.receipts import verify_signed_document
from registry.seller_ratings import SellerRating, SellerRatingBatch
from registry.staff import add_staff_user
from registry.subjects import register_subject
from tests.api.test_listings import PROPOSAL, cli, propose, serve, tick
from tests.api.test_submissions import registry_public_key
from tests.factories import TEST_ACTOR
from tests.signing import signed_member

TODAY = date(2026, 11, 25)  # the test clock's start


def buyer(name):
    return hashlib.sha256(f"buyer:{name}".encode()).hexdigest()


def rating(order, *, shop="shop-1", who=None, rated=TODAY, ordered=None, overall=5, **extra):
    rated_on = rated if isinstance(rated, date) else date.fromisoformat(rated)
    return {
        "shop_id": shop,
        "order_id": f"O-{order}",
        "buyer_hash": buyer(who or order),
        "ordered_on": (ordered or rated_on - timedelta(days=3)).isoformat(),
        "rated_on": rated_on.isoformat(),
        "overall": overall,
        "scores": {"item_as_described": overall, "service": 4, "delivery": 3},
        **extra,
    }


@pytest.fixture
def tune(runtime):
    """Change seller-rating settings for this test's app."""

    def _tune(**values):
        runtime.settings = dataclasses.replace(
            runtime.settings, data={**runtime.settings.data, **values}
        )

    return _tune


def platform_member(session, client, clock, code):
    platform = signed_member(session, client, clock, kind="marketplace", roles=("platform",))
    platform.member.platform_code = code
    session.commit()
    return platform


@pytest.fixture
def taobao(session, client, clock):
    return platform_member(session, client, clock, "taobao")


def send(platform, batch_id, items):
    return platform.post("/api/v1/seller-ratings", {"batch_id": batch_id, "ratings": items})


def summary(client, shop="shop-1", platform="taobao"):
    response = client.get(f"/api/v1/public/sellers/{platform}/{shop}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def count(session, model):
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_accepted_batch_gets_a_signed_receipt_and_replays(taobao, session, client, runtime):
    items = [rating(1), rating(2, text="包装很好，发货也快")]
    response = send(taobao, "b-1", items)
    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"] == "/api/v1/seller-ratings/b-1"
    body = response.get_json()
    _, public_key = registry_public_key(client)
    assert verify_signed_document(body["receipt"], body["receipt_signature"], public_key)
    assert [r["order_id"] for r in body["receipt"]["ratings"]] == ["O-1", "O-2"]
    stored = session.scalars(sa.select(SellerRating).order_by(SellerRating.order_id)).all()
    assert [(r.shop_id, r.overall, r.service) for r in stored] == [
        ("shop-1", 5, 4),
        ("shop-1", 5, 4),
    ]
    sealed = session.scalar(sa.select(SellerRatingBatch.body))
    assert not sealed.startswith(b'{"batch_id"')
    assert runtime.evidence_cipher.open(sealed).startswith(b'{"batch_id"')

    again = send(taobao, "b-1", items)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == body
    other = send(taobao, "b-1", [rating(3)])
    assert other.status_code == 409
    assert count(session, SellerRating) == 2
    assert taobao.get("/api/v1/seller-ratings/b-1").get_json() == body


def test_every_refusal_at_once_and_nothing_stored(taobao, session):
    assert send(taobao, "first", [rating(1)]).status_code == 201
    bad_hash = rating(9)
    bad_hash["buyer_hash"] = "not-a-hash"
    items = [
        rating(2),  # 0: valid
        rating(1),  # 1: the order already has a rating
        rating(2),  # 2: the same order twice in the batch
        rating(3, rated=TODAY - timedelta(days=5), ordered=TODAY - timedelta(days=4)),  # 3
        rating(4, rated=TODAY, ordered=TODAY - timedelta(days=91)),  # 4: outside 90 days
        rating(5, rated=TODAY, ordered=TODAY - timedelta(days=90)),  # 5: on the last day: ok
        rating(6, rated=TODAY + timedelta(days=1)),  # 6: in the future
        bad_hash,  # 7
        {**rating(8), "overall": 6, "colour": "red"},  # 8
    ]
    response = send(taobao, "second", items)
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["type"] == "/problems/validation-failed"
    fields = {error["field"] for error in problem["errors"]}
    assert fields == {
        "ratings.1.order_id",
        "ratings.2.order_id",
        "ratings.3.rated_on",
        "ratings.4.rated_on",
        "ratings.6.rated_on",
        "ratings.7.buyer_hash",
        "ratings.8.overall",
        "ratings.8.colour",
    }
    messages = {error["field"]: error["message"] for error in problem["errors"]}
    assert "before its order" in messages["ratings.3.rated_on"]
    assert "90-day" in messages["ratings.4.rated_on"]
    assert "also item 0" in messages["ratings.2.order_id"]
    assert "already has a rating" in messages["ratings.1.order_id"]
    assert count(session, SellerRating) == 1
    assert count(session, SellerRatingBatch) == 1


def test_the_window_and_the_batch_size_are_configuration(taobao, session, tune):
    tune(SELLER_RATING_WINDOW_DAYS=10, SELLER_RATING_BATCH_MAX=2)
    late = rating(1, ordered=TODAY - timedelta(days=11))
    response = send(taobao, "w", [late])
    assert response.status_code == 422
    assert "10-day" in response.get_json()["errors"][0]["message"]
    too_many = send(taobao, "n", [rating(2), rating(3), rating(4)])
    assert too_many.status_code == 422
    assert too_many.get_json()["errors"] == [{"field": "ratings", "message": "at most 2 ratings"}]
    assert count(session, SellerRating) == 0


def test_a_platform_rates_only_its_own_shops(taobao, session, client, clock):
    jd = platform_member(session, client, clock, "jd")
    mine = [rating(1, platform="taobao"), rating(2, platform=str(taobao.member.id)), rating(3)]
    assert send(taobao, "own", mine).status_code == 201
    response = send(taobao, "theirs", [rating(4), rating(5, platform="jd")])
    assert response.status_code == 403
    problem = response.get_json()
    assert problem["type"] == "/problems/not-own-platform" and problem["items"] == [1]
    assert send(taobao, "theirs-2", [rating(6, platform=str(jd.member.id))]).status_code == 403
    # A platform that is no string is a field error, not a crash.
    odd = send(taobao, "odd", [rating(7, platform=["taobao"])])
    assert odd.status_code == 422
    assert [e["field"] for e in odd.get_json()["errors"]] == ["ratings.0.platform"]
    assert count(session, SellerRating) == 3


def test_the_first_of_a_buyers_same_day_ratings_counts_and_thin_months_show_no_average(
    taobao, client, clock, tune
):
    tune(SELLER_RATING_MIN_COUNT=2)
    day = TODAY - timedelta(days=2)
    first = [rating(1, who="ann", rated=day, overall=5), rating(2, who="ben", rated=day)]
    assert send(taobao, "first", first).status_code == 201
    clock.advance(timedelta(minutes=1))
    assert send(taobao, "later", [rating(3, who="ann", rated=day, overall=1)]).status_code == 201
    for _ in range(3):  # the same answer every time
        lifetime = summary(client)["windows"]["lifetime"]
        assert lifetime["count"] == 2 and lifetime["distribution"]["1"] == 0
    # Last month had one rating: below the minimum, its average is not shown.
    assert (
        send(taobao, "thin", [rating(4, who="cy", rated=TODAY - timedelta(days=40))]).status_code
        == 201
    )
    months = {m["month"]: m for m in summary(client)["trend"]}
    thin = months[(TODAY - timedelta(days=40)).strftime("%Y-%m")]
    assert thin["count"] == 1 and thin["average"] is None and not thin["shown"]


def test_a_member_without_the_platform_role_is_refused(session, client, clock):
    bank = signed_member(session, client, clock, kind="marketplace", roles=("submitter",))
    response = send(bank, "x", [rating(1)])
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "/problems/role-missing"
    assert count(session, SellerRating) == 0


def test_summary_only_from_the_minimum_count(taobao, client):
    assert client.get("/api/v1/public/sellers/taobao/shop-1").status_code == 404
    send(taobao, "a", [rating(n, overall=5 if n % 3 else 1) for n in range(1, 10)])
    below = summary(client)
    lifetime = below["windows"]["lifetime"]
    assert (lifetime["count"], lifetime["shown"]) == (9, False)
    assert "fewer than 10" in lifetime["note"] and "averages" not in lifetime
    assert below["trend"] == []

    send(taobao, "b", [rating(10, overall=3)])
    shown = summary(client)["windows"]["lifetime"]
    # 6 fives, 3 ones, 1 three: eBay's share leaves the neutral out.
    assert shown["shown"] and shown["count"] == 10
    assert shown["distribution"] == {"1": 3, "2": 0, "3": 1, "4": 0, "5": 6}
    assert shown["positive_share"] == round(6 / 9, 4)
    assert shown["averages"] == {
        "overall": 3.6,
        "item_as_described": 3.6,
        "service": 4.0,
        "delivery": 3.0,
    }
    document = summary(client, platform=str(taobao.member.id))  # the member id works too
    assert document["platform"]["code"] == "taobao"
    assert "positives / (positives + negatives)" in document["positive_share_definition"]
    assert client.get("/api/v1/public/sellers/nosuch/shop-1").status_code == 404


def test_the_positive_and_negative_scores_are_settings_taken_at_their_bounds(taobao, client, tune):
    tune(SELLER_RATING_MIN_COUNT=1)
    send(taobao, "a", [rating(n, overall=score) for n, score in enumerate((5, 4, 3, 2), 1)])

    def split():
        shown = summary(client)["windows"]["lifetime"]
        return shown["positives"], shown["neutrals"], shown["negatives"], shown["positive_share"]

    assert split() == (2, 1, 1, round(2 / 3, 4))  # 4 and 5 positive, 1 and 2 negative
    tune(SELLER_RATING_POSITIVE_FROM=5, SELLER_RATING_NEGATIVE_UP_TO=3)
    assert split() == (1, 1, 2, round(1 / 3, 4))
    assert (
        "5 or more is positive, 3 or less negative" in summary(client)["positive_share_definition"]
    )


def test_the_negative_scores_stay_below_the_positive_ones():
    from config.settings import ConfigError, load_settings

    with pytest.raises(ConfigError, match="SELLER_RATING_NEGATIVE_UP_TO"):
        load_settings(
            "test",
            environ={},
            overrides={"SELLER_RATING_POSITIVE_FROM": 3, "SELLER_RATING_NEGATIVE_UP_TO": 3},
        )


def test_windows_move_with_the_clock(taobao, client, clock, tune):
    tune(SELLER_RATING_MIN_COUNT=1)
    ages = [0, 10, 29, 30, 60, 89, 90, 200, 364, 365, 500]
    send(taobao, "a", [rating(age, rated=TODAY - timedelta(days=age)) for age in ages])

    def counts():
        windows = summary(client)["windows"]
        return [windows[name]["count"] for name in ("30d", "90d", "365d", "lifetime")]

    assert counts() == [3, 6, 9, 11]
    clock.advance(timedelta(days=1))
    assert counts() == [2, 5, 8, 11]
    clock.advance(timedelta(days=400))
    assert counts() == [0, 0, 0, 11]


def test_the_summary_windows_are_configuration(taobao, client, clock, tune):
    from tests.api.test_openapi import conforms

    tune(SELLER_RATING_MIN_COUNT=1, SELLER_RATING_SUMMARY_WINDOWS=(7, 180))
    ages = [0, 6, 7, 179, 180, 400]
    send(taobao, "a", [rating(age, rated=TODAY - timedelta(days=age)) for age in ages])
    answer = summary(client)
    assert {name: w["count"] for name, w in answer["windows"].items()} == {
        "7d": 2,
        "180d": 4,
        "lifetime": 6,
    }
    assert answer["windows"]["7d"]["from"] == (TODAY - timedelta(days=6)).isoformat()
    document = client.get("/api/openapi.json").get_json()
    assert conforms(document, "SellerSummary", answer) == []
    # The monthly trend follows the longest window.
    assert answer["trend"]
    page = client.get("/sellers/taobao/shop-1").get_data(as_text=True)
    assert "Last 7 days" in page or "近7天" in page


def test_a_window_setting_that_is_no_list_of_days_stops_the_start():
    from config.settings import ConfigError, load_settings

    for raw, message in (("30,x", "'x' is not a whole number of days"), ("0,30", "at least 1")):
        with pytest.raises(ConfigError, match=message):
            load_settings("test", environ={}, overrides={"SELLER_RATING_SUMMARY_WINDOWS": raw})


def test_a_buyers_repeats_within_seven_days_count_once(taobao, client, tune):
    tune(SELLER_RATING_MIN_COUNT=1)
    start = TODAY - timedelta(days=20)
    same = [
        rating(1, who="alice", rated=start, overall=5),
        rating(2, who="alice", rated=start + timedelta(days=3), overall=1),  # repeat: not counted
        rating(3, who="alice", rated=start + timedelta(days=6), overall=1),  # still within 7
        rating(4, who="alice", rated=start + timedelta(days=7), overall=4),  # a new week
        rating(5, who="alice", shop="shop-2", rated=start + timedelta(days=1)),  # another shop
        rating(6, who="bob", rated=start + timedelta(days=1), overall=2),
    ]
    assert send(taobao, "a", same).status_code == 201
    lifetime = summary(client)["windows"]["lifetime"]
    assert lifetime["count"] == 3
    assert lifetime["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}
    assert summary(client, shop="shop-2")["windows"]["lifetime"]["count"] == 1


@pytest.fixture
def reviewer(session, runtime):
    add_staff_user(
        session,
        actor=TEST_ACTOR,
        passwords=runtime.passwords,
        username="rev-carol",
        password="a long enough password",
        roles=["reviewer"],
    )
    session.commit()
    return "rev-carol"


def sellers_cli(app, *args):
    result = app.test_cli_runner().invoke(args=["ratings", "sellers", *args])
    return result.exit_code, result.output


def test_moderation_flags_and_exclusions_change_the_summary(
    app, taobao, session, client, reviewer, tune
):
    tune(SELLER_RATING_MIN_COUNT=1, SELLER_RATING_BURST_PER_DAY=4, SELLER_RATING_BUYER_MAX=3)
    copied = "质量非常好，和描述完全一致，推荐购买！"
    items = [rating(n, shop="shop-1", text=copied, overall=5) for n in (1, 2)]
    items += [rating(n, shop="shop-1", rated=TODAY - timedelta(days=40)) for n in (3, 4)]
    assert send(taobao, "a", items).status_code == 201
    code, output = sellers_cli(app, "queue")
    assert code == 0 and json.loads(output) == []  # two equal texts are not yet a pattern

    # A third order with the (normalised) same text: all three go to the queue.
    third = rating(5, shop="shop-2", text=" 质量非常好 和描述完全一致 推荐购买", overall=5)
    assert send(taobao, "b", [third]).status_code == 201
    code, output = sellers_cli(app, "queue")
    queued = json.loads(output)
    assert sorted(r["order_id"] for r in queued) == ["O-1", "O-2", "O-5"]
    assert {f["reason"] for r in queued for f in r["flags"]} == {"duplicate_text"}
    assert all(r["allowed_decisions"] == ["excluded", "kept"] for r in queued)
    assert summary(client)["windows"]["lifetime"]["count"] == 4  # flagged still count

    by_order = {r["order_id"]: r["id"] for r in queued}
    code, output = sellers_cli(
        app, "exclude", by_order["O-1"], "--reviewer", reviewer, "--reason", "刷单文案"
    )
    assert code == 0, output
    assert json.loads(output)["review_state"] == "excluded"
    code, output = sellers_cli(
        app, "keep", by_order["O-2"], "--reviewer", reviewer, "--reason", "买家本人复购"
    )
    assert code == 0, output
    lifetime = summary(client)["windows"]["lifetime"]
    assert lifetime["count"] == 3 and lifetime["distribution"]["5"] == 3
    assert summary(client)["windows"]["30d"]["count"] == 1

    # Excluded, not deleted: the history shows who decided what and why.
    code, output = sellers_cli(app, "show", by_order["O-1"])
    shown = json.loads(output)
    assert shown["review_state"] == "excluded" and shown["review_reason"] == "刷单文案"
    assert [event["action"] for event in shown["history"]] == ["seller_rating.excluded"]
    event = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "seller_rating.excluded")
    ).one()
    assert event.actor_kind == "staff" and event.reason == "刷单文案"
    assert count(session, SellerRating) == 5

    # Refusals: a decision the state does not allow, a non-reviewer.
    code, output = sellers_cli(
        app, "exclude", by_order["O-1"], "--reviewer", reviewer, "--reason", "x"
    )
    assert code == 1 and "cannot be excluded" in output
    code, output = sellers_cli(
        app, "keep", by_order["O-5"], "--reviewer", "nobody", "--reason", "x"
    )
    assert code != 0 and "not an active reviewer" in output
    assert json.loads(sellers_cli(app, "queue", "--platform", "taobao")[1])[0]["order_id"] == "O-5"


def test_bursts_and_busy_buyers_are_flagged(app, taobao, session, tune):
    tune(SELLER_RATING_BURST_PER_DAY=4, SELLER_RATING_BUYER_MAX=3, SELLER_RATING_BUYER_DAYS=10)
    day = TODAY - timedelta(days=2)
    burst = [rating(n, shop="busy", rated=day) for n in range(1, 5)]
    quiet = [rating(n, shop="quiet", rated=day - timedelta(days=n)) for n in range(10, 13)]
    assert send(taobao, "a", burst + quiet).status_code == 201
    # One buyer: two ratings 20 days apart are fine; three within 10 days are not.
    spread = [
        rating(order, who="eve", shop=f"s{order}", rated=TODAY - timedelta(days=days))
        for order, days in ((20, 40), (21, 20))
    ]
    assert send(taobao, "b", spread).status_code == 201
    third = rating(22, who="eve", shop="s3", rated=TODAY - timedelta(days=15))
    assert send(taobao, "c", [third]).status_code == 201
    assert (
        session.scalar(sa.select(sa.func.count()).where(SellerRating.review_state.is_not(None)))
        == 4
    )
    close = [rating(23, who="eve", shop="s4", rated=TODAY - timedelta(days=12))]
    assert send(taobao, "d", close).status_code == 201
    flagged = {
        row.order_id: sorted(f.reason for f in row.flags)
        for row in session.scalars(sa.select(SellerRating)).all()
        if row.review_state == "pending"
    }
    assert flagged == {
        "O-1": ["shop_burst"],
        "O-2": ["shop_burst"],
        "O-3": ["shop_burst"],
        "O-4": ["shop_burst"],
        "O-21": ["buyer_volume"],
        "O-22": ["buyer_volume"],
        "O-23": ["buyer_volume"],
    }


def test_the_public_page_shows_summary_charts_and_the_operator(
    app, taobao, session, client, clock, runtime, tune
):
    # The operating company, on the redlist (one reviewer approves a redlist entry).
    regulator = signed_member(session, client, clock, kind="regulator", roles=("regulator",))
    add_staff_user(
        session,
        actor=TEST_ACTOR,
        passwords=runtime.passwords,
        username="rev-dan",
        password="a long enough password",
        roles=["reviewer"],
    )
    register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="shop",
        name="华信旗舰店",
        platform=taobao.member,
        shop_id="hx-001",
        operator_uscc=PROPOSAL["subject"]["uscc"],
    )
    session.commit()
    entry = propose(regulator, list="redlist").get_json()
    assert (
        cli(app, "review", entry["id"], "--reviewer", "rev-dan", "--approve", "--reason", "ok")[0]
        == 0
    )
    served_on = local_date(clock.now()).isoformat()
    assert serve(app, entry["id"], served_on, reviewer="rev-dan")[0] == 0  # by post
    tick(app, session, clock, timedelta(days=15))
    today = clock.now().date()

    page = client.get("/sellers/taobao/hx-001")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "华信旗舰店" in html and "评价数不足10条" in html  # zh-CN, the default
    assert "<svg" not in html  # no summary, no chart
    assert "守信激励名单" in html and PROPOSAL["authority"] in html
    assert 'id="operator-grade"' in html

    items = [
        rating(n, shop="hx-001", rated=today - timedelta(days=n * 20), overall=1 + n % 5)
        for n in range(12)
    ]
    assert send(taobao, "page", items).status_code == 201
    html = client.get("/sellers/taobao/hx-001").get_data(as_text=True)
    assert html.count("<svg") == 2 and 'id="distribution"' in html and 'id="trend"' in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    document = summary(client, shop="hx-001")
    assert document["shop"]["name"] == "华信旗舰店"
    assert len(document["trend"]) == 12 and document["trend"][-1]["month"] == today.strftime(
        "%Y-%m"
    )
    operator = document["operator"]
    assert operator["uscc"] == PROPOSAL["subject"]["uscc"] and operator["grade"] is None
    assert [e["list"] for e in operator["list_entries"]] == ["redlist"]
    assert client.get("/sellers/taobao/unknown-shop").status_code == 404


def test_documented_shapes_match_real_responses(taobao, client):
    from tests.api.test_openapi import conforms

    document = client.get("/api/openapi.json").get_json()
    accepted = send(taobao, "doc", [rating(n) for n in range(10)])
    assert conforms(document, "SignedSellerRatingReceipt", accepted.get_json()) == []
    assert conforms(document, "SellerSummary", summary(client)) == []


def test_platform_codes_are_set_when_a_member_is_added(app, session):
    runner = app.test_cli_runner()
    args = ["members", "add", "--name", "示范商城", "--kind", "marketplace", "--json"]
    added = runner.invoke(args=[*args, "--roles", "platform", "--platform-code", "Pinduo"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["platform_code"] == "pinduo"
    taken = runner.invoke(args=[*args, "--roles", "platform", "--platform-code", "pinduo"])
    assert taken.exit_code == 1 and "already has this platform code" in taken.output
    wrong = runner.invoke(args=[*args, "--roles", "submitter", "--platform-code", "1-bad"])
    assert wrong.exit_code == 1
    assert wrong.output.count("platform_code:") == 2  # malformed, and not a platform


def test_today_is_the_registrys_calendar_day_not_utcs(taobao, clock):
    from datetime import UTC, datetime

    # 07:30 in Beijing on 26 November, still 25 November in UTC: a rating dated the 26th is
    # dated today, not in the future.
    clock.set(datetime(2026, 11, 25, 23, 30, tzinfo=UTC))
    assert send(taobao, "early", [rating(1, rated=date(2026, 11, 26))]).status_code == 201
    assert send(taobao, "ahead", [rating(2, rated=date(2026, 11, 27))]).status_code == 422
