"""The member's command line beyond `client submit`: search, screen, report, objections,
monitoring and consents, each run for real against a registry served over HTTP."""

import codecs
import csv
import io
import json
import threading
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from registry.app import cli
from registry.db import db
from registry.worker import Worker, default_jobs
from search.screening import Thresholds
from tests.api.conftest import add_member
from tests.api.test_member_client import penalty, write_jsonl
from tests.api.test_reports import ID_NUMBER


def client(registry, *args, member=None):
    """`creditreg client ARGS`, signed with the member's key (the registry's first member by
    default), the URL and key given by their environment variables."""
    env = {
        "CREDITREG_CLIENT_URL": registry["url"],
        "CREDITREG_CLIENT_KEY": (member or registry)["key"],
    }
    return CliRunner().invoke(cli, ["client", *args], env=env)


def work(registry):
    """One round of `creditreg worker`: the search index and the monitoring events catch up."""
    done = registry["app"].test_cli_runner().invoke(args=["worker", "--rounds", "1"])
    assert done.exit_code == 0, done.output


def submitted(registry, tmp_path, *numbers, member=None):
    """Records about enterprises ``numbers`` sent with `client submit`; their receipt lines."""
    records_file = tmp_path / f"records-{'-'.join(map(str, numbers))}.jsonl"
    write_jsonl(records_file, [penalty(n) for n in numbers])
    member = member or {"id": registry["member"], "key": registry["key"]}
    sent = client(registry, "submit", str(records_file), "--member", member["id"], "--json")
    assert sent.exit_code == 0, sent.output
    work(registry)
    receipts = Path(json.loads(sent.stdout)["receipts_file"]).read_text().splitlines()
    return [r for line in receipts for r in json.loads(line)["receipt"]["records"]]


def refused(result, status, problem_type):
    """The command printed the registry's problem document and exited 1."""
    assert result.exit_code == 1, result.output
    assert f"({status} " in result.stderr and f"/problems/{problem_type}" in result.stderr
    assert "Traceback" not in result.output
    return result.stderr


# --- search ----------------------------------------------------------------------------------


def test_search_finds_a_submitted_subject_in_a_table_or_as_json(registry, tmp_path):
    submitted(registry, tmp_path, 1, 2, 3)
    found = client(registry, "search", "示范2", "--purpose", "counterparty_check")
    assert found.exit_code == 0, found.output
    header, *rows = found.stdout.splitlines()
    assert header.split()[:3] == ["ID", "KIND", "NAME"]
    [row] = [r for r in rows if "示范2有限公司" in r]
    assert penalty(2)["subject"]["uscc"] in row and "enterprise" in row
    # The columns line up on a terminal, where a Chinese character takes two columns.
    before_code = row[: row.index(penalty(2)["subject"]["uscc"])]
    shown = sum(2 if unicodedata.east_asian_width(c) == "W" else 1 for c in before_code)
    assert shown == header.index("USCC / SHOP")

    as_json = client(registry, "search", "示范", "--purpose", "counterparty_check", "--json")
    assert json.loads(as_json.stdout)["total"] == 3
    one = client(registry, "search", "示范", "--purpose", "counterparty_check", "--limit", "1")
    assert len(one.stdout.splitlines()) == 2 and "1 of 3 result(s)" in one.stderr


def test_search_prints_every_field_error_of_a_refusal(registry):
    result = client(
        registry, "search", "示范", "--purpose", "counterparty_check", "--region", "11", "--kind",
        "person",
    )  # fmt: skip
    problem = refused(result, 422, "validation")
    assert "2 parameter error(s)" in problem
    assert "  region: a six-digit GB/T 2260 code" in problem
    assert "  id_number: a person is looked up by ID number only" in problem


# --- screening -------------------------------------------------------------------------------


def screening_file(tmp_path, encoding="gbk"):
    path = tmp_path / "list.csv"
    path.write_bytes(
        "name,uscc,reference\n示范1有限公司,,A-1\n毫不相干贸易,,A-2\n".encode(encoding)
    )
    return path


