"""POST /api/v1/submissions end to end: validation, atomicity, idempotency, evidence, receipt."""

import base64
import copy
import dataclasses
import json
import logging

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ed25519

from registry.receipts import verify_signed_document
from registry.records import CreditRecord, CreditRecordVersion
from registry.subjects import Subject
from registry.submissions import Submission
from tests.signing import signed_member

ID_NUMBER = "11010519491231002X"

PENALTY = {
    "record_id": "PEN-2025-0001",
    "op": "upsert",
    "category": "administrative_penalty",
    "subject": {"kind": "enterprise", "uscc": "91110000600037341L", "name": "北京华信科技有限公司"},
    "polarity": "negative",
    "severity": "general",
    "decided_at": "2025-03-01",
    "authority": "北京市市场监督管理局",
    "document_number": "京市监罚〔2025〕12号",
    "legal_basis": "《中华人民共和国广告法》第五十五条",
    "summary": "发布虚假广告",
    "amount": {"value": "20000.00", "currency": "CNY"},
}
PAYMENT = {
    "record_id": "PAY-1",
    "op": "upsert",
    "category": "payment_experience",
    "subject": {"kind": "person", "id_number": ID_NUMBER, "name": "张三"},
    "polarity": "negative",
    "occurred_at": "2025-05-01",
    "due_date": "2025-05-01",
    "days_past_due": 30,
    "amount": {"value": "5000", "currency": "CNY"},
}
COMPLAINT = {
    "record_id": "CC-1",
    "op": "upsert",
    "category": "consumer_complaint",
    "subject": {"kind": "shop", "shop_id": "TH100001", "name": "华信数码旗舰店"},
    "polarity": "negative",
    "occurred_at": "2026-10-01",
    "summary": "发货延迟",
}


@pytest.fixture
def regulator(session, client, clock):
    return signed_member(session, client, clock, kind="regulator", roles=("regulator", "submitter"))


def submit(member, submission_id, records, **options):
    return member.post(
        "/api/v1/submissions", {"submission_id": submission_id, "records": records}, **options
    )


def count(session, model):
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def registry_public_key(client):
    jwks = client.get("/api/v1/registry/keys").get_json()
    (jwk,) = jwks["keys"]
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["alg"] == "EdDSA"
    raw = base64.urlsafe_b64decode(jwk["x"] + "==")
    return jwk["kid"], ed25519.Ed25519PublicKey.from_public_bytes(raw)


def test_accepted_submission_gets_a_verifiable_receipt(regulator, session, client):
    response = submit(regulator, "batch-1", [PENALTY, PAYMENT])
    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"] == "/api/v1/submissions/batch-1"
    body = response.get_json()
    receipt = body["receipt"]
    kid, public_key = registry_public_key(client)
    assert body["registry_key_id"] == kid
    assert verify_signed_document(receipt, body["receipt_signature"], public_key)
    tampered = copy.deepcopy(receipt)
    tampered["records"][0]["version"] = 2
    assert not verify_signed_document(tampered, body["receipt_signature"], public_key)

    assert receipt["member_id"] == str(regulator.member.id)
    assert receipt["submission_id"] == "batch-1"
    assert receipt["key_id"] == regulator.key.id
    assert receipt["body_digest"].startswith("sha-256=:")
    assert [(r["record_id"], r["version"], r["status"]) for r in receipt["records"]] == [
        ("PEN-2025-0001", 1, "created"),
        ("PAY-1", 1, "created"),
    ]
    record = session.get(
        CreditRecord, __import__("uuid").UUID(receipt["records"][0]["registry_id"])
    )
    assert record.document_number == "京市监罚〔2025〕12号"
    assert str(record.amount_value) == "20000.00"
    payment = session.scalar(
        sa.select(CreditRecord).where(CreditRecord.member_record_id == "PAY-1")
    )
    assert payment.details == {"due_date": "2025-05-01", "days_past_due": 30}


def test_evidence_keeps_the_exact_request_sealed(regulator, session, runtime):
    body = json.dumps(
        {"submission_id": "ev-1", "records": [PENALTY]}, ensure_ascii=False, indent=1
    ).encode()
    response = regulator.post("/api/v1/submissions", body)
    assert response.status_code == 201
    stored = session.scalar(sa.select(Submission).where(Submission.submission_id == "ev-1"))
    assert body not in stored.body
    assert runtime.evidence_cipher.open(stored.body) == body
    assert '"content-digest": sha-256=:' in stored.signature_base
    assert stored.signature_base.endswith(stored.signature_input.split("=", 1)[1])
    assert stored.key_id == regulator.key.id
    assert stored.record_count == 1


