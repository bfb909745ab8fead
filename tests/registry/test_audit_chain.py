"""The audit events' hash chain, on both databases: immediate and bulk-written events."""

import sqlalchemy as sa

from registry.audit import Actor, AuditEvent, record_event, verify_chain
from registry.db import deferred_inserts
from tests.api.test_submissions import PENALTY, submit
from tests.signing import signed_member

ACTOR = Actor.system("test")


def events(session, count, **after):
    for n in range(count):
        record_event(
            session,
            actor=ACTOR,
            action="thing.done",
            object_type="thing",
            object_id=str(n),
            after={"n": n, **after},
        )
    session.flush()


def test_events_written_one_by_one_and_in_bulk_make_one_chain(session, client, clock):
    member = signed_member(session, client, clock, kind="regulator", roles=("submitter",))
    before = verify_chain(session)
    assert before.ok
    events(session, 3, score=1.0, ratio=2.5, big=[1e20], text="信用")
    with deferred_inserts(session):
        events(session, 4)
    assert submit(member, "chain-1", [PENALTY]).status_code == 201
    session.expire_all()
    report = verify_chain(session)
    assert report.ok, report
    assert report.checked == before.checked + 7 + 1  # and the submission's one event
    seqs = session.scalars(sa.select(AuditEvent.chain_seq).order_by(AuditEvent.chain_seq)).all()
    assert seqs == list(range(1, len(seqs) + 1))


def test_an_edited_or_removed_event_breaks_the_chain_where_it_happened(session):
    events(session, 5)
    last = session.scalar(sa.select(sa.func.max(AuditEvent.chain_seq)))
    third = last - 2
    session.execute(
        sa.update(AuditEvent).where(AuditEvent.chain_seq == third).values(object_id="other")
    )
    report = verify_chain(session)
    assert not report.ok and report.at_seq == third and "edited" in (report.problem or "")
    session.execute(
        sa.update(AuditEvent).where(AuditEvent.chain_seq == third).values(object_id="2")
    )
    assert verify_chain(session).ok
    session.execute(sa.delete(AuditEvent).where(AuditEvent.chain_seq == last))
    report = verify_chain(session)
    assert not report.ok and "last events were removed" in (report.problem or "")
    session.execute(sa.delete(AuditEvent).where(AuditEvent.chain_seq == third))
    report = verify_chain(session)
    assert not report.ok and report.at_seq == third and "missing" in (report.problem or "")
