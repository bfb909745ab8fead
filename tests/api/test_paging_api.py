"""The API's one paging convention (README, "Paging"): `limit`, `after` and `next_after`,
walked to the end on the public lists (JSON and CSV) and the objections inbox; the older
`page`/`size` of the public lists still answered."""

import csv
import io
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from tests.admin.test_public_paging import newest_first, published_entries
from tests.api.test_objections import object_to, subject_page
from tests.api.test_openapi import conforms
from tests.api.test_submissions import PENALTY, submit
from tests.console_helpers import seed
from tests.signing import signed_member


@pytest.fixture
def entries(session, runtime, clock):
    seed(session, runtime, clock.now())
    return published_entries(session, runtime, clock, 23)


@pytest.fixture
def document(client):
    return client.get("/api/openapi.json").get_json()


def walk_json(client, path, key, **query):
    seen, after, pages = [], None, 0
    while True:
        params = {**query, **({"after": after} if after else {})}
        answer = client.get(f"{path}?{urlencode(params)}")
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        seen.extend(item["id"] for item in body[key])
        pages += 1
        after = body["next_after"]
        if after is None:
            return seen, pages, body
        assert pages < 50


def test_a_public_list_pages_through_every_entry(client, entries, document):
    seen, pages, last = walk_json(client, "/api/v1/public/lists/blacklist", "entries", limit=5)
    assert pages == 5 and seen == newest_first(entries)
    assert conforms(document, "PublicList", last) == []
    assert last["total"] == 23 and "page" not in last


def test_the_public_list_csv_links_its_next_page(client, entries):
    seen, url = [], "/api/v1/public/lists/blacklist.csv?limit=10&bom=1"
    while url:
        answer = client.get(url)
        text = answer.get_data().decode("utf-8")
        assert text.startswith("\ufeff")
        seen.extend(row["id"] for row in csv.DictReader(io.StringIO(text[1:])))
        link = answer.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
        assert url is None or ("bom=1" in url and "limit=10" in url)
    assert seen == newest_first(entries)


def test_the_older_numbered_pages_still_work(client, entries):
    order = newest_first(entries)
    second = client.get("/api/v1/public/lists/blacklist?page=2&size=10").get_json()
    assert [e["id"] for e in second["entries"]] == order[10:20]
    assert (second["page"], second["size"]) == (2, 10)
    # Its next page is the one after it, by token.
    third = client.get(
        "/api/v1/public/lists/blacklist", query_string={"after": second["next_after"], "limit": 10}
    ).get_json()
    assert [e["id"] for e in third["entries"]] == order[20:] and third["next_after"] is None


@pytest.mark.parametrize(
    "query",
    [
        "after=not-a-token",
        "after=WyJ4Il0",  # base64 of ["x"]: the wrong shape
        "after=WyIyMDI2LTExLTI1VDA4OjAwOjAwIiwgIngiXQ",  # a naive time and no id
        "after=WzFd&page=2",
        "limit=0",
        "limit=501",
    ],
)
def test_a_bad_page_parameter_is_a_field_error(client, entries, query):
    answer = client.get(f"/api/v1/public/lists/blacklist?{query}")
    assert answer.status_code == 422
    assert answer.get_json()["errors"]


def test_the_objections_inbox_pages_both_ways(session, client, clock, document):
    submitter = signed_member(session, client, clock, roles=("submitter", "querier"))
    objector = signed_member(session, client, clock, roles=("querier",))
    records = [{**PENALTY, "record_id": f"PEN-{n}"} for n in range(7)]
    receipt = submit(submitter, "paging-1", records).get_json()["receipt"]["records"]
    subject_page(objector, receipt[0]["subject_id"])
    filed = []
    for item in receipt:
        clock.advance(timedelta(minutes=1))
        answer = object_to(objector, item["registry_id"])
        assert answer.status_code == 201, answer.get_json()
        filed.append(answer.get_json()["id"])
    path = "/api/v1/objections"
    seen, pages, last = walk_json(submitter, path, "objections", role="answerer", limit=3)
    assert pages == 3 and seen == filed  # the earliest answer due first
    assert conforms(document, "ObjectionList", last) == []
    mine, _, _ = walk_json(objector, path, "objections", role="filer", limit=2)
    assert mine == list(reversed(filed))  # newest first
    bad = objector.get(f"{path}?role=filer&after=WyJ4Il0")
    assert bad.status_code == 422
