"""Blacklists and redlists end to end: the regulator through the signed API, reviewers
through `creditreg listings` (reviews, and the service of the notice by post), the worker's
job for publication and expiry, with time travel; public feeds; the subject's search
document. The notice's own rules are in test_list_notices."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import current_app

from registry import joint_measures, list_kinds
from registry.audit import AuditEvent
from registry.clock import local_date
from registry.listings import run_list_jobs
from registry.notifications import Notification
from registry.staff import add_staff_user
from search.sync import drain_once
from tests.api.test_csv_export import FORMULAS, cells
from tests.factories import TEST_ACTOR
from tests.signing import signed_member

SUBJECT = {"kind": "enterprise", "uscc": "91110000600037341L", "name": "北京华信科技有限公司"}
PROPOSAL = {
    "subject": SUBJECT,
    "list": "blacklist",
    "authority": "北京市市场监督管理局",
    "reason": "提供虚假材料取得行政许可",
    "legal_basis": "《市场监督管理严重违法失信名单管理办法》第二条",
    "document_number": "京市监严〔2026〕1号",
    "measures": ["bar_government_procurement"],
    "notice_to": "legal@huaxin.example",
}


@pytest.fixture
def regulator(session, client, clock):
    return signed_member(session, client, clock, kind="regulator", roles=("regulator",))


@pytest.fixture
def reviewers(session, runtime):
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


def cli(app, *args):
    result = app.test_cli_runner().invoke(args=["listings", *args])
    return result.exit_code, result.output


def the_subjects_member(session, client, clock, uscc=SUBJECT["uscc"]):
    """A signed member that is the listed company itself: the side that applies for repair."""
    member = signed_member(session, client, clock, kind="enterprise", roles=("querier",))
    member.member.uscc = uscc
    session.commit()
    return member


def propose(regulator, **changes):
    """The proposal with ``changes``; one of another list names a measure of that list."""
    kind = list_kinds.in_force().resolve(changes.get("list", ""))
    if kind is not None and "measures" not in changes:
        changes["measures"] = [joint_measures.in_force().for_kind(kind)[0].code]
    response = regulator.post("/api/v1/listings", {**PROPOSAL, **changes})
    return response


def approve_all(app, entry_id, reviewers):
    for reviewer in reviewers:
        code, output = cli(
            app, "review", entry_id, "--reviewer", reviewer, "--approve", "--reason", "依据充分"
        )
        assert code == 0, output
    return json.loads(output)


def serve(
    app, entry_id, served_on, *, channel="post", reference="挂号信 XA123456789CN", reviewer=None
):
    """Record, as a reviewer (rev-alice unless named), that the notice was served on
    ``served_on``."""
    return cli(
        app, "serve", entry_id, "--reviewer", reviewer or "rev-alice", "--channel", channel,
        "--served-on", served_on, "--reference", reference,
    )  # fmt: skip


def approve_and_serve(app, clock, entry_id, reviewers):
    """Approved by every reviewer, and the notice served by post the same day."""
    approve_all(app, entry_id, reviewers)
    code, output = serve(app, entry_id, local_date(clock.now()).isoformat())
    assert code == 0, output
    return json.loads(output)


def tick(app, session, clock, delta):
    clock.advance(delta)
    changed = run_list_jobs(session, clock.now())
    session.commit()
    return changed


def index_document(session, clock, subject_id):
    backend = current_app.extensions["creditreg.search"]
    while drain_once(session, backend, clock.now()):
        pass
    return backend.get(subject_id, session=session)


@pytest.fixture
def before_national_day(clock):
    """Wednesday 23 September 2026, 10:00 in Beijing; asked for before the members, so their
    keys are valid from then."""
    clock.set(datetime(2026, 9, 23, 2, 0, tzinfo=UTC))


def test_the_notice_window_runs_across_national_day_2026_on_the_shipped_calendar(
    before_national_day, app, session, clock, regulator, reviewers
):
    # Ten working days skip the Mid-Autumn holiday (25-27 September) and National Day (1-7
    # October), and count Saturday 10 October. Weekdays alone would have ended the window on
    # 7 October, in the middle of the holiday.
    created = propose(regulator)
    assert created.status_code == 201, created.get_json()
    noticed = approve_all(app, created.get_json()["id"], reviewers)
    assert (noticed["state"], noticed["objection_deadline"]) == ("notice", None)  # not served
    code, output = serve(app, noticed["id"], "2026-09-23")
    assert code == 0, output
    served = json.loads(output)
    assert served["objection_deadline"] == "2026-10-14"
    assert served["objection_deadline_warning"] is None  # 2026's calendar is shipped

    # 14 October, Beijing time, is the window's last day; on the 15th it is published.
    assert tick(app, session, clock, datetime(2026, 10, 14, 15, 0, tzinfo=UTC) - clock.now()) == 0
    assert tick(app, session, clock, timedelta(hours=2)) == 1
    published = regulator.get(f"/api/v1/listings/{noticed['id']}").get_json()
    assert published["state"] == "published"


def test_published_then_expired(app, session, client, clock, regulator, reviewers):
    created = propose(regulator)
    assert created.status_code == 201, created.get_json()
    entry = created.get_json()
    assert entry["state"] == "proposed"
    after_one = json.loads(
        cli(app, "review", entry["id"], "--reviewer", "rev-alice", "--approve", "--reason", "ok")[1]
    )
    assert after_one["state"] == "under_review"  # a blacklist needs two reviewers
    noticed = json.loads(
        cli(app, "review", entry["id"], "--reviewer", "rev-bob", "--approve", "--reason", "ok")[1]
    )
    assert noticed["state"] == "notice"
    # The notice is issued (a copy e-mailed to notice_to); its window opens at service.
    notice = session.scalars(sa.select(Notification)).one()
    assert notice.recipient == "legal@huaxin.example" and "10 working days" in notice.body
    code, output = serve(app, entry["id"], "2026-11-25")
    assert code == 0, output
    # 25 Nov 2026 (Wednesday) + 10 working days.
    assert json.loads(output)["objection_deadline"] == "2026-12-09"

    assert tick(app, session, clock, timedelta(days=14)) == 0  # 9 Dec: still in the window
    assert tick(app, session, clock, timedelta(days=1)) == 1
    published = regulator.get(f"/api/v1/listings/{entry['id']}").get_json()
    assert published["state"] == "published"
    document = index_document(session, clock, entry["subject_id"])
    assert document["lists"] == ["blacklist", "serious_illegal"]
    assert document["list_entries"][0]["authority"] == PROPOSAL["authority"]

    public = client.get("/api/v1/public/lists/blacklist").get_json()
    assert public["total"] == 1
    shown = public["entries"][0]
    for field in (
        "authority",
        "legal_basis",
        "document_number",
        "measures",
        "how_to_object",
        "how_to_repair",
    ):
        assert shown[field], field
    assert client.get("/api/v1/public/lists/redlist").get_json()["total"] == 0
    assert "北京华信科技有限公司" in client.get("/api/v1/public/lists/blacklist.csv").get_data(
        as_text=True
    )

    assert tick(app, session, clock, timedelta(days=365 * 3 + 1)) == 1  # the period ends
    removed = regulator.get(f"/api/v1/listings/{entry['id']}").get_json()
    assert (removed["state"], removed["removal_reason"]) == ("removed", "expired")
    assert client.get("/api/v1/public/lists/blacklist").get_json()["total"] == 0
    assert index_document(session, clock, entry["subject_id"])["lists"] == []
    atom = client.get("/api/v1/public/lists/blacklist.atom").get_data(as_text=True)
    assert atom.count("<entry>") == 2 and "removed (expired)" in atom


@pytest.mark.settings(PUBLIC_BASE_URL="https://credit.example.gov.cn/")
def test_the_atom_feed_names_the_configured_address_whatever_the_host_header(client):
    atom = client.get(
        "/api/v1/public/lists/blacklist.atom", headers={"Host": "attacker.example"}
    ).get_data(as_text=True)
    assert "attacker.example" not in atom
    self_url = "https://credit.example.gov.cn/api/v1/public/lists/blacklist.atom"
    assert f"<id>{self_url}</id>" in atom and f'<link rel="self" href="{self_url}"/>' in atom


def test_an_objection_suspends_publication_until_answered(
    app, session, client, clock, regulator, reviewers
):
    entry = propose(regulator).get_json()
    approve_and_serve(app, clock, entry["id"], reviewers)
    subject_side = signed_member(session, client, clock, roles=("querier",))
    objection = subject_side.post(
        f"/api/v1/listings/{entry['id']}/objections", {"statement": "材料真实，申请复核"}
    )
    assert objection.status_code == 201
    assert tick(app, session, clock, timedelta(days=30)) == 0  # window over, but suspended
    code, output = cli(
        app, "answer-objection", entry["id"], objection.get_json()["id"],
        "--reviewer", "rev-alice", "--dismiss", "--answer", "经复核，认定事实清楚",
    )  # fmt: skip
    assert code == 0, output
    assert tick(app, session, clock, timedelta(minutes=1)) == 1
    assert regulator.get(f"/api/v1/listings/{entry['id']}").get_json()["state"] == "published"


def test_repaired_early_after_the_minimum_period(app, session, client, clock, regulator, reviewers):
    entry = propose(regulator).get_json()
    approve_and_serve(app, clock, entry["id"], reviewers)
    tick(app, session, clock, timedelta(days=20))
    application = {
        "correction_evidence": "已整改并缴清罚款",
        "credit_commitment": "本企业承诺依法诚信经营",
    }
    # Another member, however well meaning, cannot ask for the entry to come down.
    competitor = signed_member(session, client, clock, roles=("querier",))
    refused = competitor.post(f"/api/v1/listings/{entry['id']}/repairs", application)
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "/problems/forbidden"
    subject_side = the_subjects_member(session, client, clock)
    too_early = subject_side.post(f"/api/v1/listings/{entry['id']}/repairs", application)
    assert too_early.status_code == 409
    assert too_early.get_json()["repair_from"]
    clock.advance(timedelta(days=366))
    filed = subject_side.post(f"/api/v1/listings/{entry['id']}/repairs", application)
    assert filed.status_code == 201, filed.get_json()
    code, output = cli(app, "acknowledge-repair", filed.get_json()["id"], "--reviewer", "rev-bob")
    assert code == 0, output
    assert json.loads(output)["decide_by"]
    decided = regulator.post(
        f"/api/v1/repairs/{filed.get_json()['id']}/decision", {"grant": True, "reason": "整改到位"}
    )
    assert decided.status_code == 200, decided.get_json()
    removed = regulator.get(f"/api/v1/listings/{entry['id']}").get_json()
    assert (removed["state"], removed["removal_reason"]) == ("removed", "repaired")
    assert client.get("/api/v1/public/lists/blacklist").get_json()["total"] == 0
    assert index_document(session, clock, entry["subject_id"])["lists"] == []


def test_rejected_and_then_no_further_moves(app, session, regulator, reviewers):
    entry = propose(regulator).get_json()
    code, output = cli(
        app, "review", entry["id"], "--reviewer", "rev-alice", "--reject", "--reason", "证据不足"
    )
    assert code == 0 and json.loads(output)["state"] == "rejected"
    code, output = cli(
        app, "review", entry["id"], "--reviewer", "rev-bob", "--approve", "--reason", "ok"
    )
    assert code == 1
    assert "current_state: rejected" in output and "allowed_actions: []" in output
    withdrawn = regulator.post(f"/api/v1/listings/{entry['id']}/withdraw", {"reason": "重新调查"})
    assert withdrawn.status_code == 409
    problem = withdrawn.get_json()
    assert problem["type"] == "/problems/invalid-transition"
    assert problem["current_state"] == "rejected" and problem["allowed_actions"] == []


def test_the_proposers_own_staff_cannot_approve(app, session, runtime, regulator, reviewers):
    add_staff_user(
        session,
        actor=TEST_ACTOR,
        passwords=runtime.passwords,
        username="reg-carol",
        password="a long enough password",
        roles=["regulator", "reviewer"],
        regulator_member=regulator.member,
    )
    session.commit()
    entry = propose(regulator).get_json()
    code, output = cli(
        app, "review", entry["id"], "--reviewer", "reg-carol", "--approve", "--reason", "ok"
    )
    assert code == 1 and "proposer cannot review" in output
    code, output = cli(
        app, "review", entry["id"], "--reviewer", "rev-alice", "--approve", "--reason", "ok"
    )
    code, output = cli(
        app, "review", entry["id"], "--reviewer", "rev-alice", "--approve", "--reason", "again"
    )
    assert code == 1 and "already reviewed" in output


def test_the_job_is_idempotent(app, session, clock, regulator, reviewers):
    entry = propose(regulator).get_json()
    approve_and_serve(app, clock, entry["id"], reviewers)
    assert tick(app, session, clock, timedelta(days=30)) == 1
    events = session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    assert run_list_jobs(session, clock.now()) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == events


def test_a_proposal_without_legal_basis_is_refused_with_every_error(regulator, session):
    response = propose(regulator, legal_basis="", measures=[], list="greylist", period_months=0)
    assert response.status_code == 422
    fields = {e["field"] for e in response.get_json()["errors"]}
    assert {"legal_basis", "measures", "list", "period_months"} <= fields
    assert session.scalar(sa.text("SELECT count(*) FROM list_entries")) == 0


def test_only_regulators_propose_and_only_their_own_entries_are_visible(
    session, client, clock, regulator, reviewers
):
    bank = signed_member(session, client, clock, roles=("submitter", "querier"))
    assert bank.post("/api/v1/listings", PROPOSAL).status_code == 403
    entry = propose(regulator).get_json()
    other = signed_member(session, client, clock, kind="regulator", roles=("regulator",))
    assert other.get(f"/api/v1/listings/{entry['id']}").status_code == 404


def test_public_list_pages_with_filters(app, session, client, clock, regulator, reviewers):
    entry = propose(regulator).get_json()
    approve_and_serve(app, clock, entry["id"], reviewers)
    tick(app, session, clock, timedelta(days=30))
    page = client.get("/lists/blacklist")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "北京华信科技有限公司" in html and PROPOSAL["legal_basis"] in html
    other_authority = client.get("/lists/blacklist?authority=某某局").get_data(as_text=True)
    assert "北京华信科技有限公司" not in other_authority
    assert client.get("/lists/greylist").status_code == 404


def test_the_authority_extends_a_published_period(app, session, clock, regulator, reviewers):
    entry = propose(regulator, period_months=24).get_json()
    approve_and_serve(app, clock, entry["id"], reviewers)
    tick(app, session, clock, timedelta(days=30))
    before = regulator.get(f"/api/v1/listings/{entry['id']}").get_json()["until"]
    refused = regulator.post(
        f"/api/v1/listings/{entry['id']}/extend", {"months": 48, "reason": "x"}
    )
    assert refused.status_code == 422
    extended = regulator.post(
        f"/api/v1/listings/{entry['id']}/extend", {"months": 12, "reason": "仍未履行"}
    ).get_json()
    assert extended["period_months"] == 36 and extended["until"] > before
    assert tick(app, session, clock, timedelta(days=365 * 2 + 1)) == 0  # not yet: extended
    assert tick(app, session, clock, timedelta(days=366)) == 1


def test_a_published_entry_flags_the_subject_in_lookups_by_id(
    app, session, client, clock, regulator, reviewers
):
    entry = propose(regulator).get_json()
    approve_and_serve(app, clock, entry["id"], reviewers)
    querier = signed_member(session, client, clock, roles=("querier",))
    path = f"/api/v1/subjects/{entry['subject_id']}?purpose=counterparty_check"
    assert querier.get(path).get_json()["lists"] == []  # in notice: not yet published
    tick(app, session, clock, timedelta(days=30))
    shown = querier.get(path).get_json()
    assert shown["lists"] == ["blacklist", "serious_illegal"]
    assert shown["list_entries"][0]["legal_basis"] == PROPOSAL["legal_basis"]


def test_the_public_list_csv_neutralises_every_text_column(
    app, session, client, clock, regulator, reviewers
):
    hostile = {
        "authority": FORMULAS[1],
        "reason": FORMULAS[2],
        "legal_basis": FORMULAS[3],
        "document_number": FORMULAS[4],
    }
    subject = {**PROPOSAL["subject"], "name": FORMULAS[0]}
    created = propose(regulator, subject=subject, **hostile)
    assert created.status_code == 201, created.get_json()
    approve_and_serve(app, clock, created.get_json()["id"], reviewers)
    assert tick(app, session, clock, timedelta(days=15)) == 1  # published

    response = client.get("/api/v1/public/lists/blacklist.csv")
    assert cells(response, "subject_name") == ["'" + FORMULAS[0]]
    for column, text in hostile.items():
        # The registry stores these texts stripped of surrounding white space.
        assert cells(response, column) == ["'" + text.strip()], column
