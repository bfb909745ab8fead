"""The transparency log from a member's side: receipts with proofs, the client verifier
against a registry served over real HTTP, and what it does when the registry lies."""

from __future__ import annotations

import base64
import json
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import current_app

from api import tlog_verify as tv
from registry import tlog
from registry.app import cli
from registry.audit import AuditEvent
from registry.db import db
from registry.runtime import current_runtime
from search.sync import drain_once
from tests.api.test_listings import (  # noqa: F401 - the fixture is used by name
    approve_and_serve,
    propose,
    reviewers,
    tick,
)

# The served registry (the `registry` fixture) comes from tests/api/conftest.py.
from tests.api.test_member_client import penalty, submit, write_jsonl
from tests.api.test_submissions import (  # noqa: F401 - the fixture is used by name
    ID_NUMBER,
    PAYMENT,
    PENALTY,
    regulator,
)
from tests.api.test_submissions import submit as submit_signed
from tests.signing import signed_member


@pytest.fixture
def served(registry):  # noqa: F811 - the imported fixture
    """The member client's registry: its own SQLite file, served over HTTP."""
    return registry


def send(served, tmp_path, name, numbers):
    records_file = tmp_path / f"{name}.jsonl"
    write_jsonl(records_file, [penalty(n) for n in numbers])
    result = submit(served, records_file)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    lines = Path(summary["receipts_file"]).read_text().splitlines()
    return [json.loads(line) for line in lines]


def admin(served, *args):
    return served["app"].test_cli_runner().invoke(args=list(args))


def checkpoint(served):
    result = admin(served, "log", "checkpoint")
    assert result.exit_code == 0, result.output
    return result.output


def client(*args):
    return CliRunner().invoke(cli, ["client", *args])


def fetch(served, path):
    with urllib.request.urlopen(served["url"] + path) as response:  # noqa: S310
        return response.status, response.read()


def save_jwks(served, tmp_path):
    path = tmp_path / "registry-keys.json"
    path.write_bytes(fetch(served, "/api/v1/registry/keys")[1])
    return path


def proof_of(served, submission_id):
    """GET /submissions/{id}/proof, signed as the member."""
    from api.client import RegistryClient, RequestSigner

    signer = RequestSigner.from_pem_file(served["key"])
    return RegistryClient(served["url"], signer).request(
        "GET", f"/api/v1/submissions/{submission_id}/proof"
    )


def sql(served, statement, **params):
    with served["app"].app_context(), db.engine.begin() as connection:
        connection.execute(sa.text(statement), params)


def forge_checkpoint(served, size=None):
    """What a compromised registry could do: sign whatever its tables now say."""
    with served["app"].app_context():
        session = db.session
        runtime = current_runtime()
        size = size or tlog.log_size(session)
        root = tlog.tree_for(session, size).root(size)
        origin = tlog.origin_from_settings(runtime.settings)
        note = tlog.sign_note(runtime.signer, origin, tlog.checkpoint_body(origin, size, root))
        session.execute(sa.delete(tlog.Checkpoint).where(tlog.Checkpoint.size >= size))
        session.add(tlog.Checkpoint(size=size, root_hash=root, note=note, created_at=tlog_now()))
        session.commit()


