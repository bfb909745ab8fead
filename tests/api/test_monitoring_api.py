"""``/api/v1/monitoring``: portfolios, polling, and webhooks delivered to a real HTTP server."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_network

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ed25519

from api.httpsig import HttpRequest, VerificationPolicy, verify_request
from api.webhooks import (
    NOT_REACHED,
    REFUSED_HOST,
    AddressPolicy,
    HttpTransport,
    transport_from_settings,
)
from registry import monitoring
from registry.webhooks import (
    DeliveryPolicy,
    WebhookAttempt,
    WebhookDelivery,
    deliver_due,
    set_webhook,
)
from tests import factories
from tests.monitoring_helpers import company, detect, penalty
from tests.signing import signed_member

# --- a webhook receiver on a free loopback port ------------------------------------------------


class Receiver:
    """Answers each POST with the next scripted behaviour: a status code, or "slow"."""

    def __init__(self, script: list[int | str]) -> None:
        self.script = list(script)
        self.calls: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                action = receiver.script.pop(0) if receiver.script else 200
                if action == "slow":
                    time.sleep(1.0)
                    action = 200
                self.send_response(int(action))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/creditreg"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def _make(*script: int | str) -> Receiver:
        made.append(Receiver(list(script)))
        return made[-1]

    yield _make
    for item in made:
        item.close()


@pytest.fixture
def bank(session, client, clock):
    return signed_member(session, client, clock, roles=("querier",))


@pytest.fixture
def submitter(session):
    return factories.member(session, kind="regulator", roles=("submitter",))


POLICY = DeliveryPolicy(batch=100, max_attempts=3, backoff_base=10, backoff_max=60, timeout=0.3)


def deliver(session, runtime, clock, policy=POLICY, transport=None) -> int:
    transport = transport or transport_from_settings(runtime.settings)
    return deliver_due(session, clock.now(), transport, policy)


def registry_key(client) -> tuple[str, ed25519.Ed25519PublicKey]:
    [jwk] = client.get("/api/v1/registry/keys").get_json()["keys"]
    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    return jwk["kid"], ed25519.Ed25519PublicKey.from_public_bytes(raw)


def verify(call, client, clock):
    """What a receiver does: check the registry's signature with its published key."""
    kid, key = registry_key(client)

    def lookup(key_id):
        assert key_id == kid
        return None, key, "ed25519"

    headers = call["headers"]
    return verify_request(
        HttpRequest("POST", "http", headers["Host"], call["path"], None, headers, call["body"]),
        lookup_key=lookup,
        now=int(clock.now().timestamp()),
        policy=VerificationPolicy(
            required_components=("@method", "@authority", "@path", "webhook-id")
        ),
    )


# --- portfolio ---------------------------------------------------------------------------------


def test_portfolio_by_json_and_csv_with_usccs_and_paging(session, runtime, bank):
    subjects = [company(session, runtime, n) for n in range(10, 15)]
    session.commit()
    added = bank.request(
        "PUT",
        "/api/v1/monitoring/portfolio",
        {"items": [{"subject_id": str(subjects[0].id)}, {"uscc": subjects[1].uscc}]},
    )
    assert added.status_code == 200, added.get_json()
    assert added.get_json() == {"added": 2, "removed": 0, "total": 2}

    csv_body = (
        "subject_id,uscc\n"
        + "".join(f"{s.id},\n" for s in subjects[2:4])
        + f",{subjects[4].uscc}\n{subjects[0].id},{subjects[0].uscc}\n"
    )
    more = bank.request(
        "POST", "/api/v1/monitoring/portfolio", csv_body.encode(), content_type="text/csv"
    )
    assert more.get_json() == {"added": 3, "removed": 0, "total": 5}

    first = bank.get("/api/v1/monitoring/portfolio?limit=3").get_json()
    assert first["total"] == 5 and len(first["items"]) == 3
    rest = bank.get(f"/api/v1/monitoring/portfolio?limit=3&after={first['next_after']}").get_json()
    listed = [i["subject_id"] for i in first["items"] + rest["items"]]
    assert sorted(listed) == sorted(str(s.id) for s in subjects)
    assert rest["next_after"] is None

    gone = bank.request("DELETE", f"/api/v1/monitoring/portfolio/{subjects[0].id}", b"")
    assert gone.status_code == 204
    again = bank.request("DELETE", f"/api/v1/monitoring/portfolio/{subjects[0].id}", b"")
    assert again.status_code == 404
    replaced = bank.request(
        "PUT", "/api/v1/monitoring/portfolio", {"items": [{"subject_id": str(subjects[4].id)}]}
    )
    assert replaced.get_json() == {"added": 0, "removed": 3, "total": 1}


