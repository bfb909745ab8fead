"""The schema is made only by migrations, and the migrations match the models."""

import base64
import os
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command

from registry import joint_measures, migrate
from registry.db import db, make_engine
from registry.members import Member
from registry.models import metadata
from registry.runtime import current_runtime
from registry.security import EvidenceCipher
from tests.api.test_id_numbers_at_rest import columns_holding_the_number
from tests.api.test_seller_ratings import platform_member, rating, send
from tests.api.test_submissions import ID_NUMBER, PAYMENT, submit
from tests.factories import TEST_ACTOR
from tests.signing import signed_member


def test_upgrade_from_empty_reaches_head_and_matches_the_models(migrated_engine):
    # `migrated_engine` was migrated from an empty database (a new SQLite file, or a wiped
    # PostgreSQL schema) at the start of the run.
    with migrated_engine.connect() as connection:
        assert migrate.is_at_head(connection)
        assert migrate.pending_differences(connection) == []
        tables = set(sa.inspect(connection).get_table_names())
    assert set(metadata.tables) <= tables


def test_downgrade_to_base_and_upgrade_again(fresh_sqlite_url):
    engine = make_engine(fresh_sqlite_url)
    migrate.upgrade(engine)
    with engine.begin() as connection:
        from alembic import command

        command.downgrade(migrate.alembic_config(connection), "base")
    with engine.connect() as connection:
        assert set(sa.inspect(connection).get_table_names()) <= {"alembic_version"}
        assert not migrate.is_at_head(connection)
    migrate.upgrade(engine)
    with engine.connect() as connection:
        assert migrate.is_at_head(connection)
        assert migrate.pending_differences(connection) == []
    engine.dispose()


def test_a_model_change_without_migration_is_detected(fresh_sqlite_url):
    engine = make_engine(fresh_sqlite_url)
    migrate.upgrade(engine)
    extra = sa.Table("not_migrated", metadata, sa.Column("id", sa.Integer, primary_key=True))
    try:
        with engine.connect() as connection:
            differences = migrate.pending_differences(connection)
    finally:
        metadata.remove(extra)
        engine.dispose()
    assert any(d[0] == "add_table" and d[1].name == "not_migrated" for d in differences)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(migrated_engine):
    if migrated_engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with migrated_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def _consents_with_a_report(session, vault, now):
    """A person's consents as 0022 stores them (by subject, by number, by a number nobody
    holds) and a report citing one: what the consents migration must carry down and up."""
    from registry.reports import Consent, CreditReport
    from registry.subjects import register_subject
    from tests import factories

    member = factories.member(session, roles=("querier",))
    person = register_subject(
        session,
        actor=factories.TEST_ACTOR,
        vault=vault,
        kind="person",
        name="张三",
        id_number="11010519491231002X",
    )
    session.flush()

    def consent(**person_ref: object) -> Consent:
        row = Consent(
            member_id=member.id,
            reference="C",
            purpose="credit_assessment",
            given_on=now.date(),
            valid_until=now.date(),
            recorded_at=now,
            **person_ref,
        )
        session.add(row)
        return row

    by_subject = consent(id_number_hash=person.id_number_hash, subject_id=person.id)
    by_number = consent(id_number_hash=person.id_number_hash)
    consent(id_number_hash=vault.keyed_hash("440304198506122313"))
    session.flush()
    session.add(
        CreditReport(
            subject_id=person.id,
            member_id=member.id,
            kind="member",
            purpose="credit_assessment",
            consent_id=by_number.id,
            generated_at=now,
            content={},
            digest="0" * 64,
        )
    )
    session.flush()
    return person.id, person.id_number_hash, by_subject.id, by_number.id


def _revision_before_consents_by_hash(connection):
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config(connection))
    return str(script.get_revision("0022").down_revision)


def _assert_downgraded(connection, seeded):
    person, _, by_subject, by_number = seeded
    # Each consent has the subject that holds its number; the unknown number's is gone.
    old = sa.table("consents", sa.column("id", sa.Uuid()), sa.column("subject_id", sa.Uuid()))
    downgraded = connection.execute(sa.select(old.c.id, old.c.subject_id)).tuples().all()
    assert dict(downgraded) == {by_subject: person, by_number: person}


