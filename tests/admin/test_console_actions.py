"""The console's remaining actions through the test client: rating appeals and escalated
objections (reviewers), withdraw, extend and revoke (regulator staff), members, keys and
staff accounts (administrators), flagged seller ratings and repairs. Each is allowed to its
role only, shows the domain's refusals, and is audited under the signed-in staff user."""

import re
import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from registry import objections, ratings, totp
from registry.audit import Actor, ActorKind, AuditEvent
from registry.members import Member
from registry.records import upsert_record
from registry.staff import StaffUser
from registry.staff_auth import held_back
from registry.subjects import Subject
from tests import factories
from tests.console_helpers import csrf, post, seed, sign_in
from tests.factories import TEST_ACTOR


@pytest.fixture
def seeded(session, runtime, clock):
    return seed(session, runtime, clock.now())


def sign_out(client):
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})


def staff(session, username) -> StaffUser:
    return session.scalar(sa.select(StaffUser).where(StaffUser.username == username))


def events(session, action, object_id=None):
    query = sa.select(AuditEvent).where(AuditEvent.action == action)
    if object_id is not None:
        query = query.where(AuditEvent.object_id == str(object_id))
    return session.scalars(query).all()


def penalty(session, seeded, clock, n=1):
    return upsert_record(
        session,
        actor=TEST_ACTOR,
        member=session.get(Member, uuid.UUID(seeded.regulator_id)),
        subject=session.get(Subject, uuid.UUID(seeded.subject_id)),
        member_record_id=f"P-{n}",
        fields={
            "category": "administrative_penalty",
            "polarity": "negative",
            "severity": "serious",
            "authority": "北京市市场监督管理局",
            "decided_at": clock.now().date(),
        },
        now=clock.now(),
    )


def flashed(response_page: str) -> bool:
    return "Refused" in response_page or "未能执行" in response_page


# --- reviewers: rating appeals ---------------------------------------------------------------


@pytest.fixture
def appeal(session, seeded, clock):
    """A published grade C, approved by alice, appealed by the subject."""
    penalty(session, seeded, clock)
    card = ratings.load_scorecard("2026-01")
    ratings.propose_due(session, clock.now(), scorecard=card, auto_approve_unchanged=False)
    [proposal] = ratings.queue(session)
    alice = Actor(ActorKind.STAFF, str(staff(session, "alice").id))
    ratings.approve(session, proposal, reviewer=alice, at=clock.now())
    filed = ratings.file_appeal(
        session,
        proposal,
        applicant=ratings.subject_actor(proposal.subject_id),
        grounds="罚款已缴清",
        at=clock.now(),
    )
    session.commit()
    return filed


def test_a_reviewer_who_approved_the_rating_cannot_decide_its_appeal(
    client, seeded, session, clock, appeal
):
    sign_in(client, "alice", code=totp.code_at(seeded.totp_secret, clock.now().timestamp()))
    queue = client.get("/console/review/appeals").get_data(as_text=True)
    assert str(appeal.id) in queue and "罚款已缴清" in queue
    page = f"/console/review/appeals/{appeal.id}"
    refused = post(client, page, page, decision="uphold", reason="评级无误")
    assert refused.status_code == 303
    shown = client.get(page).get_data(as_text=True)
    assert "未能执行：申诉须由未批准该评级的审核人作出决定" in shown
    assert "did not approve the rating" not in shown
    session.refresh(appeal)
    assert appeal.status == "open"


def test_a_reviewer_amends_an_appealed_rating_with_a_reason(client, seeded, session, clock, appeal):
    sign_in(client, "bob")
    page = f"/console/review/appeals/{appeal.id}"
    post(client, page, page, decision="amend", grade="B", reason="")  # a reason is required
    session.refresh(appeal)
    assert appeal.status == "open"
    assert (
        post(client, page, page, decision="amend", grade="B", reason="罚款已缴清").status_code
        == 303
    )
    session.refresh(appeal)
    # The amendment changes the grade: it waits for a second reviewer, the appeal stays open.
    assert appeal.status == "open" and appeal.amended_rating_id is not None
    amended = session.get(ratings.SubjectRating, appeal.amended_rating_id)
    assert amended.status == "awaiting_second" and amended.final_grade == "B"
    [decided] = events(session, "rating.appeal_decided", appeal.id)
    assert (decided.actor_kind, decided.actor_id) == ("staff", str(staff(session, "bob").id))
    sign_out(client)

    sign_in(client, "alice", code=totp.code_at(seeded.totp_secret, clock.now().timestamp()))
    rating_page = f"/console/review/ratings/{amended.id}"
    assert post(client, rating_page, rating_page, action="confirm", reason="").status_code == 303
    session.refresh(appeal)
    session.refresh(amended)
    assert appeal.status == "amended" and amended.status == "published"
    assert 'id="appeal-state">amended' in client.get(page).get_data(as_text=True)


