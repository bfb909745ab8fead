from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from registry.errors import Conflict, Forbidden, InvalidInput
from registry.records import (
    CreditRecord,
    CreditRecordVersion,
    find_member_records,
    revoke_record,
    upsert_record,
)
from registry.subjects import register_subject
from tests import factories
from tests.factories import TEST_ACTOR

PENALTY = {
    "category": "administrative_penalty",
    "polarity": "negative",
    "severity": "general",
    "authority": "北京市市场监督管理局",
    "document_number": "京市监罚〔2025〕12号",
    "legal_basis": "《中华人民共和国广告法》第五十五条",
    "decided_at": date(2025, 3, 1),
    "amount_value": Decimal("20000.00"),
    "amount_currency": "CNY",
    "summary": "发布虚假广告",
}


@pytest.fixture
def subject(session, runtime):
    return register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="enterprise",
        name="北京华信科技有限公司",
        uscc="91110000600037341L",
    )


@pytest.fixture
def regulator(session):
    return factories.member(session, kind="regulator", roles=("regulator", "submitter"))


def versions(session, record):
    return session.scalars(
        sa.select(CreditRecordVersion)
        .where(CreditRecordVersion.record_id == record.id)
        .order_by(CreditRecordVersion.version)
    ).all()


def test_create_correct_and_history(session, subject, regulator, clock):
    record, changed = upsert_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        subject=subject,
        member_record_id="P-1",
        fields=PENALTY,
        now=clock.now(),
    )
    assert changed and record.version == 1
    clock.advance(timedelta(days=2))
    record, changed = upsert_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        subject=subject,
        member_record_id="P-1",
        fields={**PENALTY, "amount_value": Decimal("15000.00")},
        reason="amount reduced on review",
        now=clock.now(),
    )
    assert changed and record.version == 2
    history = versions(session, record)
    assert [(v.version, v.op) for v in history] == [(1, "create"), (2, "correct")]
    assert history[0].state["amount_value"] == "20000.00"
    assert history[1].state["amount_value"] == "15000.00"
    assert history[1].reason == "amount reduced on review"


def test_identical_resubmission_changes_nothing(session, subject, regulator):
    upsert_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        subject=subject,
        member_record_id="P-1",
        fields=PENALTY,
    )
    record, changed = upsert_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        subject=subject,
        member_record_id="P-1",
        fields=dict(PENALTY),
    )
    assert not changed and record.version == 1
    assert len(versions(session, record)) == 1


def test_correction_needs_a_reason_and_leaves_the_record_as_it_was(session, subject, regulator):
    upsert_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        subject=subject,
        member_record_id="P-1",
        fields=PENALTY,
    )
    with pytest.raises(InvalidInput):
        upsert_record(
            session,
            actor=TEST_ACTOR,
            member=regulator,
            subject=subject,
            member_record_id="P-1",
            fields={**PENALTY, "severity": "serious"},
        )
    stored = session.scalar(sa.select(CreditRecord).where(CreditRecord.member_record_id == "P-1"))
    assert stored.severity == "general" and stored.version == 1


def test_members_only_touch_their_own_records(session, subject, regulator):
    upsert_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        subject=subject,
        member_record_id="P-1",
        fields=PENALTY,
    )
    other = factories.member(session)
    with pytest.raises(Forbidden):
        revoke_record(
            session, actor=TEST_ACTOR, member=other, member_record_id="P-1", reason="not mine"
        )
    # The same record id from another member is another record, not a correction.
    record, changed = upsert_record(
        session,
        actor=TEST_ACTOR,
        member=other,
        subject=subject,
        member_record_id="P-1",
        fields=PENALTY,
    )
    assert changed and record.member_id == other.id
    assert session.scalar(sa.select(sa.func.count()).select_from(CreditRecord)) == 2


def test_a_submissions_lookup_finds_each_of_the_members_records_once(session, subject, regulator):
    other = factories.member(session)
    mine = {}
    for member, record_id in ((regulator, "P-1"), (regulator, "P-2"), (other, "P-1")):
        record, _ = upsert_record(
            session,
            actor=TEST_ACTOR,
            member=member,
            subject=subject,
            member_record_id=record_id,
            fields=PENALTY,
        )
        if member is regulator:
            mine[record_id] = record.id
    session.flush()

    # An id asked twice, an id the member does not have, another member's record of the
    # same id: each of the member's own records comes back once, under its id.
    found = find_member_records(session, regulator, ["P-2", "P-1", "P-3", "P-1"])

    assert {record_id: record.id for record_id, record in found.items()} == mine
    assert find_member_records(session, regulator, []) == {}


def test_revoke_keeps_history_and_blocks_further_corrections(session, subject, regulator):
    upsert_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        subject=subject,
        member_record_id="P-1",
        fields=PENALTY,
    )
    record = revoke_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        member_record_id="P-1",
        reason="decision annulled",
    )
    assert record.status == "revoked" and record.version == 2
    assert [v.op for v in versions(session, record)] == ["create", "revoke"]
    with pytest.raises(Conflict):
        upsert_record(
            session,
            actor=TEST_ACTOR,
            member=regulator,
            subject=subject,
            member_record_id="P-1",
            fields={**PENALTY, "summary": "x"},
            reason="r",
        )
    with pytest.raises(Conflict):
        revoke_record(
            session, actor=TEST_ACTOR, member=regulator, member_record_id="P-1", reason="again"
        )


def test_a_record_cannot_move_to_another_subject(session, subject, regulator, runtime):
    upsert_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        subject=subject,
        member_record_id="P-1",
        fields=PENALTY,
    )
    other = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="enterprise",
        name="另一家公司",
        uscc="91310115MA1K3BTP2B",
    )
    with pytest.raises(Conflict):
        upsert_record(
            session,
            actor=TEST_ACTOR,
            member=regulator,
            subject=other,
            member_record_id="P-1",
            fields=PENALTY,
            reason="moved",
        )


def test_database_keeps_amount_and_currency_together(session, subject, regulator):
    with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
        upsert_record(
            session,
            actor=TEST_ACTOR,
            member=regulator,
            subject=subject,
            member_record_id="P-2",
            fields={**PENALTY, "amount_currency": None},
        )


def test_money_keeps_its_cents(session, subject, regulator):
    record, _ = upsert_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        subject=subject,
        member_record_id="P-3",
        fields={**PENALTY, "amount_value": Decimal("12345678901234.56")},
    )
    session.expire_all()
    stored = session.get(CreditRecord, record.id)
    assert stored.amount_value == Decimal("12345678901234.56")
    assert stored.decided_at == date(2025, 3, 1)
