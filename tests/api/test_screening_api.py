"""POST /api/v1/screening and screening jobs, through the signed API."""

import csv
import io
import json
import uuid

import pytest
import sqlalchemy as sa
from flask import current_app

from registry import migrate
from registry.db import db
from registry.querylog import QueryLogEntry
from registry.screening_jobs import JobStatus, ScreeningJob
from registry.worker import Worker, default_jobs
from search.screening import Thresholds, run_jobs
from search.sync import drain_once
from tests.api.test_csv_export import FORMULAS, cells
from tests.api.test_openapi import conforms
from tests.api.test_submissions import PENALTY, submit
from tests.signing import signed_member

OTHER = {
    **PENALTY,
    "record_id": "PEN-2",
    "subject": {"kind": "enterprise", "uscc": "91310115MA1K3BTP2B", "name": "上海华信贸易有限公司"},
}


def load(member, clock):
    assert submit(member, "load", [PENALTY, OTHER]).status_code == 201
    backend = current_app.extensions["creditreg.search"]
    while drain_once(db.session, backend, clock.now()):
        pass


@pytest.fixture
def querier(session, client, clock):
    member = signed_member(session, client, clock, roles=("submitter", "querier"))
    load(member, clock)
    return member


def test_json_screening_answers_each_row(querier, session, client):
    rows = [
        {"name": "北京華信科技有限責任公司", "reference": "A-1"},
        {"uscc": "9131 0115 ma1k 3btp 2b"},
        {"name": "没有这家公司"},
    ]
    response = querier.post("/api/v1/screening", {"purpose": "compliance_screening", "rows": rows})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert conforms(client.get("/api/openapi.json").get_json(), "ScreeningResult", body) == []
    assert [r["decision"] for r in body["rows"]] == ["match", "match", "none"]
    assert body["rows"][0]["reference"] == "A-1"
    assert body["rows"][1]["matches"][0]["uscc"] == "91310115MA1K3BTP2B"
    assert body["summary"] == {"match": 2, "possible": 0, "none": 1, "error": 0}
    entry = session.scalars(sa.select(QueryLogEntry)).one()
    assert (entry.kind, entry.purpose, entry.results, len(entry.subject_ids)) == (
        "screening",
        "compliance_screening",
        3,
        2,
    )


def test_csv_in_and_csv_out(querier):
    body = "name,uscc,region,reference\n北京华信科技有限公司,,110105,r1\n,91310115MA1K3BTP2B,,r2\n"
    response = querier.post(
        "/api/v1/screening?purpose=compliance_screening&format=csv",
        body.encode(),
        content_type="text/csv",
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["reference"], r["decision"]) for r in rows] == [("r1", "match"), ("r2", "match")]
    assert rows[1]["match_uscc"] == "91310115MA1K3BTP2B"


def test_every_row_error_at_once_and_nothing_screened(querier, session):
    rows = [{"name": "好的"}, {"uscc": "123"}, {"region": "110105"}, "not a row"]
    response = querier.post("/api/v1/screening", {"purpose": "nonsense", "rows": rows})
    assert response.status_code == 422
    fields = {e["field"] for e in response.get_json()["errors"]}
    assert fields == {"purpose", "rows.1.uscc", "rows.2.name", "rows.3"}
    assert session.scalars(sa.select(QueryLogEntry)).all() == []


@pytest.fixture
def jobs_app(fresh_sqlite_url, make_app, clock):
    """A registry that makes a job of any screening of more than two rows, with its data
    loaded (its own SQLite file: the worker commits)."""
    app = make_app(fresh_sqlite_url, SCREENING_SYNC_MAX_ROWS=2)
    migrate.upgrade(db.engine_of(app))
    with app.app_context():
        member = signed_member(db.session, app.test_client(), clock, roles=("submitter", "querier"))
        load(member, clock)
        db.session.commit()
        yield app, member


def test_large_screenings_become_jobs_with_progress_and_a_download(jobs_app, clock):
    app, member = jobs_app
    client = app.test_client()
    rows = [{"name": "北京华信科技"}, {"name": "上海华信贸易"}, {"name": "无关公司"}]
    created = member.post("/api/v1/screening", {"purpose": "monitoring", "rows": rows})
    assert created.status_code == 202
    location = created.headers["Location"]
    assert created.get_json()["status"] == "queued"
    assert member.get(location + "/result").status_code == 409

    other = signed_member(db.session, client, clock, roles=("querier",))
    assert other.get(location).status_code == 404  # another member's job

    search = app.extensions["creditreg.search"]
    worker = Worker(db.new_session, clock, jobs=default_jobs(search, Thresholds()), identity="t")
    worker.run_round()
    progress = member.get(location).get_json()
    assert (progress["status"], progress["done_rows"]) == ("done", 3)
    result = member.get(location + "/result").get_json()
    assert [r["decision"] for r in result["rows"]] == ["match", "match", "none"]
    as_csv = member.get(location + "/result?format=csv")
    assert as_csv.mimetype == "text/csv"
    assert len(as_csv.get_data(as_text=True).strip().splitlines()) == 4
    logged = db.session.scalars(
        sa.select(QueryLogEntry).where(QueryLogEntry.kind == "screening")
    ).one()
    assert json.dumps(logged.query).count("job_id") == 1