def tlog_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_a_receipt_names_its_log_index_and_its_proof_verifies_offline(served, tmp_path):
    receipts = send(served, tmp_path, "first", [1, 2])
    signed = receipts[0]
    assert signed["receipt"]["log_index"] == 0
    submission_id = signed["receipt"]["submission_id"]

    pending = proof_of(served, submission_id)
    assert pending.status == 409 and pending.body["type"] == "/problems/proof-pending"
    assert pending.headers["Retry-After"] == "1"

    note = checkpoint(served)
    assert note.startswith("creditreg.localhost/log\n1\n")
    answer = proof_of(served, submission_id)
    assert answer.status == 200
    assert answer.body["receipt"] == signed["receipt"]
    assert answer.body["log_proof"].startswith("c2sp.org/tlog-proof@v1\nextra ")
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_text(json.dumps(answer.body))

    # Offline: the receipt, its proof and the registry's key set saved earlier.
    jwks = save_jwks(served, tmp_path)
    offline = client("verify-receipt", str(receipt_file), "--jwks", str(jwks), "--json")
    assert offline.exit_code == 0, offline.output
    assert json.loads(offline.stdout)["log_index"] == 0
    result = tv.verify_receipt(
        answer.body, answer.body["log_proof"], tv.keys_from_jwks(json.loads(jwks.read_text()))
    )
    assert result.checkpoint.size == 1

    # The receipt the client wrote down, with the proof fetched from the registry.
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(signed))
    online = client("verify-receipt", str(plain), "--url", served["url"])
    assert online.exit_code == 0, online.output
    assert "entry 0 is in creditreg.localhost/log at tree size 1" in online.output

    # An edited receipt fails: its signature, and the leaf it makes.
    edited = json.loads(json.dumps(answer.body))
    edited["receipt"]["records"][0]["version"] = 2
    bad = tmp_path / "edited.json"
    bad.write_text(json.dumps(edited))
    refused = client("verify-receipt", str(bad), "--jwks", str(jwks))
    assert refused.exit_code == 1
    assert "signature on the receipt does not verify" in refused.output


def test_the_log_endpoints_serve_entries_and_proofs(served, tmp_path):
    send(served, tmp_path, "a", [1])
    send(served, tmp_path, "b", [2])
    checkpoint(served)
    status, body = fetch(served, "/api/v1/log/entries/1")
    entry = json.loads(body)
    assert status == 200 and entry["kind"] == "submission"
    raw = base64.b64decode(entry["entry_base64"])
    assert base64.b64decode(entry["leaf_hash"]) == tv.hash_leaf(raw)
    assert entry["entry"]["type"] == "creditreg.log-entry.submission/v1"
    assert "subject_id" not in json.dumps(entry["entry"])
    _, body = fetch(served, "/api/v1/log/proof/inclusion?index=1&size=2")
    proof = [base64.b64decode(h) for h in json.loads(body)["proof"]]
    note = fetch(served, "/api/v1/log/checkpoint")[1].decode()
    root = tv.parse_checkpoint(note).root
    tv.verify_inclusion(tv.hash_leaf(raw), 1, 2, proof, root)
    _, body = fetch(served, "/api/v1/log/proof/consistency?from=1&to=2")
    assert len(json.loads(body)["proof"]) == 1


def test_no_public_entry_leads_to_a_person(app, session, client, clock, regulator, reviewers):  # noqa: F811 - the imported fixtures
    accepted = submit_signed(regulator, "mixed-1", [PENALTY, PAYMENT])
    assert accepted.status_code == 201, accepted.get_json()
    receipt = accepted.get_json()["receipt"]
    company, person = receipt["records"]
    body = client.get(f"/api/v1/log/entries/{receipt['log_index']}").get_json()
    text = json.dumps(body)
    for trace in (person["registry_id"], person["record_id"], person["subject_id"]):
        assert trace not in text
    assert (body["withheld"], body["entry_base64"]) == (True, None)
    assert body["entry"]["records"] == [
        {key: company[key] for key in ("record_id", "registry_id", "version", "status")},
        {"record_id": None, "registry_id": None, "version": 1, "status": "created"},
    ]
    # The leaf is the entry as stored, which the member rebuilds from its receipt.
    assert base64.b64decode(body["leaf_hash"]) == tv.hash_leaf(tv.submission_entry(receipt))
    # An entry about enterprises only is shown whole.
    alone = submit_signed(regulator, "company-1", [penalty(2)])
    whole = client.get(f"/api/v1/log/entries/{alone.get_json()['receipt']['log_index']}")
    assert whole.get_json()["withheld"] is False
    raw = base64.b64decode(whole.get_json()["entry_base64"])
    assert base64.b64decode(whole.get_json()["leaf_hash"]) == tv.hash_leaf(raw)

    # A person's list entry, once published, shows neither its id nor the person's.
    person_subject = {"kind": "person", "id_number": ID_NUMBER, "name": "张三"}
    proposed = propose(regulator, subject=person_subject)
    assert proposed.status_code == 201, proposed.get_json()
    approve_and_serve(app, clock, proposed.get_json()["id"], reviewers)
    assert tick(app, session, clock, timedelta(days=15)) == 1
    published = client.get(f"/api/v1/log/entries/{tlog.log_size(session) - 1}").get_json()
    assert published["entry"]["event"] == "published" and published["withheld"] is True
    assert (published["entry"]["entry_id"], published["entry"]["subject_id"]) == (None, None)
    assert proposed.get_json()["subject_id"] not in json.dumps(published)


