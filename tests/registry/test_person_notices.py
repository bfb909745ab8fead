"""Negative information about a person is not shared before the person is told: held from
lookups, members' reports, search documents and ratings, shown in the person's own report,
released by the submitter's word or PERSON_NOTICE_WAIT_DAYS after the registry's own notice
(on the test clock, at the boundary), on both databases."""

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from registry import person_notices, provenance, ratings, reports
from registry.audit import Actor, ActorKind, AuditEvent
from registry.clock import local_date
from registry.records import CreditRecord
from registry.staff import add_staff_user
from registry.subjects import Subject
from search.documents import build_documents
from tests.api.test_openapi import conforms
from tests.factories import TEST_ACTOR
from tests.signing import accepted, signed_member

BEIJING = ZoneInfo("Asia/Shanghai")
ID_NUMBER = "11010519491231002X"
PERSON = {"kind": "person", "id_number": ID_NUMBER, "name": "张三"}
COMPANY = {"kind": "enterprise", "uscc": "91110000600037341L", "name": "北京华信科技有限公司"}
PURPOSE = "credit_assessment"
DEFAULT = {
    "record_id": "LD-1",
    "op": "upsert",
    "category": "loan_default",
    "subject": PERSON,
    "polarity": "negative",
    "authority": "示范银行",
    "occurred_at": "2026-06-01",
    "amount": {"value": "20000.00", "currency": "CNY"},
}
REPAID_ON_TIME = {
    **DEFAULT,
    "record_id": "PAY-1",
    "category": "payment_experience",
    "polarity": "positive",
    "due_date": "2026-06-01",
    "days_past_due": 0,
}
POLICY = person_notices.NoticePolicy(wait_days=10)


@pytest.fixture
def bank(session, client, clock):
    return signed_member(session, client, clock, kind="bank", roles=("submitter", "querier"))


@pytest.fixture
def lender(session, client, clock):
    """Another member that looks the person up, with the person's consent."""
    return signed_member(session, client, clock, kind="bank", roles=("querier",))