def test_csv_errors_are_all_reported_with_their_line_and_nothing_changes(session, runtime, bank):
    acme = company(session, runtime, 20)
    other = company(session, runtime, 21)
    session.commit()
    csv_body = (
        "subject_id,uscc\n"
        f"{acme.id},\n"  # line 2: fine
        "not-a-uuid,\n"  # line 3
        f"{uuid.uuid4()},\n"  # line 4: no such subject
        ",91110000600037341X\n"  # line 5: bad check character, unknown
        ",\n"  # line 6: empty
        f"{acme.id},{other.uscc}\n"  # line 7: disagree
    )
    refused = bank.request(
        "POST", "/api/v1/monitoring/portfolio", csv_body.encode(), content_type="text/csv"
    )
    assert refused.status_code == 422
    problem = refused.get_json()
    assert [e["field"] for e in problem["errors"]] == [
        "rows.3.subject_id",
        "rows.4.subject_id",
        "rows.5.uscc",
        "rows.6",
        "rows.7.uscc",
    ]
    assert bank.get("/api/v1/monitoring/portfolio").get_json()["total"] == 0

    no_columns = bank.request(
        "POST", "/api/v1/monitoring/portfolio", b"name\nacme\n", content_type="text/csv"
    )
    assert no_columns.status_code == 400


def test_the_portfolio_limit(session, client, clock, runtime, monkeypatch):
    subjects = [company(session, runtime, n) for n in range(30, 33)]
    session.commit()
    bank = signed_member(session, client, clock, roles=("querier",))
    monkeypatch.setitem(runtime.settings.data, "MONITORING_PORTFOLIO_MAX", 2)
    items = [{"subject_id": str(s.id)} for s in subjects]
    too_many = bank.request("PUT", "/api/v1/monitoring/portfolio", {"items": items})
    assert too_many.status_code == 422
    assert too_many.get_json()["errors"] == [{"field": "items", "message": "at most 2 subjects"}]
    ok = bank.request("PUT", "/api/v1/monitoring/portfolio", {"items": items[:2]})
    assert ok.status_code == 200
    one_more = bank.request("POST", "/api/v1/monitoring/portfolio", {"items": items[2:]})
    assert one_more.status_code == 422
    assert one_more.get_json()["errors"][0]["message"] == "at most 2 subjects per member"
    assert bank.get("/api/v1/monitoring/portfolio").get_json()["total"] == 2


def test_only_queriers_manage_a_portfolio(session, client, clock):
    submitter = signed_member(session, client, clock, roles=("submitter",))
    refused = submitter.get("/api/v1/monitoring/portfolio")
    assert refused.status_code == 403


# --- polling -----------------------------------------------------------------------------------


