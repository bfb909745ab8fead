"""The staff console through the test client: sign-in (password, TOTP, idle timeout, CSRF;
guessing is held back in test_console_sign_in), roles, and the reviewer and regulator actions
going through the domain."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from registry import totp
from registry.audit import AuditEvent
from registry.listings import ListEntry
from registry.staff import StaffUser
from tests.console_helpers import PASSWORD, PROPOSAL, csrf, post, seed, sign_in


@pytest.fixture
def seeded(session, runtime, clock):
    return seed(session, runtime, clock.now())


def code_now(seeded, clock):
    return totp.code_at(seeded.totp_secret, clock.now().timestamp())


def test_every_response_carries_the_security_headers(client):
    for path in ("/console/login", "/help/objections-and-repair", "/assets/site.css"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        response.close()
    html = client.get("/console/login").get_data(as_text=True)
    assert "<style" not in html and "<script" not in html and " style=" not in html


def test_the_dashboard_warns_of_a_year_no_holiday_calendar_covers(client, seeded, clock):
    from datetime import UTC, datetime

    sign_in(client, "bob")
    # 25 November 2026: the next deadlines may reach 2027, which is not published yet.
    warned = client.get("/console/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="calendar-missing"' in warned and "2027" in warned
    clock.set(datetime(2026, 6, 1, tzinfo=UTC))
    quiet = client.get("/console/").get_data(as_text=True)
    assert 'id="queue-sizes"' in quiet and 'id="calendar-missing"' not in quiet


def test_a_form_post_without_the_csrf_token_is_refused(client, seeded):
    response = client.post("/console/login", data={"username": "bob", "password": PASSWORD})
    assert response.status_code == 400


def test_sign_in_and_out_with_a_password(client, seeded, session):
    response = sign_in(client, "bob")
    assert response.status_code == 303
    dashboard = client.get("/console/").get_data(as_text=True)
    assert 'id="chart-queues"' in dashboard and 'id="queue-sizes"' in dashboard
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert (
        client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")}).status_code
        == 303
    )
    assert client.get("/console/").status_code == 302


def test_the_second_factor_is_required_once_enrolled_and_a_code_works_once(client, seeded, clock):
    assert sign_in(client, "alice").status_code == 200  # no code: the form again
    code = code_now(seeded, clock)
    assert sign_in(client, "alice", code=code).status_code == 303
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    assert sign_in(client, "alice", code=code).status_code == 200  # replayed


def test_an_idle_session_ends(client, seeded, clock):
    sign_in(client, "bob")
    assert client.get("/console/").status_code == 200
    clock.advance(timedelta(minutes=31))
    response = client.get("/console/")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_roles_see_only_their_pages(client, seeded):
    sign_in(client, "bob")
    assert client.get("/console/review/listings").status_code == 200
    for path in ("/console/admin/members", "/console/admin/audit", "/console/regulator/listings"):
        assert client.get(path).status_code == 403
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    sign_in(client, "carol")
    assert client.get("/console/review/listings").status_code == 403
    assert client.get("/console/regulator/listings").status_code == 200
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    sign_in(client, "ada")
    for path in ("/console/admin/members", "/console/admin/staff", "/console/admin/settings"):
        assert client.get(path).status_code == 200
    settings_page = client.get("/console/admin/settings").get_data(as_text=True)
    assert "insecure-development-secret-key" not in settings_page


@pytest.mark.settings(SEARCH_URL="https://elastic:search-pass@es:9200/?api_key=search-key")
def test_the_settings_page_hides_passwords_inside_urls(client, seeded):
    sign_in(client, "ada")
    page = client.get("/console/admin/settings").get_data(as_text=True)
    assert "search-pass" not in page and "search-key" not in page
    assert "https://elastic:***@es:9200/?api_key=***" in page


def test_a_regulator_proposes_and_reviewers_approve_through_the_domain(
    client, app, seeded, session, clock
):
    sign_in(client, "carol")
    new = "/console/regulator/listings/new"
    incomplete = post(client, new, new, **{**PROPOSAL, "legal_basis": ""})
    assert incomplete.status_code == 422 and 'aria-invalid="true"' in incomplete.get_data(
        as_text=True
    )
    # The USCC as people type it: lower case, a space in the middle.
    typed = PROPOSAL["uscc"][:9].lower() + " " + PROPOSAL["uscc"][9:]
    created = post(client, new, new, **{**PROPOSAL, "uscc": typed})
    assert created.status_code == 303
    entry = session.scalar(sa.select(ListEntry))
    assert entry.state == "proposed"
    proposed = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "listing.proposed"))
    carol = session.scalar(sa.select(StaffUser).where(StaffUser.username == "carol"))
    assert (proposed.actor_kind, proposed.actor_id) == ("staff", str(carol.id))
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})

    # Another regulator's staff do not see it.
    sign_in(client, "dave")
    assert client.get(f"/console/regulator/listings/{entry.id}").status_code == 404
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})

    page = f"/console/review/listings/{entry.id}"
    action = f"{page}/review"
    for reviewer, code in (("bob", ""), ("alice", code_now(seeded, clock))):
        sign_in(client, reviewer, code=code)
        assert post(client, action, page, decision="approve", reason="").status_code == 303
        session.refresh(entry)
        assert len(entry.reviews) == (0 if reviewer == "bob" else 1)  # no reason: refused
        assert post(client, action, page, decision="approve", reason="依据充分").status_code == 303
        client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    session.refresh(entry)
    assert entry.state == "notice"
    reviews = session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.object_id == str(entry.id), AuditEvent.action == "listing.approve"
        )
    ).all()
    # One event per approval, however the console posts it (the CLI writes one too).
    assert len(reviews) == 2 and all(event.actor_kind == "staff" for event in reviews)
    assert len({event.actor_id for event in reviews}) == 2


def test_the_audit_log_is_searchable(client, seeded):
    sign_in(client, "ada")
    html = client.get("/console/admin/audit?action=staff_user.").get_data(as_text=True)
    assert "staff_user.signed_in" in html and "staff_user.created" in html
    assert client.get("/console/admin/audit?since=not-a-date").status_code == 200


def test_the_audit_log_shows_the_submission_that_created_a_record_or_a_subject(
    client, seeded, session, clock
):
    from tests.api.test_submissions import PAYMENT, submit
    from tests.signing import signed_member

    lender = signed_member(session, client, clock)
    receipt = submit(lender, "audit-prov", [PAYMENT]).get_json()["receipt"]
    (item,) = receipt["records"]
    sign_in(client, "ada")
    for object_type, object_id in (
        ("credit_record", item["registry_id"]),
        ("subject", item["subject_id"]),
        ("", item["registry_id"]),  # the object id alone
    ):
        html = client.get(
            f"/console/admin/audit?object_type={object_type}&object_id={object_id}"
        ).get_data(as_text=True)
        assert '<section class="creation">' in html and "submission.accepted" in html
        assert f"member:{str(lender.member.id)[:12]}" in html
        assert "object_type=submission&amp;object_id=" in html
    # Not for an object that names no record or subject.
    html = client.get(f"/console/admin/audit?object_id={seeded.regulator_id}").get_data(
        as_text=True
    )
    assert '<section class="creation">' not in html
    # The export of the record's history ends with the submission's event.
    lines = (
        client.get(f"/console/admin/audit.csv?object_id={item['registry_id']}")
        .get_data(as_text=True)
        .splitlines()
    )
    assert len(lines) == 2 and ",submission.accepted,submission," in lines[-1]


def test_reviewers_decide_ratings_in_the_console_four_eyes_beyond_one_grade(
    client, seeded, session, clock
):
    import uuid

    from registry import ratings
    from registry.members import Member
    from registry.records import upsert_record
    from registry.subjects import Subject
    from tests.factories import TEST_ACTOR

    subject = session.get(Subject, uuid.UUID(seeded.subject_id))
    upsert_record(
        session,
        actor=TEST_ACTOR,
        member=session.get(Member, uuid.UUID(seeded.regulator_id)),
        subject=subject,
        member_record_id="P-1",
        fields={
            "category": "administrative_penalty",
            "polarity": "negative",
            "severity": "serious",
            "authority": "北京市市场监督管理局",
            "decided_at": clock.now().date(),
        },
        now=clock.now(),
    )
    card = ratings.load_scorecard("2026-01")
    ratings.propose_due(session, clock.now(), scorecard=card, auto_approve_unchanged=False)
    session.commit()
    [proposal] = ratings.queue(session)  # 50, grade C
    page = f"/console/review/ratings/{proposal.id}"

    sign_in(client, "bob")
    assert proposal.grade in client.get("/console/review/ratings").get_data(as_text=True)
    # Two grades up: it waits for a second reviewer, and bob cannot be that reviewer.
    assert (
        post(client, page, page, action="override", grade="A", reason="罚款已撤销").status_code
        == 303
    )
    session.refresh(proposal)
    assert proposal.status == "awaiting_second"
    post(client, page, page, action="confirm")
    session.refresh(proposal)
    assert proposal.status == "awaiting_second"
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})

    sign_in(client, "alice", code=code_now(seeded, clock))
    assert post(client, page, page, action="confirm").status_code == 303
    session.refresh(proposal)
    alice = session.scalar(sa.select(StaffUser).where(StaffUser.username == "alice"))
    assert proposal.status == "published" and proposal.final_grade == "A"
    assert proposal.second_reviewer == f"staff:{alice.id}"
    actions = session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.object_id == str(proposal.id))
    ).all()
    # Each decision is written once.
    assert sorted(actions) == sorted(set(actions)), actions


def test_an_administrator_revokes_a_members_key_with_a_reason(client, seeded, session, clock):
    from registry.members import KeyStatus, MemberKey, add_key
    from tests import factories
    from tests.factories import TEST_ACTOR

    bank = factories.member(session, roles=("querier",))
    key = add_key(
        session,
        actor=TEST_ACTOR,
        member=bank,
        public_key_pem=factories.ed25519_public_pem(),
        now=clock.now(),
    )
    session.commit()
    sign_in(client, "ada")
    page = f"/console/admin/members/{bank.id}"
    action = f"/console/admin/keys/{key.id}/revoke"
    assert 'action="' + action in client.get(page).get_data(as_text=True)
    post(client, action, page, reason="")  # a reason is required
    session.refresh(key)
    assert key.status == KeyStatus.ACTIVE
    assert post(client, action, page, reason="key leaked").status_code == 303
    revoked = session.get(MemberKey, key.id)
    session.refresh(revoked)
    assert revoked.status == KeyStatus.REVOKED and revoked.revoked_reason == "key leaked"
