"""Change detection: the watched state of watched subjects, diffed into events."""

from datetime import timedelta

import sqlalchemy as sa

from registry import monitoring
from registry.listings import Role
from registry.listings import revoke as revoke_entry
from registry.monitoring import MonitoringEvent, WatchedState
from registry.outbox import SearchOutbox
from registry.ratings import RatingOutbox
from tests import factories
from tests.monitoring_helpers import (
    ALICE,
    company,
    correct,
    detect,
    penalty,
    publish_rating,
    published_entry,
    revoke,
)


def events_of(session, member):
    return monitoring.events_after(session, member.id, after=0, limit=1000)


def watch(session, clock, member, *subjects):
    monitoring.add_to_portfolio(session, member.id, [s.id for s in subjects], at=clock.now())


def test_records_added_corrected_and_revoked_raise_events_with_old_and_new(session, runtime, clock):
    submitter = factories.member(session, kind="regulator", roles=("submitter",))
    bank = factories.member(session, roles=("querier",))
    acme = company(session, runtime, 1)
    penalty(session, submitter, acme, clock, 1, severity="general")
    watch(session, clock, bank, acme)
    detect(session, clock)  # the baseline: what was there before raises nothing
    assert events_of(session, bank) == []

    record = penalty(session, submitter, acme, clock, 2)
    detect(session, clock)
    [added] = events_of(session, bank)
    assert (added.type, added.item_id, added.old) == ("record.added", str(record.id), None)
    assert added.new["category"] == "administrative_penalty"
    assert added.new["severity"] == "serious"
    assert added.at == clock.now()

    correct(session, submitter, acme, clock, 2, "wrong severity", severity="general")
    revoke(session, submitter, clock, 1)
    detect(session, clock)
    later = events_of(session, bank)[1:]
    assert sorted(e.type for e in later) == ["record.corrected", "record.revoked"]
    by_type = {e.type: e for e in later}
    assert by_type["record.corrected"].old["version"] == 1
    assert by_type["record.corrected"].new["version"] == 2
    assert (
        by_type["record.corrected"].old["severity"],
        by_type["record.corrected"].new["severity"],
    ) == ("serious", "general")
    assert by_type["record.revoked"].new["status"] == "revoked"
    # Event ids only grow.
    ids = [e.id for e in events_of(session, bank)]
    assert ids == sorted(ids)


def test_a_new_subject_waits_for_its_first_watch_to_be_queued(session, runtime, clock):
    submitter = factories.member(session, kind="regulator", roles=("submitter",))
    bank = factories.member(session, roles=("querier",))
    queued = {outbox: pending(session, outbox) for outbox in (SearchOutbox, RatingOutbox)}
    acme = company(session, runtime, 5)
    # Nobody can watch it yet: no monitoring row, but search and rating rows as ever.
    assert monitoring.pending_count(session) == 0
    assert {o: pending(session, o) - n for o, n in queued.items()} == {
        SearchOutbox: 1,
        RatingOutbox: 1,
    }
    watch(session, clock, bank, acme)
    assert monitoring.pending_count(session) == 1  # for its baseline
    detect(session, clock)
    assert session.get(WatchedState, acme.id) is not None
    assert events_of(session, bank) == []

    record = penalty(session, submitter, acme, clock, 1)
    detect(session, clock)
    [added] = events_of(session, bank)
    assert (added.type, added.item_id) == ("record.added", str(record.id))


def pending(session, outbox):
    return session.scalar(
        sa.select(sa.func.count()).select_from(outbox).where(outbox.processed_at.is_(None))
    )


def test_list_publication_removal_and_rating_change(session, runtime, clock):
    regulator = factories.member(session, kind="regulator", roles=("regulator", "submitter"))
    bank = factories.member(session, roles=("querier",))
    acme = company(session, runtime, 2)
    watch(session, clock, bank, acme)
    detect(session, clock)

    penalty(session, regulator, acme, clock, 1)
    publish_rating(session, clock)
    detect(session, clock)
    rating_events = [e for e in events_of(session, bank) if e.type == "rating.changed"]
    assert len(rating_events) == 1
    assert rating_events[0].old is None and rating_events[0].new["grade"] == "C"

    entry = published_entry(session, regulator, acme, clock)
    publish_rating(session, clock)  # a blacklisted subject is graded D
    detect(session, clock)
    new = [e for e in events_of(session, bank) if e.id > rating_events[0].id]
    types = {e.type: e for e in new}
    assert types["list.published"].item_id == str(entry.id)
    assert types["list.published"].old is None
    assert types["list.published"].new["list"] == "serious_illegal"
    assert types["list.published"].new["state"] == "published"
    assert (types["rating.changed"].old["grade"], types["rating.changed"].new["grade"]) == (
        "C",
        "D",
    )

    revoke_entry(
        session, entry, actor=ALICE, role=Role.REVIEWER, reason="wrong subject", at=clock.now()
    )
    detect(session, clock)
    [removed] = [e for e in events_of(session, bank) if e.type == "list.removed"]
    assert removed.old["state"] == "published"
    assert removed.new["state"] == "removed"
    assert removed.new["removal_reason"] == "revoked"


