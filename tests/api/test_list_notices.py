"""The prior notice (告知) as a recorded act: served on the member that is the subject when it
reads its notices, otherwise by a channel staff record with its date of service; the objection
window runs from service, in the working days of the shipped holiday calendars; an entry whose
notice was never served is not published. On the test clock, at the window's last day and the
day after, on both databases."""

# ruff: noqa: F811 - the fixtures imported from test_listings are named as arguments

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from registry.audit import AuditEvent
from registry.listings import ListEntry, run_list_jobs
from tests.api.test_listings import (  # noqa: F401 - the fixtures are used by name
    PROPOSAL,
    SUBJECT,
    approve_all,
    before_national_day,
    cli,
    propose,
    regulator,
    reviewers,
    serve,
)
from tests.signing import signed_member

BEIJING = "+08:00"


def beijing(day: str, time: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{time}:00{BEIJING}").astimezone(UTC)


def run_at(session, clock, when: datetime) -> int:
    """The worker's list job at ``when``: how many entries it published or removed."""
    clock.set(when)
    changed = run_list_jobs(session, clock.now())
    session.commit()
    return changed


def state(session, entry_id) -> str:
    session.expire_all()
    return session.get(ListEntry, uuid.UUID(entry_id)).state


def problem(response) -> tuple[int, str]:
    return response.status_code, response.get_json()["type"]


@pytest.fixture
def subject_member(session, client, clock):
    """The member that is the enterprise the proposals name (same USCC); a querier, so it
    can also look itself up."""
    member = signed_member(session, client, clock, kind="enterprise", roles=("querier",))
    member.member.uscc = SUBJECT["uscc"]
    session.commit()
    return member


def test_the_member_reads_its_notice_and_the_window_runs_from_that_day_across_national_day(
    before_national_day, app, session, clock, regulator, reviewers, subject_member
):
    entry = propose(regulator).get_json()
    noticed = approve_all(app, entry["id"], reviewers)  # Wednesday 23 September
    assert noticed["notice"]["issued_at"] and noticed["notice"]["served"] is False
    assert noticed["objection_deadline"] is None

    # Nobody reads it for a day: no window runs, nothing is published.
    assert run_at(session, clock, beijing("2026-09-24", "09:00")) == 0
    read = subject_member.get("/api/v1/notices")
    assert read.status_code == 200, read.get_json()
    (notice,) = read.get_json()["notices"]
    assert notice["id"] == entry["id"] and notice["state"] == "notice"
    assert notice["notice"]["channel"] == "member"
    assert notice["notice"]["served_on"] == "2026-09-24"
    assert notice["notice"]["delivered_at"] == "2026-09-24T01:00:00Z"
    assert notice["notice"]["member_id"] == str(subject_member.member.id)
    # From Thursday 24 September: the Mid-Autumn holiday (25-27), 28-30 September, National
    # Day (1-7 October), then 8, 9, Saturday 10 (a make-up working day), 12 ... 15 October.
    # Weekdays alone would have ended it on 8 October.
    assert notice["notice"]["objection_deadline"] == "2026-10-15"
    assert notice["notice"]["objection_deadline_warning"] is None
    assert notice["legal_basis"] == PROPOSAL["legal_basis"]
    assert "10 working days" in notice["text"] and notice["how_to_object"]
    assert "2026-10-15" in notice["how_to_object"]

    # Reading again serves nothing more: the first delivery stands.
    again = subject_member.get("/api/v1/notices").get_json()["notices"][0]["notice"]
    assert again["delivered_at"] == "2026-09-24T01:00:00Z"
    served_events = session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.object_id == entry["id"], AuditEvent.action == "listing.serve"
        )
    ).all()
    assert len(served_events) == 1
    (served,) = served_events
    assert (served.actor_kind, served.actor_id) == ("member", str(subject_member.member.id))
    assert served.after["channel"] == "member" and served.after["served_on"] == "2026-09-24"
    assert served.after["objection_deadline"] == "2026-10-15"
    assert "GET /api/v1/notices" in served.after["reference"]

    # Day N-1 and day N of the window: open, publication refused; the day after: published.
    assert run_at(session, clock, beijing("2026-10-14", "23:59")) == 0
    early = regulator.post(f"/api/v1/listings/{entry['id']}/publish", None)
    assert problem(early) == (409, "/problems/objection-window-open")
    assert early.get_json()["objection_deadline"] == "2026-10-15"
    assert run_at(session, clock, beijing("2026-10-15", "23:59")) == 0
    assert state(session, entry["id"]) == "notice"
    assert run_at(session, clock, beijing("2026-10-16", "00:00")) == 1
    assert state(session, entry["id"]) == "published"
    # Out of its notice stage, the entry is no longer among the member's notices.
    assert subject_member.get("/api/v1/notices").get_json()["notices"] == []