def test_a_receipt_about_a_person_verifies_against_the_public_log(served, tmp_path):
    records_file = tmp_path / "person.jsonl"
    write_jsonl(records_file, [penalty(1), PAYMENT])
    result = submit(served, records_file)
    assert result.exit_code == 0, result.output
    receipts = Path(json.loads(result.stdout)["receipts_file"]).read_text().splitlines()
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_text(receipts[0])
    checkpoint(served)
    assert json.loads(fetch(served, "/api/v1/log/entries/0")[1])["withheld"] is True

    verified = client("verify-receipt", str(receipt_file), "--url", served["url"])
    assert verified.exit_code == 0, verified.output
    state = str(tmp_path / "state.json")
    audited = client("audit-log", "--url", served["url"], "--state", state, "--entries")
    assert audited.exit_code == 0, audited.output


def test_audit_log_follows_a_growing_log_and_keeps_its_state(served, tmp_path):
    state = tmp_path / "state.json"
    send(served, tmp_path, "one", [1])
    checkpoint(served)
    first = client("audit-log", "--url", served["url"], "--state", str(state))
    assert first.exit_code == 0, first.output
    assert "first checkpoint recorded" in first.output
    for n in range(2, 6):
        send(served, tmp_path, f"more{n}", [n])
        checkpoint(served)
    again = client("audit-log", "--url", served["url"], "--state", str(state), "--entries")
    assert again.exit_code == 0, again.output
    assert "grew from 1 to 5 entries" in again.output
    since_start = client(
        "audit-log", "--url", served["url"], "--state", str(state), "--from", "1", "--json"
    )
    assert json.loads(since_start.stdout)["from_size"] == 1
    assert set(json.loads(state.read_text())["seen"]) == {"1", "5"}


def test_a_tampered_entry_is_detected(served, tmp_path):
    [signed] = send(served, tmp_path, "victim", [1])
    send(served, tmp_path, "other", [2])
    checkpoint(served)
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_text(json.dumps(signed))
    assert client("verify-receipt", str(receipt_file), "--url", served["url"]).exit_code == 0

    # Someone with the database changes the record versions the entry names.
    with served["app"].app_context():
        raw = db.session.get(tlog.LogEntry, 0).entry
    forged = bytes(raw).replace(b'"version":1', b'"version":7')
    sql(
        served,
        "UPDATE tlog_entries SET entry = :e, leaf_hash = :h WHERE log_index = 0",
        e=forged,
        h=tlog.leaf_hash(forged),
    )
    result = client("verify-receipt", str(receipt_file), "--url", served["url"])
    assert result.exit_code == 1
    assert "NOT VERIFIED" in result.output and "not this receipt's submission" in result.output
    # A monitor checking each entry against the checkpoint finds it too.
    audit = client(
        "audit-log", "--url", served["url"], "--state", str(tmp_path / "s.json"), "--entries"
    )
    assert audit.exit_code == 1 and "inclusion proof of entry 0" in audit.output
    # And so does the registry's own full check.
    assert admin(served, "log", "verify").exit_code == 1