def test_a_reviewer_upholds_an_appealed_rating(client, seeded, session, appeal):
    sign_in(client, "bob")
    page = f"/console/review/appeals/{appeal.id}"
    assert post(client, page, page, decision="uphold", reason="评级无误").status_code == 303
    session.refresh(appeal)
    assert appeal.status == "upheld" and appeal.decision_reason == "评级无误"


# --- reviewers: escalated objections -----------------------------------------------------------


@pytest.fixture
def escalated(session, runtime, seeded, clock):
    """An objection to a penalty record, unanswered past its 20 days."""
    record, _changed = penalty(session, seeded, clock)
    bank = session.get(Member, uuid.UUID(seeded.other_regulator_id))
    objection = objections.file_objection(
        session,
        objections.find_item(session, "record", record.id),
        actor=TEST_ACTOR,
        member=bank,
        for_subject=False,
        grounds="处罚决定已被撤销",
        statement=None,
        answer_days=20,
        at=clock.now(),
    )
    clock.advance(timedelta(days=21))
    assert objections.escalate_due(session, clock.now()) == 1
    session.commit()
    return objection


def test_a_reviewer_decides_an_escalated_objection(client, seeded, session, escalated):
    sign_in(client, "bob")
    queue = client.get("/console/review/escalated").get_data(as_text=True)
    assert str(escalated.id) in queue
    page = f"/console/review/escalated/{escalated.id}"
    assert "处罚决定已被撤销" in client.get(page).get_data(as_text=True)
    post(client, page, page, outcome="upheld", reason="")
    assert flashed(client.get(page).get_data(as_text=True))
    session.refresh(escalated)
    assert escalated.status == "escalated"
    assert post(client, page, page, outcome="upheld", reason="处罚决定有效").status_code == 303
    session.refresh(escalated)
    assert (escalated.status, escalated.outcome) == ("decided", "upheld")
    [decided] = events(session, "objection.decided", escalated.id)
    assert (decided.actor_kind, decided.actor_id) == ("staff", str(staff(session, "bob").id))


def test_only_reviewers_see_the_appeal_and_objection_queues(client, seeded):
    sign_in(client, "carol")
    for path in ("/console/review/appeals", "/console/review/escalated"):
        assert client.get(path).status_code == 403


# --- regulator staff: withdraw, extend, revoke their own entries -------------------------------


def test_regulator_staff_withdraw_their_own_proposal_with_a_reason(client, seeded, session):
    from registry.listings import ListEntry
    from tests.console_helpers import PROPOSAL

    sign_in(client, "carol")
    new = "/console/regulator/listings/new"
    assert post(client, new, new, **PROPOSAL).status_code == 303
    entry = session.scalar(sa.select(ListEntry))
    page = f"/console/regulator/listings/{entry.id}"
    action = f"{page}/withdraw"
    assert 'action="' + action in client.get(page).get_data(as_text=True)
    post(client, action, page, reason="")
    assert flashed(client.get(page).get_data(as_text=True))
    session.refresh(entry)
    assert entry.state == "proposed"
    sign_out(client)

    sign_in(client, "dave")  # another regulator's staff: the entry does not exist for them
    token = csrf(client, "/console/")
    assert client.post(action, data={"reason": "x", "csrf_token": token}).status_code == 404
    sign_out(client)

    sign_in(client, "carol")
    assert post(client, action, page, reason="材料需补充").status_code == 303
    session.refresh(entry)
    assert entry.state == "withdrawn" and entry.outcome_note == "材料需补充"
    [withdrawn] = events(session, "listing.withdraw", entry.id)
    assert (withdrawn.actor_kind, withdrawn.actor_id) == ("staff", str(staff(session, "carol").id))
    # Withdrawn: nothing more to withdraw, and the form is gone.
    assert 'action="' + action not in client.get(page).get_data(as_text=True)


