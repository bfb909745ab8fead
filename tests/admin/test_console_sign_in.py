"""The console's sign-in under attack: a flood of attempts cannot take the cores from the
rest of the registry.

Several browsers at once, as in test_console_passwords: no application context is held
across requests, so every request loads its user from its own session cookie.
"""

import dataclasses

import pytest

from registry.db import db
from registry.runtime import EXTENSION_KEY, Runtime
from tests.console_helpers import Argon2Checks, seed, sign_in


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


def test_a_sign_in_that_finds_every_hashing_slot_taken_is_answered_at_once(app, seeded):
    runtime = tune(app, PASSWORD_HASH_CONCURRENCY=1, PASSWORD_HASH_WAIT_SECONDS=0.0)
    with Argon2Checks(held=1) as checks:
        checks.hold(runtime.passwords)
        busy = sign_in(app.test_client(), "bob")
        assert busy.status_code == 503 and busy.headers["Retry-After"]
        assert 'role="alert"' in busy.get_data(as_text=True)
        assert checks.count == 1  # the held one: the refused sign-in hashed nothing
    assert sign_in(app.test_client(), "bob").status_code == 303