def test_person_id_number_is_never_echoed_or_logged(regulator, session, caplog):
    caplog.set_level(logging.DEBUG)
    response = submit(regulator, "p-1", [PAYMENT])
    assert response.status_code == 201
    assert ID_NUMBER not in response.get_data(as_text=True)
    person = session.scalar(sa.select(Subject).where(Subject.kind == "person"))
    assert person.id_number_masked == "1101**********002X"
    bad = {
        **PAYMENT,
        "record_id": "PAY-2",
        "subject": {**PAYMENT["subject"], "id_number": "11010519491231002Y"},
    }
    refused = submit(regulator, "p-2", [bad])
    assert refused.status_code == 422
    assert "11010519491231002Y" not in refused.get_data(as_text=True)
    assert ID_NUMBER not in caplog.text and "11010519491231002Y" not in caplog.text


def test_all_errors_of_all_records_at_once_and_nothing_stored(regulator, session):
    broken_penalty = {**PENALTY, "record_id": "PEN-2"}
    del broken_penalty["legal_basis"]
    broken_penalty["amount"] = {"value": "12.345", "currency": "cny"}
    broken_payment = {
        **PAYMENT,
        "record_id": "PAY-3",
        "days_past_due": -1,
        "decided_at": "2025-02-30",
        "surprise": True,
    }
    before = (count(session, Submission), count(session, Subject), count(session, CreditRecord))
    response = submit(
        regulator,
        "bad-1",
        [PENALTY, broken_penalty, broken_payment, {"op": "upsert", "category": "gossip"}],
    )
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["type"] == "/problems/validation-failed"
    fields = {e["field"] for e in problem["errors"]}
    assert {
        "records.1.legal_basis",
        "records.1.amount.value",
        "records.1.amount.currency",
        "records.2.days_past_due",
        "records.2.decided_at",
        "records.2.surprise",
        "records.3.category",
        "records.3.record_id",
        "records.3.subject",
        "records.3.polarity",
    } <= fields
    assert not any(f.startswith("records.0") for f in fields)
    after = (count(session, Submission), count(session, Subject), count(session, CreditRecord))
    assert after == before


TAX = {
    "record_id": "TAX-1",
    "op": "upsert",
    "category": "tax_arrears",
    "subject": {"kind": "person", "id_number": ID_NUMBER, "name": "张三"},
    "polarity": "negative",
    "authority": "国家税务总局北京市税务局",
    "occurred_at": "2026-03-31",
    "amount": {"value": "8600.00", "currency": "CNY"},
}


def test_a_persons_tax_amount_needs_the_reference_of_their_written_consent(regulator, session):
    company_tax = {**TAX, "record_id": "TAX-2", "subject": PENALTY["subject"]}
    before = count(session, CreditRecord)
    refused = submit(regulator, "tax-1", [company_tax, TAX])
    assert refused.status_code == 422
    errors = {e["field"]: e["message"] for e in refused.get_json()["errors"]}
    assert list(errors) == ["records.1.consent_reference"]  # the company's amount needs none
    assert "written consent" in errors["records.1.consent_reference"]
    assert count(session, CreditRecord) == before
    consented = {**TAX, "consent_reference": "授权书 2026-0031"}
    accepted = submit(regulator, "tax-3", [company_tax, consented])
    assert accepted.status_code == 201, accepted.get_json()
    stored = session.scalar(sa.select(CreditRecord).where(CreditRecord.member_record_id == "TAX-1"))
    assert stored.details["consent_reference"] == "授权书 2026-0031"


def test_the_categories_that_need_consent_are_configuration(regulator, runtime):
    runtime.settings = dataclasses.replace(
        runtime.settings,
        data={**runtime.settings.data, "PERSON_AMOUNT_CONSENT_CATEGORIES": ("loan_default",)},
    )
    loan = {
        **TAX,
        "record_id": "LOAN-1",
        "category": "loan_default",
        "authority": "示范银行",
    }
    refused = submit(regulator, "loan-1", [loan])
    assert refused.status_code == 422
    assert [e["field"] for e in refused.get_json()["errors"]] == ["records.0.consent_reference"]
    assert submit(regulator, "tax-4", [TAX]).status_code == 201