def test_polling_with_after_and_another_members_stream_is_invisible(
    session, runtime, client, clock, bank, submitter
):
    lender = signed_member(session, client, clock, roles=("querier",))
    acme, other = company(session, runtime, 40), company(session, runtime, 41)
    session.commit()
    bank.request("PUT", "/api/v1/monitoring/portfolio", {"items": [{"subject_id": str(acme.id)}]})
    lender.request(
        "PUT", "/api/v1/monitoring/portfolio", {"items": [{"subject_id": str(other.id)}]}
    )
    detect(session, clock)
    for number in range(3):
        penalty(session, submitter, acme, clock, number)
    penalty(session, submitter, other, clock, 9)
    detect(session, clock)
    session.commit()

    page = bank.get("/api/v1/monitoring/events?limit=2").get_json()
    assert [e["type"] for e in page["events"]] == ["record.added", "record.added"]
    assert page["more"] is True
    assert {e["subject_id"] for e in page["events"]} == {str(acme.id)}
    rest = bank.get(f"/api/v1/monitoring/events?after={page['next_after']}").get_json()
    assert len(rest["events"]) == 1 and rest["more"] is False
    assert int(rest["events"][0]["id"]) > int(page["events"][1]["id"])
    done = bank.get(f"/api/v1/monitoring/events?after={rest['next_after']}").get_json()
    assert done["events"] == [] and done["next_after"] == rest["next_after"]

    theirs = lender.get("/api/v1/monitoring/events").get_json()["events"]
    assert [e["subject_id"] for e in theirs] == [str(other.id)]
    assert lender.get("/api/v1/monitoring/portfolio").get_json()["items"][0]["subject_id"] == str(
        other.id
    )
    bad = bank.get("/api/v1/monitoring/events?after=x")
    assert bad.status_code == 422


# --- webhooks ----------------------------------------------------------------------------------


def test_only_https_urls_unless_loopback_http_is_allowed(bank):
    for url, ok in [
        ("https://hooks.example.com/creditreg", True),
        ("http://hooks.example.com/creditreg", False),
        ("http://127.0.0.1:9/x", True),  # the test profile allows loopback http
        ("ftp://127.0.0.1/x", False),
        ("https://user:pw@hooks.example.com/", False),
    ]:
        answer = bank.request("PUT", "/api/v1/monitoring/webhook", {"url": url})
        assert (answer.status_code == 200) == ok, (url, answer.get_json())


def setup_watch(session, runtime, clock, bank, submitter, seed, url):
    acme = company(session, runtime, seed)
    session.commit()
    bank.request("PUT", "/api/v1/monitoring/portfolio", {"items": [{"subject_id": str(acme.id)}]})
    assert bank.request("PUT", "/api/v1/monitoring/webhook", {"url": url}).status_code == 200
    detect(session, clock)
    return acme


def test_a_webhook_is_delivered_signed_by_the_registry(
    session, runtime, client, clock, bank, submitter, receiver
):
    hook = receiver(200)
    acme = setup_watch(session, runtime, clock, bank, submitter, 50, hook.url)
    record = penalty(session, submitter, acme, clock, 1)
    detect(session, clock)
    assert deliver(session, runtime, clock) == 1

    [call] = hook.calls
    verified = verify(call, client, clock)
    assert verified.key_id == runtime.signer.key_id
    assert {"webhook-id", "content-digest", "content-type", "@authority"} <= set(
        verified.components
    )
    body = json.loads(call["body"])
    assert call["headers"]["Webhook-Id"] == body["delivery_id"]
    [event] = body["events"]
    assert (event["type"], event["item_id"], event["old"]) == ("record.added", str(record.id), None)
    assert event["new"]["severity"] == "serious"
    # Delivered once: the next round has nothing to send.
    assert deliver(session, runtime, clock) == 0
    # A body changed on the way no longer verifies.
    from api.httpsig import SignatureError

    with pytest.raises(SignatureError):
        verify({**call, "body": call["body"].replace(b"serious", b"minor__")}, client, clock)


def test_a_failed_delivery_is_retried_after_a_backoff_without_duplicating_events(
    session, runtime, client, clock, bank, submitter, receiver
):
    from datetime import timedelta

    hook = receiver(500, 200)
    acme = setup_watch(session, runtime, clock, bank, submitter, 51, hook.url)
    penalty(session, submitter, acme, clock, 1)
    penalty(session, submitter, acme, clock, 2)
    detect(session, clock)
    assert deliver(session, runtime, clock) == 1  # answered 500
    [delivery] = session.scalars(sa.select(WebhookDelivery)).all()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert deliver(session, runtime, clock) == 0  # not due before its backoff
    clock.advance(timedelta(seconds=POLICY.backoff_base))
    assert deliver(session, runtime, clock) == 1
    first, second = hook.calls
    assert first["body"] == second["body"]  # the same batch, the same delivery id
    assert first["headers"]["Webhook-Id"] == second["headers"]["Webhook-Id"]
    verify(second, client, clock)
    session.refresh(delivery)
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    attempts = session.scalars(
        sa.select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
    ).all()
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 500), (2, 200)]
    # The member's stream holds each event once.
    session.commit()
    events = bank.get("/api/v1/monitoring/events").get_json()["events"]
    assert len(events) == 2 and len({e["id"] for e in events}) == 2