def test_a_notice_served_by_post_opens_the_window_on_its_date_of_service_across_weekends(
    app, session, clock, regulator, reviewers
):
    entry = propose(regulator).get_json()
    approve_all(app, entry["id"], reviewers)  # Wednesday 25 November 2026
    # The letter reaches the subject on Friday 27 November; staff record it on Monday.
    clock.set(beijing("2026-11-30", "09:30"))
    code, output = serve(app, entry["id"], "2026-11-27", reference="挂号信 XA200000001CN")
    assert code == 0, output
    served = json.loads(output)
    assert served["notice"]["channel"] == "post" and served["notice"]["served_on"] == "2026-11-27"
    assert served["notice"]["reference"] == "挂号信 XA200000001CN"
    assert served["notice"]["delivered_at"] is None
    # Ten working days from Friday 27 November, two weekends skipped: Friday 11 December.
    assert served["objection_deadline"] == "2026-12-11"

    # Counted from approval the window would have closed on 9 December: it has not.
    assert run_at(session, clock, beijing("2026-12-10", "12:00")) == 0  # day N-1
    assert run_at(session, clock, beijing("2026-12-11", "23:59")) == 0  # day N
    code, output = cli(app, "publish", entry["id"], "--reviewer", "rev-bob")
    assert code == 1 and "the objection window is open" in output
    assert "objection_deadline: 2026-12-11" in output
    clock.set(beijing("2026-12-12", "08:00"))  # Saturday: the day after the window
    code, output = cli(app, "publish", entry["id"], "--reviewer", "rev-bob")
    assert code == 0, output
    assert json.loads(output)["state"] == "published"
    published = session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.object_id == entry["id"], AuditEvent.action == "listing.publish"
        )
    ).one()
    assert published.actor_kind == "staff"


def test_an_entry_whose_notice_was_never_served_is_not_published(
    app, session, client, clock, regulator, reviewers
):
    entry = propose(regulator).get_json()
    approve_all(app, entry["id"], reviewers)
    # Months go by: the worker never publishes it.
    assert run_at(session, clock, clock.now() + timedelta(days=90)) == 0
    assert state(session, entry["id"]) == "notice"

    refused = regulator.post(f"/api/v1/listings/{entry['id']}/publish", None)
    assert problem(refused) == (409, "/problems/notice-not-served")
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert "has not been served" in refused.get_json()["detail"]
    assert refused.get_json()["notice_issued_at"] == "2026-11-25T08:00:00Z"
    code, output = cli(app, "publish", entry["id"], "--reviewer", "rev-alice")
    assert code == 1 and "error: the notice has not been served" in output
    assert state(session, entry["id"]) == "notice"
    assert client.get("/api/v1/public/lists/blacklist").get_json()["total"] == 0

    # The registry's reviewers see it among the notices awaiting service.
    code, output = cli(app, "awaiting-service")
    assert code == 0 and [e["id"] for e in json.loads(output)] == [entry["id"]]
    # A member that is not the subject is handed nothing, and serves nothing.
    stranger = signed_member(session, client, clock, kind="enterprise", roles=("querier",))
    stranger.member.uscc = "91310115MA1K3BTP2B"
    session.commit()
    assert stranger.get("/api/v1/notices").get_json() == {"notices": []}
    assert signed_member(session, client, clock).get("/api/v1/notices").get_json() == {
        "notices": []
    }
    assert regulator.get(f"/api/v1/listings/{entry['id']}").get_json()["notice"]["served"] is False


