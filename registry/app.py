"""The composition root: ``create_app`` wires configuration, database, search, web and CLI.

This is the only module that sees every package. Nothing binds to an app or reads
configuration at import time.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup
from sqlalchemy import exc as sa_exc
from werkzeug.middleware.proxy_fix import ProxyFix

from api.cli import client_group
from config import ConfigError, load_settings
from registry import joint_measures, list_kinds
from registry.clock import Clock, OffsetClock, set_registry_timezone
from registry.db import db
from registry.identifiers import use_pilot_usccs
from registry.logs import configure_logging
from registry.runtime import Runtime

# Where `creditreg demo advance` writes how far the registry's clock is moved (dev and test).
DEMO_CLOCK_FILE = "demo-clock.json"


def create_app(
    overrides: Mapping[str, Any] | None = None,
    *,
    profile: str | None = None,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
) -> Flask:
    """Build a registry application.

    :param overrides: settings that win over file and environment (tests, CLI options).
    :param profile: ``dev``, ``test`` or ``production`` (default from ``CREDITREG_PROFILE``).
    :param clock: the clock the registry reads time from (tests pass a manual one).
    :raises ConfigError: if the settings are invalid; the message names every bad key.
    """
    settings = load_settings(profile, environ=environ, overrides=overrides)
    configure_logging(settings.LOG_LEVEL)

    app = Flask("creditreg", instance_relative_config=False)
    app.config.update(
        SECRET_KEY=settings.SECRET_KEY,
        TESTING=settings.profile == "test",
        JSON_SORT_KEYS=False,
        # Large submissions are bounded by record count in the API; this bounds the bytes.
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.profile == "production",
    )
    app.extensions["creditreg.settings"] = settings
    # Which kinds are public is read where no request is at hand (search documents, reports).
    list_kinds.use(settings)
    joint_measures.use(settings)
    use_pilot_usccs(settings.PILOT_USCCS)
    if settings.TRUSTED_PROXIES:
        # The per-address limits (console sign-in, public pages) count the client's address:
        # behind proxies, the one the proxies passed on, never the proxy's own. A member
        # signs the scheme and host it sent to (@scheme, @authority, @target-uri): behind a
        # TLS-terminating proxy, https and the public host, not the proxy's hop to the app.
        hops = settings.TRUSTED_PROXIES
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    set_registry_timezone(settings.REGISTRY_TIMEZONE)
    if clock is None and settings.profile != "production":
        # Outside production the date can be moved forward for a demonstration.
        clock = OffsetClock(Path(settings.VAR_DIR) / DEMO_CLOCK_FILE)
    Runtime.from_settings(settings, clock).init_app(app)
    db.init_app(app, settings.DATABASE_URL, pool_size=settings.DATABASE_POOL_SIZE)

    from search import create_backend

    app.extensions["creditreg.search"] = create_backend(settings, lambda: db.engine_of(app))

    import admin
    import api
    from api import params

    params.init_app(app)  # first: a route keeps the path converters in place when it is added
    api.init_app(app)
    admin.init_app(app)

    from registry.cli import register_commands

    register_commands(app)
    return app


def _create_app_for_cli() -> Flask:
    try:
        return create_app()
    except ConfigError as exc:
        click.echo(f"creditreg: {exc}", err=True)
        sys.exit(2)


@click.group(
    cls=FlaskGroup,
    create_app=_create_app_for_cli,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
)
def cli() -> None:
    """creditreg: the public-credit information-sharing registry."""


# Flask's own options (--env-file, --app, --debug) pick an app and its environment: the
# registry has one app and takes its configuration from CREDITREG_* settings, so they are
# not offered in its help.
for _flask_option in cli.params:
    if isinstance(_flask_option, click.Option) and _flask_option.name in {
        "env_file",
        "app",
        "debug",
    }:
        _flask_option.hidden = True

# The member's tools run without the registry's configuration, so they hang on the group
# itself rather than on the app's commands (which would load the app first).
cli.add_command(client_group)


def main() -> None:
    try:
        cli(prog_name="creditreg")
    except sa_exc.OperationalError as exc:
        # A database that does not exist or does not answer: one line, not a traceback.
        reason = str(exc.orig or exc).strip().splitlines()[0]
        click.echo(
            f"creditreg: the database cannot be used: {reason}\n"
            "check CREDITREG_DATABASE_URL; a new database is created empty (createdb), then "
            "`creditreg db upgrade` makes its tables",
            err=True,
        )
        sys.exit(1)
