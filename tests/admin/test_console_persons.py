"""A person, who has no member, exercises their rights at the registry's counter: staff file
their objection, add their statement and serve the registry's own notice of a held record,
in the console and with commands, each with how they checked who asked in the audit log,
under the same answer period as every objection."""

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from registry import objections
from registry.audit import AuditEvent
from registry.members import Member
from registry.records import upsert_record
from registry.subjects import Subject, register_subject
from tests.console_helpers import csrf, post, seed, sign_in
from tests.factories import TEST_ACTOR, member

ID_NUMBER = "11010519491231002X"
CHECK = "居民身份证原件已核验，本人到场"


@pytest.fixture
def seeded(session, runtime, clock):
    return seed(session, runtime, clock.now())


@pytest.fixture
def person(session, runtime, clock):
    subject = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        now=clock.now(),
        kind="person",
        name="张三",
        id_number=ID_NUMBER,
    )
    session.commit()
    return subject


@pytest.fixture
def bank(session):
    made = member(session, kind="bank", roles=("submitter",), name="示范银行")
    session.commit()
    return made


def default_on(session, clock, bank, subject, n=1):
    """A loan default about ``subject`` sent by the bank (held, for a person, until told)."""
    record, _ = upsert_record(
        session,
        actor=TEST_ACTOR,
        member=bank,
        subject=subject,
        member_record_id=f"LD-{n}",
        fields={
            "category": "loan_default",
            "polarity": "negative",
            "authority": "示范银行",
            "occurred_at": clock.now().date() - timedelta(days=40),
        },
        now=clock.now(),
    )
    session.commit()
    return record


def audited(session, action, object_id):
    return session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.object_id == str(object_id)
        )
    ).all()


def test_staff_file_a_persons_objection_and_statement_in_the_console(
    client, session, runtime, clock, seeded, person, bank
):
    record = default_on(session, clock, bank, person)
    page = f"/console/subjects/{person.id}"
    sign_in(client, "bob")
    shown = client.get(page).get_data(as_text=True)
    # Held until the person is told: the form to record the registry's notice is there.
    assert 'id="counter"' in shown and f"{page}/records/{record.id}/notice" in shown
    action = f"{page}/objections"

    # Without the identity check nothing is filed, and the page says why.
    post(client, action, page, item=f"record:{record.id}", grounds="贷款已结清", identity_check="")
    assert "identity_check" in client.get(page).get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(objections.Objection)) == 0

    answer = post(
        client, action, page, item=f"record:{record.id}", grounds="贷款已结清", identity_check=CHECK
    )
    assert answer.status_code == 303
    filed = session.scalar(sa.select(objections.Objection))
    assert (filed.filer_member_id, filed.for_subject, filed.identity_check) == (None, True, CHECK)
    assert filed.answering_member_id == bank.id
    # The same answer period as any objection: OBJECTION_ANSWER_DAYS (20) calendar days.
    assert filed.due_at - filed.filed_at == timedelta(days=20)
    # The record is held until the person is told: no member sees the mark yet.
    assert objections.disputed_items(session, [person.id]) == {}
    (event,) = audited(session, "objection.filed", filed.id)
    assert event.actor_kind == "staff" and event.after["identity_check"] == CHECK

    statement = f"{page}/objections/{filed.id}/statement"
    post(client, statement, page, statement="已于十月还清", identity_check=CHECK)
    session.refresh(filed)
    assert filed.statement == "已于十月还清"
    (event,) = audited(session, "objection.statement", filed.id)
    assert event.actor_kind == "staff" and event.after["identity_check"] == CHECK
    assert "已于十月还清" in client.get(page).get_data(as_text=True)

    # Unanswered, it escalates past its deadline like any other.
    clock.advance(timedelta(days=20))
    assert objections.escalate_due(session, clock.now()) == 0
    clock.advance(timedelta(seconds=1))
    assert objections.escalate_due(session, clock.now()) == 1
    session.commit()
    session.refresh(filed)
    assert filed.status == "escalated"