def test_a_slow_receiver_times_out_and_gives_up_after_the_last_attempt(
    session, runtime, client, clock, bank, submitter, receiver, app
):
    from datetime import timedelta

    slow = receiver("slow", "slow", "slow")
    acme = setup_watch(session, runtime, clock, bank, submitter, 52, slow.url)
    # Another member's receiver is not held up by the slow one.
    lender = signed_member(session, client, clock, roles=("querier",))
    fast = receiver(200)
    lender.request("PUT", "/api/v1/monitoring/portfolio", {"items": [{"subject_id": str(acme.id)}]})
    lender.request("PUT", "/api/v1/monitoring/webhook", {"url": fast.url})
    detect(session, clock)
    penalty(session, submitter, acme, clock, 1)
    detect(session, clock)

    assert deliver(session, runtime, clock) == 2
    assert len(fast.calls) == 1
    slow_delivery = session.scalar(
        sa.select(WebhookDelivery).where(WebhookDelivery.member_id == bank.member.id)
    )
    assert slow_delivery.status == "pending"
    assert slow_delivery.last_error == NOT_REACHED
    for _ in range(2):
        clock.advance(timedelta(seconds=POLICY.backoff_max))
        deliver(session, runtime, clock)
    session.refresh(slow_delivery)
    assert (slow_delivery.status, slow_delivery.attempts) == ("failed", 3)
    session.commit()

    listed = app.test_cli_runner().invoke(
        args=["monitoring", "deliveries", "--member", str(bank.member.id)]
    )
    assert listed.exit_code == 0, listed.output
    [line] = listed.output.strip().splitlines()
    shown = json.loads(line)
    assert shown["status"] == "failed" and shown["last_error"] == NOT_REACHED
    assert shown["last_attempt_error"] == f"no answer within {POLICY.timeout:g} s"
    # The events stay readable by polling.
    assert len(bank.get("/api/v1/monitoring/events").get_json()["events"]) == 1
    assert monitoring.pending_count(session) == 0


# --- where webhooks may go ---------------------------------------------------------------------

INSIDE = [
    "127.0.0.1",
    "10.0.0.1",
    "169.254.169.254",  # the cloud metadata service
    "[::1]",
    "[fd00::1]",
    "localhost",  # a name that resolves to loopback
]


@pytest.mark.settings(MONITORING_WEBHOOK_PUBLIC_ONLY=True)
def test_urls_inside_the_network_are_refused_at_registration(bank):
    for host in INSIDE:
        answer = bank.request("PUT", "/api/v1/monitoring/webhook", {"url": f"https://{host}/x"})
        assert answer.status_code == 422, (host, answer.get_json())
        assert answer.get_json()["errors"] == [{"field": "url", "message": REFUSED_HOST}]
    # A public address is taken (an address: the suite does not rely on a name server).
    public = {"url": "https://1.1.1.1/x"}
    assert bank.request("PUT", "/api/v1/monitoring/webhook", public).status_code == 200


