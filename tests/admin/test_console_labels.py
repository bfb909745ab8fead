"""Codes read as words on the console's pages, in the page's language."""

import pytest

from registry.records import upsert_record
from tests.console_helpers import seed, sign_in
from tests.factories import TEST_ACTOR


@pytest.fixture
def seeded(session, runtime, clock):
    return seed(session, runtime, clock.now())


def test_a_subject_page_shows_words_not_codes(client, session, seeded, clock):
    import uuid

    from registry.members import Member
    from registry.subjects import Subject

    upsert_record(
        session,
        actor=TEST_ACTOR,
        member=session.get(Member, uuid.UUID(seeded.regulator_id)),
        subject=session.get(Subject, uuid.UUID(seeded.subject_id)),
        member_record_id="P-1",
        fields={
            "category": "administrative_penalty",
            "polarity": "negative",
            "severity": "general",
            "authority": "北京市市场监督管理局",
            "decided_at": clock.now().date(),
        },
        now=clock.now(),
    )
    session.commit()
    sign_in(client, "bob")
    chinese = client.get(f"/console/subjects/{seeded.subject_id}").get_data(as_text=True)
    assert "<dd>企业</dd>" in chinese and "<dd>enterprise</dd>" not in chinese
    public = client.get(f"/subjects/{seeded.subject_id}").get_data(as_text=True)
    assert "行政处罚 (一般)" in public and "administrative_penalty" not in public