def result_rows(data: bytes):
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_screen_a_gbk_csv_at_once_into_a_result_csv(registry, tmp_path):
    submitted(registry, tmp_path, 1)
    out = tmp_path / "result.csv"
    done = client(
        registry,
        "screen",
        str(screening_file(tmp_path)),
        "--purpose",
        "compliance_screening",
        "--charset",
        "gbk",
        "--out",
        str(out),
        "--bom",
    )
    assert done.exit_code == 0, done.output
    assert out.read_bytes().startswith(codecs.BOM_UTF8)  # Excel reads it as UTF-8
    rows = result_rows(out.read_bytes())
    assert [(r["reference"], r["decision"]) for r in rows] == [("A-1", "match"), ("A-2", "none")]
    assert rows[0]["match_uscc"] == penalty(1)["subject"]["uscc"]
    assert "2 row(s) screened: 1 match, 1 none" in done.stderr
    assert "screening job" not in done.stderr

    # Without --out the CSV goes to standard output, without a byte-order mark.
    to_stdout = client(
        registry, "screen", str(screening_file(tmp_path, "utf-8")), "--purpose", "monitoring"
    )
    assert to_stdout.stdout.startswith("row,reference,name")
    assert [r["decision"] for r in result_rows(to_stdout.stdout_bytes)] == ["match", "none"]


def test_screen_names_the_charset_the_registry_could_not_read(registry, tmp_path):
    result = client(
        registry, "screen", str(screening_file(tmp_path)), "--purpose", "compliance_screening"
    )
    problem = refused(result, 422, "csv-not-decodable")
    assert "not valid UTF-8 (declared)" in problem
    unknown = client(
        registry,
        "screen",
        str(screening_file(tmp_path)),
        "--purpose",
        "monitoring",
        "--charset",
        "latin-9",
    )
    refused(unknown, 415, "unsupported-charset")


@pytest.fixture
def screening_worker(registry, clock):
    """A worker running the screening jobs in the background while the client waits."""
    app = registry["app"]
    stop = threading.Event()

    def run() -> None:
        with app.app_context():
            search = app.extensions["creditreg.search"]
            jobs = [j for j in default_jobs(search, Thresholds()) if j.name == "screening-jobs"]
            worker = Worker(db.new_session, clock, jobs=jobs, identity="test-screening")
            while not stop.wait(0.05):
                worker.run_round()

    thread = threading.Thread(target=run, daemon=True)
    yield thread
    stop.set()
    thread.join(timeout=10)


@pytest.mark.parametrize("registry_settings", [{"SCREENING_SYNC_MAX_ROWS": 1}])
def test_a_large_screening_waits_for_its_job_with_progress(registry, tmp_path, screening_worker):
    submitted(registry, tmp_path, 1)
    out = tmp_path / "result.csv"
    args = ["screen", str(screening_file(tmp_path)), "--purpose", "monitoring", "--charset", "gbk"]
    screening_worker.start()
    done = client(registry, *args, "--out", str(out), "--poll", "0.1")
    assert done.exit_code == 0, done.output
    progress = done.stderr.splitlines()
    assert progress[0].startswith("screening job ") and "/api/v1/screening/jobs/" in progress[0]
    assert progress[1] == "  queued: 0 of 2 rows"
    assert "  done: 2 of 2 rows" in progress
    assert [r["decision"] for r in result_rows(out.read_bytes())] == ["match", "none"]


# --- reports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report_format", "starts"), [("json", b"{"), ("html", b"<!doctype html"), ("pdf", b"%PDF-")]
)
def test_report_in_each_format(registry, tmp_path, report_format, starts):
    [record] = submitted(registry, tmp_path, 1)
    out = tmp_path / f"report.{report_format}"
    args = ["report", record["subject_id"], "--purpose", "credit_assessment"]
    done = client(registry, *args, "--format", report_format, "--out", str(out))
    assert done.exit_code == 0, done.output
    content = out.read_bytes()
    assert content.lower().startswith(starts.lower())
    assert f"in {out}" in done.stdout
    if report_format == "json":
        assert json.loads(content)["report"]["subject"]["name"] == "示范1有限公司"
    if report_format == "html":
        assert "示范1有限公司" in content.decode()


def test_report_on_an_unknown_subject_is_the_registrys_404(registry, tmp_path):
    result = client(
        registry, "report", "00000000-0000-4000-8000-000000000000", "--purpose", "credit_assessment"
    )
    refused(result, 404, "not-found")
    assert list(tmp_path.glob("credit-report-*")) == []


# --- objections ------------------------------------------------------------------------------