def test_urls_inside_the_network_are_refused_at_delivery(
    session, runtime, client, clock, submitter, receiver
):
    """Registered while the policy was off (or while a name pointed elsewhere): each
    attempt checks again and sends nothing."""
    hook = receiver(200)
    for seed, host in enumerate(INSIDE, start=60):
        # Plain http where the suite's receiver listens, so that only the check stops it.
        scheme = "http" if host in ("127.0.0.1", "[::1]", "localhost") else "https"
        url = f"{scheme}://{host}:{hook.server.server_port}/x"
        watcher = signed_member(session, client, clock, roles=("querier",))
        acme = setup_watch(session, runtime, clock, watcher, submitter, seed, url)
        penalty(session, submitter, acme, clock, seed)
    detect(session, clock)

    closed = AddressPolicy(public_only=True)
    transport = HttpTransport(runtime.signer, addresses=closed)
    assert deliver(session, runtime, clock, transport=transport) == len(INSIDE)
    assert hook.calls == []
    deliveries = session.scalars(sa.select(WebhookDelivery)).all()
    assert [d.last_error for d in deliveries] == [NOT_REACHED] * len(INSIDE)
    attempts = session.scalars(sa.select(WebhookAttempt)).all()
    assert all(a.error.startswith("address refused: ") for a in attempts), attempts


def test_the_connection_goes_to_the_address_that_was_checked(
    session, runtime, client, clock, bank, submitter, receiver
):
    """DNS rebinding: a name that passes the check, then resolves to the metadata service
    when the connection is made. The registry resolves once and connects to what it
    checked."""
    hook = receiver(200)
    answers = []

    def rebinding(host, port):
        answers.append(host)
        return ["127.0.0.1"] if len(answers) == 1 else ["169.254.169.254"]

    # Loopback is allowed here only so that the suite's receiver can answer.
    policy = AddressPolicy(
        public_only=True, allowed=(ip_network("127.0.0.0/8"),), resolve=rebinding
    )
    url = f"http://hooks.member.test:{hook.server.server_port}/hooks/creditreg"
    acme = company(session, runtime, 70)
    session.commit()
    bank.request("PUT", "/api/v1/monitoring/portfolio", {"items": [{"subject_id": str(acme.id)}]})
    set_webhook(session, bank.member.id, url, at=clock.now())
    detect(session, clock)
    penalty(session, submitter, acme, clock, 1)
    detect(session, clock)

    transport = HttpTransport(runtime.signer, addresses=policy)
    assert deliver(session, runtime, clock, transport=transport) == 1
    assert answers == ["hooks.member.test"]
    [call] = hook.calls
    assert call["headers"]["Host"] == f"hooks.member.test:{hook.server.server_port}"
    verify(call, client, clock)


def test_no_answer_reads_the_same_to_the_member_however_it_failed(
    session, runtime, client, clock, submitter, receiver
):
    """A refused connection, a closed one and a timeout: the member cannot tell them
    apart (a port scan through the webhook URL); the operator can."""
    import socket

    closed_port = socket.socket()
    closed_port.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    hangs_up = socket.socket()
    hangs_up.bind(("127.0.0.1", 0))
    hangs_up.listen()

    def close_each_connection():
        while True:
            try:
                connection, _ = hangs_up.accept()
            except OSError:
                return
            connection.recv(65536)
            connection.close()

    threading.Thread(target=close_each_connection, daemon=True).start()
    slow = receiver("slow")
    urls = [
        f"http://127.0.0.1:{closed_port.getsockname()[1]}/x",
        f"http://127.0.0.1:{hangs_up.getsockname()[1]}/x",
        slow.url,
    ]
    try:
        for seed, url in enumerate(urls, start=80):
            watcher = signed_member(session, client, clock, roles=("querier",))
            acme = setup_watch(session, runtime, clock, watcher, submitter, seed, url)
            penalty(session, submitter, acme, clock, seed)
        detect(session, clock)
        assert deliver(session, runtime, clock) == 3
    finally:
        closed_port.close()
        hangs_up.close()
    deliveries = session.scalars(sa.select(WebhookDelivery)).all()
    assert [d.last_error for d in deliveries] == [NOT_REACHED] * 3
    for delivery in deliveries:
        assert delivery.view()["last_error"] == NOT_REACHED
    reasons = {a.error for a in session.scalars(sa.select(WebhookAttempt))}
    assert len(reasons) == 3 and NOT_REACHED not in reasons