@pytest.fixture
def published(session, seeded, clock):
    from tests.monitoring_helpers import published_entry

    entry = published_entry(
        session,
        session.get(Member, uuid.UUID(seeded.regulator_id)),
        session.get(Subject, uuid.UUID(seeded.subject_id)),
        clock,
    )
    session.commit()
    return entry


def test_regulator_staff_extend_and_revoke_a_published_entry(client, seeded, session, published):
    page = f"/console/regulator/listings/{published.id}"
    until = published.publish_until

    sign_in(client, "dave")
    token = csrf(client, "/console/")
    for act in ("extend", "revoke"):
        answer = client.post(
            f"{page}/{act}", data={"months": "12", "reason": "x", "csrf_token": token}
        )
        assert answer.status_code == 404
    sign_out(client)

    sign_in(client, "bob")  # a reviewer does not act for the regulator here
    token = csrf(client, "/console/")
    assert (
        client.post(f"{page}/revoke", data={"reason": "x", "csrf_token": token}).status_code == 403
    )
    sign_out(client)

    sign_in(client, "carol")
    html = client.get(page).get_data(as_text=True)
    assert f"{page}/extend" in html and f"{page}/revoke" in html and f"{page}/withdraw" not in html
    post(client, f"{page}/extend", page, months="40", reason="延长惩戒")  # at most 36
    assert flashed(client.get(page).get_data(as_text=True))
    session.refresh(published)
    assert published.period_months == 36
    assert post(client, f"{page}/extend", page, months="12", reason="延长惩戒").status_code == 303
    session.refresh(published)
    assert published.period_months == 48 and published.publish_until > until
    assert post(client, f"{page}/revoke", page, reason="").status_code == 303
    session.refresh(published)
    assert published.state == "published"  # a reason is required
    assert post(client, f"{page}/revoke", page, reason="认定决定已撤销").status_code == 303
    session.refresh(published)
    assert (published.state, published.removal_reason) == ("removed", "revoked")
    carol = str(staff(session, "carol").id)
    for action in ("listing.extend", "listing.revoke"):
        [event] = events(session, action, published.id)
        assert (event.actor_kind, event.actor_id) == ("staff", carol)
    assert (
        client.post(f"{page}/promote", data={"csrf_token": csrf(client, page)}).status_code == 404
    )


# --- administrators: members, keys, staff accounts ---------------------------------------------


def test_an_administrator_admits_a_member_and_registers_its_key(client, seeded, session):
    from registry.members import KeyStatus, MemberKey
    from tests import factories

    sign_in(client, "ada")
    page = "/console/admin/members"
    refused = post(client, page, page, name="", kind="bank", roles=["querier"], uscc="123")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="uscc-error"' in html and 'id="name-error"' in html
    admitted = post(
        client,
        page,
        page,
        name="示范银行",
        kind="bank",
        roles=["querier", "submitter"],
        uscc="91310115MA1K3BTP2B",
    )
    assert admitted.status_code == 303
    bank = session.scalar(sa.select(Member).where(Member.name == "示范银行"))
    # Admitted, the administrator lands on the member's own page, where its keys are.
    page = f"/console/admin/members/{bank.id}"
    assert admitted.headers["Location"].endswith(page)
    assert str(bank.id) in client.get("/console/admin/members").get_data(as_text=True)
    assert bank.roles == {"querier", "submitter"} and bank.uscc == "91310115MA1K3BTP2B"
    [event] = events(session, "member.admitted", bank.id)
    ada = str(staff(session, "ada").id)
    assert (event.actor_kind, event.actor_id) == ("staff", ada)

    action = f"/console/admin/members/{bank.id}/keys"
    post(client, action, page, public_key="not a key", algorithm="ed25519")
    assert flashed(client.get(page).get_data(as_text=True))
    # A refusal with a value in it is worded too, the value put in after translation.
    post(client, action, page, public_key=factories.p256_public_pem(), algorithm="ed25519")
    shown = client.get(page).get_data(as_text=True)
    assert "该公钥与算法 ed25519 不符 (public_key: 应为 ed25519 算法的公钥)" in shown
    assert "does not fit" not in shown
    pem = factories.ed25519_public_pem()
    assert post(client, action, page, public_key=pem, algorithm="ed25519").status_code == 303
    [key] = session.scalars(sa.select(MemberKey).where(MemberKey.member_id == bank.id)).all()
    assert key.status == KeyStatus.ACTIVE
    assert key.id in client.get(page).get_data(as_text=True)  # the thumbprint, shown
    [registered] = events(session, "key.registered", key.id)
    assert registered.actor_id == ada
    post(client, action, page, public_key=pem, algorithm="ed25519")  # the same key twice
    assert "该公钥已登记" in client.get(page).get_data(as_text=True)


