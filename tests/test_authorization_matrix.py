"""The authorisation matrix: every endpoint, called as every kind of caller, answers as the
table in api/permissions.py says — and the decorators that enforce it say the same.

Callers: the public (no signature, no login); a member holding each single role; a member
using its key on another member's things; each staff role of the console. "Allowed" means
the caller got past authorisation (the answer may still be 404 or 422 for the made-up ids and
empty bodies used here); "denied" means 401 (who are you?) or 403 (not you).
"""

import uuid

import pytest

from api.permissions import ACCESS, MEMBER, PUBLIC, STAFF
from registry.members import MemberRole
from tests.api.test_submissions import PENALTY, submit
from tests.console_helpers import csrf, seed, sign_in
from tests.signing import AUTHORITY, signed_member

IGNORED = {"HEAD", "OPTIONS"}
# Path parameters that must have a particular form to reach the view at all.
SAMPLE_ARGUMENTS = {"list_kind": "blacklist", "code": "en", "index": "0", "slug": "nope"}


def endpoints(app, *, console: bool):
    """(endpoint, method, path) of every route, the console's or the rest."""
    adapter = app.url_map.bind(AUTHORITY)
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        if rule.endpoint.startswith("console.") != console:
            continue
        values = {name: SAMPLE_ARGUMENTS.get(name, str(uuid.uuid4())) for name in rule.arguments}
        for method in sorted(rule.methods - IGNORED):
            found.append(
                (rule.endpoint, method, adapter.build(rule.endpoint, values, method=method))
            )
    # Signing out ends the session the other console calls need: it goes last.
    return sorted(found, key=lambda item: item[0] == "console.logout")


def is_role_missing(response) -> bool:
    return (
        response.status_code == 403
        and (response.get_json(silent=True) or {}).get("type") == "/problems/role-missing"
    )


def test_every_endpoint_is_in_the_table_and_nothing_else(app):
    routed = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and not rule.endpoint.endswith(".static")
    }
    assert routed == set(ACCESS)


def test_the_decorators_enforce_what_the_table_says(app):
    for endpoint, access in ACCESS.items():
        view = app.view_functions[endpoint]
        member_roles = getattr(view, "signed_roles", None)
        staff_roles = getattr(view, "staff_roles", None)
        if access in (PUBLIC, STAFF):
            assert member_roles is None and staff_roles is None, endpoint
        elif access == MEMBER:
            assert member_roles == (), endpoint
        elif all(role.startswith("staff:") for role in access):
            assert {f"staff:{role}" for role in staff_roles or ()} == access, endpoint
        else:
            assert set(member_roles or ()) == access, endpoint


MEMBER_KIND = {"regulator": "regulator", "platform": "marketplace"}


@pytest.mark.parametrize("caller", ["public", *(str(role) for role in MemberRole)])
def test_member_endpoints_answer_each_caller_as_the_table_says(app, session, client, clock, caller):
    member = None
    if caller != "public":
        member = signed_member(
            session, client, clock, kind=MEMBER_KIND.get(caller, "bank"), roles=(caller,)
        )
    for endpoint, method, path in endpoints(app, console=False):
        access = ACCESS[endpoint]
        if member is None:
            response = client.open(
                path, method=method, headers={"Host": AUTHORITY}, base_url=f"http://{AUTHORITY}"
            )
        else:
            body = b"{}" if method in ("POST", "PUT") else b""
            response = member.request(method, path, body)
        where = f"{caller}: {method} {path} -> {response.status_code}"
        assert response.status_code < 500, where
        if access == PUBLIC:
            assert response.status_code not in (401, 403), where
        elif member is None:
            assert response.status_code == 401, where
            assert response.get_json()["type"] == "/problems/signature-missing", where
        elif access == MEMBER or caller in access:
            assert response.status_code != 401 and not is_role_missing(response), where
        else:
            assert is_role_missing(response), where


STAFF_ROLE = {"ada": "admin", "bob": "reviewer", "carol": "regulator"}


@pytest.mark.parametrize("who", [None, "ada", "bob", "carol"])
def test_console_pages_answer_each_staff_role_as_the_table_says(app, session, runtime, clock, who):
    seed(session, runtime, clock.now())
    client = app.test_client()
    if who is not None:
        assert sign_in(client, who).status_code in (302, 303)
    for endpoint, method, path in endpoints(app, console=True):
        access = ACCESS[endpoint]
        data = {"csrf_token": csrf(client, "/console/login" if who is None else "/console/")}
        response = client.open(path, method=method, data=data if method == "POST" else None)
        where = f"{who}: {method} {path} -> {response.status_code}"
        assert response.status_code < 500, where
        if access == PUBLIC:
            assert response.status_code not in (401, 403), where
        elif who is None:
            assert response.status_code in (302, 303), where
            assert "/console/login" in response.headers["Location"], where
        elif access == STAFF or f"staff:{STAFF_ROLE[who]}" in access:
            assert response.status_code != 403, where
            if endpoint != "console.logout":  # which sends you to the sign-in page, rightly
                assert "/console/login" not in response.headers.get("Location", ""), where
        else:
            assert response.status_code == 403, where


def test_a_members_key_never_reaches_another_members_things(session, client, clock):
    owner = signed_member(
        session, client, clock, kind="regulator", roles=("submitter", "querier", "regulator")
    )
    other = signed_member(
        session, client, clock, kind="regulator", roles=("submitter", "querier", "regulator")
    )
    accepted = submit(owner, "own-1", [PENALTY])
    assert accepted.status_code == 201, accepted.get_json()
    subject_id = accepted.get_json()["receipt"]["records"][0]["subject_id"]
    report = owner.get(f"/api/v1/subjects/{subject_id}/report?purpose=credit_assessment")
    assert report.status_code == 200
    screening = owner.post(
        "/api/v1/screening", {"purpose": "compliance_screening", "rows": [{"name": "华信"}]}
    )
    assert screening.status_code == 200
    location = report.headers["Location"]
    owned = [
        ("GET", "/api/v1/submissions/own-1"),
        ("GET", location),
        ("GET", location + ".pdf"),
    ]
    for method, path in owned:
        assert owner.request(method, path).status_code == 200, path
        # The same path with another member's valid key: as if it did not exist.
        assert other.request(method, path).status_code == 404, path
    # Nor does its key dispute the owner's record of a subject it never looked up.
    record_id = accepted.get_json()["receipt"]["records"][0]["registry_id"]
    disputed = other.post(
        "/api/v1/objections", {"item_kind": "record", "item_id": record_id, "grounds": "wrong"}
    )
    assert disputed.status_code == 403
    assert disputed.get_json()["type"] == "/problems/objection-not-allowed"
