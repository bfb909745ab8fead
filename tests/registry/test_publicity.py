"""双公示: a licence or penalty the registry receives more than 7 working days after its
decision is accepted and marked late, counted per authority for staff; on the test clock,
with the shipped calendar, on both databases."""

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from registry.calendar import WorkingCalendar
from registry.db import db
from registry.publicity import PublicityRule, Window, default_rule, lateness_by_authority
from registry.records import CreditRecord
from tests.console_helpers import seed, sign_in
from tests.signing import accepted, signed_member

BEIJING = ZoneInfo("Asia/Shanghai")
# Monday 28 September 2026. Its 7 working days: 29 and 30 September, (National Day, 1 to 7
# October), 8 and 9 October, Saturday 10 October (a make-up working day), Monday 12 and
# Tuesday 13 October. Published by the 13th; the 14th is the 8th working day.
DECIDED = date(2026, 9, 28)
DUE = date(2026, 10, 13)
MARKET = "北京市市场监督管理局"
TAX = "国家税务总局北京市税务局"
SUBJECT = {"kind": "enterprise", "uscc": "91310115MA1K3BTP2B", "name": "上海示范科技有限公司"}


def penalty(record_id, *, decided=DECIDED, authority=MARKET, **changes):
    return {
        "record_id": record_id,
        "op": "upsert",
        "category": "administrative_penalty",
        "subject": SUBJECT,
        "polarity": "negative",
        "severity": "general",
        "decided_at": decided.isoformat(),
        "authority": authority,
        "document_number": f"京市监罚〔2026〕{record_id}号",
        "legal_basis": "《中华人民共和国广告法》第五十五条",
        **changes,
    }


def licence(record_id, *, decided=DECIDED, authority=MARKET):
    return {
        "record_id": record_id,
        "op": "upsert",
        "category": "administrative_licence",
        "subject": SUBJECT,
        "polarity": "neutral",
        "decided_at": decided.isoformat(),
        "authority": authority,
        "document_number": f"京市监许〔2026〕{record_id}号",
    }


DEFAULT = {
    "record_id": "LD-1",
    "op": "upsert",
    "category": "loan_default",
    "subject": SUBJECT,
    "polarity": "negative",
    "authority": "示范银行",
    "occurred_at": "2026-01-05",
    "amount": {"value": "1000.00", "currency": "CNY"},
}


@pytest.fixture
def regulator(session, client, clock):
    # The tests go back to October 2026: the key is valid from before.
    valid_from = datetime(2026, 1, 1, tzinfo=BEIJING)
    return signed_member(
        session,
        client,
        clock,
        kind="regulator",
        roles=("submitter", "querier"),
        valid_from=valid_from,
    )


def marks(session):
    session.expire_all()
    rows = session.execute(
        sa.select(
            CreditRecord.member_record_id,
            CreditRecord.publicity_due_on,
            CreditRecord.publicity_late,
        )
    )
    return {record_id: (due, late) for record_id, due, late in rows}


def test_the_seventh_working_day_is_on_time_and_the_eighth_late():
    rule = default_rule()  # the shipped calendars: 2026's National Day and make-up days
    assert rule.due_on(DECIDED) == DUE
    on_time = {"publicity_due_on": DUE, "publicity_late": False}
    late = {"publicity_due_on": DUE, "publicity_late": True}
    assert rule.marks("administrative_penalty", DECIDED, DUE) == on_time
    assert rule.marks("administrative_licence", DECIDED, date(2026, 10, 7)) == on_time
    assert rule.marks("administrative_penalty", DECIDED, date(2026, 10, 14)) == late
    # Across a plain weekend: Thursday 19 November 2026, due Monday the 30th.
    assert rule.due_on(date(2026, 11, 19)) == date(2026, 11, 30)
    assert not rule.marks("administrative_penalty", date(2026, 11, 19), date(2026, 11, 30))[
        "publicity_late"
    ]
    assert rule.marks("administrative_penalty", date(2026, 11, 19), date(2026, 12, 1))[
        "publicity_late"
    ]
    # Other categories are not measured.
    assert rule.marks("loan_default", DECIDED, date(2027, 1, 1)) == {
        "publicity_due_on": None,
        "publicity_late": None,
    }
    # Counting weekdays alone would end the period during the holiday.
    assert PublicityRule(WorkingCalendar()).due_on(DECIDED) == date(2026, 10, 7)


