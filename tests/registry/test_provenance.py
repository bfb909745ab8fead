"""A submission writes one audit event for what it creates, and a record's or a subject's
creation is still found from the record or the subject (registry.provenance), on both
databases."""

import copy
import uuid

import sqlalchemy as sa

from registry import intake, provenance
from registry.audit import AuditEvent, verify_chain
from registry.subjects import Subject
from tests import factories
from tests.api.test_submissions import PAYMENT, PENALTY, submit
from tests.monitoring_helpers import company, penalty
from tests.signing import signed_member


def events_about(session, *object_ids):
    return session.execute(
        sa.select(AuditEvent.action, AuditEvent.object_id)
        .where(AuditEvent.object_id.in_([str(i) for i in object_ids]))
        .order_by(AuditEvent.chain_seq)
    ).all()


def submission_event(session, receipt):
    (event,) = (
        event
        for event in session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "submission.accepted")
        )
        if event.after["submission_id"] == receipt["submission_id"]
    )
    return event


def test_a_submission_is_the_one_event_of_the_records_and_subjects_it_creates(
    session, client, clock
):
    lender = signed_member(session, client, clock)
    answer = submit(lender, "prov-1", [PENALTY, PAYMENT])
    assert answer.status_code == 201, answer.get_json()
    receipt = answer.get_json()["receipt"]
    records = [item["registry_id"] for item in receipt["records"]]
    subjects = [item["subject_id"] for item in receipt["records"]]
    session.expire_all()

    # No event of their own: one event, the submission's, listing the two new subjects.
    assert events_about(session, *records, *subjects) == []
    event = submission_event(session, receipt)
    assert event.actor_kind == "member" and event.actor_id == str(lender.member.id)
    assert sorted(event.after["registered_subjects"]) == sorted(subjects)
    assert verify_chain(session).ok

    # Each record and each subject leads back to it.
    for object_type, ids in (("credit_record", records), ("subject", subjects)):
        for object_id in ids:
            found = provenance.creation_event(session, object_type, object_id)
            assert found is not None and found.id == event.id


def test_a_later_submission_about_a_known_subject_registers_nothing(session, client, clock):
    lender = signed_member(session, client, clock)
    first = submit(lender, "prov-a", [PENALTY]).get_json()["receipt"]
    second_record = {**copy.deepcopy(PENALTY), "record_id": "PEN-2025-0002"}
    second = submit(lender, "prov-b", [second_record]).get_json()["receipt"]
    session.expire_all()

    assert submission_event(session, second).after["registered_subjects"] == []
    subject_id = first["records"][0]["subject_id"]
    assert second["records"][0]["subject_id"] == subject_id
    # The subject was registered by the first; the second record was created by the second.
    assert provenance.creation_event(session, "subject", subject_id).id == (
        submission_event(session, first).id
    )
    assert provenance.creation_event(
        session, "credit_record", second["records"][0]["registry_id"]
    ).id == (submission_event(session, second).id)


def test_a_correction_keeps_its_own_event(session, client, clock):
    lender = signed_member(session, client, clock)
    first = submit(lender, "prov-c1", [PENALTY]).get_json()["receipt"]
    corrected = {**copy.deepcopy(PENALTY), "summary": "发布虚假广告（更正）", "reason": "typo"}
    assert submit(lender, "prov-c2", [corrected]).status_code == 201
    session.expire_all()
    record_id = first["records"][0]["registry_id"]
    assert [action for action, _ in events_about(session, record_id)] == ["record.corrected"]
    assert provenance.creation_event(session, "credit_record", record_id).id == (
        submission_event(session, first).id
    )


def test_what_is_made_outside_a_submission_keeps_its_own_event(session, runtime, clock):
    regulator = factories.member(session, kind="regulator", roles=("regulator",))
    subject = company(session, runtime, 1)
    record = penalty(session, regulator, subject, clock, 1)
    session.flush()

    made = provenance.creation_event(session, "subject", str(subject.id))
    assert (made.action, made.object_id) == ("subject.registered", str(subject.id))
    made = provenance.creation_event(session, "credit_record", str(record.id))
    assert (made.action, made.object_id) == ("record.created", str(record.id))

    # A subject a request other than a submission names (a listing proposal) is registered
    # with its own event too.
    proposed = intake.resolve_subject(
        session,
        {"kind": "enterprise", "uscc": "91310115MA1K3BTP2B", "name": "上海示范有限公司"},
        vault=runtime.vault,
        member=regulator,
        now=clock.now(),
    )
    session.flush()
    made = provenance.creation_event(session, "subject", str(proposed))
    assert (made.action, made.object_id) == ("subject.registered", str(proposed))


def test_nothing_is_found_for_other_objects_or_ids_that_name_nothing(session, client, clock):
    lender = signed_member(session, client, clock)
    receipt = submit(lender, "prov-n", [PENALTY]).get_json()["receipt"]
    session.expire_all()
    for object_type, object_id in (
        ("credit_record", str(uuid.uuid4())),
        ("subject", str(uuid.uuid4())),
        ("subject", "not-an-id"),
        ("submission", receipt["submission_id"]),
        ("member", str(lender.member.id)),
    ):
        assert provenance.creation_event(session, object_type, object_id) is None
    assert session.get(Subject, uuid.UUID(receipt["records"][0]["subject_id"])) is not None
