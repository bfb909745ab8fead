"""The console's sign-in under attack: a flood of attempts cannot take the cores from the
rest of the registry.

Several browsers at once, as in test_console_passwords: no application context is held
across requests, so every request loads its user from its own session cookie.
"""

import dataclasses
from datetime import timedelta

import pytest
import sqlalchemy as sa

from registry.db import db
from registry.runtime import EXTENSION_KEY, Runtime
from registry.staff_auth import SignInAttempts
from tests.console_helpers import Argon2Checks, seed, sign_in

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