def test_late_records_are_accepted_marked_and_shown_to_members(session, clock, regulator):
    # 13 October 2026, the last second of the 7th working day in Beijing.
    clock.set(datetime(2026, 10, 13, 23, 59, 59, tzinfo=BEIJING))
    accepted(regulator, "on-time", [penalty("P-ON"), licence("L-ON"), DEFAULT])
    clock.advance(timedelta(seconds=1))  # 14 October, the 8th working day
    accepted(regulator, "late", [penalty("P-LATE"), licence("L-LATE")])
    assert marks(session) == {
        "P-ON": (DUE, False),
        "L-ON": (DUE, False),
        "LD-1": (None, None),
        "P-LATE": (DUE, True),
        "L-LATE": (DUE, True),
    }

    # The members' record view (the report, as JSON, HTML and PDF) shows the mark.
    subject_id = session.scalar(sa.select(CreditRecord.subject_id).limit(1))
    response = regulator.get(f"/api/v1/subjects/{subject_id}/report?purpose=credit_assessment")
    assert response.status_code == 200, response.get_json()
    lines = {
        line["document_number"]: line
        for group in response.get_json()["report"]["records"]
        for line in group["records"]
    }
    late_line = lines["京市监罚〔2026〕P-LATE号"]
    assert (late_line["publicity_late"], late_line["publicity_due_on"]) == (True, "2026-10-13")
    assert lines["京市监罚〔2026〕P-ON号"]["publicity_late"] is False
    loan = next(line for line in lines.values() if line["category"] == "loan_default")
    assert (loan["publicity_late"], loan["publicity_due_on"]) == (None, None)
    page = regulator.get(response.headers["Location"] + ".html").get_data(as_text=True)
    assert page.count("late: due 2026-10-13") == 2


def test_a_corrected_decision_date_is_measured_again_against_the_first_receipt(
    session, clock, regulator
):
    clock.set(datetime(2026, 10, 14, 10, 0, tzinfo=BEIJING))
    accepted(regulator, "first", [penalty("P-1")])
    assert marks(session)["P-1"] == (DUE, True)
    # A week later the authority corrects the decision date to 1 October (a holiday): its 7
    # working days end on 15 October, after the first receipt: on time after all.
    clock.advance(timedelta(days=7))
    corrected = penalty("P-1", decided=date(2026, 10, 1), reason="decision date corrected")
    accepted(regulator, "correction", [corrected])
    assert marks(session)["P-1"] == (date(2026, 10, 15), False)
    # A correction of anything else leaves the mark alone.
    clock.advance(timedelta(days=30))
    summary = {**corrected, "summary": "更正事由", "reason": "summary"}
    accepted(regulator, "summary", [summary])
    assert marks(session)["P-1"] == (date(2026, 10, 15), False)


def test_the_mark_costs_the_intake_no_query_per_record(session, clock, regulator, query_counter):
    clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=BEIJING))

    def statements(submission_id, records):
        query_counter.clear()
        accepted(regulator, submission_id, records)
        return len(query_counter)

    statements("warm-up", [penalty("W-1")])
    few = statements("few", [penalty(f"F-{n}", decided=date(2026, 11, n + 1)) for n in range(2)])
    # 40 decision dates, 23 October to 1 December: on time from Friday 20 November on.
    many = [penalty(f"M-{n}", decided=date(2026, 10, 23) + timedelta(days=n)) for n in range(40)]
    assert statements("many", many) == few
    measured = [late for record_id, (_, late) in marks(session).items() if record_id[0] == "M"]
    assert (measured.count(True), measured.count(False)) == (28, 12)


