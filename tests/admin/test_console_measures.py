"""Joint measures in the console: regulator staff tick the catalogue's measures on the propose
form (CSRF kept), bad choices come back with their errors, and the listing page shows the
measures an entry names (an entry from before the catalogue: its free text, said so) and
the measures members applied."""

import uuid

import pytest
import sqlalchemy as sa

from registry.clock import local_date
from registry.listings import ListEntry, policy_from_settings, report_measure
from registry.members import Member
from registry.subjects import Subject
from tests.console_helpers import PROPOSAL, post, seed, sign_in
from tests.factories import TEST_ACTOR, member
from tests.monitoring_helpers import published_entry

NEW = "/console/regulator/listings/new"


@pytest.fixture
def seeded(session, runtime, clock):
    return seed(session, runtime, clock.now())


def test_the_propose_form_offers_the_catalogue_as_checkboxes_and_keeps_its_csrf_token(
    client, seeded, session
):
    sign_in(client, "carol")
    form = client.get(NEW).get_data(as_text=True)
    assert 'name="csrf_token"' in form
    assert 'type="checkbox" name="measures" value="restrict_high_consumption"' in form
    assert 'type="checkbox" name="measures" value="approval_green_channel"' in form
    assert "限制高消费及非生活和工作必需的消费" in form
    assert '<textarea id="measures"' not in form

    without_token = client.post(NEW, data=PROPOSAL)
    assert without_token.status_code == 400
    assert session.scalar(sa.select(sa.func.count()).select_from(ListEntry)) == 0


def test_codes_that_do_not_attach_come_back_with_their_errors_and_ticked(client, seeded, session):
    sign_in(client, "carol")
    refused = post(
        client,
        NEW,
        NEW,
        **{**PROPOSAL, "measures": ["approval_green_channel", "key_supervision"]},
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert (
        "measure &#39;approval_green_channel&#39; does not attach to the list serious_illegal"
        in page
    )
    assert 'value="approval_green_channel" checked' in page
    assert 'value="key_supervision" checked' in page
    assert 'id="measures" aria-invalid="true"' in page
    none = post(client, NEW, NEW, **{**PROPOSAL, "measures": []})
    assert none.status_code == 422 and "name at least one measure code" in none.get_data(
        as_text=True
    )
    assert session.scalar(sa.select(sa.func.count()).select_from(ListEntry)) == 0

    created = post(
        client, NEW, NEW, **{**PROPOSAL, "measures": ["key_supervision", "restrict_tendering"]}
    )
    assert created.status_code == 303
    entry = session.scalar(sa.select(ListEntry))
    assert [m.code for m in entry.measures] == ["key_supervision", "restrict_tendering"]
    page = client.get(created.headers["Location"]).get_data(as_text=True)
    assert 'data-code="restrict_tendering"' in page
    assert "尚无成员机构报告实施措施。" in page  # the console speaks Chinese by default


def test_the_listing_page_shows_free_text_as_such_and_the_measures_applied(
    client, seeded, session, runtime, clock
):
    regulator = session.get(Member, uuid.UUID(seeded.regulator_id))
    entry = published_entry(
        session, regulator, session.get(Subject, uuid.UUID(seeded.subject_id)), clock
    )
    office = member(session, kind="regulator", roles=("regulator",), name="北京市财政局")
    report_measure(
        session,
        entry,
        actor=TEST_ACTOR,
        member=office,
        code="bar_government_procurement",
        applied_on=local_date(clock.now()),
        reference="京财采〔2026〕7号",
        policy=policy_from_settings(runtime.settings),
        at=clock.now(),
    )
    session.commit()

    sign_in(client, "carol")
    page = client.get(f"/console/regulator/listings/{entry.id}").get_data(as_text=True)
    assert "限制参加政府采购活动" in page
    assert "自由文本，提出于联合奖惩措施目录施行之前" in page  # free text, shown as such
    applied = page[page.index('<table id="measures-applied">') :]
    applied = applied[: applied.index("</table>")]
    for shown in (
        "北京市财政局",
        "限制参加政府采购活动 (barred from government procurement)",
        local_date(clock.now()).isoformat(),
        "京财采〔2026〕7号",
    ):
        assert shown in applied, shown
    # The public page names the measures, not the authority that applied them.
    public = client.get("/lists/serious_illegal").get_data(as_text=True)
    assert "限制参加政府采购活动" in public and "北京市财政局" not in public
