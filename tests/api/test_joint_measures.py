"""Joint measures (联合奖惩) over the signed API: a proposal names its measures by the codes of
the catalogue (config/joint_measures.toml), every bad one refused at once; the entry shows
them wherever it shows; a regulator reports a measure it applied to a published entry, and
the proposer sees who applied which measure when."""

# ruff: noqa: F811 - test_listings' regulator and reviewers fixtures are imported, used by name
from datetime import timedelta

import pytest
import sqlalchemy as sa

from registry.audit import AuditEvent
from registry.clock import local_date
from registry.listings import MeasureApplication
from tests.api.test_list_kinds import published
from tests.api.test_listings import (  # noqa: F401 - the fixtures are used by name
    PROPOSAL,
    approve_and_serve,
    propose,
    regulator,
    reviewers,
    tick,
)
from tests.signing import signed_member

WATCH_PROPOSAL = {**PROPOSAL, "list": "watch", "measures": ["key_supervision"]}


def field_errors(response):
    return {e["field"]: e["message"] for e in response.get_json()["errors"]}


@pytest.fixture
def procurement_office(session, client, clock):
    """Another authority: it applies the measures, it did not propose the entry."""
    return signed_member(session, client, clock, kind="regulator", roles=("regulator",))


def report(member, entry_id, **body):
    return member.post(f"/api/v1/listings/{entry_id}/measures", body)


# --- proposals -------------------------------------------------------------------------------


def test_a_proposal_with_bad_codes_hears_of_every_one_at_once_and_nothing_is_stored(
    regulator, session
):
    response = propose(
        regulator,
        list="judgment_debtor",
        measures=[
            "restrict_high_consumption",
            "no_such_measure",
            "approval_green_channel",  # a redlist incentive
            "key_supervision",  # not for judgment debtors
            "restrict_high_consumption",
        ],
        reason="",
    )
    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith("application/problem+json")
    errors = field_errors(response)
    assert set(errors) == {"measures.1", "measures.2", "measures.3", "measures.4", "reason"}
    assert "unknown measure 'no_such_measure'" in errors["measures.1"]
    assert "/api/v1/public/measures" in errors["measures.1"]
    assert "does not attach to the list judgment_debtor" in errors["measures.2"]
    assert "named twice" in errors["measures.4"]
    assert session.scalar(sa.text("SELECT count(*) FROM list_entries")) == 0
    assert session.scalar(sa.text("SELECT count(*) FROM list_entry_measures")) == 0


@pytest.mark.parametrize(
    ("measures", "message"),
    [
        ([], "name from 1 to 50 measure codes"),
        ("限制参与政府采购", "free text is no longer taken"),
        (None, "Field may not be null."),
    ],
)
def test_free_text_or_no_measure_is_refused_naming_the_catalogue(regulator, measures, message):
    response = propose(regulator, measures=measures)
    assert response.status_code == 422
    assert message in field_errors(response)["measures"]


def test_a_missing_measures_field_is_named(regulator):
    response = regulator.post(
        "/api/v1/listings", {k: v for k, v in PROPOSAL.items() if k != "measures"}
    )
    assert response.status_code == 422
    assert "measures" in field_errors(response)


def test_an_unknown_list_still_hears_of_its_unknown_codes(regulator):
    response = propose(regulator, list="greylist", measures=["nothing_like_it"])
    assert set(field_errors(response)) == {"list", "measures.0"}


