"""A large submission on PostgreSQL is written by COPY; it must leave the database exactly as
the row path (executemany) leaves it."""

import json
import random
import uuid
from collections.abc import Callable
from typing import Any, cast

import pytest
import sqlalchemy as sa

from api.httpsig import content_digest
from api.schemas import load_submission
from registry import intake, provenance
from registry.db import Base, copy_rows, deferred_inserts
from registry.intake import Evidence
from registry.members import add_key
from tests import factories
from tests.api.test_submissions import PAYMENT


def batch() -> list[dict[str, Any]]:
    """Penalties about new enterprises and a payment record about a person."""
    records = []
    for n in range(130):
        records.append(
            {
                "record_id": f"PEN-{n}",
                "op": "upsert",
                "category": "administrative_penalty",
                "subject": {
                    "kind": "enterprise",
                    "uscc": factories.uscc(n),
                    "name": f"复制{n}科技有限公司",
                },
                "polarity": "negative",
                "severity": "general",
                "decided_at": "2025-03-01",
                "authority": "北京市市场监督管理局",
                "document_number": f"京市监罚〔2025〕{n}号",
                "legal_basis": "《中华人民共和国广告法》第五十五条",
                "summary": "发布虚假广告",
                "amount": {"value": "20000.00", "currency": "CNY"},
            }
        )
    records.append(PAYMENT)
    return records


def submitter_with_key(session, clock):
    """A submitting member and its key (the submissions' evidence names the key)."""
    member = factories.member(session, roles=("submitter",))
    key = add_key(
        session,
        actor=factories.TEST_ACTOR,
        member=member,
        public_key_pem=factories.ed25519_public_pem(),
        now=clock.now(),
        valid_from=clock.now(),
    )
    session.flush()
    return member, key


def evidence_for(runtime, key, body: str) -> Evidence:
    """What the API keeps of a signed request with this body (its signature left empty)."""
    return Evidence(
        key_id=key.id,
        content_type="application/json",
        body=runtime.evidence_cipher.seal(body.encode()),
        body_digest=content_digest(body.encode()),
        signature_input="sig1=()",
        signature="sig1=::",
        signature_base="",
    )


def accept(session, runtime, clock, member, body: str, evidence: Evidence):
    """Validate ``body`` as the API does and accept it as ``member``'s submission."""
    submission_id, records = load_submission(json.loads(body), 1000)
    return intake.accept_submission(
        session,
        member=member,
        vault=runtime.vault,
        signer=runtime.signer,
        submission_id=submission_id,
        records=records,
        evidence=evidence,
        now=clock.now(),
    )


def seeded_uuid4(seed: int) -> Callable[[], uuid.UUID]:
    generator = random.Random(seed)
    return lambda: uuid.UUID(int=generator.getrandbits(128), version=4)


def made_at_insert(column: sa.Column[Any]) -> bool:
    """Values a column default makes when the row is written (an id, a timestamp): they
    differ between any two runs, so they are checked to be set rather than compared."""
    default = column.default
    return isinstance(default, sa.ColumnDefault) and default.is_callable


def snapshot(session, vault) -> tuple[dict[str, list[tuple[Any, ...]]], int]:
    """Every table's rows, sorted, without the columns made at insert (ids, timestamps, the
    outboxes' serial numbers) and with ID numbers decrypted (each encryption has its own
    nonce); and how many values of the columns made at insert are NULL (none should be)."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    unset = 0
    for table in Base.metadata.sorted_tables:
        made = [c for c in table.c if made_at_insert(c) or c.autoincrement is True]
        compared = [c for c in table.c if c not in made]
        rows = session.execute(sa.select(*compared, *made)).all()
        kept = []
        for row in rows:
            values = dict(zip([c.name for c in compared], row, strict=False))
            if values.get("id_number_ciphertext"):
                values["id_number_ciphertext"] = vault.decrypt(values["id_number_ciphertext"])
            kept.append(tuple(values.values()))
        tables[table.name] = sorted(kept, key=repr)
        unset += sum(1 for row in rows for value in row[len(compared) :] if value is None)
    return tables, unset


@pytest.fixture
def postgresql(session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")


def test_copy_and_rows_write_the_same_database(
    postgresql, session, runtime, clock, monkeypatch, query_counter
):
    member, key = submitter_with_key(session, clock)
    body = json.dumps({"submission_id": "BULK-1", "records": batch()}, ensure_ascii=False)
    # One evidence for both runs: its sealed body has a nonce of its own.
    evidence = evidence_for(runtime, key, body)

    def run(copy_min_rows: int) -> tuple[Any, Any, list[str]]:
        # The same ids for the subjects and records both runs make, so that the rows
        # pointing at them compare.
        monkeypatch.setattr(uuid, "uuid4", seeded_uuid4(7))
        savepoint = session.begin_nested()
        query_counter.clear()
        with deferred_inserts(session, copy_min_rows=copy_min_rows):
            receipt = accept(session, runtime, clock, member, body, evidence).receipt
        statements = list(query_counter)
        written = snapshot(session, runtime.vault)
        # The last record and its subject lead back to the submission's event.
        last = receipt["receipt"]["records"][-1]
        creations.append(
            [
                (event.action, event.object_id)
                for kind, key in (("subject", "subject_id"), ("credit_record", "registry_id"))
                if (event := provenance.creation_event(session, kind, last[key])) is not None
            ]
        )
        savepoint.rollback()
        session.expunge_all()
        return written, receipt, statements

    creations: list[list[tuple[str, str]]] = []

    by_rows, rows_receipt, row_statements = run(copy_min_rows=10**9)
    by_copy, copy_receipt, copy_statements = run(copy_min_rows=100)

    def inserts_into(table: str, statements: list[str]) -> int:
        return sum(1 for s in statements if s.startswith(f"INSERT INTO {table} "))

    # The row path inserted the records with a statement, the copy path did not.
    assert inserts_into("credit_records", row_statements) == 1
    assert inserts_into("credit_records", copy_statements) == 0
    tables, unset = by_copy
    assert unset == 0  # the defaults made at insert were set by the copy path too
    assert len(tables["credit_records"]) == len(batch())
    assert tables == by_rows[0]
    assert copy_receipt == rows_receipt
    # Both lead to one event, the submission's, on either path.
    (subject_made, record_made), again = creations
    assert subject_made == record_made and subject_made[0] == "submission.accepted"
    assert again == [subject_made, record_made]


def test_a_copy_refused_by_a_unique_key_is_an_integrity_error(postgresql, session):
    """As an insert's would be: the API answers a race for a unique row with 409."""
    from registry.chains import ChainHead

    head = cast(sa.Table, ChainHead.__table__)
    row = {"id": 1, "log_size": 0, "audit_size": 0, "audit_hash": "0" * 64}
    savepoint = session.begin_nested()
    with pytest.raises(sa.exc.IntegrityError):
        copy_rows(session.connection(), head, tuple(row), [row])
    savepoint.rollback()