def test_an_administrator_creates_a_staff_account_shown_its_password_once(client, seeded, session):
    sign_in(client, "ada")
    page = "/console/admin/staff"
    refused = post(client, page, page, username="erin", roles=["regulator"])  # no regulator
    assert refused.status_code == 422 and 'id="regulator_member-error"' in refused.get_data(
        as_text=True
    )
    created = post(
        client,
        page,
        page,
        username="erin",
        display_name="Erin",
        roles=["regulator"],
        regulator_member=seeded.regulator_id,
    )
    assert created.status_code == 200
    html = created.get_data(as_text=True)
    password = html.split('id="initial-password">')[1].split("<")[0]
    assert len(password) >= 16 and created.headers["Cache-Control"] == "no-store"
    erin = staff(session, "erin")
    assert erin.roles == {"regulator"} and str(erin.regulator_member_id) == seeded.regulator_id
    assert password not in erin.password_hash and password not in client.get(page).get_data(
        as_text=True
    )
    [event] = events(session, "staff_user.created", erin.id)
    assert event.actor_id == str(staff(session, "ada").id)
    assert password not in str(event.after)
    sign_out(client)
    assert sign_in(client, "erin", password=password).status_code == 303
    assert client.get("/console/regulator/listings").status_code == 303  # her own one first
    own, change = "erin's own passphrase", "/console/account/password"
    assert post(client, change, change, current=password, new=own, repeat=own).status_code == 303
    assert client.get("/console/regulator/listings").status_code == 200


def test_an_administrator_unlocks_an_account_and_enrols_it_in_totp(
    client, seeded, session, runtime, clock
):
    for _ in range(5):
        sign_in(client, "bob", password="not the password at all")
    bob = staff(session, "bob")
    assert held_back(session, runtime.vault, ["bob"], clock.now()) == {"bob": True}

    sign_in(client, "ada")
    page = "/console/admin/staff"
    assert f"/console/admin/staff/{bob.id}/unlock" in client.get(page).get_data(as_text=True)
    assert post(client, f"/console/admin/staff/{bob.id}/unlock", page).status_code == 303
    assert held_back(session, runtime.vault, ["bob"], clock.now()) == {}
    assert [e.actor_id for e in events(session, "staff_user.unlocked", bob.id)] == [
        str(staff(session, "ada").id)
    ]

    enrolled = post(client, f"/console/admin/staff/{bob.id}/totp", page)
    html = enrolled.get_data(as_text=True)
    assert enrolled.status_code == 200 and "otpauth://totp/" in html
    secret = html.split('id="totp-secret">')[1].split("<")[0]
    session.refresh(bob)
    assert bob.totp_secret and secret not in bob.totp_secret
    assert secret not in client.get(page).get_data(as_text=True)
    # From now on bob needs the code.
    sign_out(client)
    assert sign_in(client, "bob").status_code == 200
    code = totp.code_at(secret, clock.now().timestamp())
    assert sign_in(client, "bob", code=code).status_code == 303


def test_only_administrators_manage_members_and_staff(client, seeded, session):
    sign_in(client, "bob")
    token = csrf(client, "/console/")
    bob = staff(session, "bob")
    for path in (
        "/console/admin/members",
        "/console/admin/staff",
        f"/console/admin/members/{seeded.regulator_id}/keys",
        f"/console/admin/staff/{bob.id}/unlock",
        f"/console/admin/staff/{bob.id}/totp",
    ):
        assert client.post(path, data={"csrf_token": token}).status_code == 403
    assert client.post("/console/admin/staff", data={"username": "x"}).status_code == 400  # CSRF


# --- reviewers: flagged seller ratings ---------------------------------------------------------