def test_good_codes_are_stored_and_shown_in_order_on_every_view(
    app, session, client, clock, regulator, reviewers
):
    codes = ["restrict_tendering", "bar_government_procurement"]
    created = propose(regulator, measures=codes)
    assert created.status_code == 201, created.get_json()
    view = created.get_json()
    assert [m["code"] for m in view["measures"]] == codes
    assert view["measures"][1]["legal_basis"].startswith("中华人民共和国政府采购法 第二十二条")
    assert view["measures_text"] == (
        "限制参与招标投标及公共资源交易活动 (restricted in tendering, bidding and public-resource "
        "trading)；限制参加政府采购活动 (barred from government procurement)"
    )
    assert view["measures_applied"] == []
    proposed = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "listing.proposed"))
    assert proposed.after["measures"] == codes

    approve_and_serve(app, clock, view["id"], reviewers)
    assert tick(app, session, clock, timedelta(days=15)) == 1
    public = client.get("/api/v1/public/lists/serious_illegal").get_json()["entries"][0]
    assert [m["code"] for m in public["measures"]] == codes
    assert public["measures_text"] == view["measures_text"]
    csv = client.get("/api/v1/public/lists/blacklist.csv").get_data(as_text=True)
    assert "restrict_tendering bar_government_procurement" in csv
    page = client.get("/lists/serious_illegal").get_data(as_text=True)
    assert "限制参加政府采购活动" in page and "free text" not in page


def test_the_catalogue_is_public(client):
    catalogue = client.get("/api/v1/public/measures").get_json()["measures"]
    by_code = {m["code"]: m for m in catalogue}
    assert by_code["restrict_high_consumption"]["kinds"] == ["judgment_debtor"]
    assert by_code["approval_green_channel"]["kinds"] == ["redlist"]


# --- measures applied ------------------------------------------------------------------------


def test_a_regulator_reports_a_measure_it_applied_and_the_entry_shows_it(
    app, session, client, clock, regulator, reviewers, procurement_office
):
    entry = published(app, session, clock, regulator, reviewers)
    today = local_date(clock.now()).isoformat()
    clock.advance(timedelta(hours=1))
    response = report(
        procurement_office,
        entry["id"],
        code="bar_government_procurement",
        applied_on=today,
        reference="京财采〔2026〕12号",
    )
    assert response.status_code == 201, response.get_json()
    applied = response.get_json()
    assert applied["member_id"] == str(procurement_office.member.id)
    assert applied["member_name"] == procurement_office.member.name
    assert applied["text"] == "限制参加政府采购活动 (barred from government procurement)"
    assert (applied["applied_on"], applied["reference"]) == (today, "京财采〔2026〕12号")
    assert applied["reported_at"].startswith(clock.now().date().isoformat())

    # A retry of the same report is the same report.
    again = report(
        procurement_office,
        entry["id"],
        code="bar_government_procurement",
        applied_on=today,
        reference="京财采〔2026〕12号",
    )
    assert again.status_code == 200 and again.get_json()["id"] == applied["id"]
    assert session.scalar(sa.select(sa.func.count()).select_from(MeasureApplication)) == 1
    events = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "listing.measure_applied")
    ).all()
    assert len(events) == 1
    assert events[0].actor_id == str(procurement_office.member.id)
    assert events[0].object_id == entry["id"]
    assert events[0].after["code"] == "bar_government_procurement"

    # The proposer sees who applied which measure when; the public does not.
    shown = regulator.get(f"/api/v1/listings/{entry['id']}").get_json()["measures_applied"]
    assert [(a["member_name"], a["code"], a["applied_on"]) for a in shown] == [
        (procurement_office.member.name, "bar_government_procurement", today)
    ]
    public = client.get("/api/v1/public/lists/blacklist").get_json()["entries"][0]
    assert "measures_applied" not in public
    assert procurement_office.member.name not in client.get("/lists/blacklist").get_data(
        as_text=True
    )

    # The list of reports: all for the proposer, its own for another regulator.
    own = report(regulator, entry["id"], code="restrict_tendering", applied_on=today)
    assert own.status_code == 201 and own.get_json()["reference"] is None
    everything = regulator.get(f"/api/v1/listings/{entry['id']}/measures").get_json()
    assert [a["code"] for a in everything["applied"]] == [
        "bar_government_procurement",
        "restrict_tendering",
    ]
    assert [m["code"] for m in everything["measures"]] == ["bar_government_procurement"]
    theirs = procurement_office.get(f"/api/v1/listings/{entry['id']}/measures").get_json()
    assert [a["code"] for a in theirs["applied"]] == ["bar_government_procurement"]