def consent(member, clock):
    answer = member.post(
        "/api/v1/consents",
        {
            "id_number": ID_NUMBER,
            "reference": "CONSENT-1",
            "purpose": PURPOSE,
            "given_on": clock.now().date().isoformat(),
            "valid_until": (clock.now().date() + timedelta(days=365)).isoformat(),
        },
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def negative_count(member, subject_id, consent_id):
    view = member.get(f"/api/v1/subjects/{subject_id}?purpose={PURPOSE}&consent={consent_id}")
    assert view.status_code == 200, view.get_json()
    return view.get_json()["record_counts"]["negative"]


def report_records(member, subject_id, consent_id):
    answer = member.get(
        f"/api/v1/subjects/{subject_id}/report?purpose={PURPOSE}&consent={consent_id}"
    )
    assert answer.status_code == 200, answer.get_json()
    return [r["id"] for group in answer.get_json()["report"]["records"] for r in group["records"]]


def held(member):
    answer = member.get("/api/v1/records/person-notices/held")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def document_negatives(session, subject_id):
    document = build_documents(session, [uuid.UUID(subject_id)])[uuid.UUID(subject_id)]
    return document["record_counts"]["negative"]


def test_a_negative_record_on_a_person_is_held_until_the_submitter_says_they_were_told(
    session, client, clock, bank, lender
):
    receipt = accepted(bank, "s-1", [DEFAULT, REPAID_ON_TIME]).get_json()["receipt"]
    subject_id = receipt["records"][0]["subject_id"]
    default_id = receipt["records"][0]["registry_id"]
    consent_id = consent(lender, clock)

    # Held: not in the lookup's counts, the search document, a member's report or a rating;
    # the positive record is shared at once.
    assert negative_count(lender, subject_id, consent_id) == 0
    assert document_negatives(session, subject_id) == 0
    assert report_records(lender, subject_id, consent_id) == [receipt["records"][1]["registry_id"]]
    inputs = ratings.inputs_of(session, [uuid.UUID(subject_id)])
    assert [fact.polarity for fact in inputs[uuid.UUID(subject_id)][0]] == ["positive"]

    # Its submitter has it in its list, with nothing said yet.
    page = held(bank)
    document = client.get("/api/openapi.json").get_json()
    assert conforms(document, "HeldRecords", page) == []
    (listed,) = page["records"]
    assert (listed["record_id"], listed["registry_id"], listed["told_on"]) == (
        "LD-1",
        default_id,
        None,
    )
    # A member that only looks up has no such list (least privilege).
    assert lender.get("/api/v1/records/person-notices/held").status_code == 403

    # The person's own report shows it, marked: they learn of it there too.
    own = reports.build_report(
        session,
        session.get(Subject, uuid.UUID(subject_id)),
        report_id=uuid.uuid4(),
        kind=reports.ReportKind.OWN,
        purpose="own",
        at=clock.now(),
        seller_policy=None,
    )
    shown = {r["id"]: r.get("held_for_notice") for g in own["records"] for r in g["records"]}
    assert shown[default_id] is True

    # The submitter says the person was told: shared now, audited, the subject re-indexed.
    told = bank.post(
        "/api/v1/records/person-notices",
        {"notices": [{"record_id": "LD-1", "told_on": "2026-11-20", "channel": "sms"}]},
    )
    assert told.status_code == 200, told.get_json()
    assert conforms(document, "PersonNoticesRecorded", told.get_json()) == []
    (record,) = told.get_json()["records"]
    assert (record["held_for_notice"], record["told_on"], record["channel"], record["told_by"]) == (
        False,
        "2026-11-20",
        "sms",
        "submitter",
    )
    assert negative_count(lender, subject_id, consent_id) == 1
    assert document_negatives(session, subject_id) == 1
    assert default_id in report_records(lender, subject_id, consent_id)
    assert held(bank)["records"] == []
    audited = session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.object_id == default_id)
    ).all()
    assert "record.person_told" in audited


def test_a_record_sent_with_its_notice_is_shared_at_once(session, clock, bank, lender):
    told = {**DEFAULT, "person_notice": {"told_on": "2026-11-25", "channel": "letter"}}
    receipt = accepted(bank, "s-1", [told]).get_json()["receipt"]
    subject_id = receipt["records"][0]["subject_id"]
    assert negative_count(lender, subject_id, consent(lender, clock)) == 1
    record = session.get(CreditRecord, uuid.UUID(receipt["records"][0]["registry_id"]))
    assert (record.held_for_notice, record.person_told_by, record.person_told_via) == (
        False,
        "submitter",
        "letter",
    )
    assert held(bank)["records"] == []


