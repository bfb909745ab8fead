"""Credit repair from the subject's side, of penalties' publication, and its deadlines
(registry.repairs), on the test clock and the shipped 2026 holiday calendar."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from registry import listings, repairs
from registry.audit import Actor, ActorKind, AuditEvent
from registry.errors import Conflict, Forbidden, InvalidInput
from registry.records import CreditRecord, upsert_record
from registry.retention import RetentionPolicy, publication_status, publicly_shown
from registry.subjects import Subject, register_subject
from registry.worker import default_jobs
from tests import factories
from tests.factories import TEST_ACTOR

BEIJING = ZoneInfo("Asia/Shanghai")  # the default REGISTRY_TIMEZONE
REVIEWER = Actor(ActorKind.STAFF, "00000000-0000-0000-0000-00000000a11c")


def beijing(*moment: int) -> datetime:
    return datetime(*moment, tzinfo=BEIJING).astimezone(UTC)


@pytest.fixture
def company(session, runtime):
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


@pytest.fixture
def company_member(session, company):
    """The member that is the company itself."""
    member = factories.member(session, kind="enterprise", roles=("querier",))
    member.uscc = company.uscc
    session.flush()
    return member


def as_member(member):
    return Actor(ActorKind.MEMBER, str(member.id))


def penalty(session, clock, subject, regulator, severity, decided_at, key="P"):
    record, _ = upsert_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        subject=subject,
        member_record_id=key,
        fields={
            "category": "administrative_penalty",
            "polarity": "negative",
            "severity": severity,
            "authority": "北京市市场监督管理局",
            "document_number": f"京市监罚〔2026〕{key}号",
            "decided_at": decided_at,
            "summary": "发布虚假广告",
        },
        now=clock.now(),
    )
    session.flush()
    return record


def apply(session, runtime, record, at, *, actor, member=None, **extra):
    return repairs.apply_for_penalty_repair(
        session,
        record,
        actor=actor,
        member=member,
        correction_evidence="罚款已缴清，广告已撤下",
        credit_commitment="本企业承诺依法诚信经营",
        policy=listings.policy_from_settings(runtime.settings),
        rule=repairs.rule_from_settings(runtime.settings),
        settings=runtime.settings,
        at=at,
        **extra,
    )


def test_a_general_penalty_is_repairable_from_three_months_a_serious_one_from_a_year(
    session, runtime, clock, company, regulator, company_member
):
    general = penalty(session, clock, company, regulator, "general", date(2026, 6, 30), "G")
    serious = penalty(session, clock, company, regulator, "serious", date(2025, 11, 30), "S")
    minor = penalty(session, clock, company, regulator, "minor", date(2026, 1, 5), "M")
    me = {"actor": as_member(company_member), "member": company_member}

    with pytest.raises(Conflict) as early:
        apply(session, runtime, general, beijing(2026, 9, 29, 23, 59, 59), **me)
    assert early.value.extensions == {"repair_from": "2026-09-30"}
    assert apply(session, runtime, general, beijing(2026, 9, 30), **me).status == "filed"
    with pytest.raises(Conflict, match="already open"):
        apply(session, runtime, general, beijing(2026, 10, 8), **me)

    with pytest.raises(Conflict) as early:
        apply(session, runtime, serious, beijing(2026, 11, 29, 23, 59, 59), **me)
    assert early.value.extensions == {"repair_from": "2026-11-30"}
    assert apply(session, runtime, serious, beijing(2026, 11, 30), **me).record_id == serious.id

    # A minor penalty is never published: there is no publication to end.
    with pytest.raises(Conflict, match="not published"):
        apply(session, runtime, minor, beijing(2026, 11, 30), **me)


def test_the_minimum_periods_are_configuration(
    session, make_app, database_url, clock, company, regulator
):
    app = make_app(database_url, PENALTY_REPAIR_MONTHS_GENERAL=6)
    with app.app_context():
        from registry.runtime import current_runtime

        rule = repairs.rule_from_settings(current_runtime().settings)
    record = penalty(session, clock, company, regulator, "general", date(2026, 6, 30))
    assert rule.earliest(record) == date(2026, 12, 30)


def test_only_the_subjects_side_applies(
    session, runtime, clock, company, regulator, company_member
):
    record = penalty(session, clock, company, regulator, "general", date(2026, 1, 5))
    now = clock.now()
    competitor = factories.member(session, kind="bank", roles=("querier",))
    with pytest.raises(Forbidden, match="the member that is the subject"):
        apply(session, runtime, record, now, actor=as_member(competitor), member=competitor)
    # The authority that submitted it is not the subject either.
    with pytest.raises(Forbidden):
        apply(session, runtime, record, now, actor=as_member(regulator), member=regulator)
    # Staff file only for persons, who have no member.
    with pytest.raises(Forbidden, match="only for a person"):
        apply(session, runtime, record, now, actor=REVIEWER, identity_check="身份证原件核验")

    person = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="person",
        name="张三",
        id_number="11010519491231002X",
    )
    fined = penalty(session, clock, person, regulator, "general", date(2026, 1, 5), "Z")
    with pytest.raises(InvalidInput) as missing:
        apply(session, runtime, fined, now, actor=REVIEWER, identity_check="  ")
    assert missing.value.errors == {"identity_check": ["required"]}
    filed = apply(session, runtime, fined, now, actor=REVIEWER, identity_check="身份证原件核验")
    assert filed.identity_check == "身份证原件核验"
    event = session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == "repair.filed", AuditEvent.object_id == str(fined.id)
        )
    )
    assert event.after["identity_check"] == "身份证原件核验"


def test_a_granted_repair_ends_the_publication_that_day(
    session, runtime, clock, company, regulator, company_member
):
    record = penalty(session, clock, company, regulator, "serious", date(2025, 1, 10))
    policy = listings.policy_from_settings(runtime.settings)
    now = clock.now()  # 2026-11-25
    application = apply(
        session, runtime, record, now, actor=as_member(company_member), member=company_member
    )
    listings.acknowledge_repair(session, application, actor=REVIEWER, policy=policy, at=now)
    revision = session.get(Subject, company.id).revision
    other_authority = factories.member(session, kind="regulator", roles=("regulator",))
    with pytest.raises(Forbidden, match="authority that submitted"):
        listings.decide_repair(
            session, application, actor=as_member(other_authority), grant=True,
            reason="整改到位", at=now,
        )  # fmt: skip
    assert publication_status(record, now.date(), RetentionPolicy()) == "published"
    listings.decide_repair(
        session, application, actor=as_member(regulator), grant=True, reason="整改到位", at=now
    )
    session.flush()
    assert record.publication_ended_at == date(2026, 11, 25)
    assert publication_status(record, now.date(), RetentionPolicy()) == "publication_ended"
    shown = session.scalars(
        sa.select(CreditRecord.id).where(publicly_shown(now.date(), RetentionPolicy()))
    ).all()
    assert record.id not in shown
    session.expire_all()
    assert session.get(Subject, company.id).revision == revision + 1
    actions = session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.object_id == str(record.id))
    ).all()
    assert {"repair.filed", "repair.acknowledged", "repair.granted"} <= set(actions)
    assert "record.publication_ended" in actions


def test_a_refused_repair_leaves_the_penalty_published(
    session, runtime, clock, company, regulator, company_member
):
    record = penalty(session, clock, company, regulator, "general", date(2026, 5, 6))
    now = clock.now()
    application = apply(
        session, runtime, record, now, actor=as_member(company_member), member=company_member
    )
    policy = listings.policy_from_settings(runtime.settings)
    listings.acknowledge_repair(session, application, actor=REVIEWER, policy=policy, at=now)
    listings.decide_repair(
        session, application, actor=as_member(regulator), grant=False, reason="罚款未缴清", at=now
    )
    assert application.status == "refused" and record.publication_ended_at is None
    assert publication_status(record, now.date(), RetentionPolicy()) == "published"


def test_late_applications_escalate_the_day_after_each_stages_last_working_day(
    session, runtime, clock, company, regulator, company_member
):
    record = penalty(session, clock, company, regulator, "general", date(2026, 3, 2))
    policy = listings.policy_from_settings(runtime.settings)
    # Filed Monday 21 September 2026: ten working days skip Mid-Autumn (25 September) and
    # National Day (1-7 October) and count Saturday 10 October, so the registry acknowledges
    # by Monday 12 October (weekdays alone would say 5 October).
    application = apply(
        session, runtime, record, beijing(2026, 9, 21, 9), actor=as_member(company_member),
        member=company_member,
    )  # fmt: skip
    assert application.acknowledge_by == date(2026, 10, 12)
    assert repairs.escalate_late(session, beijing(2026, 10, 12, 23, 59, 59)) == 0
    assert not application.view(date(2026, 10, 12))["late"]
    assert repairs.escalate_late(session, beijing(2026, 10, 13, 0, 0, 1)) == 1
    assert application.escalated_at == beijing(2026, 10, 13, 0, 0, 1)
    assert application.view()["late"]
    assert repairs.escalate_late(session, beijing(2026, 10, 14)) == 0  # once per stage
    session.flush()
    late = session.scalars(sa.select(repairs.RepairApplication.id).where(
        repairs.late_applications()
    )).all()  # fmt: skip
    assert late == [application.id]
    event = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "repair.escalated"))
    assert event.after == {
        "application_id": str(application.id),
        "stage": "acknowledgement",
        "due_on": "2026-10-12",
    }

    # Acknowledged Friday 30 October: the authority decides by Wednesday 4 November; the
    # decision is a stage of its own, late only past that day.
    listings.acknowledge_repair(
        session, application, actor=REVIEWER, policy=policy, at=beijing(2026, 10, 30, 10)
    )
    assert application.escalated_at is None and application.decide_by == date(2026, 11, 4)
    assert repairs.escalate_late(session, beijing(2026, 11, 4, 23, 59, 59)) == 0
    assert repairs.escalate_late(session, beijing(2026, 11, 5, 0, 0, 1)) == 1
    assert application.view()["late"]
    listings.decide_repair(
        session, application, actor=as_member(regulator), grant=True, reason="整改到位",
        at=beijing(2026, 11, 6, 10),
    )  # fmt: skip
    assert application.escalated_at is None
    assert repairs.escalate_late(session, beijing(2026, 12, 1)) == 0


def test_the_decision_deadline_counts_a_make_up_saturday(
    session, runtime, clock, company, regulator, company_member
):
    record = penalty(session, clock, company, regulator, "general", date(2026, 3, 2))
    policy = listings.policy_from_settings(runtime.settings)
    application = apply(
        session, runtime, record, beijing(2026, 9, 28, 9), actor=as_member(company_member),
        member=company_member,
    )  # fmt: skip
    # Acknowledged Wednesday 30 September: three working days are 8, 9 and Saturday 10
    # October (a make-up working day); weekdays alone would give Monday 5 October.
    listings.acknowledge_repair(
        session, application, actor=REVIEWER, policy=policy, at=beijing(2026, 9, 30, 16)
    )
    assert application.decide_by == date(2026, 10, 10)
    assert repairs.escalate_late(session, beijing(2026, 10, 10, 23, 59, 59)) == 0
    assert repairs.escalate_late(session, beijing(2026, 10, 11, 0, 0, 1)) == 1


def test_the_worker_runs_the_repair_deadlines():
    job = next(j for j in default_jobs() if j.name == "repair-deadlines")
    assert job.run is repairs.escalate_late
