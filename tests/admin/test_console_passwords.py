"""Staff passwords in the console: everyone changes their own; a password an administrator
made or reset must be changed before anything else; a change or a reset ends the account's
other sessions, and only administrators reset.

Several browsers at once: no application context is held across requests here (Flask would
reuse it, and with it Flask-Login's user of the last request), so every request loads its
user from its own session cookie as in production. The database is read in short contexts.
"""

from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from registry.audit import AuditEvent
from registry.db import db
from registry.runtime import current_runtime
from registry.staff import StaffUser
from tests.console_helpers import PASSWORD, csrf, failures, post, seed, sign_in

CHANGE = "/console/account/password"
NEW = "my very own passphrase"


@pytest.fixture
def seeded(app, clock):
    with app.app_context():
        return seed(db.session, current_runtime(), clock.now())


@contextmanager
def database(app):
    """A session of its own; what it loaded stays readable (detached) after it closes."""
    with app.app_context():
        yield db.session
        db.session.expunge_all()


def staff(app, username) -> StaffUser:
    with database(app) as session:
        return session.scalar(sa.select(StaffUser).where(StaffUser.username == username))


def counted(app, username) -> int:
    """Failed sign-ins of the username from the test client's address."""
    with database(app) as session:
        return failures(session, current_runtime().vault, username)


def events(app, action, user):
    with database(app) as session:
        return session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.action == action, AuditEvent.object_id == str(user.id)
            )
        ).all()


def change(client, current, new=NEW, repeat=None, path=CHANGE):
    return post(
        client, path, CHANGE, current=current, new=new, repeat=new if repeat is None else repeat
    )


def shown_password(response) -> str:
    return response.get_data(as_text=True).split('id="initial-password">')[1].split("<")[0]


def test_every_staff_member_has_a_change_page(app, client, seeded):
    assert client.get(CHANGE).status_code == 302  # signed out: the sign-in page
    for who in ("bob", "carol", "ada"):
        client = app.test_client()
        sign_in(client, who)
        assert CHANGE in client.get("/console/").get_data(as_text=True)  # in the header
        page = client.get(CHANGE)
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and 'name="csrf_token"' in html
        for name, autocomplete in (
            ("current", "current-password"),
            ("new", "new-password"),
            ("repeat", "new-password"),
        ):
            assert f'<label for="{name}">' in html
            assert f'id="{name}" name="{name}" type="password" autocomplete="{autocomplete}"' in (
                html
            )
    assert client.post(
        CHANGE, data={"current": PASSWORD, "new": NEW, "repeat": NEW}
    ).status_code == (400)  # no CSRF token


def test_a_change_shows_every_error_next_to_its_field(app, client, seeded):
    sign_in(client, "bob")
    before = staff(app, "bob").password_hash
    refused = change(client, "not my password at all", new="short", repeat="other")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 200
    for name in ("current", "new", "repeat"):
        assert f'id="{name}-error" role="alert"' in html
        assert f'aria-describedby="{name}-error"' in html
    assert "当前密码不正确" in html and "至少 12 个字符" in html and "不一致" in html
    assert staff(app, "bob").password_hash == before
    assert counted(app, "bob") == 1  # the wrong current password is counted, and kept
    same = change(client, PASSWORD, new=PASSWORD)
    assert 'id="new-error"' in same.get_data(as_text=True)
    assert staff(app, "bob").password_hash == before


def test_an_account_made_by_an_administrator_must_change_its_password_first(app, client, seeded):
    sign_in(client, "ada")
    page = "/console/admin/staff"
    made = post(client, page, page, username="erin", roles=["reviewer"])
    initial = shown_password(made)
    assert staff(app, "erin").password_change_required is True
    assert "须修改密码" in client.get(page).get_data(as_text=True)

    erin = app.test_client()
    assert sign_in(erin, "erin", password=initial).status_code == 303
    for path in ("/console/", "/console/review/listings", "/console/admin/staff"):
        response = erin.get(path)
        assert response.status_code == 303, path
        assert response.headers["Location"].startswith(CHANGE), path
    posted = erin.post("/console/review/listings/x/review", data={"csrf_token": csrf(erin, CHANGE)})
    assert posted.status_code == 303 and posted.headers["Location"].startswith(CHANGE)
    asked = erin.get(CHANGE).get_data(as_text=True)
    assert "您的密码由管理员设置" in asked  # the flash says why
    css = erin.get("/assets/site.css")
    assert css.status_code == 200
    css.close()

    changed = change(erin, initial, path=CHANGE + "?next=/console/review/listings")
    assert changed.status_code == 303
    assert changed.headers["Location"] == "/console/review/listings"
    assert erin.get("/console/review/listings").status_code == 200
    assert staff(app, "erin").password_change_required is False
    [event] = events(app, "staff_user.password_changed", staff(app, "erin"))
    assert event.after == {"was_required": True}

    later = app.test_client()
    assert sign_in(later, "erin", password=initial).status_code == 200  # the old one: refused
    assert sign_in(later, "erin", password=NEW).status_code == 303
    assert later.get("/console/").status_code == 200


