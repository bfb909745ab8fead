"""Objections (异议) end to end: members and the subject's representative through the signed
API, the deadline job under a test clock, reviewers through `creditreg objections`; the
dispute mark on the subject's page, in its search document and in screening."""

import json
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import current_app

from registry import ratings
from registry.audit import Actor, ActorKind, AuditEvent
from registry.notifications import Notification
from registry.objections import Objection, disputed_items, escalate_due
from registry.ratings import SubjectRating
from registry.records import CreditRecord
from registry.scorecard import load_scorecard
from registry.staff import add_staff_user
from registry.worker import default_jobs
from search.sync import drain_once
from tests.api.test_listings import approve_all, propose, tick
from tests.api.test_openapi import conforms
from tests.api.test_submissions import COMPLAINT, PENALTY, submit
from tests.factories import TEST_ACTOR
from tests.signing import signed_member

USCC = PENALTY["subject"]["uscc"]
OTHER = "91310115MA1K3BTP2B"


@pytest.fixture
def submitter(session, client, clock):
    return signed_member(session, client, clock, roles=("submitter", "querier"))


@pytest.fixture
def objector(session, client, clock):
    return signed_member(session, client, clock, roles=("querier",))


@pytest.fixture
def subject_rep(session, client, clock):
    """The member that is the subject itself (same USCC), as the subject's channel."""
    member = signed_member(session, client, clock, kind="enterprise", roles=("querier",))
    member.member.uscc = USCC
    session.commit()
    return member


@pytest.fixture
def reviewer(session, runtime):
    add_staff_user(
        session,
        actor=TEST_ACTOR,
        passwords=runtime.passwords,
        username="rev-carol",
        password="a long enough password",
        roles=["reviewer"],
    )
    session.commit()
    return "rev-carol"


@pytest.fixture
def record(submitter, objector):
    """A record, whose subject the objector has looked up (its interest, in the query log)."""
    response = submit(submitter, "obj-1", [PENALTY])
    assert response.status_code == 201, response.get_json()
    item = response.get_json()["receipt"]["records"][0]
    subject_page(objector, item["subject_id"])
    return item


@pytest.fixture
def document(client):
    return client.get("/api/openapi.json").get_json()


def object_to(member, item_id, item_kind="record", **extra):
    body = {"item_kind": item_kind, "item_id": item_id, "grounds": "罚款已撤销", **extra}
    return member.post("/api/v1/objections", body)


def subject_page(member, subject_id):
    response = member.get(f"/api/v1/subjects/{subject_id}?purpose=counterparty_check")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def indexed(session, clock, subject_id):
    backend = current_app.extensions["creditreg.search"]
    while drain_once(session, backend, clock.now()):
        pass
    return backend.get(subject_id, session=session)


def notices(session, topic):
    return session.scalars(sa.select(Notification).where(Notification.topic == topic)).all()


def cli(app, *args):
    result = app.test_cli_runner().invoke(args=["objections", *args])
    return result.exit_code, result.output


def problem_type(response):
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)
    return response.get_json()["type"]


# --- a record ---------------------------------------------------------------------------------


