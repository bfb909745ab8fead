"""A registry served over real HTTP, with members made the way an administrator makes them,
for the tests of the member's command line."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from registry.app import cli


def add_member(registry, name, roles="submitter,querier", *options):
    """A member made by `members add`, with a key made by `client keygen` and registered by
    `keys add`: its id and the private key's file."""
    admin = registry["app"].test_cli_runner()
    made_member = admin.invoke(
        args=["members", "add", "--name", name, "--kind", "bank", "--roles", roles, "--json"]
        + list(options)
    )
    assert made_member.exit_code == 0, made_member.output
    member = json.loads(made_member.output)
    key_file = Path(registry["keys"]) / f"{member['id']}.key"
    keygen = CliRunner().invoke(cli, ["client", "keygen", "--out", str(key_file), "--json"])
    assert keygen.exit_code == 0, keygen.output
    made = json.loads(keygen.output)
    registered = admin.invoke(
        args=["keys", "add", "--member", member["id"], "--public-key", made["public_key_file"]]
        + ["--json"]
    )
    assert (
        json.loads(registered.output)["id"] == made["key_id"]
    )  # the client's id is the registry's
    return {"id": member["id"], "key": made["private_key_file"]}


@pytest.fixture
def registry_settings():
    """Settings of the served registry (a test module overrides it)."""
    return {}


@pytest.fixture
def registry(fresh_sqlite_url, make_app, live_server, clock, tmp_path, registry_settings):
    """A migrated registry on its own SQLite file, served over HTTP, with one member (a
    submitter and querier) whose key was made by `client keygen` and registered by `keys add`."""
    clock.set(datetime.now(UTC))  # the client signs with the real time
    app = make_app(fresh_sqlite_url, **registry_settings)
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    served = {"app": app, "url": live_server(app), "keys": tmp_path}
    member = add_member(served, "示范银行")
    return {**served, "member": member["id"], "key": member["key"]}
