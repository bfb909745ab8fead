"""The command line, run as a user would: a real process for the console script, and the
Flask CLI runner against a fresh SQLite database for the commands themselves."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization

from tests import factories

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli_app(fresh_sqlite_url, make_app):
    app = make_app(fresh_sqlite_url)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return app


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input, catch_exceptions=False)


def test_console_script_help_lists_the_commands(tmp_path):
    env = {**os.environ, "CREDITREG_VAR_DIR": str(tmp_path)}
    executable = Path(sys.executable).with_name("creditreg")
    command = (
        [str(executable)]
        if executable.exists()
        else [sys.executable, "-c", "from registry.app import main; main()"]
    )
    result = subprocess.run(
        [*command, "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    for name in ("db", "serve", "demo", "members", "keys", "users", "worker"):
        assert f"  {name} " in result.stdout, name
    # The registry's commands only: not Flask's options for choosing an app.
    for flask_option in ("--env-file", "--app", "--debug"):
        assert flask_option not in result.stdout, flask_option


def run_creditreg(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """``creditreg ARGS`` in a process of its own, as a shell runs it."""
    return subprocess.run(
        [sys.executable, "-c", "from registry.app import main; main()", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=60,
    )


def test_bad_configuration_stops_the_cli_with_the_key_named(tmp_path):
    env = {"CREDITREG_PORT": "eighty", "CREDITREG_VAR_DIR": str(tmp_path)}
    result = run_creditreg("db", "current", env=env, cwd=ROOT)
    assert result.returncode == 2
    assert "CREDITREG_PORT: expected an integer" in result.stderr


def test_members_keys_and_revocation_as_json(cli_app, tmp_path):
    result = run(
        cli_app,
        "members",
        "add",
        "--name",
        "华夏示范银行",
        "--kind",
        "bank",
        "--roles",
        "submitter,querier",
        "--json",
    )
    assert result.exit_code == 0, result.output
    member = json.loads(result.output)
    assert member["roles"] == ["querier", "submitter"]

    key_file = tmp_path / "member.pub"
    key_file.write_text(factories.ed25519_public_pem())
    result = run(
        cli_app, "keys", "add", "--member", member["id"], "--public-key", str(key_file), "--json"
    )
    assert result.exit_code == 0, result.output
    key = json.loads(result.output)
    assert key["member_id"] == member["id"] and key["status"] == "active"

    result = run(cli_app, "keys", "revoke", key["id"], "--reason", "rotated", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "revoked"

    # Committed for real: a new app on the same file sees it.
    with cli_app.app_context():
        from registry.db import db
        from registry.members import MemberKey

        assert db.session.get(MemberKey, key["id"]).revoked_reason == "rotated"


def test_a_key_id_that_begins_with_a_dash_is_revoked_by_its_id(cli_app, tmp_path):
    """A key id is a base64url thumbprint, and one key in 64 has an id beginning with "-":
    it must still read as the key id, not as an option."""
    from registry.members import jwk_thumbprint, public_jwk

    while True:  # about 64 keys on average
        pem = factories.ed25519_public_pem()
        if jwk_thumbprint(public_jwk(serialization.load_pem_public_key(pem.encode())))[0] == "-":
            break
    result = run(cli_app, "members", "add", "--name", "华夏示范银行", "--kind", "bank",
                 "--roles", "submitter", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    key_file = tmp_path / "member.pub"
    key_file.write_text(pem)
    result = run(cli_app, "keys", "add", "--member", json.loads(result.output)["id"],
                 "--public-key", str(key_file), "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    key_id = json.loads(result.output)["id"]
    assert key_id.startswith("-")

    result = run(cli_app, "keys", "revoke", key_id, "--reason", "rotated", "--json")
    assert result.exit_code == 0, result.output
    revoked = json.loads(result.output)
    assert (revoked["id"], revoked["status"]) == (key_id, "revoked")
    # An option the command does not know is still refused, not taken for a key id.
    result = run(cli_app, "keys", "revoke", key_id, "--reason", "rotated", "--force")
    assert result.exit_code != 0


def test_domain_errors_exit_1_with_every_field(cli_app):
    result = run(
        cli_app, "members", "add", "--name", " ", "--kind", "casino", "--roles", "overlord"
    )
    assert result.exit_code == 1
    assert "error: the member cannot be admitted" in result.output
    for field in ("name:", "kind:", "roles:"):
        assert field in result.output


def test_users_add_reads_the_password_from_stdin(cli_app):
    result = run(
        cli_app,
        "users",
        "add",
        "--username",
        "alice",
        "--roles",
        "reviewer",
        "--password-stdin",
        "--json",
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    user = json.loads(result.output)
    assert user["username"] == "alice" and user["roles"] == ["reviewer"]
    assert "a long enough password" not in result.output
    assert not {"password", "password_hash"} & set(user)
    # The password typed here is the person's own: nothing asks them to change it.
    assert user["password_change_required"] is False


def staff_user(app, username):
    from registry.db import db
    from registry.staff import StaffUser

    with app.app_context():
        user = db.session.scalar(sa.select(StaffUser).where(StaffUser.username == username))
        db.session.expunge(user)  # readable after the context closes its session
        return user


def test_users_add_can_ask_for_a_password_change(cli_app):
    result = run(
        cli_app,
        "users",
        "add",
        "--username",
        "bob",
        "--roles",
        "reviewer",
        "--password-stdin",
        "--require-password-change",
        input="typed by the administrator\n",
    )
    assert result.exit_code == 0, result.output
    assert staff_user(cli_app, "bob").password_change_required is True


def test_users_reset_password_prints_a_new_password_once(cli_app):
    from registry.audit import AuditEvent
    from registry.db import db
    from registry.runtime import current_runtime

    run(
        cli_app,
        *("users", "add", "--username", "alice", "--roles", "admin", "--password-stdin"),
        input="a long enough password\n",
    )
    before = staff_user(cli_app, "alice")
    result = run(cli_app, "users", "reset-password", "ALICE")
    assert result.exit_code == 0, result.output
    password = result.output.strip()
    assert len(password) >= 20 and "\n" not in password
    after = staff_user(cli_app, "alice")
    assert after.password_change_required is True and after.password_hash != before.password_hash
    with cli_app.app_context():
        passwords = current_runtime().passwords
        assert passwords.verify(after.password_hash, password)
        assert not passwords.verify(after.password_hash, "a long enough password")
        [event] = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "staff_user.password_reset")
        ).all()
        assert (event.actor_kind, event.actor_id) == ("system", "cli")
        assert password not in str(event.after)

    missing = run(cli_app, "users", "reset-password", "nobody")
    assert missing.exit_code == 1 and "no staff user" in missing.output


def test_db_current_and_check(cli_app):
    result = run(cli_app, "db", "current")
    state = json.loads(result.output)
    assert state["at_head"] is True
    result = run(cli_app, "db", "check")
    assert result.exit_code == 0
    assert "models and migrations agree" in result.output


def test_worker_runs_rounds_and_passes_its_health_check(cli_app):
    result = run(cli_app, "worker", "--check", "60")
    assert result.exit_code == 1
    result = run(cli_app, "worker", "--rounds", "2")
    assert result.exit_code == 0, result.output
    assert "finished after 2 round(s)" in result.output
    result = run(cli_app, "worker", "--check", "60")
    assert result.exit_code == 0, result.output
    with cli_app.app_context():
        from registry.db import db
        from registry.worker import WorkerHeartbeat

        assert db.session.scalar(sa.select(sa.func.sum(WorkerHeartbeat.rounds))) == 2


def test_config_command_redacts_secrets(cli_app):
    result = run(cli_app, "config")
    shown = json.loads(result.output)
    assert shown["profile"] == "test"
    assert shown["values"]["SECRET_KEY"] == "<set>"
    assert shown["sources"]["DATABASE_URL"] == "override"


def test_config_command_hides_passwords_inside_urls(make_app):
    # Never connected to: `config` only reads the settings.
    app = make_app(
        "postgresql+psycopg://creditreg:db-pass@127.0.0.1:1/creditreg",
        SEARCH_URL="https://elastic:search-pass@es:9200/?api_key=search-key",
    )
    shown = json.loads(run(app, "config").output)["values"]
    assert shown["DATABASE_URL"] == "postgresql+psycopg://creditreg:***@127.0.0.1:1/creditreg"
    assert shown["SEARCH_URL"] == "https://elastic:***@es:9200/?api_key=***"


def test_demo_without_serving_loads_and_indexes_everything(cli_app):
    result = run(cli_app, "demo", "--no-serve", "--subjects", "40")
    assert result.exit_code == 0, result.output
    assert "demo data loaded" in result.output
    with cli_app.app_context():
        from registry.db import db

        subjects = db.session.scalar(sa.text("SELECT count(*) FROM subjects"))
        documents = db.session.scalar(sa.text("SELECT count(*) FROM search_documents"))
        pending = db.session.scalar(
            sa.text("SELECT count(*) FROM search_outbox WHERE processed_at IS NULL")
        )
    assert subjects > 40 and documents == subjects and pending == 0
    again = run(cli_app, "demo", "--no-serve")
    assert "already present" in again.output


def test_config_prints_every_kind_of_value(tmp_path):
    env = {
        **os.environ,
        "CREDITREG_VAR_DIR": str(tmp_path),
        "CREDITREG_HOLIDAYS": "2026-10-01,2026-10-02",
        "CREDITREG_MONITORING_WEBHOOK_ALLOWED_NETWORKS": "10.20.0.0/16,fd12:3456::/48",
    }
    result = subprocess.run(
        [sys.executable, "-c", "from registry.app import main; main()", "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    values = json.loads(result.stdout)["values"]
    assert values["HOLIDAYS"] == ["2026-10-01", "2026-10-02"]
    assert values["MONITORING_WEBHOOK_ALLOWED_NETWORKS"] == ["10.20.0.0/16", "fd12:3456::/48"]
    assert values["SECRET_KEY"] == "<set>"


def test_a_database_that_cannot_be_used_is_one_line_not_a_traceback(tmp_path):
    """Nothing listens on port 1: the command says so in a line and exits 1."""
    env = {
        "CREDITREG_VAR_DIR": str(tmp_path),
        "CREDITREG_DATABASE_URL": "postgresql+psycopg://registry:secret@127.0.0.1:1/creditreg",
    }
    result = run_creditreg("db", "current", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("creditreg: the database cannot be used: ")
    assert "Traceback" not in result.stderr and "secret" not in result.stderr
    assert "CREDITREG_DATABASE_URL" in result.stderr


def test_client_submit_to_a_registry_that_is_down_says_so(tmp_path):
    from click.testing import CliRunner

    from registry.app import cli

    runner = CliRunner()
    key = tmp_path / "member.key"
    assert runner.invoke(cli, ["client", "keygen", "--out", str(key)]).exit_code == 0
    records = tmp_path / "records.jsonl"
    records.write_text('{"record_id": "R-1"}\n')
    url = "http://127.0.0.1:1"
    result = runner.invoke(
        cli,
        ["client", "submit", str(records), "--url", url, "--member", "m", "--key", str(key)],
    )
    assert result.exit_code == 1
    assert f"the registry at {url} is unreachable" in result.output
    assert "nothing was sent" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_demo_advance_moves_the_date_of_every_process_forward(tmp_path):
    from datetime import UTC, datetime, timedelta

    from registry.app import create_app
    from registry.runtime import current_runtime

    settings = {"VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/demo.db"}
    server = create_app(settings, profile="test")
    result = server.test_cli_runner().invoke(args=["demo", "advance", "--days", "12"])
    assert result.exit_code == 0, result.output
    assert "12 day(s) ahead" in result.output
    again = server.test_cli_runner().invoke(args=["demo", "advance", "--days", "3"])
    assert "15 day(s) ahead" in again.output
    # The running app and a process started afterwards (a worker) read the same date.
    for app in (server, create_app(settings, profile="test")):
        with app.app_context():
            ahead = current_runtime().clock.now() - datetime.now(UTC)
            assert timedelta(days=15) - timedelta(minutes=1) < ahead <= timedelta(days=15)
    refused = server.test_cli_runner().invoke(args=["demo", "advance", "--days", "0"])
    assert refused.exit_code == 2  # a day at least: the date never moves back


def test_demo_advance_is_refused_in_production(tmp_path):
    from registry.app import create_app
    from tests.config.test_settings import STRONG

    strong = {
        **STRONG,
        "CREDITREG_DATABASE_URL": f"sqlite:///{tmp_path}/production.db",
        "CREDITREG_VAR_DIR": str(tmp_path),
    }
    production = create_app(profile="production", environ=strong)
    result = production.test_cli_runner().invoke(args=["demo", "advance", "--days", "1"])
    assert result.exit_code == 1
    assert "never here" in result.output
    assert not (tmp_path / "demo-clock.json").exists()


def test_the_demo_is_refused_in_production(tmp_path):
    """It would load made-up members and make an administrator whose password it prints."""
    from registry.app import create_app
    from tests.config.test_settings import STRONG

    strong = {
        **STRONG,
        "CREDITREG_DATABASE_URL": f"sqlite:///{tmp_path}/production.db",
        "CREDITREG_VAR_DIR": str(tmp_path),
    }
    production = create_app(profile="production", environ=strong)
    result = production.test_cli_runner().invoke(args=["demo", "--no-serve"])
    assert result.exit_code == 1 and "never here" in result.output
    assert not (tmp_path / "demo-keys").exists()