def test_record_is_disputed_at_once_and_upheld_with_a_reason(
    session, client, clock, submitter, objector, subject_rep, record, document
):
    filed = object_to(subject_rep, record["registry_id"], statement="该处罚已被行政复议撤销")
    assert filed.status_code == 201, filed.get_json()
    objection = filed.get_json()
    assert conforms(document, "ObjectionFiled", objection) == []
    assert objection["delegated_to"] is None
    assert objection["status"] == "open" and objection["for_subject"] is True
    assert objection["due_at"] == "2026-12-15T08:00:00Z"  # 25 Nov 08:00 + 20 days
    assert filed.headers["Location"] == f"/api/v1/objections/{objection['id']}"

    # Disputed everywhere at once: the subject's page (with the statement) and its document.
    page = subject_page(objector, record["subject_id"])
    assert page["disputed"] == [
        {
            "item_kind": "record",
            "item_id": record["registry_id"],
            "since": "2026-11-25T08:00:00Z",
            "status": "open",
            "statement": "该处罚已被行政复议撤销",
        }
    ]
    assert conforms(document, "Subject", page) == []
    assert indexed(session, clock, record["subject_id"])["disputed"] == 1
    query = f"/api/v1/subjects?q={USCC}&purpose=counterparty_check"
    hits = objector.get(query).get_json()
    assert hits["hits"][0]["disputed"] == 1
    screened = objector.post(
        "/api/v1/screening", {"purpose": "compliance_screening", "rows": [{"uscc": USCC}]}
    ).get_json()
    assert screened["rows"][0]["matches"][0]["disputed"] == 1

    # The submitter is told, and only it may answer.
    (filed_notice,) = notices(session, "objection.filed")
    assert filed_notice.object_id == objection["id"]
    assert "2026-12-15" in filed_notice.body
    inbox = submitter.get("/api/v1/objections").get_json()["objections"]
    assert [o["id"] for o in inbox] == [objection["id"]]
    path = f"/api/v1/objections/{objection['id']}/answer"
    by_other = objector.post(path, {"outcome": "upheld", "reason": "x"})
    assert by_other.status_code == 404  # a stranger to the objection does not see it
    by_subject = subject_rep.post(path, {"outcome": "upheld", "reason": "x"})
    assert by_subject.status_code == 403 and problem_type(by_subject) == "/problems/forbidden"

    # Every field error at once; an upheld answer needs its reason.
    refused = submitter.post(path, {"outcome": "kept", "reason": ""})
    assert refused.status_code == 422
    assert {e["field"] for e in refused.get_json()["errors"]} == {"outcome", "reason"}
    blank = submitter.post(path, {"outcome": "upheld", "reason": "   "})
    assert blank.status_code == 422
    assert blank.get_json()["errors"] == [
        {"field": "reason", "message": "an upheld item needs a written reason"}
    ]

    clock.advance(timedelta(days=3))
    answered = submitter.post(path, {"outcome": "upheld", "reason": "复议维持原处罚决定"})
    assert answered.status_code == 200, answered.get_json()
    view = answered.get_json()
    assert conforms(document, "GeneralObjection", view) == []
    assert (view["status"], view["outcome"], view["answered_late"]) == ("answered", "upheld", False)
    assert notices(session, "objection.answered")[0].object_id == objection["id"]
    # No longer disputed; the subject's statement stays beside the record that stands.
    page = subject_page(objector, record["subject_id"])
    assert page["disputed"] == []
    assert [s["statement"] for s in page["statements"]] == ["该处罚已被行政复议撤销"]
    assert indexed(session, clock, record["subject_id"])["disputed"] == 0
    # Answered once.
    again = submitter.post(path, {"outcome": "upheld", "reason": "again"})
    assert again.status_code == 409 and problem_type(again) == "/problems/objection-state"
    actions = session.scalars(
        sa.select(AuditEvent.action)
        .where(AuditEvent.object_id == objection["id"])
        .order_by(AuditEvent.chain_seq)
    ).all()
    assert actions == ["objection.filed", "objection.answered"]


def test_revoked_answer_revokes_the_record(session, submitter, objector, record):
    objection = object_to(objector, record["registry_id"]).get_json()
    assert objection["for_subject"] is False
    response = submitter.post(
        f"/api/v1/objections/{objection['id']}/answer",
        {"outcome": "revoked", "reason": "录入错误"},
    )
    assert response.status_code == 200, response.get_json()
    row = session.get(CreditRecord, uuid.UUID(record["registry_id"]))
    session.refresh(row)
    assert row.status == "revoked" and row.version == 2
    assert row.versions[-1].op == "revoke"
    assert "录入错误" in row.versions[-1].reason
    # A revoked record can no longer be objected to.
    again = object_to(objector, record["registry_id"])
    assert again.status_code == 409 and problem_type(again) == "/problems/objection-state"


def test_corrected_needs_a_correction_sent_after_the_objection(
    session, clock, submitter, objector, subject_rep, record
):
    objection = object_to(objector, record["registry_id"]).get_json()
    path = f"/api/v1/objections/{objection['id']}/answer"
    early = submitter.post(path, {"outcome": "corrected", "reason": "已更正金额"})
    assert early.status_code == 409
    assert problem_type(early) == "/problems/correction-missing"
    assert early.get_json()["version_at_objection"] == 1

    clock.advance(timedelta(hours=2))
    corrected = {**PENALTY, "amount": {"value": "2000.00", "currency": "CNY"}, "reason": "金额"}
    assert submit(submitter, "obj-2", [corrected]).status_code == 201
    # Still disputed until answered.
    assert object_to(objector, record["registry_id"]).status_code == 409
    done = submitter.post(path, {"outcome": "corrected", "reason": "已更正金额"})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["outcome"] == "corrected"
    assert session.get(CreditRecord, uuid.UUID(record["registry_id"])).version == 2
    # A statement no longer applies to the corrected item.
    late = subject_rep.post(f"/api/v1/objections/{objection['id']}/statement", {"statement": "s"})
    assert late.status_code == 409 and late.get_json()["outcome"] == "corrected"


