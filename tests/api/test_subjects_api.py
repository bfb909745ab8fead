"""GET /api/v1/subjects and /api/v1/subjects/{id}: lookup through the signed API."""

import json
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from flask import current_app

from registry import migrate
from registry.db import db
from registry.querylog import QueryLogEntry
from registry.subjects import Subject, rename_subject
from search.query import encode_after
from search.sync import drain_once
from tests.api.test_openapi import conforms
from tests.api.test_submissions import PAYMENT, PENALTY, submit
from tests.factories import TEST_ACTOR
from tests.signing import signed_member

ID_NUMBER = "11010519491231002X"


@pytest.fixture
def querier(session, client, clock):
    return signed_member(session, client, clock, roles=("submitter", "querier"))


@pytest.fixture
def loaded(querier, session, clock):
    second = {
        **PENALTY,
        "record_id": "PEN-2",
        "subject": {
            "kind": "enterprise",
            "uscc": "91310115MA1K3BTP2B",
            "name": "上海华信贸易有限公司",
        },
    }
    assert submit(querier, "load-1", [PENALTY, second, PAYMENT]).status_code == 201
    backend = current_app.extensions["creditreg.search"]
    while drain_once(db.session, backend, clock.now()):
        pass
    return {s.uscc or s.kind: s for s in session.scalars(sa.select(Subject))}


def lookup(member, **params):
    # Percent-encoded, as on the wire: the signature covers the query as sent.
    return member.get(f"/api/v1/subjects?{urlencode(params)}")


def test_search_finds_by_name_with_highlights_facets_and_logs_the_query(
    querier, loaded, session, client
):
    response = lookup(querier, q="华信", purpose="counterparty_check")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    document = client.get("/api/openapi.json").get_json()
    assert conforms(document, "SearchResult", body) == []
    assert body["total"] == 2
    assert {hit["uscc"] for hit in body["hits"]} == {"91110000600037341L", "91310115MA1K3BTP2B"}
    assert all("<em>华信</em>" in hit["highlights"][0] for hit in body["hits"])
    assert body["facets"]["kind"] == {"enterprise": 2}
    assert body["hits"][0]["record_counts"]["negative"] == 1
    entry = session.scalars(sa.select(QueryLogEntry)).one()
    assert (entry.purpose, entry.kind, entry.results) == ("counterparty_check", "search", 2)
    assert set(entry.subject_ids) == {hit["id"] for hit in body["hits"]}


def test_each_hit_of_a_name_says_how_its_name_compares_part_by_part(querier, loaded):
    plain = lookup(querier, q="北京華信科技", purpose="counterparty_check").get_json()
    assert "name_parts" not in plain["hits"][0]  # asked for only
    body = lookup(
        querier, q="北京華信科技", purpose="counterparty_check", explain="true"
    ).get_json()
    (hit,) = body["hits"]
    parts = {part["feature"]: part for part in hit["name_parts"]["parts"]}
    assert hit["name_parts"]["name"] == "北京华信科技有限公司"
    assert parts["trade_name"] == {
        "feature": "trade_name",
        "similarity": 1.0,
        "detail": "same trade name 华信",
    }
    assert parts["division"]["similarity"] == parts["industry"]["similarity"] == 1.0
    assert hit["name_parts"]["differences"] == []
    # Without its division the name could be another company's: the hit says so.
    body = lookup(querier, q="华信科技", purpose="counterparty_check", explain="true").get_json()
    (hit,) = body["hits"]
    assert hit["name_parts"]["differences"] == ["the division is named on one side only"]
    # A code searched has no name to compare.
    body = lookup(
        querier, q="91110000600037341L", purpose="counterparty_check", explain="true"
    ).get_json()
    assert "name_parts" not in body["hits"][0]


def test_a_person_is_found_by_id_number_only_and_the_number_never_shows(querier, loaded, session):
    by_name = lookup(querier, q="张三", purpose="credit_assessment").get_json()
    assert by_name["total"] == 0  # persons are not found by name
    # Not without the person's consent: refused alike whether the number is known or not.
    refused = lookup(querier, id_number=ID_NUMBER.lower(), purpose="credit_assessment")
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "/problems/consent-required"
    consent = querier.post(
        "/api/v1/consents",
        {
            "id_number": ID_NUMBER,
            "reference": "C-1",
            "purpose": "credit_assessment",
            "given_on": "2026-11-25",
            "valid_until": "2027-02-25",
        },
    ).get_json()["id"]
    response = lookup(
        querier, id_number=ID_NUMBER.lower(), purpose="credit_assessment", consent=consent
    )
    assert response.status_code == 200
    body = response.get_json()
    assert [hit["kind"] for hit in body["hits"]] == ["person"]
    # The subject by id: a person only with the consent too, and for its purpose.
    path = f"/api/v1/subjects/{body['hits'][0]['id']}"
    assert querier.get(f"{path}?purpose=credit_assessment").status_code == 403
    assert querier.get(f"{path}?purpose=monitoring&consent={consent}").status_code == 403
    assert querier.get(f"{path}?purpose=credit_assessment&consent={consent}").status_code == 200
    entry = session.scalars(sa.select(QueryLogEntry)).all()[-1]
    for text in (response.get_data(as_text=True), json.dumps(entry.query, ensure_ascii=False)):
        assert ID_NUMBER not in text and ID_NUMBER[:14] not in text