def _assert_upgraded(session, seeded):
    from registry.reports import Consent, CreditReport

    _, number_hash, by_subject, by_number = seeded
    consents = session.scalars(sa.select(Consent)).all()
    assert {c.id for c in consents} == {by_subject, by_number}
    assert {c.id_number_hash for c in consents} == {number_hash}
    assert session.scalars(sa.select(CreditReport.consent_id)).all() == [by_number]


def test_consents_by_number_hash_migrate_down_and_up_with_their_reports(session, runtime, clock):
    from alembic import command

    seeded = _consents_with_a_report(session, runtime.vault, clock.now())
    connection = session.connection()
    config = migrate.alembic_config(connection)
    command.downgrade(config, _revision_before_consents_by_hash(connection))
    _assert_downgraded(connection, seeded)
    command.upgrade(config, "0022")
    session.expire_all()
    _assert_upgraded(session, seeded)


def test_consents_migration_commits_on_sqlite_under_the_reports_foreign_key(fresh_sqlite_url):
    """SQLite checks the reports' deferred foreign key at commit: each step commits here."""
    from alembic import command
    from sqlalchemy.orm import Session

    from registry.security import IdentityVault
    from tests.conftest import TEST_START

    engine = make_engine(fresh_sqlite_url)
    migrate.upgrade(engine)
    vault = IdentityVault(hash_key="k" * 32, encryption_key="a" * 43)
    with Session(engine) as session:
        seeded = _consents_with_a_report(session, vault, TEST_START)
        session.commit()
    with engine.begin() as connection:
        before = _revision_before_consents_by_hash(connection)
        command.downgrade(migrate.alembic_config(connection), before)
    with engine.connect() as connection:
        _assert_downgraded(connection, seeded)
    with engine.begin() as connection:
        command.upgrade(migrate.alembic_config(connection), "0022")
    with Session(engine) as session:
        _assert_upgraded(session, seeded)
        assert session.connection().exec_driver_sql("PRAGMA foreign_key_check").all() == []
    engine.dispose()


def stored_bodies(connection: sa.Connection) -> list[bytes]:
    return [
        bytes(body)
        for table in ("submissions", "seller_rating_batches")
        for body in connection.scalars(sa.text(f"SELECT body FROM {table}"))  # noqa: S608
    ]


def test_the_upgrade_seals_the_bodies_stored_before_it(fresh_database_url, make_app, clock):
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    app = make_app(
        fresh_database_url, EVIDENCE_ENCRYPTION_KEY=key, EVIDENCE_ENCRYPTION_KEY_ID="k2026"
    )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context():
        member = signed_member(db.session, app.test_client(), clock)
        platform = platform_member(db.session, app.test_client(), clock, "taobao")
    assert submit(member, "person-1", [PAYMENT]).status_code == 201
    assert send(platform, "batch-1", [rating(1)]).status_code == 201

    # Back to the schema before sealing: the bodies as that code stored them, in clear.
    with app.app_context(), db.engine.begin() as connection:
        settings = current_runtime().settings
        command.downgrade(migrate.alembic_config(connection, settings=settings), "0019")
        clear = stored_bodies(connection)
    assert len(clear) == 2 and not any(EvidenceCipher.is_sealed(body) for body in clear)
    assert any(ID_NUMBER.encode() in body for body in clear)

    # The operator's step, with the registry's own key.
    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    with app.app_context(), db.engine.connect() as connection:
        sealed = stored_bodies(connection)
        assert columns_holding_the_number(connection) == []
    assert all(body.startswith(b"ev1:k2026:") for body in sealed)
    verified = app.test_cli_runner().invoke(args=["submissions", "verify", "person-1"])
    assert verified.exit_code == 0, verified.output


def _proposed_entry(session, runtime, clock, list_kind, uscc, number):
    """A proposed list entry of ``list_kind`` on a new enterprise, through the domain."""
    from registry import listings
    from registry.subjects import register_subject
    from tests import factories

    regulator = factories.member(session, kind="regulator", roles=("regulator",))
    subject = register_subject(
        session,
        actor=factories.TEST_ACTOR,
        vault=runtime.vault,
        now=clock.now(),
        kind="enterprise",
        name=f"企业{number}",
        uscc=uscc,
    )
    return listings.propose_listing(
        session,
        actor=factories.TEST_ACTOR,
        proposer_member_id=regulator.id,
        subject=subject,
        list_kind=list_kind,
        authority="北京市市场监督管理局",
        reason="理由",
        legal_basis="《市场监督管理严重违法失信名单管理办法》第二条",
        document_number=f"京〔2026〕{number}号",
        measures=[joint_measures.in_force().for_kind(list_kind)[0].code],
        period_months=None,
        notice_to=None,
        policy=listings.policy_from_settings(runtime.settings),
        at=clock.now(),
    )


