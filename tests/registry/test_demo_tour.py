"""`creditreg demo` hands a newcomer what they need: staff accounts with one-time passwords,
member keys, and the steps to try. The list entry tour it prints — service, the objection
window passed with `demo advance`, publication, the subject's repair application, its
acknowledgement and the regulator's decision — is run here exactly as printed, over real
HTTP."""

import json
import re
import shlex
import stat
import uuid

import sqlalchemy as sa
from click.testing import CliRunner

from registry.app import cli, create_app
from registry.db import db
from registry.listings import ListEntry
from tests.console_helpers import sign_in


def run(runner, line, env):
    """Run one printed `creditreg ...` line (its comment dropped); the command's result. The
    member's client needs no registry: it runs as a member runs it."""
    args = shlex.split(line, comments=True)
    assert args[0] == "creditreg", line
    if args[1] == "client":
        result = CliRunner().invoke(cli, args[1:], env=env)
    else:
        result = runner.invoke(args=args[1:], env=env)
    assert result.exit_code == 0, (line, result.output)
    return result


def test_the_demo_prints_a_tour_that_works_as_printed(tmp_path, live_server):
    settings = {"VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/demo.db"}
    app = create_app(settings, profile="test")
    url = live_server(app)
    port = url.rsplit(":", 1)[1]
    runner = app.test_cli_runner()
    loaded = runner.invoke(args=["demo", "--no-serve", "--subjects", "40", "--port", port])
    assert loaded.exit_code == 0, loaded.output
    printed = loaded.stdout
    # Progress while it loads, on stderr.
    assert "enterprises" in loaded.stderr and "list entries" in loaded.stderr

    # A staff account per role, each with a password shown once that works, and must be
    # changed at the first sign-in.
    accounts = dict(re.findall(r"^  (demo-[a-z0-9-]+) +[a-z,]+ +(\S+)$", printed, re.M))
    assert set(accounts) == {"demo-admin", "demo-reviewer", "demo-reviewer-2", "demo-regulator"}
    with app.test_client() as browser:
        assert sign_in(browser, "demo-admin", accounts["demo-admin"]).status_code in (302, 303)
        dashboard = browser.get("/console/")
        assert "/console/account/password" in dashboard.headers.get("Location", "")
    # Owner-only member keys.
    keys = sorted((tmp_path / "demo-keys").iterdir())
    assert [k.name for k in keys] == ["bank.key", "market.key", "supplier.key", "taohuo.key"]
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)

    env = {}
    for line in printed.splitlines():
        if line.strip().startswith("export CREDITREG_CLIENT_URL="):
            env["CREDITREG_CLIENT_URL"] = line.split("=", 1)[1]
    assert env == {"CREDITREG_CLIENT_URL": url}
    lookup = next(line for line in printed.splitlines() if "/api/v1/subjects?q=" in line)
    assert json.loads(run(runner, lookup, env).stdout)["total"] >= 0

    tour = printed.split("A list entry from notice to repair", 1)[1].splitlines()[1:]
    steps = [line for line in tour if line.strip().startswith("creditreg ")]
    entry_id = re.search(r"entry ([0-9a-f-]{36})", printed).group(1)
    application_id = None
    for step in steps:
        if application_id:
            step = step.replace("APPLICATION_ID", application_id)
        result = run(runner, step, env)
        if f"/api/v1/listings/{entry_id}/repairs" in step:
            application_id = json.loads(result.stdout)["id"]
    assert application_id and len(steps) == 7

    with app.app_context():
        entry = db.session.scalar(sa.select(ListEntry).where(ListEntry.id == uuid.UUID(entry_id)))
        assert entry.state == "removed" and entry.published_at is not None
    # Made once: a second run loads nothing and prints no new passwords.
    again = runner.invoke(args=["demo", "--no-serve", "--port", port])
    assert again.exit_code == 0 and "already present" in again.stdout
    assert not re.search(r"^  demo-admin ", again.stdout, re.M)
