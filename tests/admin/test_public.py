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