def test_identifier_checksums_are_reported_with_the_schema_errors(regulator, session):
    """One answer lists every error: a bad check character is not held back until the
    other records' field errors are fixed, nor an envelope error hide the records'."""
    bad_uscc = {
        **PENALTY,
        "record_id": "PEN-9",
        "subject": {**PENALTY["subject"], "uscc": PENALTY["subject"]["uscc"][:-1] + "0"},
    }
    missing_basis = {**PENALTY, "record_id": "PEN-8"}
    del missing_basis["legal_basis"]
    person = {
        **PENALTY,
        "record_id": "PEN-7",
        "subject": {"kind": "person", "id_number": "110105194912310021", "name": "张三"},
    }
    response = regulator.post(
        "/api/v1/submissions", {"records": [missing_basis, bad_uscc, person, PENALTY]}
    )
    assert response.status_code == 422
    fields = [e["field"] for e in response.get_json()["errors"]]
    assert sorted(fields) == [
        "records.0.legal_basis",
        "records.1.subject.uscc",
        "records.2.subject.id_number",
        "submission_id",
    ]
    assert "110105194912310021" not in response.get_data(as_text=True)
    assert count(session, Submission) == 0


def test_domain_refusals_are_listed_by_index_and_roll_everything_back(regulator, session):
    assert submit(regulator, "first", [PENALTY]).status_code == 201
    correction_without_reason = {**PENALTY, "severity": "serious"}
    unknown_revocation = {"record_id": "NOPE", "op": "revoke", "reason": "wrong"}
    new_record = {
        **PENALTY,
        "record_id": "PEN-NEW",
        "subject": {**PENALTY["subject"], "uscc": "91310115MA1K3BTP2B"},
    }
    response = submit(
        regulator, "second", [new_record, correction_without_reason, unknown_revocation]
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.get_json()["errors"]}
    assert fields == {"records.1.reason", "records.2._record"}
    assert session.scalar(sa.select(Subject).where(Subject.uscc == "91310115MA1K3BTP2B")) is None
    assert session.scalar(sa.select(Submission).where(Submission.submission_id == "second")) is None


def test_correction_and_revocation_keep_history(regulator, session):
    submit(regulator, "c-1", [PENALTY])
    corrected = {**PENALTY, "severity": "serious", "reason": "reassessed on appeal"}
    receipt = submit(regulator, "c-2", [corrected]).get_json()["receipt"]
    assert receipt["records"][0]["status"] == "corrected"
    assert receipt["records"][0]["version"] == 2
    revoke = {"record_id": PENALTY["record_id"], "op": "revoke", "reason": "decision annulled"}
    receipt = submit(regulator, "c-3", [revoke]).get_json()["receipt"]
    assert receipt["records"][0]["status"] == "revoked"
    record = session.scalar(
        sa.select(CreditRecord).where(CreditRecord.member_record_id == PENALTY["record_id"])
    )
    ops = session.scalars(
        sa.select(CreditRecordVersion.op)
        .where(CreditRecordVersion.record_id == record.id)
        .order_by(CreditRecordVersion.version)
    ).all()
    assert ops == ["create", "correct", "revoke"]


