from datetime import timedelta

import sqlalchemy as sa

from registry.db import db
from registry.worker import Job, Worker, WorkerHeartbeat


def test_jobs_run_when_due_and_failures_are_isolated(app_context, clock):
    calls = []

    def good(session, now):
        calls.append(("good", now))
        return 3

    def bad(session, now):
        raise RuntimeError("boom")

    worker = Worker(
        db.new_session, clock, identity="w:1", jobs=[Job("bad", 0, bad), Job("good", 3600, good)]
    )
    assert worker.run_round() == {"good": 3}
    assert worker.run_round() == {}  # `good` is not due again for an hour
    assert calls == [("good", clock.now())]
    beat = db.session.get(WorkerHeartbeat, "w:1")
    assert beat.rounds == 2
    assert beat.last_error == "bad: RuntimeError"


def test_a_job_commits_its_own_work(app_context, clock):
    from registry.members import Member
    from tests import factories

    def admit(session, now):
        factories.member(session, name="from-a-job")
        return 1

    Worker(db.new_session, clock, identity="w:2", jobs=[Job("admit", 60, admit)]).run_round()
    db.session.expire_all()
    assert db.session.scalar(sa.select(Member).where(Member.name == "from-a-job")) is not None


def test_heartbeat_tracks_the_clock(app_context, clock):
    worker = Worker(db.new_session, clock, identity="w:3", jobs=[])
    worker.run_round()
    clock.advance(timedelta(seconds=30))
    worker.run_round()
    beat = db.session.get(WorkerHeartbeat, "w:3")
    assert beat.last_seen_at == clock.now()
    assert beat.started_at == clock.now() - timedelta(seconds=30)
