"""The public pages: home search, subject pages (never persons), the rate limit."""

import pytest
from flask import current_app

from registry.subjects import register_subject
from search.sync import drain_once
from tests.console_helpers import NAME, USCC, seed
from tests.factories import TEST_ACTOR


@pytest.fixture
def seeded(session, runtime, clock):
    made = seed(session, runtime, clock.now())
    backend = current_app.extensions["creditreg.search"]
    while drain_once(session, backend, clock.now()):
        pass
    session.commit()
    return made


def test_search_finds_an_enterprise_and_opens_its_page(client, seeded):
    html = client.get(f"/?q={USCC}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert NAME in html and f"/subjects/{seeded.subject_id}" in html
    page = client.get(f"/subjects/{seeded.subject_id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert NAME in text and "On no published list." in text


def test_a_search_with_a_nul_finds_the_name_around_it(client, seeded):
    html = client.get(f"/?q={USCC}%00", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Search is unavailable" not in html
    assert f"/subjects/{seeded.subject_id}" in html


def test_a_person_never_gets_a_public_page(client, session, runtime, clock):
    person = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        now=clock.now(),
        kind="person",
        name="张三",
        id_number="11010519491231002X",
    )
    session.commit()
    assert client.get(f"/subjects/{person.id}").status_code == 404
    assert client.get("/subjects/not-a-uuid").status_code == 404


def test_public_pages_are_rate_limited_per_address(make_app, database_url, migrated_engine):
    app = make_app(database_url, PUBLIC_RATE_LIMIT_PER_MINUTE=3)
    client = app.test_client()
    codes = [client.get("/help/objections-and-repair").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    other = client.get("/help/objections-and-repair", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200
    assert client.get("/console/login").status_code == 200  # the console is not counted


def test_the_subject_page_shows_the_rating_its_explanation_and_its_history(
    client, session, runtime, clock, seeded
):
    import uuid
    from datetime import timedelta

    from registry import ratings
    from registry.audit import Actor, ActorKind
    from registry.ratings import SubjectRating

    card = ratings.load_scorecard("2026-01")
    reviewer = Actor(ActorKind.STAFF, "rev")
    from registry.members import Member
    from registry.records import upsert_record
    from registry.subjects import Subject

    subject_id = uuid.UUID(seeded.subject_id)
    upsert_record(
        session,
        actor=TEST_ACTOR,
        member=session.get(Member, uuid.UUID(seeded.regulator_id)),
        subject=session.get(Subject, subject_id),
        member_record_id="H-1",
        fields={"category": "honour", "polarity": "positive", "authority": "某局"},
        now=clock.now(),
    )
    ratings.propose_due(session, clock.now(), scorecard=card, auto_approve_unchanged=False)
    [first] = session.query(SubjectRating).filter_by(subject_id=subject_id).all()
    ratings.approve(session, first, reviewer=reviewer, at=clock.now())
    clock.advance(timedelta(days=40))  # a month later the subject is scored again
    ratings.requeue_aged(session, clock.now())
    ratings.propose_due(session, clock.now(), scorecard=card, auto_approve_unchanged=True)
    session.commit()
    current = ratings.published_ratings(session, [subject_id])[subject_id]
    assert current.id != first.id

    page = client.get(f"/subjects/{seeded.subject_id}", headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert 'id="score-chart"' in text and "Earlier ratings" in text
    assert f"<td>{first.score}</td>" in text