def test_who_may_object_and_what(session, submitter, objector, subject_rep, record):
    own = object_to(submitter, record["registry_id"])
    assert own.status_code == 403  # the submitter corrects its own record directly
    statement = object_to(objector, record["registry_id"], statement="not the subject")
    assert statement.status_code == 403  # only the subject's side adds a statement
    missing = object_to(objector, "3f1c2a4e-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    invalid = objector.post("/api/v1/objections", {"item_kind": "car", "item_id": "x"})
    assert invalid.status_code == 422
    assert {e["field"] for e in invalid.get_json()["errors"]} == {"item_kind", "item_id", "grounds"}
    first = object_to(objector, record["registry_id"])
    assert first.status_code == 201
    second = object_to(subject_rep, record["registry_id"])
    assert second.status_code == 409 and problem_type(second) == "/problems/already-disputed"
    assert session.scalar(sa.select(sa.func.count()).select_from(Objection)) == 1


def test_only_the_subjects_side_or_a_member_that_looked_it_up_objects(
    session, client, clock, submitter, objector, record
):
    stranger = signed_member(session, client, clock, roles=("querier",))
    refused = object_to(stranger, record["registry_id"])
    assert refused.status_code == 403
    assert problem_type(refused) == "/problems/objection-not-allowed"
    assert record["subject_id"] not in refused.get_data(as_text=True)
    assert str(submitter.member.id) not in refused.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(Objection)) == 0
    assert subject_page(objector, record["subject_id"])["disputed"] == []
    # A lookup that showed the subject is the interest the query log records.
    indexed(session, clock, record["subject_id"])
    hits = stranger.get(f"/api/v1/subjects?q={USCC}&purpose=counterparty_check").get_json()
    assert [hit["id"] for hit in hits["hits"]] == [record["subject_id"]]
    assert object_to(stranger, record["registry_id"]).status_code == 201


def test_a_shops_platform_and_operator_object_for_it_without_a_lookup(
    session, client, clock, submitter
):
    platform = signed_member(
        session, client, clock, kind="marketplace", roles=("platform", "submitter")
    )
    operator = signed_member(session, client, clock, kind="enterprise", roles=("querier",))
    operator.member.uscc = OTHER
    session.commit()
    shop = {**COMPLAINT["subject"], "shop_id": "TH100003", "operator_uscc": OTHER}
    assert submit(platform, "shop-1", [{**COMPLAINT, "subject": shop}]).status_code == 201
    # A record of another member about the shop, whose objection the seller's side files.
    shop["platform"] = str(platform.member.id)
    response = submit(submitter, "shop-2", [{**COMPLAINT, "record_id": "CC-2", "subject": shop}])
    assert response.status_code == 201, response.get_json()
    [record] = response.get_json()["receipt"]["records"]
    by_operator = object_to(operator, record["registry_id"], statement="已与买家协商退款")
    assert by_operator.status_code == 201, by_operator.get_json()
    assert by_operator.get_json()["for_subject"] is True
    answered = submitter.post(
        f"/api/v1/objections/{by_operator.get_json()['id']}/answer",
        {"outcome": "upheld", "reason": "投诉属实"},
    )
    assert answered.status_code == 200, answered.get_json()
    by_platform = object_to(platform, record["registry_id"])
    assert by_platform.status_code == 201, by_platform.get_json()
    assert by_platform.get_json()["for_subject"] is False  # the platform is not the seller


def test_the_subject_adds_its_statement_later(session, submitter, objector, subject_rep, record):
    objection = object_to(objector, record["registry_id"]).get_json()
    path = f"/api/v1/objections/{objection['id']}/statement"
    assert objector.post(path, {"statement": "我不是主体"}).status_code == 403
    assert submitter.post(path, {"statement": "我不是主体"}).status_code == 403
    added = subject_rep.post(path, {"statement": "已全额缴纳罚款"})
    assert added.status_code == 200, added.get_json()
    page = subject_page(objector, record["subject_id"])
    assert page["disputed"][0]["statement"] == "已全额缴纳罚款"
    # All three parties see it; a stranger does not.
    for party in (objector, submitter, subject_rep):
        assert party.get(f"/api/v1/objections/{objection['id']}").status_code == 200