def test_a_rewritten_history_is_detected_and_never_signed_by_the_worker(served, tmp_path):
    state = tmp_path / "state.json"
    send(served, tmp_path, "old", [1, 2])
    send(served, tmp_path, "old2", [3])
    checkpoint(served)
    assert client("audit-log", "--url", served["url"], "--state", str(state)).exit_code == 0

    # The first entry is rewritten (and the subtree cache with it); more is appended.
    forged = b'{"type":"creditreg.log-entry.submission/v1","records":[]}'
    sql(
        served,
        "UPDATE tlog_entries SET entry = :e, leaf_hash = :h WHERE log_index = 0",
        e=forged,
        h=tlog.leaf_hash(forged),
    )
    sql(served, "DELETE FROM tlog_subtrees")
    send(served, tmp_path, "new", [4])
    refused = admin(served, "log", "checkpoint")
    assert refused.exit_code == 1 and "NOT signed" in refused.output
    assert "signing is stopped" in admin(served, "log", "checkpoint").output

    # Had the key signed it anyway, the member's audit sees through it.
    forge_checkpoint(served)
    result = client("audit-log", "--url", served["url"], "--state", str(state))
    assert result.exit_code == 1
    assert "INCONSISTENT: checkpoint 3 does not extend checkpoint 2" in result.output
    assert set(json.loads(state.read_text())["seen"]) == {"2"}  # the state was left as it was