def test_late_records_are_counted_per_authority_for_staff(
    session, runtime, clock, client, regulator, make_app, database_url
):
    clock.set(datetime(2026, 10, 14, 9, 0, tzinfo=BEIJING))
    accepted(
        regulator,
        "mixed",
        [
            penalty("P-1"),
            penalty("P-2"),
            licence("L-1"),
            penalty("P-3", decided=date(2026, 10, 12)),
            penalty("T-1", authority=TAX),
            penalty("T-2", authority=TAX, decided=date(2026, 10, 12)),
            DEFAULT,
        ],
    )
    window = Window.ending(date(2026, 10, 14))
    rows = {row.authority: row.view() for row in lateness_by_authority(session, window)}
    assert rows == {
        MARKET: {
            "authority": MARKET,
            "received": 4,
            "late": 3,
            "late_share": 0.75,
            "licences_late": 1,
            "penalties_late": 2,
        },
        TAX: {
            "authority": TAX,
            "received": 2,
            "late": 1,
            "late_share": 0.5,
            "licences_late": 0,
            "penalties_late": 1,
        },
    }
    assert [row.authority for row in lateness_by_authority(session, window)] == [MARKET, TAX]
    # Received before the window: not counted.
    assert lateness_by_authority(session, Window(date(2026, 10, 15), date(2026, 12, 31))) == []

    # The command.
    session.commit()
    result = client.application.test_cli_runner().invoke(
        args=["records", "publicity", "--json", "--since", "2026-10-14"]
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["since"] == "2026-10-14" and shown["working_days"] == 7
    assert [(a["authority"], a["late"]) for a in shown["authorities"]] == [(MARKET, 3), (TAX, 1)]
    text = client.application.test_cli_runner().invoke(args=["records", "publicity"])
    assert "3 late of      4 ( 75.0 %)  北京市市场监督管理局" in text.output

    # The console: the report page and the dashboard, for any staff member, in Chinese.
    seed(session, runtime, clock.now())
    sign_in(client, "bob")
    page = client.get("/console/reports/publicity")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="publicity-report"' in html
    assert "逾期公示的许可和处罚" in html and "决定机关" in html
    assert MARKET in html and TAX in html and "75%" in html
    empty = client.get("/console/reports/publicity?since=2026-10-15&until=2026-10-20")
    assert "这段时间内没有接收到行政许可或行政处罚。" in empty.get_data(as_text=True)
    refused = client.get("/console/reports/publicity?since=14.10.2026").get_data(as_text=True)
    assert 'role="alert"' in refused
    dashboard = client.get("/console/").get_data(as_text=True)
    assert "近 30 天逾期接收：4 条" in dashboard
    assert 'id="late-authorities"' in dashboard and MARKET in dashboard


def test_the_period_is_configuration_in_the_intake_and_the_upgrade(
    fresh_database_url, make_app, clock
):
    from alembic import command
    from alembic.script import ScriptDirectory

    from registry import migrate
    from registry.runtime import current_runtime

    # The registry's settings, here five working days, count in the intake and in the
    # migration that measures the records held before it.
    app = make_app(fresh_database_url, PUBLICITY_WORKING_DAYS=5)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    clock.set(datetime(2026, 10, 12, 9, 0, tzinfo=BEIJING))
    with app.app_context():
        member = signed_member(
            db.session,
            app.test_client(),
            clock,
            kind="regulator",
            roles=("submitter",),
            valid_from=datetime(2026, 1, 1, tzinfo=BEIJING),
        )
    held = [penalty("P-1"), licence("L-2", decided=date(2026, 9, 30)), DEFAULT]
    accepted(member, "held", held)
    # 28 September's five working days end on Saturday 10 October (a make-up working day),
    # 30 September's on Tuesday the 13th.
    expected = {
        "P-1": (date(2026, 10, 10), True),
        "L-2": (date(2026, 10, 13), False),
        "LD-1": (None, None),
    }
    with app.app_context():
        assert marks(db.session) == expected

    # Back to the schema before the marks, then the operator's upgrade.
    with app.app_context(), db.engine.begin() as connection:
        config = migrate.alembic_config(connection, settings=current_runtime().settings)
        before = ScriptDirectory.from_config(config).get_revision("0025").down_revision
        command.downgrade(config, str(before))
    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    with app.app_context():
        assert marks(db.session) == expected