# --- the deadline -----------------------------------------------------------------------------


def test_escalated_exactly_after_twenty_days_and_decided_by_a_reviewer(
    app, session, clock, submitter, objector, reviewer, record
):
    objection = object_to(objector, record["registry_id"]).get_json()
    job = next(j for j in default_jobs() if j.name == "objection-deadlines")

    clock.advance(timedelta(days=20))  # due now: still the member's to answer
    assert job.run(session, clock.now()) == 0
    session.commit()
    clock.advance(timedelta(seconds=1))
    assert job.run(session, clock.now()) == 1
    session.commit()
    assert escalate_due(session, clock.now()) == 0  # idempotent
    row = session.get(Objection, uuid.UUID(objection["id"]))
    assert row.status == "escalated" and row.escalated_at == clock.now()
    assert notices(session, "objection.escalated")[0].object_id == objection["id"]
    # Still disputed while the reviewers decide; the member can no longer answer.
    assert subject_page(objector, record["subject_id"])["disputed"][0]["status"] == "escalated"
    late = submitter.post(
        f"/api/v1/objections/{objection['id']}/answer", {"outcome": "upheld", "reason": "x"}
    )
    assert late.status_code == 409 and late.get_json()["current_status"] == "escalated"

    code, output = cli(app, "queue")
    assert code == 0, output
    assert [o["id"] for o in json.loads(output)] == [objection["id"]]
    code, output = cli(
        app, "decide", objection["id"], "--reviewer", reviewer, "--outcome", "corrected",
        "--reason", "未见更正",
    )  # fmt: skip
    assert code == 1 and "no corrected version" in output
    code, output = cli(
        app, "decide", objection["id"], "--reviewer", reviewer, "--outcome", "revoked",
        "--reason", "报送机构逾期未答复且无法核实",
    )  # fmt: skip
    assert code == 0, output
    decided = json.loads(output)
    assert (decided["status"], decided["outcome"]) == ("decided", "revoked")
    session.expire_all()
    assert session.get(CreditRecord, uuid.UUID(record["registry_id"])).status == "revoked"
    assert json.loads(cli(app, "queue")[1]) == []
    assert notices(session, "objection.decided")[0].object_id == objection["id"]
    actions = session.scalars(
        sa.select(AuditEvent.action)
        .where(AuditEvent.object_id == objection["id"])
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["objection.filed", "objection.escalated", "objection.decided"]


def test_only_a_reviewer_decides_and_only_escalated_ones(app, objector, record, reviewer):
    objection = object_to(objector, record["registry_id"]).get_json()
    code, output = cli(
        app, "decide", objection["id"], "--reviewer", reviewer, "--outcome", "upheld",
        "--reason", "r",
    )  # fmt: skip
    assert code == 1 and "escalated" in output
    code, output = cli(
        app, "decide", objection["id"], "--reviewer", "nobody", "--outcome", "upheld",
        "--reason", "r",
    )  # fmt: skip
    assert code != 0 and "not an active reviewer" in output


# --- a published list entry -------------------------------------------------------------------


@pytest.fixture
def regulator(session, client, clock):
    return signed_member(session, client, clock, kind="regulator", roles=("regulator",))


@pytest.fixture
def list_reviewers(session, runtime):
    for name in ("rev-alice", "rev-bob"):
        add_staff_user(
            session,
            actor=TEST_ACTOR,
            passwords=runtime.passwords,
            username=name,
            password="a long enough password",
            roles=["reviewer"],
        )
    session.commit()
    return ("rev-alice", "rev-bob")


def test_list_entry_in_notice_goes_to_the_notice_objection_then_published_one_is_revoked(
    app, session, client, clock, regulator, list_reviewers, objector, subject_rep
):
    entry = propose(regulator).get_json()
    approve_all(app, entry["id"], list_reviewers)
    # The subject's member reads its notices: the notice is served, the window opens.
    (served,) = subject_rep.get("/api/v1/notices").get_json()["notices"]
    assert served["id"] == entry["id"] and served["notice"]["channel"] == "member"
    # In the notice window: the objection that suspends publication.
    notice = object_to(subject_rep, entry["id"], "list_entry")
    assert notice.status_code == 201, notice.get_json()
    assert notice.get_json()["delegated_to"] == "notice_objection"
    assert session.scalar(sa.select(sa.func.count()).select_from(Objection)) == 0
    notice_id = notice.get_json()["objection"]["id"]
    # Its filer follows it: in its objections, and on the entry, which the subject may read.
    mine = subject_rep.get("/api/v1/objections?role=filer").get_json()
    assert [(o["id"], o["entry_id"], o["entry_state"]) for o in mine["notice_objections"]] == [
        (notice_id, entry["id"], "notice")
    ]
    seen = subject_rep.get(f"/api/v1/listings/{entry['id']}")
    assert seen.status_code == 200, seen.get_json()
    assert [o["id"] for o in seen.get_json()["objections"]] == [notice_id]
    assert "approvals" not in seen.get_json()  # the regulator's view stays the regulator's
    assert objector.get(f"/api/v1/listings/{entry['id']}").status_code == 404
    result = app.test_cli_runner().invoke(
        args=["listings", "answer-objection", entry["id"], notice_id, "--reviewer",
              "rev-alice", "--dismiss", "--answer", "依据充分"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert tick(app, session, clock, timedelta(days=15)) == 1  # published

    filed = object_to(subject_rep, entry["id"], "list_entry", statement="已整改完毕")
    assert filed.status_code == 201, filed.get_json()
    objection = filed.get_json()
    assert objection["answering_member_id"] == str(regulator.member.id)
    page = subject_page(objector, entry["subject_id"])
    assert page["list_entries"][0]["disputed"] is True
    assert page["disputed"][0]["item_kind"] == "list_entry"
    document = indexed(session, clock, entry["subject_id"])
    assert document["disputed"] == 1 and document["list_entries"][0]["disputed"] is True

    path = f"/api/v1/objections/{objection['id']}/answer"
    assert objector.post(path, {"outcome": "revoked", "reason": "x"}).status_code == 404
    corrected = regulator.post(path, {"outcome": "corrected", "reason": "x"})
    assert corrected.status_code == 409
    assert problem_type(corrected) == "/problems/outcome-unavailable"
    assert corrected.get_json()["allowed_outcomes"] == ["revoked", "upheld"]
    revoked = regulator.post(path, {"outcome": "revoked", "reason": "认定依据已失效"})
    assert revoked.status_code == 200, revoked.get_json()
    listed = regulator.get(f"/api/v1/listings/{entry['id']}").get_json()
    assert (listed["state"], listed["removal_reason"]) == ("removed", "revoked")
    document = indexed(session, clock, entry["subject_id"])
    assert document["lists"] == [] and document["disputed"] == 0


def test_rating_objection_is_its_appeal(session, clock, objector, subject_rep, record):
    missing = object_to(subject_rep, "3f1c2a4e-0000-4000-8000-000000000000", "rating")
    assert missing.status_code == 404 and "rating" in missing.get_json()["detail"]
    ratings.propose_due(
        session, clock.now(), scorecard=load_scorecard("2026-01"), auto_approve_unchanged=False
    )
    proposal = session.scalars(sa.select(SubjectRating)).one()
    ratings.approve(session, proposal, reviewer=Actor(ActorKind.STAFF, "alice"), at=clock.now())
    session.commit()

    assert object_to(objector, str(proposal.id), "rating").status_code == 403  # not the subject
    with_statement = object_to(subject_rep, str(proposal.id), "rating", statement="s")
    assert with_statement.status_code == 422
    assert with_statement.get_json()["errors"][0]["field"] == "statement"
    appealed = object_to(subject_rep, str(proposal.id), "rating")
    assert appealed.status_code == 201, appealed.get_json()
    body = appealed.get_json()
    assert body["delegated_to"] == "rating_appeal"
    assert body["appeal"]["rating_id"] == str(proposal.id) and body["appeal"]["status"] == "open"
    assert session.scalar(sa.select(sa.func.count()).select_from(Objection)) == 0
    # The appeal's own rule: one open appeal per rating.
    assert object_to(subject_rep, str(proposal.id), "rating").status_code == 409


def test_disputed_items_is_one_query_for_many_subjects(
    session, submitter, objector, record, query_counter
):
    other = {**PENALTY, "record_id": "PEN-2", "subject": {**PENALTY["subject"], "uscc": OTHER}}
    receipt = submit(submitter, "obj-3", [other]).get_json()["receipt"]["records"][0]
    subject_page(objector, receipt["subject_id"])
    for item in (record, receipt):
        assert object_to(objector, item["registry_id"]).status_code == 201
    subjects = [uuid.UUID(record["subject_id"]), uuid.UUID(receipt["subject_id"]), uuid.uuid4()]
    query_counter.clear()
    found = disputed_items(session, subjects)
    assert len([q for q in query_counter if q.startswith("SELECT")]) == 1
    assert found == {
        subjects[0]: {"records": {record["registry_id"]}, "list_entries": set()},
        subjects[1]: {"records": {receipt["registry_id"]}, "list_entries": set()},
    }


def test_a_late_answer_before_escalation_is_taken_and_marked_late(
    session, clock, submitter, objector, record
):
    objection = object_to(objector, record["registry_id"]).get_json()
    clock.advance(timedelta(days=20, minutes=1))  # overdue, but the job has not run yet
    answered = submitter.post(
        f"/api/v1/objections/{objection['id']}/answer",
        {"outcome": "upheld", "reason": "处罚决定有效"},
    )
    assert answered.status_code == 200, answered.get_json()
    assert answered.get_json()["answered_late"] is True
    assert escalate_due(session, clock.now()) == 0


def test_the_public_sees_the_disputed_mark_and_the_statement_on_every_page_and_feed(
    app, session, client, clock, regulator, list_reviewers, submitter, objector, subject_rep
):
    entry = propose(regulator).get_json()
    approve_all(app, entry["id"], list_reviewers)
    subject_rep.get("/api/v1/notices")  # served: the window opens
    assert tick(app, session, clock, timedelta(days=15)) == 1  # published
    recent = {**PENALTY, "record_id": "PEN-2026-7", "decided_at": "2026-11-02"}
    response = submit(submitter, "obj-public", [recent])
    assert response.status_code == 201, response.get_json()
    penalty_id = response.get_json()["receipt"]["records"][0]["registry_id"]
    subject_page(objector, entry["subject_id"])  # the objector's interest, on record

    def public_views():
        listed = client.get("/api/v1/public/lists/blacklist").get_json()["entries"][0]
        csv_row = client.get("/api/v1/public/lists/blacklist.csv").get_data(as_text=True)
        atom = client.get("/api/v1/public/lists/blacklist.atom").get_data(as_text=True)
        list_page = client.get("/lists/blacklist").get_data(as_text=True)
        subject = client.get(f"/subjects/{entry['subject_id']}").get_data(as_text=True)
        return listed, csv_row, atom, list_page, subject

    listed, csv_text, atom, list_page, subject = public_views()
    assert (listed["disputed"], listed["subject_statement"]) == (False, None)
    assert "disputed" not in atom and 'class="disputed"' not in list_page + subject

    on_entry = object_to(subject_rep, entry["id"], "list_entry", statement="已整改完毕")
    assert on_entry.status_code == 201, on_entry.get_json()
    on_penalty = object_to(subject_rep, penalty_id, statement="罚款已依法缴纳")
    assert on_penalty.status_code == 201, on_penalty.get_json()
    listed, csv_text, atom, list_page, subject = public_views()
    assert (listed["disputed"], listed["subject_statement"]) == (True, "已整改完毕")
    header, row = csv_text.lstrip("\ufeff").splitlines()[:2]
    assert header.endswith("disputed,subject_statement") and row.endswith("True,已整改完毕")
    assert "disputed" in atom and "已整改完毕" in atom
    assert 'class="disputed"' in list_page and "已整改完毕" in list_page
    assert subject.count('class="disputed"') == 2
    assert "已整改完毕" in subject and "罚款已依法缴纳" in subject

    # Upheld: no longer disputed, and the subject's word stays beside the entry.
    answer = f"/api/v1/objections/{on_entry.get_json()['id']}/answer"
    upheld = regulator.post(answer, {"outcome": "upheld", "reason": "认定事实清楚"})
    assert upheld.status_code == 200, upheld.get_json()
    listed, csv_text, atom, list_page, subject = public_views()
    assert (listed["disputed"], listed["subject_statement"]) == (False, "已整改完毕")
    assert 'class="disputed"' not in list_page and "已整改完毕" in list_page
    assert subject.count('class="disputed"') == 1  # the penalty's objection is still open
