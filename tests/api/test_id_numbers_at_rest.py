"""A person's ID number is kept only as keyed hash, ciphertext and mask: after a signed
submission it appears in no column of any table and nowhere in a backup, and the stored
evidence still verifies. Text a member writes that holds a number is refused, and a lookup
that carries one where none belongs is logged with the number masked."""

import dataclasses
import json
import subprocess
from pathlib import Path

import sqlalchemy as sa

from registry import migrate
from registry.backup import backup
from registry.db import db
from registry.querylog import QueryLogEntry
from registry.records import CreditRecord
from registry.screening_jobs import ScreeningJob
from registry.seller_ratings import SellerRatingBatch
from registry.submissions import Submission
from tests.api.test_seller_ratings import platform_member, rating, send
from tests.api.test_submissions import ID_NUMBER, PAYMENT, PENALTY, count, submit
from tests.conftest import TEST_START
from tests.signing import signed_member

# The number as text and as bytes, and as PostgreSQL's text forms of a bytea show it (hex).
FORMS = (ID_NUMBER.encode(), ID_NUMBER.lower().encode(), ID_NUMBER.encode().hex().encode())


def value_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False).encode()
    return str(value).encode()


def columns_holding_the_number(connection: sa.Connection) -> list[str]:
    found = []
    for name in sa.inspect(connection).get_table_names():
        table = sa.Table(name, sa.MetaData(), autoload_with=connection)
        for row in connection.execute(sa.select(table)).mappings():
            for column, value in row.items():
                if value is not None and any(form in value_bytes(value) for form in FORMS):
                    found.append(f"{name}.{column}")
    return found


def backup_as_bytes(path: Path, dialect: str) -> bytes:
    if dialect == "sqlite":
        return path.read_bytes()
    # The custom format is compressed: read it back as the SQL script it restores.
    return subprocess.run(  # noqa: S603
        ["pg_restore", "--file=-", str(path)],  # noqa: S607
        check=True,
        capture_output=True,
    ).stdout


def test_a_submitted_person_number_is_in_no_column_and_no_backup(
    fresh_database_url, make_app, clock, tmp_path
):
    app = make_app(fresh_database_url)
    with app.app_context():
        migrate.upgrade(db.engine)
        member = signed_member(db.session, app.test_client(), clock)
    response = submit(member, "person-1", [{**PAYMENT, "summary": "逾期三十天"}])
    assert response.status_code == 201, response.get_json()

    with app.app_context():
        with db.engine.connect() as connection:
            assert columns_holding_the_number(connection) == []
        written = backup(db.engine, tmp_path / "registry.backup", now=TEST_START)
        dumped = backup_as_bytes(written.path, db.engine.dialect.name)
    assert not any(form in dumped for form in FORMS)

    verified = app.test_cli_runner().invoke(args=["submissions", "verify", "person-1", "--json"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["verified"] is True


# The number as people type it into text: plain, in its 6-8-4 groups, full-width.
SPACED = f"{ID_NUMBER[:6]} {ID_NUMBER[6:14]} {ID_NUMBER[14:]}"
FULL_WIDTH = ID_NUMBER.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})


def refused_fields(response) -> set[str]:
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["type"] == "/problems/validation-failed"
    text = response.get_data(as_text=True)
    assert not any(form.decode() in text for form in FORMS) and SPACED not in text
    return {error["field"] for error in response.get_json()["errors"]}


def test_a_number_in_a_records_text_refuses_the_submission_with_every_error(session, client, clock):
    member = signed_member(session, client, clock)
    records = [
        {**PAYMENT, "summary": f"客户身份证号{ID_NUMBER}，逾期三十天"},
        {
            **PENALTY,
            "record_id": f"PEN-{ID_NUMBER.lower()}",
            "legal_basis": f"当事人 {SPACED}",
            "summary": FULL_WIDTH,
            "amount": {"value": "a lot", "currency": "CNY"},
        },
        {**PENALTY, "record_id": "PEN-2", "subject": {**PENALTY["subject"], "name": ID_NUMBER}},
    ]
    response = submit(member, "free-text-1", records)
    assert refused_fields(response) == {
        "records.0.summary",
        "records.1.record_id",
        "records.1.legal_basis",
        "records.1.summary",
        "records.1.amount.value",
        "records.2.subject.name",
    }
    assert count(session, Submission) == count(session, CreditRecord) == 0
    # The person's number where it belongs is taken, and so are numbers that are no ID number.
    fine = {**PAYMENT, "summary": "合同编号 1234567890123456789，逾期 11010519491231002Y"}
    assert submit(member, "free-text-2", [fine]).status_code == 201


def test_a_number_in_a_seller_ratings_text_refuses_the_batch(session, client, clock):
    platform = platform_member(session, client, clock, "taobao")
    response = send(platform, "b-1", [rating(1), rating(2, text=f"买家身份证{ID_NUMBER}")])
    assert refused_fields(response) == {"ratings.1.text"}
    assert count(session, SellerRatingBatch) == 0


def test_a_screening_row_carrying_a_number_is_refused_before_any_job_stores_it(
    session, client, clock, runtime
):
    # Two rows are a job here, which would store them.
    runtime.settings = dataclasses.replace(
        runtime.settings, data={**runtime.settings.data, "SCREENING_SYNC_MAX_ROWS": 1}
    )
    member = signed_member(session, client, clock, roles=("querier",))
    rows = [{"name": "北京华信科技有限公司", "reference": ID_NUMBER}, {"name": f"张三 {SPACED}"}]
    response = member.post("/api/v1/screening", {"purpose": "compliance_screening", "rows": rows})
    assert refused_fields(response) == {"rows.0.reference", "rows.1.name"}
    assert count(session, ScreeningJob) == 0


def test_a_consents_reference_carrying_a_number_is_refused(session, client, clock):
    member = signed_member(session, client, clock, roles=("querier",))
    consent = {
        "id_number": ID_NUMBER,
        "reference": f"CONSENT-{ID_NUMBER}",
        "purpose": "credit_assessment",
        "given_on": "2026-11-25",
        "valid_until": "2027-02-25",
    }
    assert refused_fields(member.post("/api/v1/consents", consent)) == {"reference"}


def test_a_number_searched_as_text_is_logged_masked(session, client, clock):
    member = signed_member(session, client, clock, roles=("querier",))
    response = member.get(f"/api/v1/subjects?purpose=counterparty_check&q={ID_NUMBER}")
    assert response.status_code == 200, response.get_json()
    logged = session.scalars(sa.select(QueryLogEntry.query)).one()
    assert logged["q"] == "1101**********002X"