def test_production_refuses_http_webhooks_on_loopback():
    from config import ConfigError, load_settings
    from tests.config.test_settings import STRONG

    assert (
        load_settings("production", environ=STRONG).MONITORING_WEBHOOK_ALLOW_HTTP_LOOPBACK is False
    )
    with pytest.raises(ConfigError) as refused:
        load_settings(
            "production",
            environ={**STRONG, "CREDITREG_MONITORING_WEBHOOK_ALLOW_HTTP_LOOPBACK": "true"},
        )
    assert "MONITORING_WEBHOOK_ALLOW_HTTP_LOOPBACK" in str(refused.value)


def test_production_sends_webhooks_to_public_addresses_only():
    from config import ConfigError, load_settings
    from tests.config.test_settings import STRONG

    settings = load_settings("production", environ=STRONG)
    assert settings.MONITORING_WEBHOOK_PUBLIC_ONLY is True
    assert load_settings("test", environ={}).MONITORING_WEBHOOK_PUBLIC_ONLY is False
    with pytest.raises(ConfigError, match="MONITORING_WEBHOOK_PUBLIC_ONLY"):
        load_settings(
            "production", environ={**STRONG, "CREDITREG_MONITORING_WEBHOOK_PUBLIC_ONLY": "0"}
        )
    # A member's private network may be allowed; the host and the metadata service never.
    private_line = {**STRONG, "CREDITREG_MONITORING_WEBHOOK_ALLOWED_NETWORKS": "10.20.0.0/16"}
    allowed = load_settings("production", environ=private_line)
    assert [str(n) for n in allowed.MONITORING_WEBHOOK_ALLOWED_NETWORKS] == ["10.20.0.0/16"]
    for network in ("127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/0", "::/0", "fd00:ec2::/32"):
        environ = {**STRONG, "CREDITREG_MONITORING_WEBHOOK_ALLOWED_NETWORKS": network}
        with pytest.raises(ConfigError, match="MONITORING_WEBHOOK_ALLOWED_NETWORKS"):
            load_settings("production", environ=environ)


def test_a_person_is_watched_only_with_a_consent_to_monitoring(session, runtime, bank):
    from registry.subjects import register_subject
    from tests.factories import TEST_ACTOR

    person = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="person",
        name="张三",
        id_number="11010519491231002X",
    )
    session.commit()
    body = {"items": [{"subject_id": str(person.id)}]}
    refused = bank.request("PUT", "/api/v1/monitoring/portfolio", body)
    assert refused.status_code == 422
    assert refused.get_json()["errors"][0]["field"] == "items.0.subject_id"
    consent = {
        "subject_id": str(person.id),
        "reference": "M-1",
        "given_on": "2026-11-25",
        "valid_until": "2027-11-25",
    }
    # Consent for another purpose is not consent to be watched.
    assert (
        bank.post("/api/v1/consents", {**consent, "purpose": "credit_assessment"}).status_code
        == 201
    )
    assert bank.request("PUT", "/api/v1/monitoring/portfolio", body).status_code == 422
    assert bank.post("/api/v1/consents", {**consent, "purpose": "monitoring"}).status_code == 201
    assert bank.request("PUT", "/api/v1/monitoring/portfolio", body).status_code == 200


def test_a_portfolio_csv_is_read_in_its_declared_charset(session, runtime, bank):
    subjects = [company(session, runtime, n) for n in (30, 31)]
    session.commit()
    # Saved by Excel on Chinese Windows: GBK, with a column of names the registry ignores.
    body = ("名称,uscc\n" + "".join(f"{s.name},{s.uscc}\n" for s in subjects)).encode("gbk")
    undeclared = bank.request("POST", "/api/v1/monitoring/portfolio", body, content_type="text/csv")
    assert undeclared.status_code == 422
    assert undeclared.get_json()["type"] == "/problems/csv-not-decodable"
    assert bank.get("/api/v1/monitoring/portfolio").get_json()["total"] == 0
    declared = bank.request(
        "POST", "/api/v1/monitoring/portfolio", body, content_type="text/csv; charset=gbk"
    )
    assert declared.get_json() == {"added": 2, "removed": 0, "total": 2}