def test_a_csv_file_uploaded_in_a_form(querier):
    boundary = "creditreg-test-boundary"
    csv_text = "name,uscc\n北京华信科技有限公司,\n"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="purpose"\r\n\r\n'
        "compliance_screening\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="list.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
        f"\ufeff{csv_text}\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    response = querier.post(
        "/api/v1/screening", body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 200, response.get_json()
    assert [r["decision"] for r in response.get_json()["rows"]] == ["match"]
    without_file = querier.post(
        "/api/v1/screening",
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nmonitoring\r\n'
        f"--{boundary}--\r\n".encode(),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert without_file.status_code == 400


def test_the_screening_result_csv_neutralises_names_and_references(querier):
    rows = [{"name": text, "reference": text} for text in FORMULAS]
    response = querier.post(
        "/api/v1/screening?format=csv", {"purpose": "compliance_screening", "rows": rows}
    )
    assert cells(response, "reference") == ["'" + text for text in FORMULAS]
    # Names are stripped of surrounding white space before they are screened.
    assert cells(response, "name") == ["'" + text.strip() for text in FORMULAS]
    assert all(float(score) >= 0 for score in cells(response, "score"))


def test_a_screening_jobs_csv_result_neutralises_names_and_references(session, clock, querier):
    job = ScreeningJob(
        id=uuid.uuid4(),
        member_id=querier.member.id,
        key_id=querier.key.id,
        purpose="compliance_screening",
        status=JobStatus.QUEUED,
        total_rows=len(FORMULAS),
        done_rows=0,
        rows=[
            {"name": text.strip(), "uscc": None, "region": None, "reference": text}
            for text in FORMULAS
        ],
        results=[],
        created_at=clock.now(),
    )
    session.add(job)
    session.commit()
    backend = current_app.extensions["creditreg.search"]
    assert run_jobs(session, backend, clock.now(), Thresholds()) == len(FORMULAS)

    response = querier.get(f"/api/v1/screening/jobs/{job.id}/result?format=csv")
    assert cells(response, "reference") == ["'" + text for text in FORMULAS]
    assert cells(response, "name") == ["'" + text.strip() for text in FORMULAS]


# --- CSV in the charset it was saved in ------------------------------------------------------

GBK_CSV = "name,reference\n北京华信科技有限公司,r1\n上海华信贸易有限公司,r2\n".encode("gbk")


@pytest.mark.parametrize("charset", ["gbk", "GB2312", "gb18030", "cp936"])
def test_a_csv_saved_by_chinese_excel_is_read_in_its_declared_charset(querier, charset):
    response = querier.post(
        "/api/v1/screening?purpose=compliance_screening",
        GBK_CSV,
        content_type=f"text/csv; charset={charset}",
    )
    assert response.status_code == 200, response.get_json()
    assert [r["decision"] for r in response.get_json()["rows"]] == ["match", "match"]


def test_a_csv_that_is_not_valid_in_its_charset_is_refused_naming_it(querier, session):
    undeclared = querier.post(
        "/api/v1/screening?purpose=compliance_screening", GBK_CSV, content_type="text/csv"
    )
    assert undeclared.status_code == 422
    problem = undeclared.get_json()
    assert problem["type"] == "/problems/csv-not-decodable"
    assert "UTF-8 (none declared): line 2, byte 0xb1 at offset 15" in problem["detail"]
    wrong = querier.post(
        "/api/v1/screening?purpose=compliance_screening",
        b"name\n\x81\x20\n",  # 0x81 opens a two-byte GB18030 character; a space cannot end it
        content_type="text/csv; charset=gbk",
    )
    assert wrong.status_code == 422 and "GB18030 (GBK) (declared)" in wrong.get_json()["detail"]
    unknown = querier.post(
        "/api/v1/screening?purpose=compliance_screening",
        GBK_CSV,
        content_type="text/csv; charset=latin-1",
    )
    assert unknown.status_code == 415
    assert unknown.get_json()["type"] == "/problems/unsupported-charset"
    assert session.scalars(sa.select(QueryLogEntry)).all() == []


def test_a_utf8_csv_with_a_byte_order_mark(querier):
    body = "\ufeffname\n北京华信科技有限公司\n".encode()
    response = querier.post(
        "/api/v1/screening?purpose=compliance_screening", body, content_type="text/csv"
    )
    assert [r["decision"] for r in response.get_json()["rows"]] == ["match"]


@pytest.mark.parametrize("declared", ["part", "field"])
def test_an_uploaded_gbk_file_declares_its_charset_in_its_part_or_a_field(querier, declared):
    boundary = "creditreg-test-boundary"
    part_type = "text/csv; charset=gbk" if declared == "part" else "text/csv"
    field = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="charset"\r\n\r\ngbk\r\n'
        if declared == "field"
        else ""
    )
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="purpose"\r\n\r\n'
            f"compliance_screening\r\n{field}"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="list.csv"\r\n'
            f"Content-Type: {part_type}\r\n\r\n"
        ).encode()
        + GBK_CSV
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = querier.post(
        "/api/v1/screening", body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 200, response.get_json()
    assert [r["decision"] for r in response.get_json()["rows"]] == ["match", "match"]


@pytest.mark.parametrize(
    ("query", "accept", "marked"),
    [
        ("&bom=1", "text/csv", True),
        ("", "text/csv; bom=1", True),
        ("", "text/csv", False),
    ],
)
def test_a_csv_result_carries_a_byte_order_mark_when_asked(querier, query, accept, marked):
    response = querier.post(
        f"/api/v1/screening?format=csv{query}",
        {"purpose": "compliance_screening", "rows": [{"name": "北京华信科技有限公司"}]},
        extra_headers={"Accept": accept},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.get_data().startswith(b"\xef\xbb\xbf") is marked
    text = response.get_data().decode("utf-8-sig")
    assert "北京华信科技有限公司" in text


# --- a bad row does not stop the good ones --------------------------------------------------

MIXED = [
    {"name": "北京华信科技有限公司", "reference": "good-1"},
    {"uscc": "123", "reference": "bad-uscc"},
    {"region": "110105", "reference": "no-name"},
    "not a row",
    {"name": "张三 11010519491231002X", "reference": "number"},
    {"uscc": "9131 0115 ma1k 3btp 2b", "reference": "good-2"},
]


def test_good_rows_are_screened_and_each_bad_one_answered_with_its_errors(querier, session):
    response = querier.post("/api/v1/screening", {"purpose": "compliance_screening", "rows": MIXED})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    decisions = [(r["row"], r["reference"], r["decision"]) for r in body["rows"]]
    assert decisions == [
        (0, "good-1", "match"),
        (1, "bad-uscc", "error"),
        (2, "no-name", "error"),
        (3, None, "error"),
        (4, "number", "error"),
        (5, "good-2", "match"),
    ]
    assert body["summary"] == {"match": 2, "possible": 0, "none": 0, "error": 4}
    assert [e["field"] for e in body["rows"][1]["errors"]] == ["uscc"]
    assert [e["field"] for e in body["rows"][2]["errors"]] == ["name"]
    # The field that held an ID number is not echoed back.
    assert body["rows"][4]["input"]["name"] is None
    assert "11010519491231002X" not in response.get_data(as_text=True)
    assert session.scalars(sa.select(QueryLogEntry)).one().results == 6


def test_all_or_nothing_refuses_the_request_for_one_bad_row(querier, session):
    response = querier.post(
        "/api/v1/screening?all_or_nothing=true",
        {"purpose": "compliance_screening", "rows": MIXED},
    )
    assert response.status_code == 422
    fields = [e["field"] for e in response.get_json()["errors"]]
    assert fields == ["rows.1.uscc", "rows.2.name", "rows.3", "rows.4.name"]
    assert session.scalars(sa.select(QueryLogEntry)).all() == []


def test_a_request_with_no_good_row_is_refused(querier):
    response = querier.post(
        "/api/v1/screening", {"purpose": "compliance_screening", "rows": MIXED[1:4]}
    )
    assert response.status_code == 422
    assert len(response.get_json()["errors"]) == 3


def test_the_csv_result_carries_each_bad_rows_errors(querier):
    body = "name,uscc,reference\n北京华信科技有限公司,,r1\n,123,r2\n"
    response = querier.post(
        "/api/v1/screening?purpose=compliance_screening&format=csv",
        body.encode(),
        content_type="text/csv",
    )
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["reference"], r["decision"]) for r in rows] == [("r1", "match"), ("r2", "error")]
    assert rows[1]["errors"].startswith("uscc: ") and rows[0]["errors"] == ""


def test_a_job_answers_its_bad_rows_and_stores_no_number(jobs_app, clock):
    app, member = jobs_app
    created = member.post("/api/v1/screening", {"purpose": "monitoring", "rows": MIXED})
    assert created.status_code == 202, created.get_json()
    stored = db.session.scalars(sa.select(ScreeningJob)).one()
    assert "11010519491231002X" not in json.dumps(stored.rows)
    db.session.rollback()  # the worker's session writes the job next
    search = app.extensions["creditreg.search"]
    worker = Worker(db.new_session, clock, jobs=default_jobs(search, Thresholds()), identity="t")
    worker.run_round()
    result = member.get(created.headers["Location"] + "/result").get_json()
    assert [r["decision"] for r in result["rows"]] == [
        "match", "error", "error", "error", "error", "match",
    ]  # fmt: skip
    assert result["summary"]["error"] == 4