def test_a_reviewer_keeps_or_excludes_a_flagged_seller_rating(client, seeded, session, clock):
    from registry.seller_ratings import SellerRating
    from tests.api.test_seller_ratings import platform_member, rating, send

    taobao = platform_member(session, client, clock, "taobao")
    copied = "质量非常好，和描述完全一致，推荐购买！"
    assert send(taobao, "a", [rating(n, text=copied) for n in (1, 2, 3)]).status_code == 201
    flagged = session.scalars(
        sa.select(SellerRating).where(SellerRating.review_state == "pending")
    ).all()
    assert len(flagged) == 3
    kept, excluded = flagged[0], flagged[1]

    sign_in(client, "carol")
    assert client.get("/console/review/sellers").status_code == 403
    sign_out(client)

    sign_in(client, "bob")
    queue = client.get("/console/review/sellers").get_data(as_text=True)
    assert all(str(r.id) in queue for r in flagged)
    page = f"/console/review/sellers/{kept.id}"
    html = client.get(page).get_data(as_text=True)
    assert "duplicate_text" in html and 'value="kept"' in html and 'value="excluded"' in html
    post(client, page, page, decision="kept", reason="")
    assert flashed(client.get(page).get_data(as_text=True))
    session.refresh(kept)
    assert kept.review_state == "pending"
    assert post(client, page, page, decision="kept", reason="真实买家").status_code == 303
    other = f"/console/review/sellers/{excluded.id}"
    assert post(client, other, other, decision="excluded", reason="刷单").status_code == 303
    session.refresh(kept)
    session.refresh(excluded)
    assert (kept.review_state, excluded.review_state) == ("kept", "excluded")
    bob = str(staff(session, "bob").id)
    for row, action in ((kept, "seller_rating.kept"), (excluded, "seller_rating.excluded")):
        [event] = events(session, action, row.id)
        assert (event.actor_kind, event.actor_id) == ("staff", bob)
    # Kept, it can still be excluded later; not kept twice.
    post(client, page, page, decision="kept", reason="again")
    assert "cannot be kept" in client.get(page).get_data(as_text=True)


# --- repairs: reviewers acknowledge, the proposing regulator's staff decide --------------------


@pytest.fixture
def repair(session, runtime, seeded, clock, published):
    from registry import listings

    clock.advance(timedelta(days=370))  # past the minimum period
    # The company itself applies, through its own member.
    company = factories.member(session, kind="enterprise", roles=("querier",))
    company.uscc = session.get(Subject, published.subject_id).uscc
    application = listings.apply_for_repair(
        session,
        published,
        actor=Actor(ActorKind.MEMBER, str(company.id)),
        member=company,
        correction_evidence="已缴清罚款并整改",
        credit_commitment="本公司承诺依法诚信经营",
        policy=listings.policy_from_settings(runtime.settings),
        at=clock.now(),
    )
    session.commit()
    return application


def test_a_reviewer_acknowledges_and_the_regulator_decides_a_repair(
    client, seeded, session, published, repair
):
    sign_in(client, "carol")
    assert client.get("/console/review/repairs").status_code == 403
    sign_out(client)

    sign_in(client, "bob")
    queue = "/console/review/repairs"
    assert "已缴清罚款并整改" in client.get(queue).get_data(as_text=True)
    ack = f"/console/review/repairs/{repair.id}/acknowledge"
    assert post(client, ack, queue).status_code == 303
    session.refresh(repair)
    assert repair.status == "acknowledged" and repair.decide_by is not None
    post(client, ack, queue)  # twice: the domain refuses
    assert flashed(client.get(queue).get_data(as_text=True))
    decide = f"/console/regulator/repairs/{repair.id}/decide"
    token = csrf(client, "/console/")
    assert client.post(decide, data={"decision": "grant", "csrf_token": token}).status_code == 403
    sign_out(client)

    sign_in(client, "dave")  # another regulator's staff: not theirs to decide
    token = csrf(client, "/console/")
    answer = client.post(decide, data={"decision": "grant", "reason": "x", "csrf_token": token})
    assert answer.status_code == 404
    assert "已缴清罚款并整改" not in client.get("/console/regulator/repairs").get_data(as_text=True)
    sign_out(client)

    sign_in(client, "carol")
    page = "/console/regulator/repairs"
    assert "已缴清罚款并整改" in client.get(page).get_data(as_text=True)
    post(client, decide, page, decision="grant", reason="")
    assert flashed(client.get(page).get_data(as_text=True))
    assert post(client, decide, page, decision="grant", reason="整改到位").status_code == 303
    session.refresh(repair)
    session.refresh(published)
    assert repair.status == "granted"
    assert (published.state, published.removal_reason) == ("removed", "repaired")
    carol, bob = str(staff(session, "carol").id), str(staff(session, "bob").id)
    actors = {
        e.action: e.actor_id
        for e in session.scalars(
            sa.select(AuditEvent).where(AuditEvent.object_id == str(published.id))
        )
    }
    assert actors["repair.acknowledged"] == bob and actors["repair.granted"] == carol


