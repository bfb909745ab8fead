"""The console's sign-in and sign-out under attack: a flood of attempts cannot take the cores
from the rest of the registry, guesses hold back only the address that makes them and never
tell which names exist, and a signed-out session stays ended wherever its cookie was copied.

Several browsers at once, as in test_console_passwords: no application context is held
across requests, so every request loads its user from its own session cookie.
"""

import dataclasses
from datetime import timedelta

import pytest
import sqlalchemy as sa

from registry import migrate, totp
from registry.audit import AuditEvent
from registry.db import db
from registry.runtime import EXTENSION_KEY, Runtime
from registry.staff import StaffUser
from registry.staff_auth import SignInAttempts
from tests.console_helpers import Argon2Checks, csrf, seed, sign_in

FLOOD, OTHER = "203.0.113.7", "198.51.100.20"


@pytest.fixture
def seeded(app, clock):
    with app.app_context():
        return seed(db.session, app.extensions[EXTENSION_KEY], clock.now())


def tune(app, **values) -> Runtime:
    """Change this app's settings, and rebuild the password hasher from them."""
    runtime: Runtime = app.extensions[EXTENSION_KEY]
    runtime.settings = dataclasses.replace(
        runtime.settings, data={**runtime.settings.data, **values}
    )
    runtime.passwords = Runtime.from_settings(runtime.settings).passwords
    return runtime


def client_at(app, address):
    """A browser whose requests come from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_a_sign_in_that_finds_every_hashing_slot_taken_is_answered_at_once(app, seeded):
    runtime = tune(app, PASSWORD_HASH_CONCURRENCY=1, PASSWORD_HASH_WAIT_SECONDS=0.0)
    with Argon2Checks(held=1) as checks:
        checks.hold(runtime.passwords)
        busy = sign_in(app.test_client(), "bob")
        assert busy.status_code == 503 and busy.headers["Retry-After"]
        assert 'role="alert"' in busy.get_data(as_text=True)
        assert checks.count == 1  # the held one: the refused sign-in hashed nothing
    assert sign_in(app.test_client(), "bob").status_code == 303


def test_sign_in_attempts_are_limited_per_address_before_any_password_is_checked(
    app, seeded, clock
):
    tune(app, CONSOLE_LOGIN_RATE_LIMIT_PER_MINUTE=3)
    flood = client_at(app, FLOOD)
    for attempt in range(3):
        assert sign_in(flood, "bob", password=f"wrong guess {attempt:04d}").status_code == 200
    with Argon2Checks() as checks:
        limited = sign_in(flood, "bob")  # the right password, but one attempt too many
        assert checks.count == 0
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    assert "登录尝试过于频繁" in limited.get_data(as_text=True)
    # Counted in the database, which every worker process shares.
    with app.app_context():
        counted = db.session.scalar(
            sa.select(SignInAttempts.attempts).where(SignInAttempts.address == FLOOD)
        )
    assert counted == 4

    assert sign_in(client_at(app, OTHER), "bob").status_code == 303
    clock.advance(timedelta(minutes=1))
    assert sign_in(flood, "bob").status_code == 303


def test_guesses_hold_back_their_own_address_alike_for_every_name_and_nobody_else(
    app, seeded, clock
):
    flood = client_at(app, FLOOD)
    for name in ("alice", "nobody"):
        for attempt in range(5):
            failed = sign_in(flood, name, password=f"wrong guess {attempt:04d}")
            assert failed.status_code == 200
            assert "用户名、密码或验证码不正确" in failed.get_data(as_text=True)
    code = totp.code_at(seeded.totp_secret, clock.now().timestamp())
    # alice's right password and code, and a name nobody has: the same answer.
    held = [sign_in(flood, name, code=code) for name in ("alice", "nobody")]
    for answer in held:
        assert answer.status_code == 429 and answer.headers["Retry-After"] == str(15 * 60)
        assert "登录失败次数过多" in answer.get_data(as_text=True)
    assert held[0].get_data() == held[1].get_data()

    # alice, at her own address with her password and code, is not held back.
    alice = client_at(app, OTHER)
    assert sign_in(alice, "alice", code=code).status_code == 303
    assert alice.get("/console/").status_code == 200

    # The guessing address waits twice as long after its next failure.
    clock.advance(timedelta(minutes=15))
    assert sign_in(flood, "alice", password="one more wrong guess").status_code == 200
    again = sign_in(flood, "alice")
    assert again.status_code == 429 and again.headers["Retry-After"] == str(30 * 60)


def test_signing_out_ends_the_session_and_every_copy_of_its_cookie(app, seeded):
    browser, laptop = app.test_client(), app.test_client()
    sign_in(browser, "bob")
    sign_in(laptop, "bob")
    copied = browser.get_cookie("session").value
    signed_out = browser.post("/console/logout", data={"csrf_token": csrf(browser, "/console/")})
    assert signed_out.status_code == 303

    replayed = app.test_client()
    replayed.set_cookie("session", copied)
    ended = replayed.get("/console/")
    assert ended.status_code == 302 and "/console/login" in ended.headers["Location"]
    # Signing out ends the account's other sessions too.
    assert laptop.get("/console/").status_code == 302
    with app.app_context():
        bob = db.session.scalar(sa.select(StaffUser).where(StaffUser.username == "bob"))
        audited = sa.select(AuditEvent.actor_id).where(
            AuditEvent.action == "staff_user.signed_out", AuditEvent.object_id == str(bob.id)
        )
        assert db.session.scalars(audited).all() == [str(bob.id)]

    again = app.test_client()
    assert sign_in(again, "bob").status_code == 303
    assert again.get("/console/").status_code == 200
    assert replayed.get("/console/").status_code == 302  # the copy stays ended


def counted_addresses(app) -> dict[str, int]:
    with app.app_context():
        rows = db.session.execute(sa.select(SignInAttempts.address, SignInAttempts.attempts))
        return dict(rows.tuples().all())


def test_the_address_counted_is_the_clients_and_behind_proxies_the_one_they_pass_on(
    app, seeded, make_app, fresh_sqlite_url
):
    forged = {"X-Forwarded-For": "192.0.2.1"}
    direct = client_at(app, FLOOD)
    direct.post("/console/login", data={"csrf_token": csrf(direct)}, headers=forged)
    assert counted_addresses(app) == {FLOOD: 1}  # no proxy is trusted: the header is not

    proxied_app = make_app(fresh_sqlite_url, TRUSTED_PROXIES=1)
    migrate.upgrade(db.engine_of(proxied_app))
    proxy = client_at(proxied_app, "10.0.0.2")
    proxy.post(
        "/console/login", data={"csrf_token": csrf(proxy)}, headers={"X-Forwarded-For": OTHER}
    )
    assert counted_addresses(proxied_app) == {OTHER: 1}
