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
from pathlib import Path

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


def load_demo(tmp_path, live_server):
    """A demo registry of its own, served over HTTP: (app, url, the CLI runner, what `demo`
    printed and wrote on stderr)."""
    settings = {"VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/demo.db"}
    app = create_app(settings, profile="test")
    url = live_server(app)
    runner = app.test_cli_runner()
    port = url.rsplit(":", 1)[1]
    loaded = runner.invoke(args=["demo", "--no-serve", "--subjects", "40", "--port", port])
    assert loaded.exit_code == 0, loaded.output
    return app, url, runner, loaded


def entry_state(app, entry_id):
    with app.app_context():
        entry = db.session.scalar(sa.select(ListEntry).where(ListEntry.id == uuid.UUID(entry_id)))
        return entry.state, entry.published_at


def test_the_demo_prints_a_tour_that_works_as_printed(tmp_path, live_server):
    app, url, runner, loaded = load_demo(tmp_path, live_server)
    port = url.rsplit(":", 1)[1]
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

    state, published_at = entry_state(app, entry_id)
    assert state == "removed" and published_at is not None
    # Made once: a second run loads nothing and prints no new passwords.
    again = runner.invoke(args=["demo", "--no-serve", "--port", port])
    assert again.exit_code == 0 and "already present" in again.stdout
    assert not re.search(r"^  demo-admin ", again.stdout, re.M)


def test_the_readmes_tour_runs_as_written(tmp_path, live_server, monkeypatch):
    """The README's tour block, with its placeholders filled in as a reader fills them: the
    entry the demo printed, the id of the repair application's answer."""
    app, url, runner, loaded = load_demo(tmp_path, live_server)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("a list entry\nfrom its notice to its repair", 1)[1]
    block = block.split("```sh\n", 1)[1].split("```", 1)[0]
    entry_id = re.search(r"entry ([0-9a-f-]{36})", loaded.stdout).group(1)
    monkeypatch.chdir(tmp_path.parent)  # where var/demo-keys is, as from the checkout
    (tmp_path.parent / "var").mkdir(exist_ok=True)
    keys = tmp_path.parent / "var" / "demo-keys"
    if not keys.exists():
        keys.symlink_to(tmp_path / "demo-keys")
    env, application_id, ran = {}, None, 0
    for line in block.splitlines():
        if line.startswith("export "):
            name, value = line.removeprefix("export ").split("=", 1)
            assert value == "http://127.0.0.1:8000"
            env[name] = url  # the test's server, on a port of its own
            continue
        today = entry_today(app)
        line = line.replace("ENTRY_ID", entry_id).replace("$(date +%F)", today)
        if application_id:
            line = line.replace("APPLICATION_ID", application_id)
        result = run(runner, line, env)
        ran += 1
        if "/repairs --key" in line:
            application_id = json.loads(result.stdout)["id"]
    assert ran == 9 and entry_state(app, entry_id)[0] == "removed"


def entry_today(app):
    from registry.clock import local_date
    from registry.runtime import current_runtime

    with app.app_context():
        return local_date(current_runtime().clock.now()).isoformat()