def test_an_objection_filed_listed_answered_and_given_a_statement(registry, tmp_path):
    [record] = submitted(registry, tmp_path, 1)
    uscc = penalty(1)["subject"]["uscc"]
    # The subject itself, a member with the subject's USCC.
    subject = add_member(
        registry, "示范1有限公司", "querier", "--kind", "enterprise", "--uscc", uscc
    )

    own = client(registry, "objections", "file", record["registry_id"], "--grounds", "有误")
    refused(own, 403, "forbidden")  # the submitter does not object to its own record

    filed = client(
        registry,
        "objections",
        "file",
        record["registry_id"],
        "--grounds",
        "该处罚已被撤销",
        "--json",
        member=subject,
    )
    assert filed.exit_code == 0, filed.output
    objection = json.loads(filed.stdout)
    assert objection["status"] == "open" and objection["disputed"] is True

    mine = client(registry, "objections", "list", "--role", "filer", member=subject)
    assert objection["id"] in mine.stdout and record["registry_id"] in mine.stdout
    inbox = client(registry, "objections", "list")  # the submitter's: what it must answer
    [row] = inbox.stdout.splitlines()[1:]
    assert row.split()[:4] == [objection["id"], "record", record["registry_id"], "open"]

    answered = client(
        registry, "objections", "answer", objection["id"], "--outcome", "upheld", "--reason", "有据"
    )
    assert answered.exit_code == 0, answered.output
    assert "outcome: upheld" in answered.stdout and "reason: 有据" in answered.stdout
    again = client(
        registry, "objections", "answer", objection["id"], "--outcome", "revoked", "--reason", "x"
    )
    assert "current_status" in refused(again, 409, "objection-state")

    stated = client(
        registry, "objections", "statement", objection["id"], "我方不同意", member=subject
    )
    assert stated.exit_code == 0, stated.output
    not_theirs = client(registry, "objections", "statement", objection["id"], "我方")
    refused(not_theirs, 403, "forbidden")
    shown = client(registry, "objections", "show", objection["id"], "--json", member=subject)
    seen = json.loads(shown.stdout)
    assert (seen["outcome"], seen["statement"]) == ("upheld", "我方不同意")


# --- monitoring ------------------------------------------------------------------------------


def test_a_portfolio_its_events_and_a_webhook(registry, tmp_path):
    [record] = submitted(registry, tmp_path, 1)
    uscc = penalty(1)["subject"]["uscc"]
    added = client(registry, "monitoring", "portfolio", "add", uscc)
    assert added.exit_code == 0, added.output
    assert added.stdout.strip() == "1 added, 0 removed; 1 watched"
    listed = client(registry, "monitoring", "portfolio", "list")
    assert record["subject_id"] in listed.stdout and "示范1有限公司" in listed.stdout
    work(registry)  # the registry notes what the subject looks like now

    # A new record about the watched subject is an event in the member's stream.
    second = penalty(1, record_id="PEN-0001-B", document_number="京市监罚〔2025〕99号")
    records_file = tmp_path / "second.jsonl"
    write_jsonl(records_file, [second])
    sent = client(registry, "submit", str(records_file), "--member", registry["member"])
    assert sent.exit_code == 0, sent.output
    work(registry)
    events = client(registry, "monitoring", "events", "--json")
    page = json.loads(events.stdout)
    assert [e["type"] for e in page["events"]] == ["record.added"]
    assert page["events"][0]["subject_id"] == record["subject_id"]
    table = client(registry, "monitoring", "events")
    assert "record.added" in table.stdout and f"next --after {page['next_after']}" in table.stderr
    later = client(registry, "monitoring", "events", "--after", page["next_after"], "--json")
    assert json.loads(later.stdout)["events"] == []

    removed = client(registry, "monitoring", "portfolio", "remove", record["subject_id"])
    assert removed.stdout.strip() == "0 added, 1 removed; 0 watched"

    hook = "http://127.0.0.1:9/hooks/creditreg"  # the test profile allows loopback http
    set_hook = client(registry, "monitoring", "webhook", "set", hook)
    assert set_hook.exit_code == 0, set_hook.output
    assert f"url: {hook}" in client(registry, "monitoring", "webhook", "show").stdout
    deleted = client(registry, "monitoring", "webhook", "delete")
    assert deleted.stdout.strip() == "webhook removed"
    refused(client(registry, "monitoring", "webhook", "show"), 404, "not-found")


