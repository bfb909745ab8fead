"""Open records (a default still unpaid): asked of their submitter at the bound, on the test
clock, through the member API, on both databases."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from registry.audit import AuditEvent
from registry.monitoring import MemberEvent, MonitoringEvent
from registry.open_records import confirmation_job, request_confirmations
from registry.records import CreditRecord
from registry.retention import RetentionPolicy
from tests.api.test_openapi import conforms
from tests.api.test_submissions import PENALTY as SUBMITTED_PENALTY
from tests.signing import accepted, signed_member

BEIJING = ZoneInfo("Asia/Shanghai")
POLICY = RetentionPolicy()
SUBJECT = {"kind": "enterprise", "uscc": "91110000600037341L", "name": "北京华信科技有限公司"}
# Open since 2025-11-26: 365 days later, on 2026-11-26, the submitter is asked. The test
# clock starts on 2026-11-25.
DEFAULT = {
    "record_id": "LD-1",
    "op": "upsert",
    "category": "loan_default",
    "subject": SUBJECT,
    "polarity": "negative",
    "authority": "示范银行",
    "occurred_at": "2025-11-26",
    "amount": {"value": "500000.00", "currency": "CNY"},
}
REPAID = {**DEFAULT, "record_id": "TAX-1", "category": "tax_arrears", "ended_at": "2026-01-01"}
PENALTY = {**SUBMITTED_PENALTY, "record_id": "PEN-1"}


@pytest.fixture
def bank(session, client, clock):
    return signed_member(session, client, clock, kind="bank", roles=("submitter", "querier"))


@pytest.fixture
def other_bank(session, client, clock):
    return signed_member(session, client, clock, kind="bank", roles=("submitter", "querier"))


def due(member):
    response = member.get("/api/v1/records/confirmations/due")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["records"]


def confirm(member, record_ids):
    return member.post("/api/v1/records/confirmations", {"record_ids": record_ids})


def ask(session, clock):
    asked = request_confirmations(session, clock.now(), policy=POLICY)
    session.commit()
    return asked


def stream(member):
    response = member.get("/api/v1/monitoring/events?after=0")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["events"]


def test_an_open_record_is_asked_of_its_submitter_at_the_bound_and_not_a_day_before(
    session, clock, bank, other_bank
):
    accepted(bank, "s-1", [DEFAULT, REPAID, PENALTY])
    accepted(other_bank, "s-2", [{**DEFAULT, "record_id": "THEIRS"}])

    # 2026-11-25, day 364: not yet.
    clock.set(datetime(2026, 11, 25, 23, 59, 59, tzinfo=BEIJING))
    assert due(bank) == []
    assert ask(session, clock) == 0

    # 2026-11-26, day 365: listed for its submitter alone, and asked once.
    clock.advance(timedelta(seconds=1))
    (listed,) = due(bank)
    assert listed["record_id"] == "LD-1"
    assert (listed["open_since"], listed["due_on"], listed["confirmed_at"]) == (
        "2025-11-26",
        "2026-11-26",
        None,
    )
    assert [r["record_id"] for r in due(other_bank)] == ["THEIRS"]
    assert ask(session, clock) == 2
    assert ask(session, clock) == 0  # asked once, not at every round

    document = bank.client.get("/api/openapi.json").get_json()
    page = bank.get("/api/v1/records/confirmations/due").get_json()
    assert conforms(document, "OpenRecordsDue", page) == []

    # The request is an event in the submitter's own stream (its webhook delivers it), and
    # in nobody else's.
    (event,) = [e for e in stream(bank) if e["type"] == "record.confirmation_due"]
    assert conforms(document, "MonitoringEvent", event) == []
    assert conforms(document, "OpenRecord", event["new"]) == []
    assert event["item_id"] == listed["registry_id"]
    assert event["new"]["record_id"] == "LD-1" and event["new"]["due_on"] == "2026-11-26"
    assert [e["new"]["record_id"] for e in stream(other_bank)] == ["THEIRS"]

    # The submitter confirms it still open: recorded with its time, audited, the days start
    # again.
    answer = confirm(bank, ["LD-1"])
    assert answer.status_code == 200, answer.get_json()
    assert conforms(document, "OpenRecordsConfirmed", answer.get_json()) == []
    (confirmed,) = answer.get_json()["records"]
    assert confirmed["confirmed_at"] == "2026-11-25T16:00:00Z"
    assert confirmed["due_on"] == "2027-11-26"
    assert due(bank) == []
    audited = sa.select(AuditEvent.actor_kind).where(
        AuditEvent.action == "record.open_confirmed",
        AuditEvent.object_id == listed["registry_id"],
    )
    assert session.scalars(audited).all() == ["member"]

    clock.set(datetime(2027, 11, 25, 23, 59, 59, tzinfo=BEIJING))
    assert due(bank) == []
    assert ask(session, clock) == 0
    clock.advance(timedelta(seconds=1))
    assert [r["record_id"] for r in due(bank)] == ["LD-1"]
    assert ask(session, clock) == 1  # asked again after the confirmation

    # The member sends the end instead: no longer open, no longer asked.
    corrected = {**DEFAULT, "ended_at": "2027-11-20", "reason": "repaid"}
    accepted(bank, "s-3", [corrected])
    assert due(bank) == []


def test_only_open_records_of_the_member_are_confirmed_and_all_or_nothing(
    session, clock, bank, other_bank
):
    accepted(bank, "s-1", [DEFAULT, REPAID, PENALTY, {**DEFAULT, "record_id": "LD-R"}])
    accepted(bank, "s-2", [{"record_id": "LD-R", "op": "revoke", "reason": "sent in error"}])
    accepted(other_bank, "s-3", [{**DEFAULT, "record_id": "THEIRS"}])

    answer = confirm(bank, ["LD-1", "THEIRS", "TAX-1", "PEN-1", "LD-R", "NOPE"])
    assert answer.status_code == 422
    problem = answer.get_json()
    assert problem["type"] == "/problems/validation-failed"
    assert {e["field"]: e["message"] for e in problem["errors"]} == {
        "record_ids.1": "the member has no record with this id",
        "record_ids.2": "the record ended on 2026-01-01",
        "record_ids.3": "a negative administrative_penalty record is not kept open until it ends",
        "record_ids.4": "the record is revoked",
        "record_ids.5": "the member has no record with this id",
    }
    session.expire_all()
    unconfirmed = sa.select(CreditRecord.open_confirmed_at).where(
        CreditRecord.member_record_id == "LD-1"
    )
    assert session.scalars(unconfirmed).all() == [None]

    for body in ({"record_ids": []}, {"record_ids": ["LD\x00"]}, {"record_ids": "LD-1"}, {}):
        refused = bank.post("/api/v1/records/confirmations", body)
        assert refused.status_code == 422, body
    malformed = bank.post("/api/v1/records/confirmations", b"[", content_type="application/json")
    assert malformed.status_code == 400, malformed.get_json()
    assert malformed.get_json()["type"] == "/problems/malformed-body"
    assert bank.get("/api/v1/records/confirmations/due?limit=0").status_code == 422
    assert bank.get("/api/v1/records/confirmations/due?after=").status_code == 422
    # Only submitters have records to confirm.
    querier = signed_member(session, bank.client, clock, kind="bank", roles=("querier",))
    assert querier.get("/api/v1/records/confirmations/due").status_code == 403


def test_the_list_pages_by_record_id(session, clock, bank):
    accepted(bank, "s-1", [{**DEFAULT, "record_id": f"LD-{n}"} for n in range(5)])
    clock.advance(timedelta(days=1))
    first = bank.get("/api/v1/records/confirmations/due?limit=2").get_json()
    assert [r["record_id"] for r in first["records"]] == ["LD-0", "LD-1"]
    assert first["next_after"] == "LD-1" and first["confirm_days"] == 365
    rest = bank.get("/api/v1/records/confirmations/due?limit=10&after=LD-1").get_json()
    assert [r["record_id"] for r in rest["records"]] == ["LD-2", "LD-3", "LD-4"]
    assert rest["next_after"] is None


def test_the_bound_is_configuration_and_the_worker_asks(session, clock, bank, runtime):
    from config import load_settings

    accepted(bank, "s-1", [{**DEFAULT, "occurred_at": "2026-10-27"}])
    settings = load_settings("test", environ={}, overrides={"OPEN_RECORD_CONFIRM_DAYS": 30})
    job = confirmation_job(settings)
    clock.set(datetime(2026, 11, 25, 23, 59, tzinfo=BEIJING))
    assert job(session, clock.now()) == 0
    clock.set(datetime(2026, 11, 26, 0, 0, tzinfo=BEIJING))
    assert job(session, clock.now()) == 1
    session.commit()
    assert (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(MemberEvent)
            .join(MonitoringEvent, MonitoringEvent.id == MemberEvent.event_id)
            .where(
                MemberEvent.member_id == bank.member.id,
                MonitoringEvent.type == "record.confirmation_due",
            )
        )
        == 1
    )
    from registry.worker import default_jobs

    assert "open-record-confirmations" in [j.name for j in default_jobs(settings=runtime.settings)]