def test_one_submission_mixing_new_and_known_subjects_creations_and_changes(regulator, session):
    """The set-wise intake path: lookups for the whole submission, then one write per table."""
    from registry.audit import AuditEvent
    from registry.subjects import SubjectName

    submit(regulator, "mix-0", [PENALTY, {**PENALTY, "record_id": "PEN-OLD-2"}])
    new_uscc = "91310115MA1K3BTP2B"
    second_penalty = {
        **PENALTY,
        "record_id": "PEN-NEW-2",
        "subject": {"kind": "enterprise", "uscc": new_uscc, "name": "上海示范有限公司"},
    }
    records = [
        {**second_penalty, "record_id": "PEN-NEW-1"},  # a new subject...
        second_penalty,  # ...named again by the next record
        {**PENALTY, "record_id": "PEN-KNOWN-3"},  # a subject already known
        PAYMENT,  # a person: other identifier columns
        {**PENALTY, "severity": "serious", "reason": "reassessed"},  # a correction
        {"record_id": "PEN-OLD-2", "op": "revoke", "reason": "annulled"},
    ]
    events_before = count(session, AuditEvent)
    response = submit(regulator, "mix-1", records)
    assert response.status_code == 201, response.get_json()
    statuses = [r["status"] for r in response.get_json()["receipt"]["records"]]
    assert statuses == ["created", "created", "created", "created", "corrected", "revoked"]
    receipt = response.get_json()["receipt"]["records"]
    assert receipt[0]["subject_id"] == receipt[1]["subject_id"] != receipt[2]["subject_id"]

    new_subjects = session.scalars(sa.select(Subject).where(Subject.uscc == new_uscc)).all()
    assert len(new_subjects) == 1
    names = session.scalars(
        sa.select(SubjectName.name).where(SubjectName.subject_id == new_subjects[0].id)
    ).all()
    assert names == ["上海示范有限公司"]
    versions = session.scalars(
        sa.select(CreditRecordVersion.op).where(
            CreditRecordVersion.submission_id
            == sa.select(Submission.id).where(Submission.submission_id == "mix-1").scalar_subquery()
        )
    ).all()
    assert sorted(versions) == ["correct", "create", "create", "create", "create", "revoke"]
    # The correction's and the revocation's events, and the submission's, which stands for
    # the four new records (their versions name it) and lists the two new subjects (the
    # enterprise and the person).
    assert count(session, AuditEvent) - events_before == 2 + 1
    accepted = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "submission.accepted")
    ).all()
    (event,) = [e for e in accepted if e.after["submission_id"] == "mix-1"]
    assert sorted(event.after["registered_subjects"]) == sorted(
        {receipt[0]["subject_id"], receipt[3]["subject_id"]}
    )


def test_a_member_cannot_touch_another_members_record(regulator, session, client, clock):
    submit(regulator, "own-1", [PENALTY])
    other = signed_member(session, client, clock)
    revoke = {"record_id": PENALTY["record_id"], "op": "revoke", "reason": "not mine"}
    response = submit(other, "theirs-1", [revoke])
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "records.0._record"
    record = session.scalar(
        sa.select(CreditRecord).where(CreditRecord.member_record_id == PENALTY["record_id"])
    )
    assert record.status == "active"
    # Nor read its receipt: submission ids are per member.
    assert other.get("/api/v1/submissions/own-1").status_code == 404


def test_same_submission_id_same_body_returns_the_first_receipt(regulator, session):
    body = json.dumps({"submission_id": "idem-1", "records": [PENALTY]}).encode()
    first = regulator.post("/api/v1/submissions", body)
    assert first.status_code == 201
    again = regulator.post("/api/v1/submissions", body)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert count(session, Submission) == 1
    fetched = regulator.get("/api/v1/submissions/idem-1")
    assert fetched.get_json() == first.get_json()


def test_same_submission_id_different_body_is_a_conflict(regulator, session):
    assert submit(regulator, "idem-2", [PENALTY]).status_code == 201
    response = submit(regulator, "idem-2", [{**PENALTY, "summary": "changed"}])
    assert response.status_code == 409
    assert response.get_json()["type"] == "/problems/conflict"
    assert count(session, Submission) == 1


def test_ndjson_with_a_header_line(regulator, session):
    lines = [{"submission_id": "nd-1"}, PENALTY, PAYMENT]
    body = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode() + b"\n"
    response = regulator.post("/api/v1/submissions", body, content_type="application/x-ndjson")
    assert response.status_code == 201, response.get_json()
    assert len(response.get_json()["receipt"]["records"]) == 2


def test_malformed_bodies_and_media_types(regulator):
    response = regulator.post("/api/v1/submissions", b'{"submission_id": "x", ')
    assert response.status_code == 400
    assert response.get_json()["type"] == "/problems/malformed-body"
    response = regulator.post("/api/v1/submissions", b"{}", content_type="text/plain")
    assert response.status_code == 415
    response = regulator.post("/api/v1/submissions", b'{"submission_id": "x", "records": [NaN]}')
    assert response.status_code == 400
    response = regulator.post("/api/v1/submissions", b"[]")
    assert response.status_code == 422


def test_too_many_records(database_url, migrated_engine, make_app, clock):
    from registry.db import db

    app = make_app(database_url, SUBMISSION_MAX_RECORDS=2)
    connection = migrated_engine.connect()
    outer = connection.begin()
    db.bind_to(app, connection)
    try:
        with app.app_context():
            member = signed_member(
                db.session,
                app.test_client(),
                clock,
                kind="regulator",
                roles=("regulator", "submitter"),
            )
            records = [{**PENALTY, "record_id": f"R{i}"} for i in range(3)]
            response = submit(member, "big", records)
            assert response.status_code == 422
            assert response.get_json()["errors"] == [
                {"field": "records", "message": "at most 2 records per submission"}
            ]
    finally:
        outer.rollback()
        connection.close()