def test_a_report_is_refused_for_an_entry_not_in_force(
    app, session, clock, regulator, reviewers, procurement_office
):
    created = propose(regulator).get_json()
    today = local_date(clock.now()).isoformat()
    # Another regulator does not learn of an entry never published...
    unseen = report(procurement_office, created["id"], code="restrict_tendering", applied_on=today)
    assert unseen.status_code == 404
    # ...its proposer hears it is not in force.
    early = report(regulator, created["id"], code="restrict_tendering", applied_on=today)
    assert early.status_code == 409
    assert early.get_json()["type"] == "/problems/entry-not-in-force"
    assert early.get_json()["current_state"] == "proposed"

    approve_and_serve(app, clock, created["id"], reviewers)
    assert tick(app, session, clock, timedelta(days=15)) == 1
    revoked = regulator.post(f"/api/v1/listings/{created['id']}/revoke", {"reason": "撤销"})
    assert revoked.status_code == 200
    today = local_date(clock.now()).isoformat()
    late = report(procurement_office, created["id"], code="restrict_tendering", applied_on=today)
    assert late.status_code == 409 and late.get_json()["current_state"] == "removed"
    assert session.scalar(sa.select(sa.func.count()).select_from(MeasureApplication)) == 0


def test_a_report_with_a_code_not_attached_or_a_bad_day_is_refused_with_every_error(
    app, session, clock, regulator, reviewers, procurement_office
):
    entry = published(app, session, clock, regulator, reviewers)
    published_on = local_date(clock.now())
    tomorrow = (published_on + timedelta(days=1)).isoformat()
    both = report(
        procurement_office, entry["id"], code="restrict_high_consumption", applied_on=tomorrow
    )
    assert both.status_code == 422
    errors = field_errors(both)
    assert "does not attach to the list serious_illegal" in errors["code"]
    assert "not after today" in errors["applied_on"]

    before = (published_on - timedelta(days=1)).isoformat()
    early = report(procurement_office, entry["id"], code="key_supervision", applied_on=before)
    assert "not before the entry was published" in field_errors(early)["applied_on"]
    unknown = report(procurement_office, entry["id"], code="nothing", applied_on="2026-13-01")
    assert set(field_errors(unknown)) == {"applied_on"}  # the schema: not a date
    extra = report(
        procurement_office, entry["id"], code="key_supervision", applied_on=before, who="me"
    )
    assert "who" in field_errors(extra)
    assert session.scalar(sa.select(sa.func.count()).select_from(MeasureApplication)) == 0


def test_a_report_needs_a_signature_and_the_regulator_role(
    app, session, client, clock, regulator, reviewers
):
    entry = published(app, session, clock, regulator, reviewers)
    body = {"code": "key_supervision", "applied_on": local_date(clock.now()).isoformat()}
    path = f"/api/v1/listings/{entry['id']}/measures"
    assert client.post(path, json=body).status_code == 401
    bank = signed_member(session, client, clock, roles=("querier", "submitter"))
    refused = bank.post(path, body)
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "/problems/role-missing"
    assert bank.get(path).status_code == 403
    assert session.scalar(sa.select(sa.func.count()).select_from(MeasureApplication)) == 0


def test_an_entry_not_on_a_public_list_exists_for_its_proposer_only(
    app, session, clock, regulator, reviewers, procurement_office
):
    entry = published(app, session, clock, regulator, reviewers, **WATCH_PROPOSAL)
    body = {"code": "key_supervision", "applied_on": local_date(clock.now()).isoformat()}
    assert (
        procurement_office.post(f"/api/v1/listings/{entry['id']}/measures", body).status_code == 404
    )
    assert procurement_office.get(f"/api/v1/listings/{entry['id']}/measures").status_code == 404
    mine = regulator.post(f"/api/v1/listings/{entry['id']}/measures", body)
    assert mine.status_code == 201
