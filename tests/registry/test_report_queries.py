"""Who looked a subject up, as its own report lists them: newest first, in a fixed order."""

import uuid

import sqlalchemy as sa

from registry.querylog import QueryKind, log_query
from registry.reports import queries_of
from tests import factories


def test_queries_at_the_same_moment_are_listed_latest_first(session, clock):
    subject_id = uuid.uuid4()
    member = factories.member(session, roles=("querier",))
    # One clock reading for all, as in a request that looks a subject up and reports on it.
    for kind in (QueryKind.SUBJECT, QueryKind.REPORT, QueryKind.SEARCH):
        log_query(
            session,
            member_id=member.id,
            key_id="key",
            at=clock.now(),
            kind=kind,
            purpose="credit_assessment",
            query={},
            results=1,
            subject_ids=[str(subject_id)],
        )
    if session.get_bind().dialect.name == "postgresql":
        # A plan PostgreSQL takes as the tables grow: the log read in table order, joined,
        # then sorted on the time alone, which keeps equal times in the order they came.
        session.execute(sa.text("SET LOCAL enable_hashjoin = off"))
    assert [q["kind"] for q in queries_of(session, subject_id)] == ["search", "report", "subject"]