def test_service_is_recorded_once_with_every_field_error_at_once(
    app, session, client, clock, regulator, reviewers
):
    entry = propose(regulator).get_json()
    path = f"/api/v1/listings/{entry['id']}/service"
    letter = {"channel": "post", "served_on": "2026-11-25", "reference": "挂号信 XA300000001CN"}
    # Not yet approved: there is no notice to serve.
    assert problem(regulator.post(path, letter)) == (409, "/problems/invalid-transition")
    approve_all(app, entry["id"], reviewers)

    bad = regulator.post(path, {"channel": "member", "reference": ""})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.get_json()["errors"]} == {"channel", "served_on", "reference"}
    tomorrow = regulator.post(path, {**letter, "served_on": "2026-11-26"})
    assert tomorrow.status_code == 422
    assert tomorrow.get_json()["errors"] == [
        {"field": "served_on", "message": "not after today (2026-11-25)"}
    ]
    before_issue = regulator.post(path, {**letter, "served_on": "2026-11-24"})
    assert before_issue.get_json()["errors"][0]["message"] == (
        "not before the notice was issued (2026-11-25)"
    )
    code, output = serve(app, entry["id"], "2026-11-26")
    assert code == 1 and "served_on: not after today (2026-11-25)" in output
    code, output = serve(app, entry["id"], "2026-11-25", reference="回证 11010519491231002X")
    assert code == 1 and "reference: " in output and "11010519491231002X" not in output
    other = signed_member(session, client, clock, kind="regulator", roles=("regulator",))
    assert other.post(path, letter).status_code == 404  # another regulator's entry

    recorded = regulator.post(path, letter)
    assert recorded.status_code == 200, recorded.get_json()
    assert recorded.get_json()["objection_deadline"] == "2026-12-09"
    twice = regulator.post(path, {**letter, "channel": "announcement"})
    assert problem(twice) == (409, "/problems/notice-already-served")
    assert twice.get_json()["served_on"] == "2026-11-25" and twice.get_json()["channel"] == "post"
    (served,) = session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.object_id == entry["id"], AuditEvent.action == "listing.serve"
        )
    ).all()
    assert (served.actor_kind, served.actor_id) == ("member", str(regulator.member.id))
    assert served.after == {
        "state": "notice",
        "channel": "post",
        "served_on": "2026-11-25",
        "reference": "挂号信 XA300000001CN",
        "objection_deadline": "2026-12-09",
    }


def test_the_subject_sees_its_pending_entry_and_how_to_object(
    app, session, client, clock, regulator, reviewers, subject_member
):
    entry = propose(regulator).get_json()
    approve_all(app, entry["id"], reviewers)
    querier = signed_member(session, client, clock, roles=("querier",))
    lookup = f"/api/v1/subjects/{entry['subject_id']}?purpose=counterparty_check"
    # A counterparty sees no pending entry, and its lookup serves nothing.
    assert "pending_list_entries" not in querier.get(lookup).get_json()
    assert regulator.get(f"/api/v1/listings/{entry['id']}").get_json()["notice"]["served"] is False

    # The subject's own report shows the entry in its notice stage; handing it over serves
    # the notice.
    report = subject_member.post(f"/api/v1/subjects/{entry['subject_id']}/own-report", None)
    assert report.status_code == 201, report.get_json()
    (pending,) = report.get_json()["report"]["pending_list_entries"]
    assert pending["id"] == entry["id"] and pending["reason"] == "提供虚假材料取得行政许可"
    assert pending["notice"]["served_on"] == "2026-11-25"
    assert pending["notice"]["channel"] == "member"
    assert pending["notice"]["objection_deadline"] == "2026-12-09"
    assert f"/api/v1/listings/{entry['id']}/objections" in pending["how_to_object"]
    assert report.get_json()["report"]["list_history"] == []  # not published
    html = subject_member.get(f"/api/v1/reports/{report.get_json()['report']['report_id']}.html")
    assert "Entries in their notice stage" in html.get_data(as_text=True)
    assert "until 2026-12-09 (inclusive)" in html.get_data(as_text=True)
    served = regulator.get(f"/api/v1/listings/{entry['id']}").get_json()["notice"]
    assert "own-report" in served["reference"]

    # Its own view of itself shows it too, with the objections it filed.
    filed = subject_member.post(
        f"/api/v1/listings/{entry['id']}/objections", {"statement": "材料真实，申请复核"}
    )
    assert filed.status_code == 201
    own_view = subject_member.get(lookup).get_json()
    (shown,) = own_view["pending_list_entries"]
    assert shown["objections"][0]["statement"] == "材料真实，申请复核"
    assert own_view["lists"] == []


def test_a_window_reaching_into_a_year_without_a_calendar_carries_a_warning(
    app, session, client, clock, regulator, reviewers, subject_member
):
    entry = propose(regulator).get_json()
    approve_all(app, entry["id"], reviewers)
    clock.set(beijing("2026-12-24"))  # Thursday; no 2027 calendar is shipped
    (notice,) = subject_member.get("/api/v1/notices").get_json()["notices"]
    # 25, 28-31 December, then 1 January 2027 counted as a weekday, 4-7 January.
    assert notice["notice"]["objection_deadline"] == "2027-01-07"
    warning = notice["notice"]["objection_deadline_warning"]
    assert warning["status"] == "years-missing" and warning["missing"] == [2027]
    assert "2027" in warning["detail"]
    listed = regulator.get(f"/api/v1/listings/{entry['id']}").get_json()
    assert listed["objection_deadline_warning"] == warning
    (served,) = session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.object_id == entry["id"], AuditEvent.action == "listing.serve"
        )
    ).all()
    assert "2027" in served.after["objection_deadline_warning"]