def test_shop_subjects_default_to_the_submitting_platform(session, client, clock):
    platform = signed_member(
        session, client, clock, kind="marketplace", roles=("platform", "submitter")
    )
    response = submit(platform, "shop-1", [COMPLAINT])
    assert response.status_code == 201, response.get_json()
    shop = session.scalar(sa.select(Subject).where(Subject.kind == "shop"))
    assert shop.platform_member_id == platform.member.id and shop.shop_id == "TH100001"


def test_only_the_platform_registers_its_shops(session, client, clock, regulator):
    taobao = signed_member(
        session, client, clock, kind="marketplace", roles=("platform", "submitter")
    )
    taobao.member.platform_code = "taobao"
    jd = signed_member(session, client, clock, kind="marketplace", roles=("platform", "submitter"))
    session.commit()
    shop = {
        "kind": "shop",
        "shop_id": "TH100002",
        "platform": str(taobao.member.id),
        "operator_uscc": "91110000600037341L",
        "name": "华信数码旗舰店",
    }
    complaint = {**COMPLAINT, "record_id": "CC-2", "subject": shop}
    # Neither a member without the platform role nor another platform invents a shop on it.
    for outsider, submission_id in ((regulator, "invented-1"), (jd, "invented-2")):
        refused = submit(outsider, submission_id, [complaint])
        assert refused.status_code == 422, refused.get_json()
        assert [e["field"] for e in refused.get_json()["errors"]] == ["records.0.subject.platform"]
    assert count(session, Subject) == 0
    assert client.get("/sellers/taobao/TH100002").status_code == 404

    assert submit(taobao, "own-shop", [complaint]).status_code == 201
    # Once the platform has it, others may report on the shop.
    about_it = {**complaint, "record_id": "CC-3"}
    assert submit(regulator, "about-shop", [about_it]).status_code == 201
    assert count(session, Subject) == 1


def test_a_correction_takes_its_locks_in_the_order_the_jobs_take_them(
    regulator, session, query_counter
):
    # The retention and rating jobs hold records, then subjects in id order, then the
    # chain head. A submission that held the chain head while waiting for a record (or
    # updated subjects in whatever order a scan found them) deadlocked with them under load.
    subject = {"kind": "enterprise", "uscc": "91310115MA1K3BTP2B", "name": "上海示范有限公司"}
    other = {**PENALTY, "record_id": "PEN-2", "subject": subject}
    assert submit(regulator, "first", [PENALTY, other]).status_code == 201
    changed = [{**r, "summary": "更正后的事由", "reason": "更正"} for r in (PENALTY, other)]
    query_counter.clear()
    assert submit(regulator, "correction", changed).status_code == 201
    order = [s.split(maxsplit=3)[:3] for s in query_counter]
    first = {
        what: next(i for i, words in enumerate(order) if words[: len(what)] == list(what))
        for what in (
            ("UPDATE", "credit_records"),
            ("UPDATE", "subjects"),
            ("UPDATE", "chain_heads"),
        )
    }
    assert first["UPDATE", "credit_records"] < first["UPDATE", "subjects"]
    assert first["UPDATE", "subjects"] < first["UPDATE", "chain_heads"]
    if session.get_bind().dialect.name == "postgresql":
        locks = [
            s for s in query_counter if s.startswith("SELECT subjects.id") and "FOR UPDATE" in s
        ]
        assert len(locks) == 1 and "ORDER BY subjects.id" in locks[0]
        assert query_counter.index(locks[0]) < first["UPDATE", "subjects"]


def test_a_submission_acts_for_its_member_without_loading_it(regulator, session, query_counter):
    # The claim of the signature's nonce read the member's status and roles: the intake
    # needs nothing more of it, and a signed write pays no statement to load it.
    assert submit(regulator, "first", [PENALTY]).status_code == 201
    session.expire_all()  # as a new request's session: the member not at hand
    query_counter.clear()
    assert submit(regulator, "second", [{**PENALTY, "record_id": "PEN-2"}]).status_code == 201
    assert not [s for s in query_counter if "FROM members" in s]
