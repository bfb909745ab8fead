"""The outbox: written with every change, drained by the worker, nothing lost when the
search engine is away."""

import pytest
import sqlalchemy as sa

from registry.db import db
from registry.outbox import SearchOutbox, pending_count
from registry.subjects import Subject
from registry.worker import Job, Worker
from search.engine import OpenSearchBackend
from search.sql import SqlBackend
from search.sync import drain, drain_once
from tests.api.test_submissions import PAYMENT, PENALTY, submit
from tests.signing import signed_member


@pytest.fixture
def member(session, client, clock):
    return signed_member(session, client, clock, roles=("submitter", "querier"))


def outbox_rows(session):
    return session.scalars(sa.select(SearchOutbox).order_by(SearchOutbox.id)).all()


def test_submissions_queue_exactly_the_subjects_they_change(member, session):
    submit(member, "o-1", [PENALTY, PAYMENT])
    first = outbox_rows(session)
    assert len(first) == 2  # two new subjects
    subject = session.scalar(sa.select(Subject).where(Subject.uscc == PENALTY["subject"]["uscc"]))
    assert subject.revision == 1

    submit(member, "o-2", [PENALTY])  # the same record again: nothing changes
    assert len(outbox_rows(session)) == 2

    corrected = {**PENALTY, "severity": "serious", "reason": "reassessed"}
    submit(member, "o-3", [corrected])
    rows = outbox_rows(session)
    assert len(rows) == 3 and rows[-1].subject_id == subject.id
    session.refresh(subject)
    assert subject.revision == 2

    revoke = {"record_id": PENALTY["record_id"], "op": "revoke", "reason": "annulled"}
    submit(member, "o-4", [revoke])
    session.refresh(subject)
    assert subject.revision == 3
    assert len(outbox_rows(session)) == 4


def test_a_refused_submission_queues_nothing(member, session):
    bad = {**PENALTY, "legal_basis": None}
    assert submit(member, "o-bad", [PAYMENT, bad]).status_code == 422
    assert outbox_rows(session) == []


def test_draining_marks_rows_and_is_idempotent(member, session, clock, migrated_engine):
    backend = SqlBackend(lambda: migrated_engine)
    submit(member, "d-1", [PENALTY, PAYMENT])
    assert pending_count(session) == 2
    assert drain_once(session, backend, clock.now()) == 2
    assert pending_count(session) == 0
    assert drain_once(session, backend, clock.now()) == 0
    assert len(backend.versions(session=session)) == 2


def test_the_worker_backs_off_while_the_engine_is_away_and_loses_nothing(
    member, session, clock, osmem_server
):
    submit(member, "w-1", [PENALTY, PAYMENT])
    session.commit()
    away = OpenSearchBackend.connect("http://127.0.0.1:1", "away", 1)
    worker = Worker(
        lambda: db.session,
        clock,
        jobs=[Job("search-outbox", 0.0, lambda s, now: drain(s, away, now))],
        poll_interval=0,
        identity="test-worker",
    )
    assert worker.run_round() == {}
    assert worker._failures["search-outbox"] == 1
    assert pending_count(session) == 2  # still queued

    back = OpenSearchBackend.connect(osmem_server.url, "back", 5)
    back.ensure_index()
    try:
        worker.jobs = [Job("search-outbox", 0.0, lambda s, now: drain(s, back, now))]
        worker._next_due.clear()
        assert worker.run_round() == {"search-outbox": 2}
        assert pending_count(session) == 0
        back.refresh()
        assert len(back.versions()) == 2
    finally:
        back.client.indices.delete(index="back-subjects-*")
        back.close()
