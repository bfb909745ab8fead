"""Retention and publication periods under a test clock, on the real databases."""

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import current_app

from api.subjects import subject_view
from registry.audit import AuditEvent
from registry.db import db
from registry.models import metadata
from registry.outbox import SearchOutbox
from registry.ratings import RatingOutbox, inputs_of
from registry.records import CreditRecord, CreditRecordVersion, revoke_record, upsert_record
from registry.retention import (
    ArchivedCreditRecord,
    RetentionPolicy,
    add_months_not_after,
    add_years_not_before,
    archive_expired,
    end_publications,
    policy_from_settings,
    publication_status,
    publicly_shown,
    retention_ends_on,
    retention_job,
)
from registry.subjects import Subject, register_subject
from registry.worker import default_jobs
from search.documents import build_documents, record_counts
from search.sync import drain
from tests import factories
from tests.factories import TEST_ACTOR

POLICY = RetentionPolicy()
# TEST_START is 2026-11-25: a record whose event ended on 2021-11-26 leaves on 2026-11-26.
ENDED = date(2021, 11, 26)

BEIJING = ZoneInfo("Asia/Shanghai")  # the default REGISTRY_TIMEZONE


def penalty(**changes):
    return {
        "category": "administrative_penalty",
        "polarity": "negative",
        "severity": "general",
        "authority": "北京市市场监督管理局",
        "document_number": "京市监罚〔2021〕7号",
        "decided_at": date(2021, 6, 1),
        "ended_at": ENDED,
        "amount_value": Decimal("20000.00"),
        "amount_currency": "CNY",
        "summary": "发布虚假广告",
        **changes,
    }


HONOUR = {
    "category": "honour",
    "polarity": "positive",
    "decided_at": date(2012, 5, 1),
    "authority": "北京市人民政府",
}


@pytest.fixture
def subject(session, runtime):
    return register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="enterprise",
        name="北京华信科技有限公司",
        uscc="91110000600037341L",
    )


@pytest.fixture
def regulator(session):
    return factories.member(session, kind="regulator", roles=("regulator", "submitter"))


def add(session, clock, subject, member, record_id, fields, reason=None):
    record, _ = upsert_record(
        session,
        actor=TEST_ACTOR,
        member=member,
        subject=subject,
        member_record_id=record_id,
        fields=fields,
        reason=reason,
        now=clock.now(),
    )
    session.flush()
    return record


def counts_of(session, subject):
    return record_counts(session, [subject.id]).get(subject.id, {"total": 0, "negative": 0})


def live(session, record_id):
    return session.scalar(sa.select(CreditRecord).where(CreditRecord.id == record_id))


def archive_all(session, now):
    total = 0
    while handled := archive_expired(session, now, policy=POLICY):
        total += handled
    session.flush()
    return total


# --- the period arithmetic ---------------------------------------------------------------------


