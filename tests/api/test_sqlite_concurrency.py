"""Members using the embedded SQLite registry at the same time, over real HTTP.

A lookup reads and then writes its query-log row; under SQLite's deferred transactions a
lookup whose reads were overtaken by another member's commit was refused ("database is
locked", answered 503) -- most lookups, with four members at once.
"""

import http.client
import json
import threading
from collections import Counter
from urllib.parse import urlencode, urlsplit

import pytest
import sqlalchemy as sa

from registry import migrate
from registry.db import db
from registry.querylog import QueryLogEntry
from registry.submissions import Submission
from tests import factories
from tests.signing import signed_member

LOOKERS, LOOKUPS_EACH = 4, 12
SUBMITTERS, SUBMISSIONS_EACH = 2, 4


def penalty(number):
    return {
        "record_id": f"PEN-C-{number}",
        "op": "upsert",
        "category": "administrative_penalty",
        "subject": {
            "kind": "enterprise",
            "uscc": factories.uscc(700 + number),
            "name": f"并发{number}科技有限公司",
        },
        "polarity": "negative",
        "severity": "general",
        "decided_at": "2025-03-01",
        "authority": "北京市市场监督管理局",
        "document_number": f"京市监罚〔2025〕{700 + number}号",
        "legal_basis": "《中华人民共和国广告法》第五十五条",
        "summary": "发布虚假广告",
    }


@pytest.fixture
def served(fresh_sqlite_url, make_app, live_server, clock):
    """(app, a member with a key, base URL, host:port) of a registry on its own SQLite file,
    served over HTTP by a server that answers each request in a thread of its own."""
    app = make_app(fresh_sqlite_url, RATE_LIMIT_PER_MINUTE=100_000)
    with app.app_context():
        migrate.upgrade(db.engine)
        member = signed_member(db.session, app.test_client(), clock)
    base = live_server(app)
    return app, member, base, urlsplit(base).netloc


def test_members_looking_up_and_submitting_at_once_all_succeed(served):
    app, member, base, authority = served
    statuses: Counter[int] = Counter()
    refusals: list[bytes] = []
    lock = threading.Lock()

    def send(connection, method, path, body=b""):
        headers = {"Host": authority}
        if body:
            headers["Content-Type"] = "application/json"
        headers.update(member.signer.headers_for(method, base + path, body, headers))
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        with lock:
            statuses[response.status] += 1
            if response.status >= 300:
                refusals.append(answer[:300])

    def look(worker):
        connection = http.client.HTTPConnection(authority, timeout=60)
        for n in range(LOOKUPS_EACH):
            query = urlencode({"q": f"并发{(worker + n) % 8}科技", "purpose": "counterparty_check"})
            send(connection, "GET", f"/api/v1/subjects?{query}")

    def submit(worker):
        connection = http.client.HTTPConnection(authority, timeout=60)
        for n in range(SUBMISSIONS_EACH):
            number = worker * SUBMISSIONS_EACH + n
            body = {"submission_id": f"concurrent-{number}", "records": [penalty(number)]}
            send(connection, "POST", "/api/v1/submissions", json.dumps(body).encode())

    threads = [threading.Thread(target=look, args=(w,)) for w in range(LOOKERS)]
    threads += [threading.Thread(target=submit, args=(w,)) for w in range(SUBMITTERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert refusals == []
    assert statuses == {200: LOOKERS * LOOKUPS_EACH, 201: SUBMITTERS * SUBMISSIONS_EACH}
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(QueryLogEntry))
        assert count == LOOKERS * LOOKUPS_EACH
        submissions = db.session.scalar(sa.select(sa.func.count()).select_from(Submission))
        assert submissions == SUBMITTERS * SUBMISSIONS_EACH


def test_a_replay_racing_its_original_never_succeeds_too(served):
    # On SQLite a nonce is checked when the request begins and written when it commits, so
    # a replay sent while its original is still running passes the check; one of the two
    # must then be refused when it commits.
    app, member, base, authority = served
    path = "/api/v1/subjects?" + urlencode({"q": "并发科技", "purpose": "counterparty_check"})
    pairs = []
    for _ in range(8):
        headers = {"Host": authority}
        headers.update(member.signer.headers_for("GET", base + path, b"", headers))
        answers: list[tuple[int, str]] = []
        start = threading.Barrier(2)

        def send(headers=headers, answers=answers, start=start):
            connection = http.client.HTTPConnection(authority, timeout=60)
            start.wait()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            answers.append((response.status, json.loads(response.read()).get("type", "")))

        threads = [threading.Thread(target=send), threading.Thread(target=send)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        pairs.append(sorted(answers))
    assert pairs == [[(200, ""), (401, "/problems/nonce-reused")]] * 8
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(QueryLogEntry))
        assert count == 8  # the refused replays left no query-log row
