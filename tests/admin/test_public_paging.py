"""The public search and list pages a page at a time. Each walk follows the pages' own
"next page" links to the end and checks that every item comes once, in the order of the
whole list."""

import html
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import current_app

from admin import SEARCH_PAGE_SIZE
from registry.listings import ListEntry
from registry.members import Member
from registry.subjects import register_subject
from search.query import SearchQuery
from search.sync import drain_once
from tests.console_helpers import seed
from tests.factories import TEST_ACTOR, uscc

NEXT = re.compile(r'<a href="([^"]+)" rel="next">')


@pytest.fixture
def seeded(session, runtime, clock):
    return seed(session, runtime, clock.now())


def enterprises(session, runtime, clock, count, *, name="华信", region="110105"):
    made = [
        register_subject(
            session,
            actor=TEST_ACTOR,
            vault=runtime.vault,
            now=clock.now(),
            kind="enterprise",
            name=f"{name}{n:03d}科技有限公司",
            uscc=uscc(1000 + n, region),
            region_code=region,
        )
        for n in range(count)
    ]
    session.flush()
    return made


def walk(client, first, item, headers=None):
    """The ids ``item`` finds on each page, following rel="next" from ``first`` to the end."""
    seen, url, pages = [], first, 0
    while url:
        text = client.get(url, headers=headers).get_data(as_text=True)
        seen.extend(item.findall(text))
        found = NEXT.search(text)
        url = html.unescape(found.group(1)) if found else None
        pages += 1
        assert pages < 100, "the pages never end"
    return seen, pages


# --- the public search -----------------------------------------------------------------------


def test_the_public_search_pages_through_every_result(client, session, runtime, clock, seeded):
    enterprises(session, runtime, clock, 2 * SEARCH_PAGE_SIZE + 5)
    backend = current_app.extensions["creditreg.search"]
    while drain_once(session, backend, clock.now()):
        pass
    session.commit()
    everything = backend.search(
        SearchQuery(text="华信", kinds=("enterprise", "shop"), size=100), session=session
    )
    assert everything.total == 2 * SEARCH_PAGE_SIZE + 6  # and the seeded 北京华信科技有限公司
    seen, pages = walk(client, "/?q=华信", re.compile(r'href="/subjects/([0-9a-f-]{36})"'))
    assert seen == [hit.id for hit in everything.hits]
    assert len(set(seen)) == len(seen) and pages >= 3
    first = client.get("/?q=华信").get_data(as_text=True)
    assert 'rel="first"' not in first
    later = client.get(html.unescape(NEXT.search(first).group(1))).get_data(as_text=True)
    assert 'rel="first"' in later
    # A token edited by hand starts over, it does not fail the page.
    assert client.get("/?q=华信&after=garbage").status_code == 200


# --- the public list pages -------------------------------------------------------------------


def published_entries(session, runtime, clock, count):
    """Published blacklist entries written as rows: several published at the same second,
    so that the order's tie-break (the id) is walked too."""
    regulator = session.scalar(sa.select(Member).where(Member.kind == "regulator"))
    subjects = enterprises(session, runtime, clock, count)
    entries = []
    for n, subject in enumerate(subjects):
        published = clock.now() - timedelta(days=n // 3)
        entries.append(
            ListEntry(
                subject_id=subject.id,
                list_kind="serious_illegal",
                state="published",
                proposer_member_id=regulator.id,
                authority="北京市市场监督管理局",
                reason="提供虚假材料",
                legal_basis="《办法》第二条",
                document_number=f"京市监〔2026〕{n}号",
                measures_text="限制参加政府采购",
                period_months=36,
                proposed_at=published - timedelta(days=20),
                approved_at=published - timedelta(days=19),
                published_at=published,
                publish_until=published + timedelta(days=3 * 365),
            )
        )
    session.add_all(entries)
    session.commit()
    return entries


def newest_first(entries):
    return [
        str(e.id) for e in sorted(entries, key=lambda e: (-e.published_at.timestamp(), str(e.id)))
    ]


def test_a_public_list_page_pages_through_every_entry(client, session, runtime, clock, seeded):
    entries = published_entries(session, runtime, clock, 120)
    seen, pages = walk(client, "/lists/blacklist", re.compile(r'data-entry="([0-9a-f-]{36})"'))
    assert pages == 3  # 50 a page
    assert seen == newest_first(entries)
    # The filters stay on every page.
    filtered, _ = walk(
        client,
        "/lists/blacklist?authority=北京市市场监督管理局",
        re.compile(r'data-entry="([0-9a-f-]{36})"'),
    )
    assert filtered == seen
    assert client.get("/lists/blacklist?after=garbage").status_code == 200