def test_the_notice_service_migration_reopens_no_window_of_an_unserved_notice(
    session, runtime, clock
):
    """Before 0023 the window ran from the notice's issue. An entry in its notice stage then
    had no service recorded: the upgrade clears its deadline, so it waits for one; a
    published entry keeps its history."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from registry import listings

    ids = {}
    for state, uscc in (("notice", "91110000600037341L"), ("published", "91310115MA1K3BTP2B")):
        entry = _proposed_entry(session, runtime, clock, "redlist", uscc, len(ids) + 1)
        entry.state = state
        entry.objection_deadline = clock.now().date()
        ids[state] = entry.id
    session.flush()
    connection = session.connection()
    config = migrate.alembic_config(connection)
    before = ScriptDirectory.from_config(config).get_revision("0023").down_revision
    command.downgrade(config, str(before))
    command.upgrade(config, "head")
    session.expire_all()
    deadlines = dict(
        session.execute(sa.select(listings.ListEntry.id, listings.ListEntry.objection_deadline))
        .tuples()
        .all()
    )
    assert deadlines == {ids["notice"]: None, ids["published"]: clock.now().date()}


def test_the_list_kinds_migration_puts_every_blacklist_entry_on_serious_illegality(
    session, runtime, clock
):
    """Before 0026 there was one blacklist: its entries move to the serious-illegality kind
    (and back down again), the redlist stays, and the check then refuses the old name."""
    from alembic.script import ScriptDirectory

    from registry import listings

    ids = {}
    for kind, uscc in (("watch", "91110000600037341L"), ("redlist", "91310115MA1K3BTP2B")):
        ids[kind] = _proposed_entry(session, runtime, clock, kind, uscc, len(ids) + 1).id
    session.flush()
    connection = session.connection()
    config = migrate.alembic_config(connection)
    before = ScriptDirectory.from_config(config).get_revision("0026").down_revision
    kinds = sa.select(listings.ListEntry.id, listings.ListEntry.list_kind)
    command.downgrade(config, str(before))
    assert dict(connection.execute(kinds).tuples().all()) == {
        ids["watch"]: "blacklist",
        ids["redlist"]: "redlist",
    }
    command.upgrade(config, "head")
    assert dict(connection.execute(kinds).tuples().all()) == {
        ids["watch"]: "serious_illegal",
        ids["redlist"]: "redlist",
    }
    assert migrate.pending_differences(connection) == []
    with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():
        connection.execute(
            sa.update(listings.ListEntry)
            .where(listings.ListEntry.id == ids["redlist"])
            .values(list_kind="blacklist")
        )


def test_the_person_notice_migration_holds_negative_records_on_persons_shared_before_it(
    session, client, clock
):
    """Before 0029 a negative record on a person was shared at once, with no notice on
    record: the upgrade holds it (and queues its subject); the others stay shared."""
    from alembic.script import ScriptDirectory

    from registry.outbox import SearchOutbox
    from registry.records import CreditRecord
    from tests.registry.test_person_notices import COMPANY, DEFAULT, REPAID_ON_TIME

    bank = signed_member(session, client, clock)
    told = {**DEFAULT, "person_notice": {"told_on": "2026-11-20", "channel": "sms"}}
    company = {**DEFAULT, "record_id": "C-1", "subject": COMPANY}
    receipt = submit(bank, "s-1", [told, company, REPAID_ON_TIME]).get_json()["receipt"]
    person_id = receipt["records"][0]["subject_id"]
    from registry.monitoring import MonitoringOutbox
    from registry.ratings import RatingOutbox

    queues = (SearchOutbox, RatingOutbox, MonitoringOutbox)
    for queue in queues:
        session.execute(sa.delete(queue))
    session.flush()
    connection = session.connection()
    config = migrate.alembic_config(connection)
    before = ScriptDirectory.from_config(config).get_revision("0029").down_revision
    command.downgrade(config, str(before))
    command.upgrade(config, "head")
    held = dict(
        connection.execute(sa.select(CreditRecord.member_record_id, CreditRecord.held_for_notice))
        .tuples()
        .all()
    )
    assert held == {"LD-1": True, "C-1": False, "PAY-1": False}
    # Queued for its document, a new rating and its watchers.
    for queue in queues:
        queued = connection.execute(sa.select(queue.subject_id)).scalars().all()
        assert [str(s) for s in queued] == [person_id], queue
    assert migrate.pending_differences(connection) == []


def test_the_person_objections_migration_keeps_one_open_objection_per_item(session, runtime):
    """0030 rebuilds the objections table on SQLite: the partial index that allows one open
    objection per item must come back with its condition, on both databases; a downgrade
    drops the objections filed for persons, which have no member."""
    from alembic.script import ScriptDirectory

    from registry.objections import Objection
    from registry.subjects import register_subject
    from tests.factories import TEST_ACTOR, member

    subject = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="person",
        name="张三",
        id_number="11010519491231002X",
    )
    bank = member(session, kind="bank", roles=("submitter",))
    session.flush()

    def objection(status, **filed_by):
        return {
            "id": uuid.uuid4(),
            "item_kind": "record",
            "item_id": item_id,
            "subject_id": subject.id,
            "filed_by": "staff:x",
            "for_subject": True,
            "answering_member_id": bank.id,
            "grounds": "x",
            "status": status,
            "filed_at": datetime.now(UTC),
            "due_at": datetime.now(UTC),
            "outcome": None if status == "open" else "upheld",
            "reason": None if status == "open" else "r",
            "filer_member_id": None,
            "identity_check": None,
            **filed_by,
        }

    item_id = uuid.uuid4()
    connection = session.connection()
    table = Objection.__table__
    connection.execute(
        sa.insert(table),
        [
            objection("open", identity_check="ID card"),
            objection("answered", filer_member_id=bank.id),
        ],
    )
    config = migrate.alembic_config(connection)
    before = ScriptDirectory.from_config(config).get_revision("0030").down_revision
    command.downgrade(config, str(before))
    assert connection.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 1
    command.upgrade(config, "head")
    assert migrate.pending_differences(connection) == []
    connection.execute(sa.insert(table), [objection("open", identity_check="ID card")])
    with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():
        connection.execute(sa.insert(table), [objection("open", identity_check="again")])
    with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():
        connection.execute(sa.insert(table), [objection("answered")])  # nobody filed it


def test_the_joint_measures_migration_keeps_every_entry_readable_down_and_up(
    session, runtime, clock
):
    """0028 names measures by catalogue code. An entry proposed before it keeps its free text
    and names no codes; an entry proposed after it keeps its measures' wording when the codes
    and the reports of measures applied go down with the tables."""
    from registry import listings

    coded = _proposed_entry(session, runtime, clock, "watch", "91110000600037341L", 1)
    older = _proposed_entry(session, runtime, clock, "redlist", "91310115MA1K3BTP2B", 2)
    coded.state, coded.published_at = "published", clock.now()
    session.flush()
    listings.report_measure(
        session,
        coded,
        actor=TEST_ACTOR,
        member=session.get(Member, coded.proposer_member_id),
        code="key_supervision",
        applied_on=clock.now().date(),
        reference=None,
        policy=listings.policy_from_settings(runtime.settings),
        at=clock.now(),
    )
    session.flush()
    coded_text = coded.measures_text
    connection = session.connection()
    config = migrate.alembic_config(connection)
    command.downgrade(config, "0027")
    tables = set(sa.inspect(connection).get_table_names())
    assert {"list_entry_measures", "measure_applications"}.isdisjoint(tables)
    texts = sa.text("SELECT id, measures FROM list_entries ORDER BY document_number")
    assert [text for _, text in connection.execute(texts)] == [
        coded_text,
        older.measures_text,
    ]
    # What an entry held before the catalogue: free text.
    connection.execute(
        sa.text("UPDATE list_entries SET measures = :text WHERE document_number = :number"),
        {"text": "简化办税流程，绿色通道", "number": older.document_number},
    )
    command.upgrade(config, "head")
    assert migrate.pending_differences(connection) == []
    session.expire_all()
    before_catalogue = session.get(listings.ListEntry, older.id)
    assert before_catalogue.measures == []
    shown = before_catalogue.public_view()
    assert (shown["measures"], shown["measures_text"]) == ([], "简化办税流程，绿色通道")
    after_catalogue = session.get(listings.ListEntry, coded.id)
    assert after_catalogue.measures_text == coded_text and after_catalogue.applications == []
