"""Credit repair of an administrative penalty's publication over the signed API, and staff
filing for a person with `creditreg listings apply-repair`."""
# ruff: noqa: F811 - test_listings' regulator and reviewers fixtures are imported, used by name

import json
from datetime import date

import sqlalchemy as sa

from registry.audit import AuditEvent
from registry.records import upsert_record
from registry.subjects import register_subject
from tests.api.test_listings import (  # noqa: F401 - the fixtures are used by name
    SUBJECT,
    cli,
    regulator,
    reviewers,
    the_subjects_member,
)
from tests.factories import TEST_ACTOR
from tests.signing import signed_member

APPLICATION = {"correction_evidence": "罚款已缴清", "credit_commitment": "本企业承诺依法诚信经营"}


def fined(session, runtime, clock, authority, subject_fields, decided_at, key="P"):
    subject = register_subject(session, actor=TEST_ACTOR, vault=runtime.vault, **subject_fields)
    record, _ = upsert_record(
        session,
        actor=TEST_ACTOR,
        member=authority.member,
        subject=subject,
        member_record_id=key,
        fields={
            "category": "administrative_penalty",
            "polarity": "negative",
            "severity": "general",
            "authority": "北京市市场监督管理局",
            "document_number": "京市监罚〔2026〕9号",
            "decided_at": decided_at,
            "summary": "发布虚假广告",
        },
        now=clock.now(),
    )
    session.commit()
    return record


def test_the_company_ends_its_penalty_s_publication_early_through_repair(
    app,
    session,
    runtime,
    client,
    clock,
    regulator,
    reviewers,
):
    # Today is 2026-11-25: a general penalty of 2026-08-26 has been published three months
    # tomorrow, of 2026-08-25 today.
    record = fined(session, runtime, clock, regulator, SUBJECT, date(2026, 8, 26))
    path = f"/api/v1/records/{record.id}/repairs"
    company = the_subjects_member(session, client, clock)
    too_early = company.post(path, APPLICATION)
    assert too_early.status_code == 409
    assert too_early.get_json()["repair_from"] == "2026-11-26"
    competitor = signed_member(session, client, clock, roles=("querier",))
    assert competitor.post(path, APPLICATION).status_code == 403
    incomplete = company.post(path, {"correction_evidence": "已整改"})
    assert incomplete.status_code == 422

    record.decided_at = date(2026, 8, 25)
    session.commit()
    filed = company.post(path, APPLICATION)
    assert filed.status_code == 201, filed.get_json()
    application = filed.get_json()
    assert (application["record_id"], application["entry_id"]) == (str(record.id), None)
    assert application["acknowledge_by"] == "2026-12-09"  # ten working days
    code, output = cli(app, "acknowledge-repair", application["id"], "--reviewer", "rev-bob")
    assert code == 0, output
    decision = f"/api/v1/repairs/{application['id']}/decision"
    other_regulator = signed_member(session, client, clock, kind="regulator", roles=("regulator",))
    assert other_regulator.post(decision, {"grant": True, "reason": "整改到位"}).status_code == 403
    public_page = f"/subjects/{record.subject_id}"
    assert "京市监罚〔2026〕9号" in client.get(public_page).get_data(as_text=True)
    granted = regulator.post(decision, {"grant": True, "reason": "整改到位"})
    assert granted.status_code == 200 and granted.get_json()["status"] == "granted"
    assert "京市监罚〔2026〕9号" not in client.get(public_page).get_data(as_text=True)
    # Members still see the penalty, marked as no longer published.
    view = company.get(f"/api/v1/subjects/{record.subject_id}?purpose=credit_assessment").get_json()
    assert "penalty_publication" in view, view
    assert view["penalty_publication"]["publication_ended"] == 1


def test_staff_file_for_a_person_with_the_identity_check_and_only_for_a_person(
    app,
    session,
    runtime,
    clock,
    regulator,
    reviewers,
):
    person = {"kind": "person", "name": "张三", "id_number": "11010519491231002X"}
    record = fined(session, runtime, clock, regulator, person, date(2026, 1, 5))
    company_record = fined(session, runtime, clock, regulator, SUBJECT, date(2026, 1, 5), "C")
    common = ["--reviewer", "rev-alice", "--evidence", "罚款已缴清", "--commitment", "承诺守法"]
    code, output = cli(
        app, "apply-repair", "--record", str(company_record.id), "--identity-check", "身份证原件",
        *common,
    )  # fmt: skip
    assert code == 1 and "only for a person" in output
    checked = "身份证原件核验，本人到场"
    code, output = cli(
        app, "apply-repair", "--record", str(record.id), "--identity-check", checked, *common
    )
    assert code == 0, output
    assert json.loads(output)["record_id"] == str(record.id)
    event = session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == "repair.filed", AuditEvent.object_id == str(record.id)
        )
    )
    assert event.actor_kind == "staff"
    assert event.after["identity_check"] == checked
    code, output = cli(app, "apply-repair", "--reviewer", "rev-alice", *common[2:],
                       "--identity-check", "x")  # fmt: skip
    assert code != 0 and "--entry or --record" in output
