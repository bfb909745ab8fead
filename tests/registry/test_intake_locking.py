"""When a submission locks the chains' head: every other writer waits for that lock until the
submission commits, so a large submission takes it only once its rows are written."""

import json

import pytest

import registry.db
from api.schemas import load_submission
from registry import intake
from registry.intake import WRITE_BEFORE_LOCKING_MIN_RECORDS
from tests.registry.test_intake_copy import batch, evidence_for, submitter_with_key


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
        submission_id, records = load_submission(json.loads(body), 1000)
        query_counter.clear()
        intake.accept_submission(
            session,
            member=member,
            vault=runtime.vault,
            signer=runtime.signer,
            submission_id=submission_id,
            records=records,
            evidence=evidence_for(runtime, key, body),
            now=clock.now(),
        )
        session.flush()
        return list(query_counter)

    return run


def position(statements, *prefixes):
    """The positions of the statements that begin with one of ``prefixes``."""
    return [i for i, s in enumerate(statements) if s.startswith(prefixes)]


def test_a_large_submission_locks_the_chains_head_after_writing_its_rows(submit):
    statements = submit(WRITE_BEFORE_LOCKING_MIN_RECORDS)

    locks = position(statements, "UPDATE chain_heads")
    writes = position(
        statements,
        "INSERT INTO credit_records ",
        "COPY credit_records",
        "INSERT INTO subjects ",
        "COPY subjects",
        "INSERT INTO credit_record_versions ",
        "COPY credit_record_versions",
    )
    assert len(writes) == 3 and locks
    assert max(writes) < min(locks)
    # The submission went in first, without its receipt, which followed under the lock.
    (receipt,) = position(statements, "UPDATE submissions ")
    assert receipt > min(locks)


def test_a_small_submission_is_written_once_with_its_receipt(submit):
    statements = submit(WRITE_BEFORE_LOCKING_MIN_RECORDS - 1)

    # Its rows are few: it saves the update of its receipt instead.
    assert position(statements, "UPDATE submissions ") == []
    assert len(position(statements, "INSERT INTO submissions ")) == 1
    assert min(position(statements, "UPDATE chain_heads")) < min(
        position(statements, "INSERT INTO credit_records ", "COPY credit_records")
    )