def test_the_counter_is_for_persons_and_their_own_items_only(
    client, session, runtime, clock, seeded, person, bank
):
    someone_else = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        now=clock.now(),
        kind="person",
        name="李四",
        id_number="440304198506122313",
    )
    theirs = default_on(session, clock, bank, someone_else, n=2)
    page = f"/console/subjects/{person.id}"
    sign_in(client, "bob")
    post(
        client,
        f"{page}/objections",
        page,
        item=f"record:{theirs.id}",
        grounds="x",
        identity_check=CHECK,
    )
    assert "该信息与该自然人无关" in client.get(page).get_data(as_text=True)
    company = f"/console/subjects/{seeded.subject_id}"
    assert 'id="counter"' not in client.get(company).get_data(as_text=True)
    token = csrf(client, company)
    refused = client.post(
        f"{company}/objections",
        data={
            "item": f"record:{theirs.id}",
            "grounds": "x",
            "identity_check": CHECK,
            "csrf_token": token,
        },
    )
    assert refused.status_code == 404
    # Without the form's token nothing happens (CSRF).
    assert client.post(f"{page}/objections", data={"grounds": "x"}).status_code == 400
    assert session.scalar(sa.select(sa.func.count()).select_from(objections.Objection)) == 0


def test_staff_record_the_registrys_own_notice_in_the_console(
    client, session, clock, seeded, person, bank
):
    record = default_on(session, clock, bank, person)
    page = f"/console/subjects/{person.id}"
    sign_in(client, "bob")
    action = f"{page}/records/{record.id}/notice"
    post(client, action, page, channel="letter", served_on="")
    session.refresh(record)
    assert record.person_told_by is None
    served = clock.now().date().isoformat()
    assert post(client, action, page, channel="letter", served_on=served).status_code == 303
    session.refresh(record)
    assert (record.held_for_notice, record.person_told_by, record.person_told_via) == (
        True,
        "registry",
        "letter",
    )
    shown = client.get(page).get_data(as_text=True)
    assert "2026-11-25" in shown and "2026-12-05" in shown  # served, and shared from
    assert f"{page}/records/{record.id}/notice" not in shown


def test_staff_file_for_a_person_with_commands(app, session, runtime, clock, seeded, person, bank):
    record = default_on(session, clock, bank, person)
    runner = app.test_cli_runner()
    common = ["--reviewer", "bob", "--identity-check", CHECK, "--person", str(person.id)]
    filed = runner.invoke(
        args=[
            "objections",
            "file-for-person",
            "--item-kind",
            "record",
            "--item",
            str(record.id),
            "--grounds",
            "贷款已结清",
            *common,
        ]
    )
    assert filed.exit_code == 0, filed.output
    objection = session.scalar(sa.select(objections.Objection))
    assert objection.identity_check == CHECK and objection.filer_member_id is None
    stated = runner.invoke(
        args=[
            "objections",
            "statement-for-person",
            str(objection.id),
            "--statement",
            "已还清",
            *common,
        ]
    )
    assert stated.exit_code == 0, stated.output
    session.refresh(objection)
    assert objection.statement == "已还清"

    company = session.get(Subject, uuid.UUID(seeded.subject_id))
    regulator = session.get(Member, uuid.UUID(seeded.regulator_id))
    penalty, _ = upsert_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        subject=company,
        member_record_id="P-1",
        fields={
            "category": "administrative_penalty",
            "polarity": "negative",
            "severity": "general",
            "authority": "北京市市场监督管理局",
            "decided_at": clock.now().date(),
        },
        now=clock.now(),
    )
    session.commit()
    for person_id, why in ((seeded.subject_id, "persons only"), (str(person.id), "not about")):
        refused = runner.invoke(
            args=[
                "objections",
                "file-for-person",
                "--item-kind",
                "record",
                "--item",
                str(penalty.id),
                "--grounds",
                "x",
                "--reviewer",
                "bob",
                "--identity-check",
                CHECK,
                "--person",
                person_id,
            ]
        )
        assert refused.exit_code == 1 and why in refused.output
    no_check = runner.invoke(
        args=[
            "objections",
            "statement-for-person",
            str(objection.id),
            "--statement",
            "x",
            "--reviewer",
            "bob",
            "--identity-check",
            " ",
            "--person",
            str(person.id),
        ]
    )
    assert no_check.exit_code == 1 and "identity_check: required" in no_check.output
    assert session.scalar(sa.select(sa.func.count()).select_from(objections.Objection)) == 1


