"""The notice in the console: reviewers see the notices awaiting service, record a service
by post with its date and reference (or are refused, with every field error), cannot publish
an entry whose notice was never served, and see the window and its warning; regulator staff
record the service of their own entries only; the subject page shows the entry in its notice
stage and how the subject objects. Each act is audited under the signed-in staff user."""

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask_babel import refresh

from registry import listings
from registry.audit import Actor, ActorKind, AuditEvent
from registry.members import Member
from registry.notifications import Notices
from registry.staff import StaffUser
from registry.subjects import Subject
from tests.console_helpers import csrf, post, seed, sign_in


@pytest.fixture
def seeded(session, runtime, clock):
    return seed(session, runtime, clock.now())


def staff_actor(session, username) -> Actor:
    user = session.scalar(sa.select(StaffUser).where(StaffUser.username == username))
    return Actor(ActorKind.STAFF, str(user.id))


@pytest.fixture
def noticed(session, runtime, clock, seeded) -> listings.ListEntry:
    """A blacklist entry of the seeded regulator, approved by alice and bob on Wednesday
    25 November 2026: its notice is issued, not served."""
    policy = listings.policy_from_settings(runtime.settings)
    regulator = session.get(Member, uuid.UUID(seeded.regulator_id))
    entry = listings.propose_listing(
        session,
        actor=Actor(ActorKind.MEMBER, seeded.regulator_id),
        proposer_member_id=regulator.id,
        subject=session.get(Subject, uuid.UUID(seeded.subject_id)),
        list_kind="serious_illegal",
        authority="北京市市场监督管理局",
        reason="提供虚假材料取得行政许可",
        legal_basis="《市场监督管理严重违法失信名单管理办法》第二条",
        document_number="京市监严〔2026〕1号",
        measures=["bar_government_procurement"],
        period_months=None,
        notice_to=None,
        policy=policy,
        at=clock.now(),
    )
    for username in ("alice", "bob"):
        listings.review(
            session,
            entry,
            reviewer=staff_actor(session, username),
            approve=True,
            reason="依据充分",
            policy=policy,
            at=clock.now(),
            notifications=Notices(),
        )
    session.commit()
    assert entry.state == "notice" and entry.notice_served_on is None
    return entry


def text(client, path: str, language: str = "en") -> str:
    # The test's app context outlives requests; Flask-Babel keeps its locale on it.
    refresh()
    return client.get(path, headers={"Accept-Language": language}).get_data(as_text=True)


def test_a_reviewer_records_the_service_by_post_and_the_window_runs_from_its_date(
    client, session, clock, seeded, noticed
):
    sign_in(client, "bob")
    assert str(noticed.id) in text(client, "/console/review/notices")
    assert "Notices awaiting service" in text(client, "/console/")
    page = f"/console/review/listings/{noticed.id}"
    shown = text(client, page)
    assert "Not served yet" in shown and "The subject has no member" in shown

    # Publication is refused while the notice is not served, with the reason.
    assert post(client, f"{page}/publish", page).status_code == 303
    refused = text(client, page)
    assert "Refused: the notice has not been served" in refused
    session.refresh(noticed)
    assert noticed.state == "notice"

    # Every field error at once, nothing recorded.
    post(client, f"{page}/service", page, channel="fax", served_on="2026-11-26", reference="")
    refused = text(client, page)
    assert "channel: one of post" in refused and "served_on: not after today" in refused
    assert "reference: required" in refused
    post(client, f"{page}/service", page, channel="post", served_on="26/11", reference="x")
    assert "served_on: a date such as 2026-10-09" in text(client, page)
    session.refresh(noticed)
    assert noticed.notice_served_on is None

    done = post(
        client,
        f"{page}/service",
        page,
        channel="post",
        served_on="2026-11-25",
        reference="挂号信 XA400000001CN",
    )
    assert done.status_code == 303
    shown = text(client, page)
    assert "The service is recorded" in shown
    assert 'id="objection-deadline">2026-12-09<' in shown
    assert "挂号信 XA400000001CN" in shown and 'id="deadline-warning"' not in shown
    session.refresh(noticed)
    assert (noticed.notice_channel, noticed.objection_deadline.isoformat()) == (
        "post",
        "2026-12-09",
    )
    (served,) = session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.object_id == str(noticed.id), AuditEvent.action == "listing.serve"
        )
    ).all()
    assert (served.actor_kind, served.actor_id) == staff_pair(session, "bob")
    assert str(noticed.id) not in text(client, "/console/review/notices")

    # The window is open on its last day; the day after, a reviewer may publish at once.
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    clock.set(datetime(2026, 12, 9, 15, 50, tzinfo=UTC))  # 23:50 in Beijing, 9 December
    sign_in(client, "bob")
    post(client, f"{page}/publish", page)
    assert "Refused: the objection window is open" in text(client, page)
    clock.set(datetime(2026, 12, 9, 16, 0, tzinfo=UTC))  # midnight, 10 December
    post(client, f"{page}/publish", page)
    assert "The entry is published." in text(client, page)
    session.refresh(noticed)
    assert noticed.state == "published"