def test_a_forked_checkpoint_is_detected(served, tmp_path):
    state = tmp_path / "state.json"
    [receipt_a] = send(served, tmp_path, "a", [1])
    send(served, tmp_path, "b", [2])
    checkpoint(served)
    assert client("audit-log", "--url", served["url"], "--state", str(state)).exit_code == 0
    seen_note = json.loads(state.read_text())["latest"]

    # Another view of the same size: the second entry replaced, signed at size 2 again.
    forged = b'{"type":"creditreg.log-entry.submission/v1","records":["fork"]}'
    sql(
        served,
        "UPDATE tlog_entries SET entry = :e, leaf_hash = :h WHERE log_index = 1",
        e=forged,
        h=tlog.leaf_hash(forged),
    )
    sql(served, "DELETE FROM tlog_subtrees")
    forge_checkpoint(served, size=2)
    served_note = fetch(served, "/api/v1/log/checkpoint")[1].decode()
    assert served_note != seen_note
    result = client("audit-log", "--url", served["url"], "--state", str(state), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["problem"].startswith("FORK: two signed checkpoints of size 2")
    assert report["checkpoint_seen"] == seen_note and report["checkpoint_served"] == served_note
    # A receipt verified against the state file sees the fork as well: its proof leads to
    # the forged root, which contradicts the checkpoint the member saw.
    receipt_file = tmp_path / "r.json"
    receipt_file.write_text(json.dumps(receipt_a))
    checked = client(
        "verify-receipt", str(receipt_file), "--url", served["url"], "--state", str(state)
    )
    assert checked.exit_code == 1 and "FORK" in checked.output


def test_registry_side_checks_pass_on_an_honest_log(served, tmp_path):
    send(served, tmp_path, "x", [1, 2, 3])
    checkpoint(served)
    verified = admin(served, "log", "verify")
    assert verified.exit_code == 0 and "1 entries, 1 checkpoint(s)" in verified.output
    with served["app"].app_context():
        reference = db.session.scalar(sa.select(tlog.LogEntry.log_index))
    assert reference == 0
    submission = admin(served, "submissions", "verify", "--json", _submission_id(served))
    assert submission.exit_code == 0, submission.output
    chain = admin(served, "audit", "verify")
    assert chain.exit_code == 0 and "audit chain verified" in chain.output


def _submission_id(served):
    from registry.submissions import Submission

    with served["app"].app_context():
        return str(db.session.scalar(sa.select(Submission.id)))


def test_audit_verify_finds_an_edited_and_a_removed_event(served, tmp_path):
    # Two submissions: at least four events (each one's, and the member's and its key's).
    send(served, tmp_path, "x", [1, 2])
    send(served, tmp_path, "y", [3])
    with served["app"].app_context():
        ids = db.session.scalars(sa.select(AuditEvent.id).order_by(AuditEvent.chain_seq)).all()
    assert len(ids) >= 4
    with served["app"].app_context():
        original = db.session.get(AuditEvent, ids[1]).action
    sql(served, "UPDATE audit_events SET action = 'rewritten' WHERE id = :i", i=ids[1])
    edited = admin(served, "audit", "verify")
    assert edited.exit_code == 1 and "event 2 was edited" in edited.output
    sql(served, "UPDATE audit_events SET action = :a WHERE id = :i", a=original, i=ids[1])
    assert admin(served, "audit", "verify").exit_code == 0
    sql(served, "DELETE FROM audit_events WHERE id = :i", i=ids[2])
    removed = admin(served, "audit", "verify", "--json")
    assert removed.exit_code == 1
    assert (
        json.loads(removed.stdout)["problem"] == "events 3 to 3 of the chain are missing (removed)"
    )


def test_a_signed_screening_carries_query_digest_results_and_checkpoint(
    session, client, clock, runtime, tmp_path
):
    member = signed_member(session, client, clock, roles=("submitter", "querier"))
    assert submit_signed(member, "s-1", [PENALTY]).status_code == 201
    backend = current_app.extensions["creditreg.search"]
    while drain_once(db.session, backend, clock.now()):
        pass
    origin = tlog.origin_from_settings(runtime.settings)
    tlog.make_checkpoint(session, runtime.signer, origin, clock.now())
    session.commit()
    body = {
        "purpose": "compliance_screening",
        "rows": [{"name": "示范", "uscc": PENALTY["subject"]["uscc"]}],
    }
    response = member.post("/api/v1/screening?signed=true", body)
    assert response.status_code == 200, response.get_json()
    signed = response.get_json()
    statement = signed["statement"]
    assert statement["results"]["rows"][0]["decision"] == "match"
    assert statement["checkpoint"].startswith(f"{origin}\n1\n")
    keys = tv.keys_from_jwks(client.get("/api/v1/registry/keys").get_json())
    tv.verify_screening(signed, keys)

    path = tmp_path / "screening.json"
    path.write_text(json.dumps(signed, ensure_ascii=False))
    jwks = tmp_path / "keys.json"
    jwks.write_text(json.dumps(client.get("/api/v1/registry/keys").get_json()))
    query = tmp_path / "query.json"
    query.write_bytes(json.dumps(body, ensure_ascii=False).encode())
    ok = CliRunner().invoke(
        cli,
        ["client", "verify-screening", str(path), "--jwks", str(jwks), "--query", str(query)],
    )
    assert ok.exit_code == 0, ok.output
    # Claiming another answer, or another query, fails.
    statement["results"]["rows"][0]["decision"] = "none"
    path.write_text(json.dumps(signed, ensure_ascii=False))
    lied = CliRunner().invoke(cli, ["client", "verify-screening", str(path), "--jwks", str(jwks)])
    assert lied.exit_code == 1 and "signature on the statement" in lied.output


def test_the_receipts_file_client_submit_writes_verifies_line_by_line(served, tmp_path):
    records_file = tmp_path / "two.jsonl"
    write_jsonl(records_file, [penalty(n) for n in (21, 22, 23)])
    result = submit(served, records_file, "--batch-size", "2")
    assert result.exit_code == 0, result.output
    receipts_file = Path(json.loads(result.stdout)["receipts_file"])
    assert len(receipts_file.read_text().splitlines()) == 2
    checkpoint(served)

    verified = client("verify-receipt", str(receipts_file), "--url", served["url"], "--json")
    assert verified.exit_code == 0, verified.output
    document = json.loads(verified.stdout)
    assert document["verified"] is True
    assert [r["log_index"] for r in document["receipts"]] == [0, 1]

    # One line edited: that line fails, by its number; the other still verifies.
    lines = receipts_file.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["receipt"]["records"][0]["version"] = 7
    tampered = tmp_path / "tampered.receipts.jsonl"
    tampered.write_text(lines[0] + "\n" + json.dumps(edited) + "\n")
    refused = client("verify-receipt", str(tampered), "--url", served["url"])
    assert refused.exit_code == 1
    assert "entry 0 is in creditreg.localhost/log" in refused.output
    assert "NOT VERIFIED: line 2: " in refused.output
    assert "1 of 2 receipts not verified" in refused.output