def test_a_portfolio_csv_in_gbk_and_every_bad_row_at_once(registry, tmp_path):
    submitted(registry, tmp_path, 1, 2)
    good = tmp_path / "watch.csv"
    good.write_bytes(
        f"uscc,名称\n{penalty(1)['subject']['uscc']},示范\n{penalty(2)['subject']['uscc']},\n".encode(
            "gbk"
        )
    )
    args = ["monitoring", "portfolio", "add", "--file", str(good), "--charset", "gbk"]
    assert client(registry, *args).stdout.strip() == "2 added, 0 removed; 2 watched"

    bad = client(registry, "monitoring", "portfolio", "add", "not-a-code", "9111")
    problem = refused(bad, 422, "validation")
    assert "  items.0.uscc:" in problem and "  items.1.uscc:" in problem
    assert client(registry, "monitoring", "portfolio", "list", "--json").exit_code == 0
    both = client(registry, "monitoring", "portfolio", "add", "x", "--file", str(good))
    assert both.exit_code == 2 and "not both" in both.output


# --- consents --------------------------------------------------------------------------------


def test_a_consent_added_and_revoked(registry):
    args = ["consents", "add", "--id-number", ID_NUMBER, "--reference", "C-1", "--purpose"]
    args += ["credit_assessment", "--given-on", "2026-01-05", "--valid-until", "2027-01-05"]
    added = client(registry, *args)
    assert added.exit_code == 0, added.output
    consent_id = added.stdout.splitlines()[0].removeprefix("id: ")
    assert "reference: C-1" in added.stdout and "valid_until: 2027-01-05" in added.stdout

    revoked = client(registry, "consents", "revoke", consent_id, "--json")
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(revoked.stdout)["revoked_at"] is not None

    refused(client(registry, "consents", "revoke", "no-such-consent"), 404, "not-found")
    bad_number = [a if a != ID_NUMBER else "110105194912310021" for a in args]
    assert "  id_number:" in refused(client(registry, *bad_number), 422, "validation")
    neither = client(registry, *args[:2], *args[4:])
    assert neither.exit_code == 2 and "--subject or by --id-number" in neither.output


# --- what every command does when the registry is not there ----------------------------------

EVERY_COMMAND = [
    ["search", "华信", "--purpose", "counterparty_check"],
    ["screen", "{csv}", "--purpose", "monitoring"],
    ["report", "00000000-0000-4000-8000-000000000000", "--purpose", "credit_assessment"],
    ["objections", "file", "00000000-0000-4000-8000-000000000000", "--grounds", "x"],
    ["objections", "list"],
    ["objections", "show", "x"],
    ["objections", "answer", "x", "--outcome", "upheld", "--reason", "x"],
    ["objections", "statement", "x", "y"],
    ["monitoring", "portfolio", "add", "x"],
    ["monitoring", "portfolio", "replace", "x"],
    ["monitoring", "portfolio", "remove", "x"],
    ["monitoring", "portfolio", "list"],
    ["monitoring", "events"],
    ["monitoring", "webhook", "set", "https://hooks.example/x"],
    ["monitoring", "webhook", "show"],
    ["monitoring", "webhook", "delete"],
    ["consents", "add", "--id-number", "x", "--reference", "r", "--purpose", "monitoring"]
    + ["--given-on", "2026-01-01", "--valid-until", "2026-02-01"],
    ["consents", "revoke", "x"],
]


@pytest.mark.parametrize("args", EVERY_COMMAND, ids=lambda args: " ".join(args[:3]))
def test_an_unreachable_registry_is_one_line_and_exit_1(tmp_path, args):
    key = tmp_path / "m.key"
    assert CliRunner().invoke(cli, ["client", "keygen", "--out", str(key)]).exit_code == 0
    (tmp_path / "list.csv").write_text("name\n华信\n")
    args = [a.replace("{csv}", str(tmp_path / "list.csv")) for a in args]
    # Port 9 (discard) on the loopback: nothing listens there.
    result = CliRunner().invoke(
        cli, ["client", *args, "--url", "http://127.0.0.1:9", "--key", str(key)]
    )
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: the registry at http://127.0.0.1:9 is unreachable (")


def test_a_bad_key_or_url_is_a_usage_error(tmp_path):
    (tmp_path / "not.key").write_text("not a key")
    bad_key = CliRunner().invoke(
        cli,
        ["client", "objections", "list", "--url", "http://x", "--key", str(tmp_path / "not.key")],
    )
    assert bad_key.exit_code == 2 and "not a usable private key" in bad_key.output
    assert (
        CliRunner().invoke(cli, ["client", "keygen", "--out", str(tmp_path / "m.key")]).exit_code
        == 0
    )
    bad_url = CliRunner().invoke(
        cli, ["client", "objections", "list", "--url", "ftp://x", "--key", str(tmp_path / "m.key")]
    )
    assert bad_url.exit_code == 2 and "http:// or https://" in bad_url.output