def test_notices_that_do_not_fit_are_refused_with_every_error_and_nothing_changes(
    session, clock, bank
):
    # The test clock is on 2026-11-25 in Beijing: a notice of the 26th is in the future.
    refused = bank.post(
        "/api/v1/submissions",
        {
            "submission_id": "s-bad",
            "records": [
                {**DEFAULT, "person_notice": {"told_on": "2026-11-26", "channel": "sms"}},
                {
                    **DEFAULT,
                    "record_id": "C-1",
                    "subject": COMPANY,
                    "person_notice": {"told_on": "2026-11-20", "channel": "sms"},
                },
                {**REPAID_ON_TIME, "person_notice": {"told_on": "2026-11-20", "channel": "sms"}},
                {
                    **DEFAULT,
                    "record_id": "LD-2",
                    "person_notice": {"told_on": "2026-11-20", "channel": "pigeon"},
                },
            ],
        },
    )
    assert refused.status_code == 422
    fields = {e["field"] for e in refused.get_json()["errors"]}
    assert {
        "records.0.person_notice.told_on",
        "records.1.person_notice",
        "records.2.person_notice",
        "records.3.person_notice.channel",
    } <= fields
    assert session.scalar(sa.select(sa.func.count()).select_from(CreditRecord)) == 0

    accepted(bank, "s-1", [DEFAULT, REPAID_ON_TIME])
    answer = bank.post(
        "/api/v1/records/person-notices",
        {
            "notices": [
                {"record_id": "LD-1", "told_on": "2026-11-20", "channel": "sms"},
                {"record_id": "PAY-1", "told_on": "2026-11-20", "channel": "sms"},
                {"record_id": "NOPE", "told_on": "2026-11-20", "channel": "sms"},
                {"record_id": "LD-1", "told_on": "2026-11-26", "channel": "sms"},
            ]
        },
    )
    assert answer.status_code == 422
    assert {e["field"]: e["message"] for e in answer.get_json()["errors"]} == {
        "notices.1.record_id": "the record is not held: it is not negative information about "
        "a person, or it is shared already",
        "notices.2.record_id": "the member has no record with this id",
        "notices.3.told_on": "on or before 2026-11-25",
    }
    assert [r["record_id"] for r in held(bank)["records"]] == ["LD-1"]


def test_a_correction_that_makes_a_record_negative_holds_it(session, clock, bank, lender):
    receipt = accepted(bank, "s-1", [REPAID_ON_TIME]).get_json()["receipt"]
    subject_id = receipt["records"][0]["subject_id"]
    consent_id = consent(lender, clock)
    assert negative_count(lender, subject_id, consent_id) == 0
    corrected = {
        **REPAID_ON_TIME,
        "polarity": "negative",
        "days_past_due": 95,
        "reason": "the instalment was not paid after all",
    }
    accepted(bank, "s-2", [corrected])
    assert [r["record_id"] for r in held(bank)["records"]] == ["PAY-1"]
    assert negative_count(lender, subject_id, consent_id) == 0
    # The same record sent again with its notice ends the hold.
    accepted(
        bank, "s-3", [{**corrected, "person_notice": {"told_on": "2026-11-24", "channel": "phone"}}]
    )
    assert held(bank)["records"] == []
    assert negative_count(lender, subject_id, consent_id) == 1


def test_the_registrys_own_notice_shares_the_record_after_the_wait_and_not_a_day_before(
    app, session, runtime, clock, bank, lender
):
    receipt = accepted(bank, "s-1", [DEFAULT]).get_json()["receipt"]
    subject_id = receipt["records"][0]["subject_id"]
    record_id = receipt["records"][0]["registry_id"]
    consent_id = consent(lender, clock)
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

    def serve(*extra):
        return runner.invoke(
            args=["records", "notice-served", record_id, "--reviewer", "counter-li", *extra]
        )

    future = serve("--channel", "letter", "--served-on", "2026-11-26")
    assert future.exit_code == 1 and "served_on: on or before 2026-11-25" in future.output
    listed = runner.invoke(args=["records", "held"])
    assert listed.exit_code == 0 and record_id in listed.output

    served = serve("--channel", "letter", "--served-on", "2026-11-25")
    assert served.exit_code == 0, served.output
    assert '"shared_from": "2026-12-05"' in served.output
    assert serve("--channel", "letter", "--served-on", "2026-11-25").exit_code == 1

    # Day 9 after the notice, at the last second: still held.
    clock.set(datetime(2026, 12, 4, 23, 59, 59, tzinfo=BEIJING))
    assert person_notices.release_due(session, clock.now(), policy=POLICY) == 0
    session.commit()
    assert negative_count(lender, subject_id, consent_id) == 0
    # Day 10: shared, once.
    clock.advance(timedelta(seconds=1))
    assert person_notices.release_due(session, clock.now(), policy=POLICY) == 1
    session.commit()
    assert person_notices.release_due(session, clock.now(), policy=POLICY) == 0
    assert negative_count(lender, subject_id, consent_id) == 1
    assert document_negatives(session, subject_id) == 1
    # The record's history: created by the member's submission (its event is the evidence),
    # told by staff, released by the registry.
    created = provenance.creation_event(session, "credit_record", record_id)
    actors = session.execute(
        sa.select(AuditEvent.action, AuditEvent.actor_kind)
        .where(AuditEvent.object_id == record_id, AuditEvent.action.like("record.%"))
        .order_by(AuditEvent.id)
    ).all()
    assert [(created.action, created.actor_kind), *(tuple(a) for a in actors)] == [
        ("submission.accepted", "member"),
        ("record.person_told", "staff"),
        ("record.notice_hold_ended", "system"),
    ]