def test_periods_never_keep_too_little_nor_publish_too_long():
    assert add_years_not_before(date(2021, 11, 26), 5) == date(2026, 11, 26)
    # Kept for five full years: a 29 February start ends on 1 March.
    assert add_years_not_before(date(2024, 2, 29), 5) == date(2029, 3, 1)
    # Published for at most N months: a 31st ends on the last day of a shorter month.
    assert add_months_not_after(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert add_months_not_after(date(2023, 11, 25), 36) == date(2026, 11, 25)


def test_the_settings_set_the_periods(runtime):
    policy = policy_from_settings(runtime.settings)
    assert policy == RetentionPolicy()
    assert (policy.negative_years, dict(policy.penalty_publication_months)) == (
        5,
        {"minor": 3, "general": 12, "serious": 36},
    )


# --- retention ---------------------------------------------------------------------------------


def test_a_negative_record_leaves_on_the_day_its_retention_ends_and_not_before(
    session, runtime, clock, subject, regulator
):
    record = add(session, clock, subject, regulator, "P-1", penalty())
    record = add(
        session,
        clock,
        subject,
        regulator,
        "P-1",
        penalty(amount_value=Decimal("15000.00")),
        reason="amount reduced on review",
    )
    honour = add(session, clock, subject, regulator, "H-1", HONOUR)
    record_id, version_ids = record.id, [v.id for v in record.versions]
    search = current_app.extensions["creditreg.search"]
    drain(session, search, clock.now())

    # 2026-11-25, the last day of the five years: nothing moves.
    assert archive_all(session, clock.now()) == 0
    assert counts_of(session, subject)["negative"] == 1
    assert len(inputs_of(session, [subject.id])[subject.id][0]) == 2

    # 2026-11-25 23:59:59 in Beijing (the registry's calendar): still the same day.
    clock.set(datetime(2026, 11, 25, 23, 59, 59, tzinfo=BEIJING))
    assert archive_all(session, clock.now()) == 0

    revision = session.get(Subject, subject.id).revision
    clock.advance(timedelta(seconds=1))  # 2026-11-26 00:00 in Beijing, 16:00 UTC the day before
    assert archive_all(session, clock.now()) == 1
    session.expire_all()

    # Gone from the live tables, the lookups, the rating inputs...
    assert live(session, record_id) is None
    assert (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(CreditRecordVersion)
            .where(CreditRecordVersion.record_id == record_id)
        )
        == 0
    )
    counts = counts_of(session, subject)
    assert (counts["total"], counts["negative"], counts["positive"]) == (1, 0, 1)
    view = subject_view(session, session.get(Subject, subject.id))
    assert view["record_counts"]["by_category"]["administrative_penalty"]["negative"] == 0
    facts = inputs_of(session, [subject.id])[subject.id][0]
    assert [f.id for f in facts] == [str(honour.id)]
    assert live(session, honour.id) is not None  # positive records stay

    # ... and, through the outbox, from the search document and the index; a new rating
    # proposal is queued.
    assert session.get(Subject, subject.id).revision == revision + 1
    assert build_documents(session, [subject.id])[subject.id]["record_counts"]["negative"] == 0
    drain(session, search, clock.now())
    indexed = search.get(str(subject.id), session=session)
    assert indexed["record_counts"]["negative"] == 0
    assert indexed["record_counts"]["positive"] == 1
    queued = session.scalars(
        sa.select(RatingOutbox.enqueued_at).where(RatingOutbox.subject_id == subject.id)
    ).all()
    assert clock.now() in queued

    # The sealed archive holds the full last state and every version.
    archived = session.get(ArchivedCreditRecord, record_id)
    assert archived.retained_from == ENDED
    assert archived.retained_until == date(2026, 11, 26)
    assert archived.archived_at == clock.now()
    assert archived.record["member_record_id"] == "P-1"
    assert archived.record["version"] == 2
    assert archived.record["amount_value"] == "15000.00"
    assert archived.record["document_number"] == "京市监罚〔2021〕7号"
    assert [v["id"] for v in archived.versions] == version_ids
    assert [(v["version"], v["op"]) for v in archived.versions] == [(1, "create"), (2, "correct")]
    assert archived.versions[0]["state"]["amount_value"] == "20000.00"
    assert archived.versions[1]["reason"] == "amount reduced on review"

    # The audit event says the record left, not what it said.
    event = session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == "record.archived", AuditEvent.object_id == str(record_id)
        )
    )
    assert event.actor_kind == "system" and event.occurred_at == clock.now()
    assert "summary" not in json.dumps(event.after)


def test_the_clock_starts_at_the_end_of_the_event_else_the_decision_else_receipt(
    session, clock, subject, regulator
):
    # No end: the decision date; revoked records are archived too.
    decided = add(
        session,
        clock,
        subject,
        regulator,
        "D",
        penalty(ended_at=None, decided_at=date(2021, 11, 25)),
    )
    revoked = add(session, clock, subject, regulator, "R", penalty(ended_at=None, decided_at=ENDED))
    revoke_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        member_record_id="R",
        reason="issued in error",
        now=clock.now(),
    )
    # Ended recently, though decided long ago: kept.
    kept = add(
        session,
        clock,
        subject,
        regulator,
        "K",
        penalty(decided_at=date(2015, 1, 1), ended_at=date(2022, 1, 1)),
    )
    # A one-off event with no date at all: counted from receipt (today), so kept for five
    # years from now.
    undated = add(
        session,
        clock,
        subject,
        regulator,
        "U",
        {"category": "consumer_complaint", "polarity": "negative"},
    )
    neutral = add(
        session,
        clock,
        subject,
        regulator,
        "N",
        {"category": "contract_performance", "polarity": "neutral", "ended_at": date(2001, 1, 1)},
    )
    ids = {r.id for r in (decided, revoked, kept, undated, neutral)}

    assert archive_all(session, clock.now()) == 1
    assert {r for r in ids if live(session, r) is None} == {decided.id}

    clock.advance(timedelta(days=1))
    assert archive_all(session, clock.now()) == 1
    assert {r for r in ids if live(session, r) is None} == {decided.id, revoked.id}
    assert session.get(ArchivedCreditRecord, revoked.id).record["status"] == "revoked"

    clock.set(datetime(2031, 11, 24, 23, 0, tzinfo=BEIJING))
    assert archive_all(session, clock.now()) == 1  # K (ended 2022-01-01) left long ago; U not yet
    assert live(session, kept.id) is None and live(session, undated.id) is not None
    clock.advance(timedelta(hours=1))
    assert archive_all(session, clock.now()) == 1
    assert live(session, undated.id) is None
    assert live(session, neutral.id) is not None  # only negative information is removed


