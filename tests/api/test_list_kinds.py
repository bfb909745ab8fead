"""The list kinds and their rules (config/list_kinds.toml) at their boundaries, on the test
clock: each kind's default period and cap, one extension's bounds and the cap on the whole
period, the repair route, the redlist's exclusion of blacklisted subjects, and a kind that is
not public staying off every public page, feed, lookup and search document."""

# ruff: noqa: F811 - test_listings' regulator and reviewers fixtures are imported, used by name
from datetime import datetime, timedelta

import pytest

from registry import list_kinds
from registry.listings import add_months
from tests.api.test_listings import (  # noqa: F401 - the fixtures are used by name
    PROPOSAL,
    approve_and_serve,
    index_document,
    propose,
    regulator,
    reviewers,
    the_subjects_member,
    tick,
)
from tests.signing import signed_member

OTHER = {"kind": "enterprise", "uscc": "91310115MA1K3BTP2B", "name": "上海浦江贸易有限公司"}
REPAIR = {"correction_evidence": "已履行完毕", "credit_commitment": "本企业承诺依法诚信经营"}


def published(app, session, clock, regulator, reviewers, **changes):
    """An entry proposed, approved, served and published (15 days later: the window over)."""
    created = propose(regulator, **changes)
    assert created.status_code == 201, created.get_json()
    entry = created.get_json()
    # The redlist needs one reviewer's approval, a blacklist two.
    needed = reviewers[:1] if changes.get("list") == "redlist" else reviewers
    approve_and_serve(app, clock, entry["id"], needed)
    assert tick(app, session, clock, timedelta(days=15)) >= 1
    return regulator.get(f"/api/v1/listings/{entry['id']}").get_json()


def errors(response) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for error in response.get_json()["errors"]:
        found.setdefault(error["field"], []).append(error["message"])
    return found


def extend(regulator, entry, months):
    return regulator.post(
        f"/api/v1/listings/{entry['id']}/extend", {"months": months, "reason": "仍未履行"}
    )


def test_an_old_blacklist_proposal_means_serious_illegality(regulator):
    entry = propose(regulator).get_json()
    assert (entry["list"], entry["side"], entry["period_months"]) == (
        "serious_illegal",
        "blacklist",
        36,
    )


def test_a_judgment_debtor_runs_two_years_extended_by_one_to_three_within_five(
    app, session, clock, regulator, reviewers
):
    entry = published(app, session, clock, regulator, reviewers, list="judgment_debtor")
    assert entry["period_months"] == 24
    for months in (11, 37):
        refused = extend(regulator, entry, months)
        assert refused.status_code == 422
        assert errors(refused)["months"] == ["between 12 and 36"]
    assert extend(regulator, entry, 36).get_json()["period_months"] == 60
    # The cap: 24 + 36 = 60 months, the longest a judgment debtor is listed.
    past_cap = extend(regulator, entry, 12)
    assert past_cap.status_code == 422
    assert "at most 0" in errors(past_cap)["months"][0]


def test_a_proposal_longer_than_its_kind_allows_is_refused(regulator):
    assert propose(regulator, list="judgment_debtor", period_months=60).status_code == 201
    too_long = propose(regulator, list="abnormal", period_months=37, subject=OTHER)
    assert too_long.status_code == 422
    assert errors(too_long)["period_months"] == ["between 1 and 36 months"]


def test_serious_illegality_is_removed_early_from_one_year_on(
    app, session, client, clock, regulator, reviewers
):
    entry = published(app, session, clock, regulator, reviewers)
    subject_side = the_subjects_member(session, client, clock)
    year_on = add_months(datetime.fromisoformat(entry["published_at"]), 12)
    clock.set(year_on - timedelta(days=1))
    too_early = subject_side.post(f"/api/v1/listings/{entry['id']}/repairs", REPAIR)
    assert too_early.status_code == 409, too_early.get_json()
    clock.set(year_on)
    assert subject_side.post(f"/api/v1/listings/{entry['id']}/repairs", REPAIR).status_code == 201


def test_an_abnormal_operations_entry_comes_off_once_cured_and_is_never_extended(
    app, session, client, clock, regulator, reviewers
):
    entry = published(app, session, clock, regulator, reviewers, list="abnormal")
    refused = extend(regulator, entry, 12)
    assert refused.status_code == 409
    assert refused.get_json()["type"].endswith("/list-not-extendable")
    subject_side = the_subjects_member(session, client, clock)
    # The day it is published: no minimum period.
    filed = subject_side.post(f"/api/v1/listings/{entry['id']}/repairs", REPAIR)
    assert filed.status_code == 201, filed.get_json()


def test_the_redlist_is_never_extended_nor_repaired(
    app, session, client, clock, regulator, reviewers
):
    entry = published(app, session, clock, regulator, reviewers, list="redlist")
    refused = extend(regulator, entry, 1)
    assert refused.status_code == 409
    assert refused.get_json()["type"].endswith("/list-not-extendable")
    subject_side = the_subjects_member(session, client, clock)
    assert subject_side.post(f"/api/v1/listings/{entry['id']}/repairs", REPAIR).status_code == 409


def test_no_redlist_while_on_a_blacklist_of_any_kind(app, session, clock, regulator, reviewers):
    black = propose(regulator, list="watch").get_json()  # proposed only: it counts already
    refused = propose(regulator, list="redlist")
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["type"].endswith("/list-conflict")
    assert body["conflicting_entry"] == {"id": black["id"], "list": "watch", "state": "proposed"}
    withdrawn = regulator.post(f"/api/v1/listings/{black['id']}/withdraw", {"reason": "撤回"})
    assert withdrawn.status_code == 200, withdrawn.get_json()
    assert propose(regulator, list="redlist").status_code == 201