def test_a_notice_served_long_enough_ago_shares_the_record_at_once(session, clock, bank):
    receipt = accepted(bank, "s-1", [DEFAULT]).get_json()["receipt"]
    record = session.get(CreditRecord, uuid.UUID(receipt["records"][0]["registry_id"]))
    person_notices.record_registry_notice(
        session,
        actor=Actor(ActorKind.STAFF, "counter-li"),
        record=record,
        channel="announcement",
        served_on=local_date(clock.now()) - timedelta(days=10),
        policy=POLICY,
        at=clock.now(),
    )
    session.commit()
    assert record.held_for_notice is False and record.person_told_by == "registry"


def test_an_objection_to_a_held_record_tells_members_nothing(
    session, client, clock, bank, lender, runtime
):
    """A person may object at the counter to a record they learnt of in their own report;
    until it is shared, no member sees its disputed mark, statement or event."""
    from registry import objections
    from registry.audit import Actor, ActorKind
    from registry.monitoring import _objections_part

    receipt = accepted(bank, "s-1", [DEFAULT]).get_json()["receipt"]
    subject_id = uuid.UUID(receipt["records"][0]["subject_id"])
    record_id = receipt["records"][0]["registry_id"]
    objections.object_for_person(
        session,
        staff=Actor(ActorKind.STAFF, "counter-li"),
        person=session.get(Subject, subject_id),
        item_kind="record",
        item_id=record_id,
        grounds="贷款已结清",
        statement="已于十月还清",
        identity_check="居民身份证原件已核验",
        answer_days=20,
        at=clock.now(),
    )
    session.commit()
    consent_id = consent(lender, clock)
    view = lender.get(f"/api/v1/subjects/{subject_id}?purpose={PURPOSE}&consent={consent_id}")
    assert view.get_json()["disputed"] == [] and view.get_json()["statements"] == []
    assert objections.disputed_items(session, [subject_id]) == {}
    assert _objections_part(session, [subject_id]) == {subject_id: {}}
    # Told: shared, and the objection shows with it.
    told = bank.post(
        "/api/v1/records/person-notices",
        {"notices": [{"record_id": "LD-1", "told_on": "2026-11-20", "channel": "sms"}]},
    )
    assert told.status_code == 200
    view = lender.get(f"/api/v1/subjects/{subject_id}?purpose={PURPOSE}&consent={consent_id}")
    assert [d["item_id"] for d in view.get_json()["disputed"]] == [record_id]


def test_a_held_record_corrected_to_positive_is_held_no_longer(session, clock, bank):
    accepted(bank, "s-1", [DEFAULT])
    assert [r["record_id"] for r in held(bank)["records"]] == ["LD-1"]
    repaid = {
        **DEFAULT,
        "category": "payment_experience",
        "polarity": "positive",
        "due_date": "2026-06-01",
        "days_past_due": 0,
        "reason": "recorded as a default by mistake",
    }
    accepted(bank, "s-2", [repaid])
    assert held(bank)["records"] == []
    record = session.scalar(sa.select(CreditRecord).where(CreditRecord.member_record_id == "LD-1"))
    session.refresh(record)
    assert record.held_for_notice is False