# --- events that go on until they end ----------------------------------------------------------


def default(**changes):
    """A loan in default since 2021, unpaid: no end."""
    return {
        "category": "loan_default",
        "polarity": "negative",
        "authority": "示范银行",
        "occurred_at": date(2021, 3, 1),
        "amount_value": Decimal("500000.00"),
        "amount_currency": "CNY",
        **changes,
    }


def test_an_unpaid_default_stays_until_its_end_is_sent_then_five_years_from_the_end(
    session, clock, subject, regulator
):
    record = add(session, clock, subject, regulator, "LD-2021", default())
    # A one-off event of the same age, for contrast: five years from its date are over.
    complaint = add(
        session,
        clock,
        subject,
        regulator,
        "CC-2021",
        {"category": "consumer_complaint", "polarity": "negative", "occurred_at": ENDED},
    )
    assert retention_ends_on(record, POLICY) is None

    # 2026-11-26: the complaint's five years are over; the default, still unpaid, stays.
    clock.advance(timedelta(days=1))
    assert archive_all(session, clock.now()) == 1
    assert live(session, complaint.id) is None
    assert live(session, record.id) is not None
    assert counts_of(session, subject)["negative"] == 1
    # ... and whatever its age.
    clock.set(datetime(2036, 1, 1, tzinfo=BEIJING))
    assert archive_all(session, clock.now()) == 0

    # The member sends the end (a correction): paid on 2036-01-01. Five years from the end,
    # to the day.
    record = add(
        session,
        clock,
        subject,
        regulator,
        "LD-2021",
        default(ended_at=date(2036, 1, 1)),
        reason="repaid in full",
    )
    assert retention_ends_on(record, POLICY) == date(2041, 1, 1)
    clock.set(datetime(2040, 12, 31, 23, 59, 59, tzinfo=BEIJING))
    assert archive_all(session, clock.now()) == 0
    clock.advance(timedelta(seconds=1))
    assert archive_all(session, clock.now()) == 1
    archived = session.get(ArchivedCreditRecord, record.id)
    assert (archived.retained_from, archived.retained_until) == (
        date(2036, 1, 1),
        date(2041, 1, 1),
    )


def test_a_revoked_or_positive_open_ended_record_is_not_kept_open(
    session, clock, subject, regulator
):
    revoked = add(session, clock, subject, regulator, "LD-R", default(occurred_at=ENDED))
    revoke_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        member_record_id="LD-R",
        reason="sent in error",
        now=clock.now(),
    )
    # A revoked record can no longer be corrected: its clock runs from the event.
    assert retention_ends_on(revoked, POLICY) == date(2026, 11, 26)
    clock.advance(timedelta(days=1))
    assert archive_all(session, clock.now()) == 1
    assert live(session, revoked.id) is None


def test_the_open_ended_categories_are_configuration(session, clock, subject, regulator, make_app):
    record = add(session, clock, subject, regulator, "LD-2021", default(occurred_at=ENDED))
    clock.advance(timedelta(days=1))
    none_open = RetentionPolicy(open_categories=frozenset())
    assert retention_ends_on(record, none_open) == date(2026, 11, 26)
    assert archive_all(session, clock.now()) == 0  # the default policy keeps it
    assert archive_expired(session, clock.now(), policy=none_open) == 1

    from config import load_settings

    settings = load_settings(
        "test", environ={}, overrides={"RETENTION_OPEN_CATEGORIES": "tax_arrears"}
    )
    policy = policy_from_settings(settings)
    assert policy.open_categories == {"tax_arrears"}


