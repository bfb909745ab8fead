"""The reviewers' rating queue (a page at a time, its filters, the bulk approval of unchanged
grades) and the audit log (paged, searched, exported as CSV)."""

import csv
import io
import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from admin.console import AUDIT_PAGE, RATINGS_PAGE_SIZE
from registry import ratings
from registry.audit import Actor, ActorKind, AuditEvent, record_event
from registry.errors import InvalidInput
from registry.ratings import RatingStatus, SubjectRating
from registry.staff import StaffUser
from tests.admin.test_public_paging import enterprises, walk
from tests.console_helpers import csrf, post, seed, sign_in


@pytest.fixture
def seeded(session, runtime, clock):
    return seed(session, runtime, clock.now())


# --- the rating queue ------------------------------------------------------------------------


def proposal(session, subject, grade, at, *, status=RatingStatus.PROPOSED, final=None):
    rating = SubjectRating(
        subject_id=subject.id,
        status=status,
        scorecard="2026-01",
        score=60,
        grade=grade,
        risk_band="medium",
        explanation=[],
        basis=uuid.uuid4().hex,
        proposed_at=at,
        final_grade=final,
        published_at=at if status == RatingStatus.PUBLISHED else None,
    )
    session.add(rating)
    return rating


@pytest.fixture
def queue(session, runtime, clock, seeded):
    """250 subjects, each with a published grade and an open proposal: every third the same
    grade (unchanged), the others another; 10 more subjects with no published grade, and
    one override awaiting its second reviewer over a published B."""
    subjects = enterprises(session, runtime, clock, 261)
    start = clock.now() - timedelta(days=30)
    open_ = []
    for n, subject in enumerate(subjects[:250]):
        proposal(session, subject, "B", start, status=RatingStatus.PUBLISHED, final="B")
        grade = "B" if n % 3 == 0 else "C"
        # Pairs proposed at the same moment: the id settles their order.
        open_.append(proposal(session, subject, grade, start + timedelta(minutes=n // 2)))
    for n, subject in enumerate(subjects[250:260]):
        open_.append(proposal(session, subject, "A", start + timedelta(hours=10, minutes=n)))
    proposal(session, subjects[260], "B", start, status=RatingStatus.PUBLISHED, final="B")
    override = proposal(
        session,
        subjects[260],
        "B",
        start + timedelta(hours=20),
        status=RatingStatus.AWAITING_SECOND,
        final="B",  # the override's grade is the published one, but it still needs four eyes
    )
    override.approved_by = "staff:someone-else"
    open_.append(override)
    session.commit()
    return open_


RATING_LINK = re.compile(r'href="/console/review/ratings/([0-9a-f-]{36})"')
TICKED = re.compile(r'name="rating_id" value="([0-9a-f-]{36})" checked')


def in_queue_order(items):
    return [str(r.id) for r in sorted(items, key=lambda r: (r.proposed_at, str(r.id)))]


def test_the_rating_queue_pages_through_every_proposal(client, seeded, queue):
    sign_in(client, "bob")
    seen, pages = walk(client, "/console/review/ratings", RATING_LINK)
    assert pages == 3 and RATINGS_PAGE_SIZE == 100
    assert seen == in_queue_order(queue)


def test_the_rating_queue_filters(client, session, seeded, queue):
    sign_in(client, "bob")
    unchanged = [r for r in queue if r.grade == "B" and r.status == "proposed"]
    seen, _ = walk(client, "/console/review/ratings?change=unchanged", RATING_LINK)
    # The override awaiting its second reviewer is unchanged against the published grade
    # too, and shown, but never ticked for the bulk approval.
    assert seen == in_queue_order([*unchanged, queue[-1]])
    changed, _ = walk(client, "/console/review/ratings?change=changed", RATING_LINK)
    assert changed == in_queue_order([r for r in queue if r.grade == "C"])
    new, _ = walk(client, "/console/review/ratings?change=new&grade=A", RATING_LINK)
    assert new == in_queue_order([r for r in queue if r.grade == "A"])
    waiting, _ = walk(client, "/console/review/ratings?status=awaiting_second", RATING_LINK)
    assert waiting == [str(queue[-1].id)]
    named = client.get("/console/review/ratings?name=华信007").get_data(as_text=True)
    assert RATING_LINK.findall(named) == [str(queue[7].id)]
    assert RATING_LINK.findall(client.get("/console/review/ratings?region=31").get_data(True)) == []
    assert len(walk(client, "/console/review/ratings?region=11", RATING_LINK)[0]) == len(queue)
    # Only proposals whose grade is the published one come ticked for approval.
    first = client.get("/console/review/ratings").get_data(as_text=True)
    ticked = set(TICKED.findall(first))
    assert ticked and ticked <= {str(r.id) for r in unchanged}


def published_events(session, rating_id):
    return session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "rating.published", AuditEvent.object_id == str(rating_id)
        )
    ).all()


def test_bulk_approval_publishes_only_unchanged_grades_each_audited(client, session, seeded, queue):
    sign_in(client, "bob")
    page = "/console/review/ratings?change=unchanged"
    shown = client.get(page).get_data(as_text=True)
    ticked = TICKED.findall(shown)
    assert len(ticked) == len({str(r.id) for r in queue if r.grade == "B"} & set(ticked)) > 0
    changed = [str(r.id) for r in queue if r.grade in ("A", "C")][:3]
    # A forged form naming changed grades and the override: those stay in the queue.
    sent = [*ticked, *changed, str(queue[-1].id)]
    answer = post(client, "/console/review/ratings/approve-unchanged", page,
                  rating_id=sent, reason="季度复核：等级未变", next=page)  # fmt: skip
    assert answer.status_code == 303 and answer.headers["Location"].endswith(page)
    bob = session.scalar(sa.select(StaffUser).where(StaffUser.username == "bob"))
    session.expire_all()
    for rating_id in ticked:
        rating = session.get(SubjectRating, uuid.UUID(rating_id))
        assert (rating.status, rating.final_grade) == ("published", "B")
        assert rating.approved_by == f"staff:{bob.id}"
        [event] = published_events(session, rating_id)
        assert (event.actor_kind, event.actor_id) == ("staff", str(bob.id))
        assert event.reason == "季度复核：等级未变"
    for rating_id in [*changed, str(queue[-1].id)]:
        rating = session.get(SubjectRating, uuid.UUID(rating_id))
        assert rating.status in ("proposed", "awaiting_second")
        assert published_events(session, rating_id) == []
    # In the page's language, which the test's application context may have fixed earlier.
    told = client.get(page).get_data(as_text=True)
    assert f"{len(ticked)} proposals approved." in told or f"已批准 {len(ticked)} 条" in told
    assert "4 left in the queue" in told or "4 条仍在队列中" in told


def test_bulk_approval_needs_a_reason_a_csrf_token_and_the_reviewer_role(
    client, session, seeded, queue
):
    target = str(next(r.id for r in queue if r.grade == "B" and r.status == "proposed"))
    page = "/console/review/ratings"
    sign_in(client, "bob")
    refused = post(client, "/console/review/ratings/approve-unchanged", page,
                   rating_id=[target], reason="  ")  # fmt: skip
    assert refused.status_code == 303
    assert "reason" in client.get(page).get_data(as_text=True)
    no_token = client.post(
        "/console/review/ratings/approve-unchanged", data={"rating_id": [target], "reason": "x"}
    )
    assert no_token.status_code == 400
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    sign_in(client, "ada")  # an administrator, not a reviewer
    assert client.get(page).status_code == 403
    forbidden = client.post(
        "/console/review/ratings/approve-unchanged",
        data={"rating_id": [target], "reason": "x", "csrf_token": csrf(client, "/console/")},
    )
    assert forbidden.status_code == 403
    session.expire_all()
    assert session.get(SubjectRating, uuid.UUID(target)).status == "proposed"
    assert published_events(session, target) == []


def test_the_domain_refuses_a_bulk_approval_without_reason(session, seeded, queue, clock):
    reviewer = Actor(ActorKind.STAFF, "bob")
    with pytest.raises(InvalidInput):
        ratings.approve_unchanged(
            session, [str(queue[0].id)], reviewer=reviewer, reason="", at=clock.now()
        )
    with pytest.raises(InvalidInput):
        ratings.approve_unchanged(session, [], reviewer=reviewer, reason="x", at=clock.now())


# --- the audit log ---------------------------------------------------------------------------

ID_NUMBER = "11010519491231002X"


@pytest.fixture
def audit_events(session, seeded, clock):
    """250 events of one kind over five days, two to a moment, one reason holding an ID."""
    start = clock.now() - timedelta(days=5)
    for n in range(250):
        record_event(
            session,
            actor=Actor(ActorKind.STAFF, "clerk-1" if n % 2 else "clerk-2"),
            action="test.paged",
            object_type="thing",
            object_id=f"T-{n:03d}",
            after={"n": n},
            reason=f"查验身份证 {ID_NUMBER}" if n == 7 else "核对",
            at=start + timedelta(minutes=30 * (n // 2)),
        )
    session.commit()
    return session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.action == "test.paged")
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    ).all()


OBJECT = re.compile(r'title="(T-\d{3})"')


def test_the_audit_log_pages_through_every_matching_event(client, seeded, audit_events):
    sign_in(client, "ada")
    seen, pages = walk(client, "/console/admin/audit?action=test.paged", OBJECT)
    assert pages == 3 and AUDIT_PAGE == 100
    assert seen == [e.object_id for e in audit_events]
    mine, _ = walk(client, "/console/admin/audit?action=test.&actor_id=clerk-1", OBJECT)
    assert mine == [e.object_id for e in audit_events if e.actor_id == "clerk-1"]
    day = audit_events[-1].occurred_at.date().isoformat()
    first_day, _ = walk(
        client, f"/console/admin/audit?action=test.paged&since={day}&until={day}", OBJECT
    )
    assert first_day == [
        e.object_id for e in audit_events if e.occurred_at.date().isoformat() == day
    ]
    text = client.get("/console/admin/audit?object_id=T-007").get_data(as_text=True)
    assert ID_NUMBER not in text and "1101**********002X" in text


def test_the_audit_log_exports_csv_with_or_without_bom(client, seeded, audit_events):
    sign_in(client, "ada")
    plain = client.get("/console/admin/audit.csv?action=test.paged")
    assert plain.status_code == 200 and plain.mimetype == "text/csv"
    assert "attachment" in plain.headers["Content-Disposition"]
    body = plain.get_data(as_text=True)
    assert not body.startswith("\ufeff") and ID_NUMBER not in body
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [row["object_id"] for row in rows] == [e.object_id for e in audit_events]
    assert rows[-1]["after"] == '{"n": 0}'
    assert "1101**********002X" in {row["object_id"]: row for row in rows}["T-007"]["reason"]
    bom = client.get("/console/admin/audit.csv?action=test.paged&actor_id=clerk-2&bom=1")
    text = bom.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    assert len(list(csv.DictReader(io.StringIO(text[1:])))) == 125
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    sign_in(client, "bob")  # a reviewer: no audit log
    assert client.get("/console/admin/audit.csv").status_code == 403