def test_a_persons_objection_to_an_entry_in_its_notice_window_is_the_notice_objection(
    app, session, runtime, clock, seeded, person
):
    from registry import listings

    entry = listings.propose_listing(
        session,
        actor=TEST_ACTOR,
        proposer_member_id=uuid.UUID(seeded.regulator_id),
        subject=person,
        list_kind="judgment_debtor",
        authority="北京市第一中级人民法院",
        reason="有履行能力而拒不履行生效法律文书确定义务",
        legal_basis="《最高人民法院关于公布失信被执行人名单信息的若干规定》第一条",
        document_number="（2026）京01执123号",
        measures=["restrict_high_consumption"],
        period_months=None,
        notice_to=None,
        policy=listings.policy_from_settings(runtime.settings),
        at=clock.now(),
    )
    entry.state = listings.ListingState.NOTICE
    session.commit()
    filed = app.test_cli_runner().invoke(
        args=[
            "objections",
            "file-for-person",
            "--item-kind",
            "list_entry",
            "--item",
            str(entry.id),
            "--grounds",
            "判决已履行",
            "--person",
            str(person.id),
            "--reviewer",
            "bob",
            "--identity-check",
            CHECK,
        ]
    )
    assert filed.exit_code == 0, filed.output
    assert '"delegated_to": "notice_objection"' in filed.output
    session.refresh(entry)
    assert [o.statement for o in entry.objections] == ["判决已履行"]
    (event,) = audited(session, "listing.objected", entry.id)
    assert event.actor_kind == "staff" and event.after["identity_check"] == CHECK


def test_a_number_typed_at_the_counter_is_refused_not_kept(
    client, session, runtime, clock, seeded, person, bank
):
    """What staff type is kept as typed: an ID number in it would be kept in clear."""
    record = default_on(session, clock, bank, person)
    page = f"/console/subjects/{person.id}"
    sign_in(client, "bob")
    post(
        client,
        f"{page}/objections",
        page,
        item=f"record:{record.id}",
        grounds=f"本人 {ID_NUMBER} 已还清",
        identity_check=f"身份证 {ID_NUMBER} 已核验",
    )
    shown = client.get(page).get_data(as_text=True)
    assert "identity_check" in shown and "grounds" in shown and ID_NUMBER not in shown
    assert session.scalar(sa.select(sa.func.count()).select_from(objections.Objection)) == 0
    refused = app_runner(client).invoke(
        args=[
            "listings",
            "apply-repair",
            "--record",
            str(record.id),
            "--reviewer",
            "bob",
            "--identity-check",
            f"ID {ID_NUMBER}",
            "--evidence",
            "已还清",
            "--commitment",
            "承诺按期还款",
        ]
    )
    assert refused.exit_code == 1 and "identity_check: holds a resident ID number" in refused.output
    texts = " ".join(str(e.after) for e in session.scalars(sa.select(AuditEvent)))
    assert ID_NUMBER not in texts


def app_runner(client):
    return client.application.test_cli_runner()


def test_every_missing_text_of_a_counter_filing_is_reported_at_once(
    session, clock, seeded, person, bank
):
    from registry.audit import Actor, ActorKind
    from registry.errors import InvalidInput

    record = default_on(session, clock, bank, person)
    with pytest.raises(InvalidInput) as refused:
        objections.object_for_person(
            session,
            staff=Actor(ActorKind.STAFF, "counter-li"),
            person=person,
            item_kind="record",
            item_id=str(record.id),
            grounds=" ",
            statement=None,
            identity_check="",
            answer_days=20,
            at=clock.now(),
        )
    assert set(refused.value.errors) == {"grounds", "identity_check"}
