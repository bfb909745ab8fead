"""The member's command-line client against a registry served over real HTTP."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from api.client import RegistryClient, RequestSigner
from registry.app import cli
from registry.db import db
from registry.records import CreditRecord, CreditRecordVersion
from registry.submissions import Submission
from tests import factories

ROOT = Path(__file__).resolve().parents[2]


def penalty(number: int, **changes):
    record = {
        "record_id": f"PEN-{number:04d}",
        "op": "upsert",
        "category": "administrative_penalty",
        "subject": {
            "kind": "enterprise",
            "uscc": factories.uscc(number),
            "name": f"示范{number}有限公司",
        },
        "polarity": "negative",
        "severity": "general",
        "decided_at": "2025-03-01",
        "authority": "北京市市场监督管理局",
        "document_number": f"京市监罚〔2025〕{number}号",
        "legal_basis": "《中华人民共和国广告法》第五十五条",
        "summary": "发布虚假广告",
        "amount": {"value": "20000.00", "currency": "CNY"},
    }
    record.update(changes)
    return record


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


@pytest.fixture
def serve(fresh_sqlite_url, live_server):
    """Serve a registry with a server production or development uses; returns its URL."""
    stops = []

    def _serve(server: str, app) -> str:
        if server == "werkzeug":
            return live_server(app)
        if server == "waitress":
            from waitress import wasyncore
            from waitress.server import create_server

            served = create_server(app, host="127.0.0.1", port=0)
            thread = threading.Thread(target=served.run, daemon=True)
            thread.start()
            # Closed by the server's own loop (its trigger runs the closing there): closed
            # from this thread, a socket could go while the loop waits on it in select(),
            # which then fails with EBADF in the server's thread. All its sockets (the map
            # of its channels) are closed, so that its loop ends and the thread with it.
            stops.append(
                lambda: (
                    served.trigger.pull_trigger(lambda: wasyncore.close_all(served._map)),
                    thread.join(timeout=10),
                )
            )
            return f"http://127.0.0.1:{served.effective_port}"
        # gunicorn serves from processes of its own, on the same database file.
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CREDITREG_")}
        environment.update(CREDITREG_PROFILE="test", CREDITREG_DATABASE_URL=fresh_sqlite_url)
        process = subprocess.Popen(
            [Path(sys.executable).with_name("gunicorn"), "--bind", "127.0.0.1:0"]
            + ["--workers", "1", "registry.wsgi:app"],
            cwd=ROOT,
            env=environment,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None

        def stop() -> None:
            process.terminate()
            process.wait(timeout=30)
            process.stderr.close()

        stops.append(stop)
        for line in process.stderr:
            if "Listening at: " in line:
                return line.split("Listening at: ", 1)[1].split()[0]
        raise AssertionError(f"gunicorn did not start: exit code {process.wait()}")

    yield _serve
    for stop in stops:
        stop()


@pytest.mark.parametrize("server", ["werkzeug", "waitress", "gunicorn"])
def test_a_path_signed_as_sent_is_verified_behind_every_server(registry, serve, server):
    member = RegistryClient(
        serve(server, registry["app"]), RequestSigner.from_pem_file(registry["key"])
    )
    member.submit("batch:1", [penalty(1)])
    # The path as urllib.parse.quote sends it, ":" as "%3A", and signed so.
    answer = member.request("GET", "/api/v1/submissions/" + quote("batch:1"))
    assert answer.status == 200, answer.body
    assert answer.body["receipt"]["submission_id"] == "batch:1"


def submit(registry, records_file, *extra, key=None):
    args = ["client", "submit", str(records_file), "--url", registry["url"]]
    args += ["--member", registry["member"], "--key", key or registry["key"], "--json", *extra]
    return CliRunner().invoke(cli, args)


def stored(registry):
    with registry["app"].app_context():
        session = db.session
        return {
            "submissions": session.scalar(sa.select(sa.func.count()).select_from(Submission)),
            "records": session.scalar(sa.select(sa.func.count()).select_from(CreditRecord)),
            "versions": session.scalar(sa.select(sa.func.count()).select_from(CreditRecordVersion)),
        }


def test_keygen_writes_an_owner_only_private_key_and_never_overwrites(tmp_path):
    runner = CliRunner()
    first = runner.invoke(
        cli,
        ["client", "keygen", "--out", str(tmp_path / "k.key"), "--algorithm", "ecdsa-p256-sha256"],
    )
    assert first.exit_code == 0, first.output
    assert (tmp_path / "k.key").stat().st_mode & 0o777 == 0o600
    assert b"PUBLIC KEY" in (tmp_path / "k.pub").read_bytes()
    before = (tmp_path / "k.key").read_bytes()
    again = runner.invoke(cli, ["client", "keygen", "--out", str(tmp_path / "k.key")])
    assert again.exit_code != 0 and "refusing to overwrite" in again.output
    assert (tmp_path / "k.key").read_bytes() == before


def test_submit_sends_batches_and_a_rerun_duplicates_nothing(registry, tmp_path):
    records_file = tmp_path / "penalties.jsonl"
    write_jsonl(records_file, [penalty(n) for n in range(1, 8)])

    first = submit(registry, records_file, "--batch-size", "3")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert (summary["batches"], summary["sent"], summary["records"]) == (3, 3, {"created": 7})
    assert stored(registry) == {"submissions": 3, "records": 7, "versions": 7}
    receipts = [
        json.loads(line) for line in Path(summary["receipts_file"]).read_text().splitlines()
    ]
    assert sum(len(r["receipt"]["records"]) for r in receipts) == 7

    # Receipts on file: nothing is sent again.
    second = json.loads(submit(registry, records_file, "--batch-size", "3").stdout)
    assert (second["sent"], second["skipped"]) == (0, 3)

    # Receipts lost: the registry answers each batch with its first receipt.
    (tmp_path / "penalties.jsonl.receipts.jsonl").unlink()
    third = json.loads(submit(registry, records_file, "--batch-size", "3").stdout)
    assert (third["sent"], third["replayed"]) == (0, 3)
    assert stored(registry) == {"submissions": 3, "records": 7, "versions": 7}


def test_a_refused_batch_names_file_lines_and_a_fixed_rerun_completes(registry, tmp_path):
    records = [penalty(n) for n in range(1, 8)]
    records[4] = penalty(5, legal_basis=None, amount={"value": "abc", "currency": "CNY"})
    records_file = tmp_path / "penalties.jsonl"
    write_jsonl(records_file, records)

    failed = submit(registry, records_file, "--batch-size", "3")
    assert failed.exit_code == 1
    assert "batch 2 refused" in failed.output
    assert "line 5 legal_basis" in failed.output and "line 5 amount" in failed.output
    # The first batch is kept; nothing of the refused one, nor of the one after it.
    assert stored(registry) == {"submissions": 1, "records": 3, "versions": 3}

    records[4] = penalty(5)
    write_jsonl(records_file, records)
    fixed = submit(registry, records_file, "--batch-size", "3")
    assert fixed.exit_code == 0, fixed.output
    summary = json.loads(fixed.stdout)
    # The fixed file is a new file to the client (new ids); the records sent before are
    # recognised as unchanged rather than stored twice.
    assert summary["records"] == {"created": 4, "unchanged": 3}
    assert stored(registry)["records"] == 7
    assert stored(registry)["versions"] == 7


def test_rejects_sets_refused_records_aside_and_sends_the_rest(registry, tmp_path):
    records = [penalty(n) for n in range(1, 8)]
    records[1] = penalty(2, legal_basis=None)  # line 2: a field error
    bad_code = penalty(5)
    bad_code["subject"]["uscc"] = bad_code["subject"]["uscc"][:-1] + (
        "0" if bad_code["subject"]["uscc"][-1] != "0" else "1"
    )
    records[4] = bad_code  # line 5: a wrong check character
    records_file = tmp_path / "penalties.jsonl"
    write_jsonl(records_file, records)
    rejects = tmp_path / "rejects.jsonl"

    done = submit(registry, records_file, "--batch-size", "3", "--rejects", str(rejects))
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["rejected"] == 2 and summary["records"] == {"created": 5}
    assert stored(registry)["records"] == 5
    refused = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["line"], {e["field"] for e in r["errors"]}) for r in refused] == [
        (2, {"legal_basis"}),
        (5, {"subject.uscc"}),
    ]
    assert refused[0]["record"] == records[1]

    # Run again: every batch has its receipt; nothing is sent or set aside twice.
    again = submit(registry, records_file, "--batch-size", "3", "--rejects", str(rejects))
    assert json.loads(again.stdout)["skipped"] == 3
    assert len(rejects.read_text().splitlines()) == 2


def test_bad_lines_stop_the_client_before_anything_is_sent(registry, tmp_path):
    records_file = tmp_path / "broken.jsonl"
    records_file.write_text(json.dumps(penalty(1)) + "\n{not json\n[1, 2]\n")
    result = submit(registry, records_file)
    assert result.exit_code == 1
    assert (
        "line 2: not JSON" in result.output
        and "line 3: a record must be a JSON object" in result.output
    )
    assert stored(registry)["submissions"] == 0


def test_a_key_the_registry_does_not_know_is_refused_with_the_reason(registry, tmp_path):
    CliRunner().invoke(cli, ["client", "keygen", "--out", str(tmp_path / "other.key")])
    records_file = tmp_path / "one.jsonl"
    write_jsonl(records_file, [penalty(1)])
    result = submit(registry, records_file, key=str(tmp_path / "other.key"))
    assert result.exit_code == 1
    assert "key-unknown" in result.output
    assert stored(registry)["submissions"] == 0


def request(registry, *args):
    env = {"CREDITREG_CLIENT_URL": registry["url"], "CREDITREG_CLIENT_KEY": registry["key"]}
    return CliRunner().invoke(cli, ["client", "request", *args], env=env)


def test_request_signs_any_call_and_prints_the_answer(registry, tmp_path):
    body = json.dumps({"submission_id": "s-1", "records": [penalty(1)]}, ensure_ascii=False)
    sent = request(registry, "POST", "/api/v1/submissions", "--data", body)
    assert sent.exit_code == 0, sent.output
    assert sent.stderr.startswith("201 application/json")
    assert json.loads(sent.stdout)["receipt"]["submission_id"] == "s-1"
    # A body from a file, and a path with its query, signed as sent.
    (tmp_path / "same.json").write_text(body)
    again = request(registry, "post", "/api/v1/submissions", "--data", f"@{tmp_path / 'same.json'}")
    assert again.exit_code == 0 and again.stderr.startswith("200 ")  # the first receipt again
    read = request(registry, "GET", "/api/v1/submissions/s-1")
    assert read.exit_code == 0 and json.loads(read.stdout)["receipt"]["records"][0]["status"]
    # The registry's refusal: its problem document, and exit status 1.
    refused = request(registry, "GET", "/api/v1/subjects?q=华信&purpose=nope")
    assert refused.exit_code == 1 and refused.stderr.startswith("4")
    assert json.loads(refused.stdout)["type"].startswith("/problems/")
    # Mistakes are caught before anything is sent.
    not_json = request(registry, "POST", "/api/v1/submissions", "--data", "{oops")
    assert not_json.exit_code == 2 and "--content-type" in not_json.output
    assert request(registry, "GET", "api/v1/submissions").exit_code == 2
    assert stored(registry)["submissions"] == 1
