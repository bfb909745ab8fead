"""When a submission locks the chains' head: before it writes a new subject, whatever its size.

Any other writer that registers a subject (a smaller submission, a listing proposal) takes
that lock first too. A batch that wrote its new subjects first and locked the head after
deadlocked with a smaller submission about one of the same new enterprises: each waited for
the other, one of them was refused with a 503 instead of the other's 409, and every other
writer waited behind the head meanwhile."""

import json

import pytest

import registry.db
from tests.registry.test_intake_copy import (
    accept,
    batch,
    evidence_for,
    submitter_with_key,
)


@pytest.fixture
def submit(session, runtime, clock, query_counter, monkeypatch):
    """Accept a submission of the first ``size`` records of the COPY test's batch; returns
    the statements it ran, a COPY named as ``COPY <table>`` where it ran."""
    member, key = submitter_with_key(session, clock)
    copy_rows = registry.db.copy_rows

    def copy_and_note(connection, table, names, rows):
        query_counter.append(f"COPY {table.name}")
        copy_rows(connection, table, names, rows)

    monkeypatch.setattr(registry.db, "copy_rows", copy_and_note)

    def run(size):
        body = json.dumps({"submission_id": f"LOCK-{size}", "records": batch()[:size]})
        query_counter.clear()
        accept(session, runtime, clock, member, body, evidence_for(runtime, key, body))
        session.flush()
        return list(query_counter)

    return run


def position(statements, *prefixes):
    """The positions of the statements that begin with one of ``prefixes``."""
    return [i for i, s in enumerate(statements) if s.startswith(prefixes)]


@pytest.mark.parametrize("size", [1, 130])
def test_a_submission_locks_the_chains_head_before_it_writes_a_subject(submit, size):
    statements = submit(size)

    locks = position(statements, "UPDATE chain_heads")
    subjects = position(statements, "INSERT INTO subjects ", "COPY subjects")
    records = position(statements, "INSERT INTO credit_records ", "COPY credit_records")
    assert locks and subjects and records
    assert min(locks) < min(subjects) < min(records)
    # Its row is written once, receipt and all, before the records that point at it.
    assert position(statements, "UPDATE submissions ") == []
    (submission,) = position(statements, "INSERT INTO submissions ")
    assert submission < min(records)