def test_the_jobs_are_idempotent_and_batched(session, runtime, clock, subject, regulator):
    for n in range(5):
        add(session, clock, subject, regulator, f"P-{n}", penalty(decided_at=date(2020, 1, 1)))
    clock.advance(timedelta(days=1))
    assert archive_expired(session, clock.now(), policy=POLICY, batch=2) == 2
    assert archive_expired(session, clock.now(), policy=POLICY, batch=2) == 2
    assert archive_expired(session, clock.now(), policy=POLICY, batch=2) == 1
    session.flush()

    def footprint():
        return tuple(
            session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in (ArchivedCreditRecord, AuditEvent, SearchOutbox, RatingOutbox)
        ) + (session.get(Subject, subject.id).revision,)

    before = footprint()
    assert archive_expired(session, clock.now(), policy=POLICY) == 0
    assert end_publications(session, clock.now(), policy=POLICY) == 0
    job = retention_job(runtime.settings)
    assert job(session, clock.now()) == 0
    assert job(session, clock.now()) == 0
    session.expire_all()
    assert footprint() == before


def test_the_worker_runs_the_retention_job(runtime):
    names = [job.name for job in default_jobs(settings=runtime.settings)]
    assert "retention" in names


def test_only_the_versions_refer_to_credit_records():
    # The archive job moves a record's versions with it and deletes both rows. Any new table
    # pointing at credit_records must be handled there first (or the job fails on its key).
    referring = {
        f"{table.name}.{fk.parent.name}"
        for table in metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table.name == "credit_records"
    }
    assert referring == {"credit_record_versions.record_id"}


# --- publication -------------------------------------------------------------------------------


def public_ids(session, now):
    return set(
        session.scalars(sa.select(CreditRecord.id).where(publicly_shown(now.date(), POLICY)))
    )


def test_penalties_stop_being_published_at_their_severity_maximum(
    session, clock, subject, regulator
):
    # Today is 2026-11-25. Serious: 36 months from 2023-11-25 end today; general: 12 months
    # from 2025-11-26 end tomorrow; minor: never published.
    serious = add(
        session,
        clock,
        subject,
        regulator,
        "S",
        penalty(severity="serious", decided_at=date(2023, 11, 26), ended_at=None),
    )
    general = add(
        session,
        clock,
        subject,
        regulator,
        "G",
        penalty(severity="general", decided_at=date(2025, 11, 27), ended_at=None),
    )
    minor = add(
        session,
        clock,
        subject,
        regulator,
        "M",
        penalty(severity="minor", decided_at=date(2026, 11, 20), ended_at=None),
    )
    licence = add(
        session,
        clock,
        subject,
        regulator,
        "L",
        {"category": "administrative_licence", "polarity": "neutral", "decided_at": ENDED},
    )
    loan = add(
        session,
        clock,
        subject,
        regulator,
        "D",
        {"category": "loan_default", "polarity": "negative", "decided_at": date(2026, 1, 1)},
    )
    assert public_ids(session, clock.now()) == {serious.id, general.id, licence.id}
    assert publication_status(minor, clock.now().date(), POLICY) == "not_published"
    assert publication_status(loan, clock.now().date(), POLICY) == "not_published"
    assert end_publications(session, clock.now(), policy=POLICY) == 0

    clock.advance(timedelta(days=1))  # 2026-11-26: the serious penalty's 36 months are over
    # The public filter follows the dates on the day, before any job has run...
    assert public_ids(session, clock.now()) == {general.id, licence.id}
    assert publication_status(serious, clock.now().date(), POLICY) == "publication_ended"
    revision = session.get(Subject, subject.id).revision
    assert end_publications(session, clock.now(), policy=POLICY) == 1
    session.flush()
    # ... and the job marks it, audited, with the subject queued.
    assert serious.publication_ended_at == date(2026, 11, 26)
    session.expire_all()
    assert session.get(Subject, subject.id).revision == revision + 1
    assert session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == "record.publication_ended",
            AuditEvent.object_id == str(serious.id),
        )
    )
    assert end_publications(session, clock.now(), policy=POLICY) == 0

    # Members still see it until its retention ends, marked as no longer published.
    view = subject_view(session, session.get(Subject, subject.id))
    assert view["record_counts"]["by_category"]["administrative_penalty"]["negative"] == 3
    assert view["penalty_publication"] == {
        "published": 1,
        "not_published": 1,
        "publication_ended": 1,
    }
    assert len(inputs_of(session, [subject.id])[subject.id][0]) == 5

    clock.advance(timedelta(days=1))  # 2026-11-27: the general penalty's 12 months
    assert public_ids(session, clock.now()) == {licence.id}
    assert end_publications(session, clock.now(), policy=POLICY) == 1

    clock.advance(timedelta(days=90))  # the minor one reaches its 3-month ceiling: marked
    assert end_publications(session, clock.now(), policy=POLICY) == 1
    assert minor.publication_ended_at == date(2027, 2, 20)
    assert public_ids(session, clock.now()) == {licence.id}


