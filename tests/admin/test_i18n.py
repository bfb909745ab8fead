"""zh-CN and en pages: the language follows the browser, the switch overrides it, and the
committed catalogues are complete and compiled."""

import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask_babel import refresh

from registry.members import Member
from registry.staff import add_staff_user
from registry.subjects import Subject, register_subject
from tests.api.test_listings import propose
from tests.api.test_seller_ratings import platform_member, rating, send
from tests.console_helpers import PASSWORD, USCC, post, seed, sign_in
from tests.factories import TEST_ACTOR
from tests.monitoring_helpers import published_entry
from tests.signing import signed_member

TRANSLATIONS = Path(__file__).resolve().parents[2] / "admin" / "translations"


@pytest.mark.parametrize("locale", ["zh_Hans_CN", "en"])
def test_the_committed_mo_is_the_compiled_po(locale):
    folder = TRANSLATIONS / locale / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as fh:
        po = read_po(fh, locale=locale)
    with (folder / "messages.mo").open("rb") as fh:
        mo = read_mo(fh)

    def pairs(catalog):
        return {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}

    assert pairs(po) == pairs(mo), "run `make translations`"


def test_every_page_string_has_a_chinese_translation():
    with (TRANSLATIONS / "messages.pot").open("rb") as fh:
        template = read_po(fh)
    with (TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        zh = read_po(fh, locale="zh_CN")
    untranslated = [m.id for m in template if m.id and not (zh.get(m.id) and zh.get(m.id).string)]
    assert untranslated == []


def test_the_language_follows_the_browser_and_the_switch(client):
    english = client.get("/console/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.get_data(as_text=True)
    assert "Staff console: sign in" in english.get_data(as_text=True)
    chinese = client.get("/console/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN">' in chinese.get_data(as_text=True)
    assert "工作人员后台登录" in chinese.get_data(as_text=True)
    assert "工作人员后台登录" in client.get("/console/login").get_data(as_text=True)  # default

    switched = client.get("/language/en?next=/console/login")
    assert switched.status_code == 302 and switched.headers["Location"] == "/console/login"
    page = client.get("/console/login", headers={"Accept-Language": "zh-CN"})
    assert "Staff console: sign in" in page.get_data(as_text=True)
    assert client.get("/language/en?next=https://evil.example/").headers["Location"] == "/"
    assert client.get("/language/fr").status_code == 404


def test_the_list_and_seller_pages_speak_the_chosen_language_with_local_dates(
    client, session, runtime, clock
):
    seeded = seed(session, runtime, clock.now())
    entry = published_entry(
        session,
        session.get(Member, uuid.UUID(seeded.regulator_id)),
        session.get(Subject, uuid.UUID(seeded.subject_id)),
        clock,
    )
    taobao = platform_member(session, client, clock, "taobao")
    register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="shop",
        name="华信旗舰店",
        platform=taobao.member,
        shop_id="hx-001",
        operator_uscc=USCC,
    )
    session.commit()
    assert send(taobao, "a", [rating(n, shop="hx-001") for n in range(3)]).status_code == 201
    published_on = entry.published_at.astimezone(ZoneInfo("Asia/Shanghai")).date()

    english = {"Accept-Language": "en"}
    chinese = {"Accept-Language": "zh-CN"}

    def page(path, headers):
        # The test's app context outlives requests; Flask-Babel keeps its locale on it.
        refresh()
        return client.get(path, headers=headers).get_data(as_text=True)

    listed = page("/lists/blacklist", english)
    assert "Published entries: 1." in listed and "Legal basis" in listed
    assert format_date(published_on, locale="en") in listed
    assert "认定机关" not in listed and "公示期" not in listed
    listed = page("/lists/blacklist", chinese)
    assert "公示记录：1条" in listed and "法律依据" in listed
    assert format_date(published_on, locale="zh_CN") in listed
    assert "Authority" not in listed and "Legal basis" not in listed

    seller = page("/sellers/taobao/hx-001", english)
    assert "Fewer than 10 ratings" in seller and "Operating company" in seller
    assert "Blacklist" in seller and "经营主体" not in seller
    assert format_date(published_on, locale="en") in seller
    seller = page("/sellers/taobao/hx-001", chinese)
    assert "评价数不足10条" in seller and "经营主体" in seller and "严重失信主体名单" in seller
    assert "Operating company" not in seller and "Buyer ratings" not in seller
    # Buyers' ratings are counted, not called a credit rating (信用评级).
    assert '<th class="num">评价数</th>' in seller and "信用评级" not in seller
    assert format_date(published_on, locale="zh_CN") in seller
    # The machine feed is untouched: ISO dates, English field names.
    feed = client.get("/api/v1/public/lists/blacklist").get_json()
    assert datetime.fromisoformat(feed["entries"][0]["published_at"]) == entry.published_at


def test_a_refusal_reads_in_the_consoles_language_and_in_english_over_the_api(
    client, session, runtime, clock
):
    regulator = signed_member(session, client, clock, kind="regulator", roles=("regulator",))
    add_staff_user(
        session,
        actor=TEST_ACTOR,
        passwords=runtime.passwords,
        username="reg-carol",
        password=PASSWORD,
        roles=["regulator"],
        regulator_member=regulator.member,
        now=clock.now(),
    )
    session.commit()
    proposed = propose(regulator)
    assert proposed.status_code == 201, proposed.get_json()
    entry_id = proposed.get_json()["id"]
    page = f"/console/regulator/listings/{entry_id}"

    sign_in(client, "reg-carol")
    assert post(client, f"{page}/withdraw", page, reason=" ").status_code == 303
    refresh()
    shown = client.get(page, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    # The domain's constant text and its field error, both from the catalogue.
    assert "未能执行：撤回须说明理由 (reason: 必填)" in shown
    assert "a withdrawal needs a reason" not in shown and "reason: required" not in shown

    client.get("/language/en")
    refresh()
    assert post(client, f"{page}/withdraw", page, reason=" ").status_code == 303
    refresh()
    shown = client.get(page).get_data(as_text=True)
    assert "Refused: a withdrawal needs a reason (reason: required)" in shown
    assert "撤回须说明理由" not in shown

    # The same refusal over the API is the English problem document, whatever the language.
    answered = regulator.post(
        f"/api/v1/listings/{entry_id}/withdraw",
        {"reason": " "},
        extra_headers={"Accept-Language": "zh-CN"},
    )
    assert answered.status_code == 422
    problem = answered.get_json()
    assert problem["detail"] == "a withdrawal needs a reason"
    assert problem["errors"] == [{"field": "reason", "message": "required"}]