def test_a_consent_recorded_before_the_person_is_registered_applies_once_they_are(
    querier, session, clock
):
    consent = querier.post(
        "/api/v1/consents",
        {
            "id_number": ID_NUMBER,
            "reference": "C-2",
            "purpose": "credit_assessment",
            "given_on": "2026-11-25",
            "valid_until": "2027-02-25",
        },
    )
    assert consent.status_code == 201, consent.get_json()
    consent_id = consent.get_json()["id"]
    params = {"id_number": ID_NUMBER, "purpose": "credit_assessment", "consent": consent_id}
    assert lookup(querier, **params).get_json()["total"] == 0  # nobody holds the number yet

    assert submit(querier, "later-1", [PAYMENT]).status_code == 201
    backend = current_app.extensions["creditreg.search"]
    while drain_once(db.session, backend, clock.now()):
        pass
    found = lookup(querier, **params)
    assert found.status_code == 200, found.get_json()
    [hit] = found.get_json()["hits"]
    assert hit["kind"] == "person"
    path = f"/api/v1/subjects/{hit['id']}?purpose=credit_assessment&consent={consent_id}"
    assert querier.get(path).status_code == 200
    report = f"/api/v1/subjects/{hit['id']}/report?purpose=credit_assessment&consent={consent_id}"
    assert querier.get(report).status_code == 200


def test_every_parameter_error_at_once(querier, loaded):
    response = lookup(querier, region="beijing", size="500", after="garbage!", kind="person")
    assert response.status_code == 422
    fields = {error["field"] for error in response.get_json()["errors"]}
    assert fields == {"purpose", "region", "size", "id_number"}
    bad_token = lookup(querier, after="bm90IGEgdG9rZW4", purpose="monitoring")
    assert bad_token.status_code == 422
    assert bad_token.get_json()["errors"][0]["field"] == "after"


@pytest.mark.parametrize("last_id", ["a\x00b", "not-a-subject-id"])
def test_a_page_token_that_names_no_subject_is_a_parameter_error(querier, loaded, last_id):
    # Well-formed but not made by the registry: the backend's query would fail on it, which
    # answered 503 "search unavailable" (on PostgreSQL for NUL, on both for a non-UUID).
    token = encode_after((0.5, last_id))
    response = lookup(querier, after=token, purpose="monitoring")
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"] == [
        {"field": "after", "message": "not a page token of this registry"}
    ]


def test_paging_through_the_api(querier, loaded):
    first = lookup(querier, size=1, purpose="monitoring").get_json()
    second = lookup(querier, size=1, after=first["next"], purpose="monitoring").get_json()
    assert first["total"] == second["total"] == 2
    assert first["hits"][0]["id"] != second["hits"][0]["id"]


def test_searching_needs_the_querier_role(session, client, clock, loaded):
    submitter = signed_member(session, client, clock, roles=("submitter",))
    response = lookup(submitter, q="华信", purpose="monitoring")
    assert response.status_code == 403
    assert response.get_json()["type"] == "/problems/role-missing"


def test_a_subject_by_id_comes_from_the_database_never_stale(querier, loaded, session, client):
    subject = loaded["91110000600037341L"]
    rename_subject(session, actor=TEST_ACTOR, subject=subject, new_name="北京华信数字科技有限公司")
    session.commit()  # the outbox is not drained: the index still has the old name
    response = querier.get(f"/api/v1/subjects/{subject.id}?purpose=credit_assessment")
    assert response.status_code == 200
    body = response.get_json()
    assert conforms(client.get("/api/openapi.json").get_json(), "Subject", body) == []
    assert body["name"] == "北京华信数字科技有限公司"
    assert [n["name"] for n in body["names"]][0] == "北京华信科技有限公司"
    assert body["record_counts"]["by_category"]["administrative_penalty"]["negative"] == 1
    missing = querier.get("/api/v1/subjects/not-a-uuid?purpose=credit_assessment")
    assert missing.status_code == 404
    unstated = querier.get(f"/api/v1/subjects/{subject.id}")
    assert unstated.status_code == 422


def test_search_outage_is_a_503_and_lookups_by_id_still_work(fresh_sqlite_url, make_app, clock):
    app = make_app(
        fresh_sqlite_url,
        SEARCH_BACKEND="opensearch",
        SEARCH_URL="http://127.0.0.1:1",
        SEARCH_TIMEOUT=1,
    )
    migrate.upgrade(db.engine_of(app))
    client = app.test_client()
    with app.app_context():
        member = signed_member(db.session, client, clock, roles=("submitter", "querier"))
        assert submit(member, "s-1", [PENALTY]).status_code == 201
        subject_id = db.session.scalar(sa.select(Subject.id))
        response = lookup(member, q="华信", purpose="monitoring")
        assert response.status_code == 503
        assert response.get_json()["type"] == "/problems/search-unavailable"
        assert response.headers["Retry-After"]
        assert member.get(f"/api/v1/subjects/{subject_id}?purpose=monitoring").status_code == 200