def test_unwatched_subjects_raise_nothing_and_keep_no_snapshot(session, runtime, clock):
    submitter = factories.member(session, kind="regulator", roles=("submitter",))
    bank = factories.member(session, roles=("querier",))
    watched, other = company(session, runtime, 3), company(session, runtime, 4)
    watch(session, clock, bank, watched)
    detect(session, clock)
    penalty(session, submitter, other, clock, 1)
    detect(session, clock)
    assert events_of(session, bank) == []
    assert session.get(WatchedState, other.id) is None
    assert (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(MonitoringEvent)
            .where(MonitoringEvent.subject_id == other.id)
        )
        == 0
    )
    assert monitoring.pending_count(session) == 0


def test_each_member_sees_only_events_of_subjects_it_watched_then(session, runtime, clock):
    submitter = factories.member(session, kind="regulator", roles=("submitter",))
    bank, lender = (factories.member(session, roles=("querier",)) for _ in range(2))
    acme = company(session, runtime, 5)
    watch(session, clock, bank, acme)
    detect(session, clock)
    penalty(session, submitter, acme, clock, 1)
    detect(session, clock)
    assert len(events_of(session, bank)) == 1
    # Watching later does not bring back earlier events; they stay with the first member.
    watch(session, clock, lender, acme)
    detect(session, clock)
    assert events_of(session, lender) == []
    monitoring.remove_from_portfolio(session, bank.id, [acme.id])
    penalty(session, submitter, acme, clock, 2)
    detect(session, clock)
    assert len(events_of(session, bank)) == 1
    assert [e.type for e in events_of(session, lender)] == ["record.added"]
    # Nobody watches it any more: its snapshot goes.
    monitoring.remove_from_portfolio(session, lender.id, [acme.id])
    assert session.get(WatchedState, acme.id) is None


def a_watched_record(session, runtime, clock, seed):
    """A regulator's penalty on a new company, which a bank watches: (regulator, bank,
    record)."""
    submitter = factories.member(session, kind="regulator", roles=("submitter",))
    bank = factories.member(session, roles=("querier",))
    acme = company(session, runtime, seed)
    record = penalty(session, submitter, acme, clock, 1)
    watch(session, clock, bank, acme)
    return submitter, bank, record


def object_to(session, member, record, clock):
    """The member's objection to the record, answerable within 20 days."""
    from registry.objections import file_objection, find_item

    return file_objection(
        session,
        find_item(session, "record", record.id),
        actor=ALICE,
        member=member,
        for_subject=False,
        grounds="the fine was annulled",
        statement=None,
        answer_days=20,
        at=clock.now(),
    )


def test_objections_filed_and_answered_raise_events(session, runtime, clock):
    from registry.objections import answer

    submitter, bank, record = a_watched_record(session, runtime, clock, 1)
    detect(session, clock)
    objection = object_to(session, bank, record, clock)
    detect(session, clock)
    [filed] = events_of(session, bank)
    assert (filed.type, filed.item_id, filed.old) == ("objection.filed", str(objection.id), None)
    assert filed.new["item_id"] == str(record.id) and "grounds" not in filed.new
    answer(
        session,
        objection,
        member=submitter,
        outcome="upheld",
        reason="the decision stands",
        at=clock.now(),
    )
    detect(session, clock)
    answered = events_of(session, bank)[-1]
    assert answered.type == "objection.answered"
    assert (answered.old["status"], answered.new["outcome"]) == ("open", "upheld")


def test_an_objection_escalated_at_its_deadline_raises_an_event(session, runtime, clock):
    from registry.objections import escalate_due

    _, bank, record = a_watched_record(session, runtime, clock, 6)
    objection = object_to(session, bank, record, clock)
    detect(session, clock)
    clock.advance(timedelta(days=21))
    assert escalate_due(session, clock.now()) == 1
    detect(session, clock)
    [escalated] = events_of(session, bank)  # the filing was part of the baseline
    assert (escalated.type, escalated.item_id) == ("objection.escalated", str(objection.id))
    assert (escalated.old["status"], escalated.new["status"]) == ("open", "escalated")
    assert escalated.at == clock.now()