def staff_pair(session, username) -> tuple[str, str]:
    actor = staff_actor(session, username)
    return (str(actor.kind), actor.id)


def test_regulator_staff_record_the_service_of_their_own_entries_only(
    client, session, clock, seeded, noticed
):
    sign_in(client, "dave")  # staff of another regulator
    theirs = f"/console/regulator/listings/{noticed.id}"
    form = {"channel": "announcement", "served_on": "2026-11-25", "reference": "公告 2026-118"}
    token = csrf(client, "/console/")
    assert client.post(f"{theirs}/service", data={**form, "csrf_token": token}).status_code == 404
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})

    sign_in(client, "carol")
    assert post(client, f"{theirs}/service", theirs, **form).status_code == 303
    shown = text(client, theirs)
    assert "Public announcement" in shown and "公告 2026-118" in shown
    session.refresh(noticed)
    assert noticed.notice_channel == "announcement"
    (served,) = session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.object_id == str(noticed.id), AuditEvent.action == "listing.serve"
        )
    ).all()
    assert (served.actor_kind, served.actor_id) == staff_pair(session, "carol")


def test_the_subject_page_shows_the_pending_entry_how_to_object_and_the_warning(
    client, session, runtime, clock, seeded, noticed
):
    # The notice is served on Thursday 24 December: the window reaches into 2027, which no
    # shipped calendar covers.
    clock.set(datetime(2026, 12, 24, 2, 0, tzinfo=UTC))
    listings.record_service(
        session,
        noticed,
        actor=staff_actor(session, "bob"),
        role=listings.Role.REVIEWER,
        channel="in_person",
        served_on=clock.now().date(),
        reference="送达回证 2026-0042",
        policy=listings.policy_from_settings(runtime.settings),
        at=clock.now(),
    )
    session.commit()
    sign_in(client, "bob")
    page = text(client, f"/console/subjects/{seeded.subject_id}")
    assert "In the notice stage" in page and "提供虚假材料取得行政许可" in page
    assert "2027-01-07" in page
    assert f"POST /api/v1/listings/{noticed.id}/objections" in page
    assert "No public-holiday calendar covers 2027" in page
    listing = text(client, f"/console/review/listings/{noticed.id}")
    assert 'id="deadline-warning"' in listing and "2027" in listing
    assert client.get(f"/console/subjects/{uuid.uuid4()}").status_code == 404

    chinese = text(client, f"/console/subjects/{seeded.subject_id}", "zh-CN")
    assert "告知阶段" in chinese and "当面送达" in chinese
    assert "2027 年尚无节假日安排：异议期限" in text(
        client, f"/console/review/listings/{noticed.id}", "zh-CN"
    )
