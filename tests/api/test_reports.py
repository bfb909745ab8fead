"""Credit reports through the signed API: each subject kind, consent for persons, the
subject's own report with its quota and the list of who looked."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from registry.querylog import QueryLogEntry
from registry.records import upsert_record
from registry.subjects import register_subject
from tests import factories
from tests.api.test_openapi import conforms
from tests.api.test_seller_ratings import platform_member, rating, send
from tests.factories import TEST_ACTOR
from tests.signing import signed_member

ID_NUMBER = "11010519491231002X"
UNREGISTERED_ID_NUMBER = "440304198506122313"
PURPOSE = "credit_assessment"


@pytest.fixture
def querier(session, client, clock):
    member = signed_member(session, client, clock, roles=("querier",))
    member.member.name = "示范银行"
    session.commit()
    return member


@pytest.fixture
def company(session, runtime, clock):
    subject = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="enterprise",
        name="北京华信科技有限公司",
        uscc="91110000600037341L",
    )
    regulator = factories.member(session, kind="regulator", roles=("regulator", "submitter"))
    upsert_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        subject=subject,
        member_record_id="P-1",
        fields={
            "category": "administrative_penalty",
            "polarity": "negative",
            "severity": "general",
            "authority": "北京市市场监督管理局",
            "document_number": "京市监罚〔2026〕1号",
            "decided_at": clock.now().date() - timedelta(days=30),
        },
        now=clock.now(),
    )
    session.commit()
    return subject


@pytest.fixture
def person(session, runtime):
    subject = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="person",
        name="张三",
        id_number=ID_NUMBER,
    )
    session.commit()
    return subject


def report(member, subject, **params):
    query = "&".join(f"{k}={v}" for k, v in {"purpose": PURPOSE, **params}.items())
    return member.get(f"/api/v1/subjects/{subject.id}/report?{query}")


def test_a_report_on_an_enterprise_is_stored_logged_and_rendered(
    session, client, clock, querier, company
):
    response = report(querier, company)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    content = body["report"]
    assert content["subject"]["uscc"] == company.uscc and content["kind"] == "member"
    [penalties] = content["records"]
    assert penalties["category"] == "administrative_penalty" and penalties["count"] == 1
    assert penalties["records"][0]["document_number"] == "京市监罚〔2026〕1号"
    assert content["list_entries"] == [] and content["rating"] is None
    assert "queries" not in content  # only the subject sees who looked

    logged = session.scalars(sa.select(QueryLogEntry).where(QueryLogEntry.kind == "report")).all()
    assert [(e.purpose, e.subject_ids, e.query["report_id"]) for e in logged] == [
        (PURPOSE, [str(company.id)], content["report_id"])
    ]

    location = response.headers["Location"]
    assert querier.get(location).get_json() == body
    html = querier.get(location + ".html")
    assert html.mimetype == "text/html"
    page = html.get_data(as_text=True)
    assert company.name in page and body["digest"] in page and "京市监罚〔2026〕1号" in page
    pdf = querier.get(location + ".pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    # Another member cannot read it, not even that it exists.
    stranger = signed_member(session, client, clock, roles=("querier",))
    assert stranger.get(location).status_code == 404
    assert stranger.get(location + ".pdf").status_code == 404
    # A stored copy does not outlive its days: records may have left the registry since.
    clock.advance(timedelta(days=31))
    expired = querier.get(location)
    assert expired.status_code == 410
    assert expired.get_json()["type"] == "/problems/report-expired"


def test_a_report_on_a_person_needs_a_valid_consent_for_its_purpose(
    session, client, clock, querier, person
):
    refused = report(querier, person)
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "/problems/consent-required"

    consent = {
        "id_number": ID_NUMBER.lower(),
        "reference": "CONSENT-2026-0042",
        "purpose": PURPOSE,
        "given_on": clock.now().date().isoformat(),
        "valid_until": (clock.now().date() + timedelta(days=90)).isoformat(),
    }
    bad = querier.post("/api/v1/consents", {**consent, "valid_until": "2000-01-01"})
    assert bad.status_code == 422
    recorded = querier.post("/api/v1/consents", consent)
    assert recorded.status_code == 201, recorded.get_json()
    consent_id = recorded.get_json()["id"]

    answered = report(querier, person, consent=consent_id)
    assert answered.status_code == 200
    text = answered.get_data(as_text=True)
    assert ID_NUMBER not in text and ID_NUMBER.lower() not in text
    assert answered.get_json()["report"]["subject"]["id_number_masked"] == "1101**********002X"

    other_purpose = report(querier, person, consent=consent_id, purpose="counterparty_check")
    assert other_purpose.status_code == 403
    other_member = signed_member(session, client, clock, roles=("querier",))
    assert report(other_member, person, consent=consent_id).status_code == 403
    clock.advance(timedelta(days=91))
    assert report(querier, person, consent=consent_id).status_code == 403
    clock.advance(timedelta(days=-91))
    assert querier.request("DELETE", f"/api/v1/consents/{consent_id}").status_code == 200
    assert report(querier, person, consent=consent_id).status_code == 403


def test_recording_a_consent_by_number_does_not_tell_whether_the_person_is_registered(
    session, client, clock, querier, person
):
    def record(number):
        return querier.post(
            "/api/v1/consents",
            {
                "id_number": number,
                "reference": "CONSENT-2026-0043",
                "purpose": PURPOSE,
                "given_on": clock.now().date().isoformat(),
                "valid_until": (clock.now().date() + timedelta(days=90)).isoformat(),
            },
        )

    registered, unknown = record(ID_NUMBER), record(UNREGISTERED_ID_NUMBER)
    assert (registered.status_code, unknown.status_code) == (201, 201), unknown.get_json()
    answers = [response.get_json() for response in (registered, unknown)]
    assert {**answers[0], "id": None} == {**answers[1], "id": None}
    assert answers[0]["subject_id"] is None
    assert conforms(client.get("/api/openapi.json").get_json(), "ConsentRecord", answers[0]) == []
    assert set(registered.headers) == set(unknown.headers)
    text = registered.get_data(as_text=True) + unknown.get_data(as_text=True)
    assert str(person.id) not in text and UNREGISTERED_ID_NUMBER not in text
    # An invalid number is refused with the other field errors, all at once.
    bad = querier.post(
        "/api/v1/consents",
        {
            "id_number": ID_NUMBER[:-1] + "5",
            "reference": "C",
            "purpose": PURPOSE,
            "given_on": "2026-11-20",
            "valid_until": "2026-11-01",
        },
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.get_json()["errors"]} == {"id_number", "valid_until"}
    assert ID_NUMBER[:-1] not in bad.get_data(as_text=True)
    # The consent recorded by number opens the registered person's report.
    consent = answers[0]["id"]
    assert report(querier, person, consent=consent).status_code == 200
    assert report(querier, person, consent=answers[1]["id"]).status_code == 403


def test_a_report_on_a_shop_carries_its_seller_ratings(session, runtime, client, clock, querier):
    taobao = platform_member(session, client, clock, "taobao")
    shop = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="shop",
        name="华信旗舰店",
        platform=taobao.member,
        shop_id="shop-1",
    )
    session.commit()
    assert send(taobao, "b", [rating(n) for n in range(12)]).status_code == 201
    content = report(querier, shop).get_json()["report"]
    assert content["subject"]["shop_id"] == "shop-1"
    assert content["seller_ratings"]["windows"]["lifetime"]["count"] == 12


def test_the_subjects_own_report_shows_who_looked_and_is_free_twice_a_year(
    session, client, clock, querier, company
):
    assert (
        querier.get(f"/api/v1/subjects/{company.id}?purpose=counterparty_check").status_code == 200
    )
    assert report(querier, company).status_code == 200
    itself = signed_member(session, client, clock, kind="enterprise", roles=("submitter",))
    itself.member.uscc = company.uscc
    session.commit()
    path = f"/api/v1/subjects/{company.id}/own-report"

    first = itself.post(path, {})
    assert first.status_code == 201, first.get_json()
    content = first.get_json()["report"]
    assert content["kind"] == "own"
    assert [(q["member"], q["purpose"], q["kind"]) for q in content["queries"]] == [
        ("示范银行", PURPOSE, "report"),
        ("示范银行", "counterparty_check", "subject"),
    ]
    assert itself.post(path, {}).status_code == 201
    third = itself.post(path, {})
    assert third.status_code == 429
    problem = third.get_json()
    assert problem["type"] == "/problems/own-report-quota"
    assert problem["next_free"] == date(clock.now().year + 1, 1, 1).isoformat()
    clock.advance(timedelta(days=366))
    assert itself.post(path, {}).status_code == 201
    # Nobody else asks for a subject's own report.
    assert querier.post(path, {}).status_code == 403


def test_a_disputed_record_shows_as_disputed_in_the_report(session, querier, company):
    [record] = report(querier, company).get_json()["report"]["records"][0]["records"]
    assert record["disputed"] is False
    filed = querier.post(
        "/api/v1/objections",
        {"item_kind": "record", "item_id": record["id"], "grounds": "the fine was annulled"},
    )
    assert filed.status_code == 201, filed.get_json()
    response = report(querier, company)
    [again] = response.get_json()["report"]["records"][0]["records"]
    assert again["disputed"] is True
    page = querier.get(response.headers["Location"] + ".html").get_data(as_text=True)
    assert "· disputed" in page  # beside the record's status


def test_staff_issue_a_persons_own_report_within_the_same_quota(
    app, session, runtime, tmp_path, person
):
    from registry.staff import add_staff_user

    add_staff_user(
        session,
        actor=TEST_ACTOR,
        passwords=runtime.passwords,
        username="counter-li",
        password="a long enough password",
        roles=["reviewer"],
    )
    session.commit()
    runner = app.test_cli_runner()

    def issue(name, staff="counter-li"):
        out = tmp_path / name
        result = runner.invoke(
            args=["reports", "own", str(person.id), "--staff", staff, "--out", str(out)]
        )
        return result, out

    result, pdf = issue("own.pdf")
    assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF-")
    result, html = issue("own.html")
    assert result.exit_code == 0 and "1101**********002X" in html.read_text()
    assert "List history" in html.read_text() and "Never on a list." in html.read_text()
    assert ID_NUMBER not in html.read_text()
    refused, _ = issue("third.json")
    assert refused.exit_code != 0 and "free reports" in refused.output
    nobody, _ = issue("x.json", staff="nobody")
    assert nobody.exit_code != 0 and "not an active" in nobody.output