def test_a_published_blacklisting_takes_the_subject_off_the_redlist(
    app, session, client, clock, regulator, reviewers
):
    red = published(app, session, clock, regulator, reviewers, list="redlist")
    black = published(app, session, clock, regulator, reviewers, list="judgment_debtor")
    red = regulator.get(f"/api/v1/listings/{red['id']}").get_json()
    assert (red["state"], red["removal_reason"]) == ("removed", "revoked")
    assert black["id"] in red["outcome_note"]
    assert client.get("/api/v1/public/lists/redlist").get_json()["total"] == 0


def test_a_redlist_entry_waits_while_its_subject_is_blacklisted_in_the_same_round(
    app, session, client, clock, regulator, reviewers
):
    """A blacklisting is not held up by the redlist: both windows close the same day, the
    blacklist entry is published and the redlist entry waits (whatever the order the job
    takes them in); publishing it by hand is refused, naming the blacklist entry."""
    red = propose(regulator, list="redlist").get_json()
    approve_and_serve(app, clock, red["id"], reviewers[:1])
    black = propose(regulator, list="judgment_debtor").get_json()
    approve_and_serve(app, clock, black["id"], reviewers)
    assert tick(app, session, clock, timedelta(days=15)) == 1
    states = {
        e: regulator.get(f"/api/v1/listings/{e}").get_json()["state"]
        for e in (red["id"], black["id"])
    }
    assert states == {red["id"]: "notice", black["id"]: "published"}
    refused = regulator.post(f"/api/v1/listings/{red['id']}/publish", {})
    assert refused.status_code == 409
    assert refused.get_json()["conflicting_entry"]["id"] == black["id"]
    assert tick(app, session, clock, timedelta(days=1)) == 0


def test_a_watch_list_entry_is_never_public(app, session, client, clock, regulator, reviewers):
    entry = published(app, session, clock, regulator, reviewers, list="watch")
    assert entry["state"] == "published"
    for path in (
        "/api/v1/public/lists/watch",
        "/api/v1/public/lists/watch.csv",
        "/api/v1/public/lists/watch.atom",
        "/lists/watch",
    ):
        assert client.get(path).status_code == 404, path
    assert client.get("/api/v1/public/lists/blacklist").get_json()["total"] == 0
    atom = client.get("/api/v1/public/lists/blacklist.atom").get_data(as_text=True)
    assert PROPOSAL["subject"]["name"] not in atom
    assert PROPOSAL["subject"]["name"] not in client.get("/lists/blacklist").get_data(as_text=True)
    assert index_document(session, clock, entry["subject_id"])["lists"] == []
    querier = signed_member(session, client, clock, roles=("querier",))
    looked_up = querier.get(
        f"/api/v1/subjects/{entry['subject_id']}?purpose=counterparty_check"
    ).get_json()
    assert (looked_up["lists"], looked_up["list_entries"]) == ([], [])


def test_each_public_kind_has_its_page_and_the_side_shows_them_all(
    app, session, client, clock, regulator, reviewers
):
    published(app, session, clock, regulator, reviewers, list="judgment_debtor")
    published(app, session, clock, regulator, reviewers, list="abnormal", subject=OTHER)
    kinds = {e["list"] for e in client.get("/api/v1/public/lists/blacklist").get_json()["entries"]}
    assert kinds == {"judgment_debtor", "abnormal"}
    only = client.get("/api/v1/public/lists/abnormal").get_json()
    assert [e["subject_name"] for e in only["entries"]] == [OTHER["name"]]
    page = client.get("/lists/judgment_debtor", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and PROPOSAL["subject"]["name"] in html
    assert "<h1>失信被执行人名单</h1>" in html


# --- the file ------------------------------------------------------------------------------


def shipped() -> dict:
    import tomllib

    return tomllib.loads(list_kinds.DEFAULT_FILE.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["kinds"].pop("watch"), "missing watch"),
        (lambda d: d["kinds"].update(greylist=d["kinds"]["watch"]), "unknown greylist"),
        (lambda d: d["kinds"]["abnormal"].update(period_months=37), "above max_period_months"),
        (
            lambda d: d["kinds"]["redlist"].update(extension_min_months=1, extension_max_months=12),
            "never extended",
        ),
        (lambda d: d["kinds"]["watch"].update(side="red"), "unknown keys side"),
        (lambda d: d["kinds"]["watch"].update(public="no"), "true or false"),
        (lambda d: d["aliases"].update(blacklist="greylist"), "alias blacklist"),
    ],
)
def test_a_file_that_breaks_a_rule_is_refused(change, message):
    data = shipped()
    change(data)
    with pytest.raises(list_kinds.ListKindsError, match=message):
        list_kinds.parse(data)


def test_the_shipped_file_is_valid_and_the_setting_names_another(tmp_path):
    from config.settings import ConfigError, load_settings

    assert list_kinds.parse(shipped()).of("judgment_debtor").extension_min_months == 12
    broken = tmp_path / "kinds.toml"
    broken.write_text('[kinds.watch]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="LIST_KINDS_FILE: the kinds are"):
        load_settings("test", environ={}, overrides={"LIST_KINDS_FILE": str(broken)})
    own = tmp_path / "own.toml"
    own.write_text(
        list_kinds.DEFAULT_FILE.read_text(encoding="utf-8").replace(
            "period_months = 24", "period_months = 30"
        ),
        encoding="utf-8",
    )
    settings = load_settings("test", environ={}, overrides={"LIST_KINDS_FILE": str(own)})
    assert list_kinds.from_settings(settings).of("judgment_debtor").period_months == 30