def test_the_publication_periods_are_configuration(session, make_app, database_url, clock):
    from registry.retention import policy_from_settings as from_settings

    app = make_app(database_url, PENALTY_PUBLICATION_MONTHS_SERIOUS=24)
    with app.app_context():
        from registry.runtime import current_runtime

        policy = from_settings(current_runtime().settings)
    assert policy.publication_months("serious") == 24
    assert policy.publication_months(None) == 12  # no severity: published like a general one


# --- the sealed archive through the CLI --------------------------------------------------------


@pytest.fixture
def cli_app(fresh_sqlite_url, make_app):
    app = make_app(fresh_sqlite_url)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return app


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input, catch_exceptions=False)


def test_only_an_administrator_reads_the_archive_and_every_read_is_audited(cli_app, clock):
    for username, roles in (("ada", "admin"), ("rex", "reviewer")):
        result = run(
            cli_app,
            "users",
            "add",
            "--username",
            username,
            "--roles",
            roles,
            "--password-stdin",
            input="a long enough passphrase 2026\n",
        )
        assert result.exit_code == 0, result.output
    with cli_app.app_context():
        from registry.runtime import current_runtime

        runtime = current_runtime()
        session = db.session
        company = register_subject(
            session,
            actor=TEST_ACTOR,
            vault=runtime.vault,
            kind="enterprise",
            name="北京华信科技有限公司",
            uscc="91110000600037341L",
        )
        member = factories.member(session, kind="regulator", roles=("regulator", "submitter"))
        record = add(session, clock, company, member, "P-1", penalty())
        record_id = str(record.id)
        session.commit()
        clock.advance(timedelta(days=1))
        assert retention_job(runtime.settings)(session, clock.now()) == 1
        session.commit()

    result = run(cli_app, "archive", "list", "--admin", "ada", "--reason", "audit 2026-41")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [row["id"] for row in listed] == [record_id]
    assert "record" not in listed[0]

    result = run(
        cli_app, "archive", "show", record_id, "--admin", "ada", "--reason", "court order 17"
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["record"]["summary"] == "发布虚假广告"
    assert [v["op"] for v in shown["versions"]] == ["create"]

    result = run(cli_app, "archive", "show", record_id, "--admin", "rex", "--reason", "curiosity")
    assert result.exit_code == 1
    assert "administrator" in result.output
    assert "发布虚假广告" not in result.output
    result = run(cli_app, "archive", "list", "--admin", "nobody", "--reason", "curiosity")
    assert result.exit_code == 1

    result = run(cli_app, "archive", "show", "not-an-id", "--admin", "ada", "--reason", "typo")
    assert result.exit_code == 1

    with cli_app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.actor_kind, AuditEvent.reason)
            .where(AuditEvent.action.startswith("archive."))
            .order_by(AuditEvent.id)
        ).all()
    assert [tuple(e) for e in events] == [
        ("archive.listed", "staff", "audit 2026-41"),
        ("archive.read", "staff", "court order 17"),
        ("archive.refused", "staff", "curiosity"),
        ("archive.refused", "system", "curiosity"),
    ]


def test_the_jobs_hold_the_subjects_before_the_chain_head(
    session, clock, subject, regulator, query_counter
):
    # The rating job locks subjects, then appends audit events (the chain head). A
    # retention job that took the chain head first deadlocked with it from another worker.
    add(session, clock, subject, regulator, "OLD", penalty(decided_at=date(2020, 1, 1)))
    add(
        session,
        clock,
        subject,
        regulator,
        "SERIOUS",
        penalty(severity="serious", decided_at=date(2023, 11, 26), ended_at=None),
    )
    clock.advance(timedelta(days=1))
    session.flush()
    for step in (archive_expired, end_publications):
        query_counter.clear()
        assert step(session, clock.now(), policy=POLICY) == 1
        session.flush()
        subjects = next(
            i
            for i, s in enumerate(query_counter)
            if "subjects" in s.split("WHERE")[0] and ("UPDATE subjects" in s or "FOR UPDATE" in s)
        )
        chain = next(i for i, s in enumerate(query_counter) if s.startswith("UPDATE chain_heads"))
        assert subjects < chain, step.__name__