def test_a_late_repair_shows_late_to_reviewers_and_on_the_dashboard(
    client, seeded, session, clock, repair
):
    from registry import repairs

    sign_in(client, "bob")
    queue = "/console/review/repairs"
    late_count = '<dd id="late-repairs">{}</dd>'
    assert 'class="late"' not in client.get(queue).get_data(as_text=True)
    assert late_count.format(0) in client.get("/console/").get_data(as_text=True)
    # The worker escalates it the day after its last working day for acknowledgement.
    past_due = datetime.combine(repair.acknowledge_by + timedelta(days=1), time(12), UTC)
    assert repairs.escalate_late(session, past_due) == 1
    session.commit()
    page = client.get(queue).get_data(as_text=True)
    assert 'class="late"' in page and repair.acknowledge_by.isoformat() in page
    assert late_count.format(1) in client.get("/console/").get_data(as_text=True)
    # Acknowledged, it waits on the authority; late again, it is back in the reviewers' queue.
    assert post(client, f"{queue}/{repair.id}/acknowledge", queue).status_code == 303
    session.refresh(repair)
    assert "已缴清罚款并整改" not in client.get(queue).get_data(as_text=True)
    past_decision = datetime.combine(repair.decide_by + timedelta(days=1), time(12), UTC)
    assert repairs.escalate_late(session, past_decision) == 1
    session.commit()
    page = client.get(queue).get_data(as_text=True)
    assert "已缴清罚款并整改" in page and 'class="late"' in page
    assert repair.decide_by.isoformat() in page


@pytest.mark.parametrize("period", ["²", "99999999999999999999", "-3", "十二"])
def test_a_period_that_is_no_whole_number_is_a_form_error_not_a_crash(
    client, seeded, session, period
):
    from registry.listings import ListEntry
    from tests.console_helpers import PROPOSAL

    sign_in(client, "carol")
    new = "/console/regulator/listings/new"
    answer = post(client, new, new, **PROPOSAL, period_months=period)
    assert answer.status_code == 422
    assert 'id="period_months-error"' in answer.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(ListEntry)) == 0


def test_nul_in_a_console_form_is_refused_and_nothing_is_stored(client, seeded, session):
    from registry.listings import ListEntry
    from tests.console_helpers import PROPOSAL

    sign_in(client, "carol")
    new = "/console/regulator/listings/new"
    answer = post(client, new, new, **{**PROPOSAL, "reason": "虚假\x00材料"})
    assert answer.status_code == 400
    assert session.scalar(sa.select(sa.func.count()).select_from(ListEntry)) == 0


def test_an_extension_that_is_no_whole_number_changes_nothing(client, seeded, session, published):
    page = f"/console/regulator/listings/{published.id}"
    months = published.period_months
    sign_in(client, "carol")
    post(client, f"{page}/extend", page, months="²", reason="延长惩戒")
    assert flashed(client.get(page).get_data(as_text=True))
    session.refresh(published)
    assert published.period_months == months


def test_the_members_page_is_a_table_a_page_at_a_time(client, seeded, session, monkeypatch):
    from admin import console

    monkeypatch.setattr(console, "MEMBERS_PAGE_SIZE", 3)
    for number in range(5):
        factories.member(session, name=f"示范{number}号银行", roles=("querier",))
    session.commit()
    everyone = session.scalars(sa.select(Member).order_by(Member.name, Member.id)).all()
    sign_in(client, "ada")
    seen, page = [], "/console/admin/members"
    while page:
        html = client.get(page).get_data(as_text=True)
        rows = re.findall(r'<tr id="member-([0-9a-f-]{36})">', html)
        assert 0 < len(rows) <= 3
        seen += rows
        found = re.search(r'<a href="([^"]+)" rel="next">', html)
        page = found.group(1).replace("&amp;", "&") if found else None
    assert seen == [str(m.id) for m in everyone]  # each once, in order, ids shown
    # A token cut short starts again at the first page.
    first = client.get("/console/admin/members?after=nope").get_data(as_text=True)
    assert re.findall(r'<tr id="member-([0-9a-f-]{36})">', first) == seen[:3]
    assert client.get(f"/console/admin/members/{uuid.uuid4()}").status_code == 404