def test_a_change_ends_the_other_sessions_and_keeps_this_one_under_a_new_cookie(
    app, client, seeded
):
    other = app.test_client()
    sign_in(client, "bob")
    sign_in(other, "bob")
    assert other.get("/console/").status_code == 200
    token_before = csrf(client, CHANGE)
    cookie_before = client.get_cookie("session").value

    assert change(client, PASSWORD).status_code == 303
    assert client.get("/console/").status_code == 200  # this session goes on
    assert client.get_cookie("session").value != cookie_before
    assert csrf(client, CHANGE) != token_before  # issued anew, not the old session

    ended = other.get("/console/")
    assert ended.status_code == 302 and "/console/login" in ended.headers["Location"]
    assert "此账号的密码已修改或重置" in other.get("/console/login").get_data(as_text=True)
    assert other.get("/console/").status_code == 302  # and stays ended

    # A copy of this session's cookie from before the change is worth nothing either.
    replayed = app.test_client()
    replayed.set_cookie("session", cookie_before)
    assert replayed.get("/console/").status_code == 302


def test_wrong_current_passwords_hold_the_address_back_and_end_the_session(app, client, seeded):
    sign_in(client, "bob")
    for attempt in range(4):
        assert change(client, f"wrong guess {attempt:08d}").status_code == 200
    locked = change(client, "the fifth wrong guess")
    assert locked.status_code == 303 and "/console/login" in locked.headers["Location"]
    assert client.get("/console/").status_code == 302
    assert counted(app, "bob") == 5 and events(app, "staff_user.sign_in_blocked", staff(app, "bob"))
    assert sign_in(client, "bob").status_code == 429  # held back, even with the password


def test_an_administrator_resets_a_password_shown_once(app, client, seeded):
    bob_session = app.test_client()
    sign_in(bob_session, "bob")
    for attempt in range(5):
        sign_in(app.test_client(), "bob", password=f"wrong guess {attempt:08d}")
    bob = staff(app, "bob")
    assert counted(app, "bob") == 5

    sign_in(client, "ada")
    page = "/console/admin/staff"
    listing = client.get(page).get_data(as_text=True)
    action = f"/console/admin/staff/{bob.id}/password"
    assert action in listing and "新的随机密码将立即替换当前密码" in listing  # what it does
    reset = post(client, action, page)
    assert reset.status_code == 200 and reset.headers["Cache-Control"] == "no-store"
    password = shown_password(reset)
    assert len(password) >= 20 and password not in client.get(page).get_data(as_text=True)

    bob = staff(app, "bob")
    assert bob.password_change_required is True and counted(app, "bob") == 0
    [event] = events(app, "staff_user.password_reset", bob)
    assert event.actor_id == str(staff(app, "ada").id)
    assert password not in str(event.after)

    assert bob_session.get("/console/").status_code == 302  # signed out
    fresh = app.test_client()
    assert sign_in(fresh, "bob").status_code == 200  # the old password no longer works
    assert sign_in(fresh, "bob", password=password).status_code == 303
    assert fresh.get("/console/").headers["Location"].startswith(CHANGE)
    assert change(fresh, password).status_code == 303
    assert fresh.get("/console/").status_code == 200


def test_only_administrators_reset_and_never_their_own(app, client, seeded):
    ada, bob = staff(app, "ada"), staff(app, "bob")
    ada_hash, bob_hash = ada.password_hash, bob.password_hash
    sign_in(client, "bob")
    token = csrf(client, "/console/")
    for target in (ada, bob):
        path = f"/console/admin/staff/{target.id}/password"
        assert client.post(path, data={"csrf_token": token}).status_code == 403
    client.post("/console/logout", data={"csrf_token": token})

    sign_in(client, "ada")
    page = "/console/admin/staff"
    assert client.post(f"/console/admin/staff/{bob.id}/password").status_code == 400  # CSRF
    listing = client.get(page).get_data(as_text=True)
    assert f"/console/admin/staff/{ada.id}/password" not in listing
    refused = post(client, f"/console/admin/staff/{ada.id}/password", page)
    assert refused.status_code == 303
    assert "请修改本人密码，不能重置本人密码" in client.get(page).get_data(as_text=True)
    assert client.get("/console/").status_code == 200  # still signed in
    assert staff(app, "ada").password_hash == ada_hash
    assert staff(app, "bob").password_hash == bob_hash
    assert events(app, "staff_user.password_reset", ada) == []
    assert events(app, "staff_user.password_reset", bob) == []
