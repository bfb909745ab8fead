"""A person's ID number is kept only as keyed hash, ciphertext and mask: after a signed
submission it appears in no column of any table and nowhere in a backup, and the stored
evidence still verifies."""

import json
import subprocess
from pathlib import Path

import sqlalchemy as sa

from registry import migrate
from registry.backup import backup
from registry.db import db
from tests.api.test_submissions import ID_NUMBER, PAYMENT, submit
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
