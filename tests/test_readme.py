"""The README is the operator's reference: every setting the registry reads is in its table."""

import re
from pathlib import Path

from config.settings import ENV_PREFIX, SETTINGS

README = Path(__file__).resolve().parents[1] / "README.md"


def documented_settings() -> set[str]:
    """The settings named in the README's table rows. A row may name several, the later
    ones by their differing ending: `CREDITREG_A_B_X` / `_Y` is A_B_X and A_B_Y (or A_B_X_Y)."""
    known = {setting.key for setting in SETTINGS}
    named: set[str] = set()
    for line in README.read_text(encoding="utf-8").splitlines():
        if not line.startswith(f"| `{ENV_PREFIX}"):
            continue
        first_cell = line.split("|")[1]
        names = re.findall(r"`([A-Z_]+)`", first_cell)
        full = names[0].removeprefix(ENV_PREFIX)
        named.add(full)
        for name in names[1:]:
            if name.startswith(ENV_PREFIX):
                full = name.removeprefix(ENV_PREFIX)
                named.add(full)
                continue
            parts = full.split("_")
            ending = name.strip("_").split("_")
            candidates = {"_".join(parts[: -len(ending)] + ending), f"{full}_{'_'.join(ending)}"}
            named.update(candidates & known)
    return named


def test_every_setting_is_in_the_readme_table():
    missing = sorted({setting.key for setting in SETTINGS} - documented_settings())
    assert missing == [], f"add to the README's settings table: {missing}"


def test_every_public_address_is_in_the_readme():
    """Whoever has no account — the public, a feed reader, a member's client before it signs —
    finds every address they may call described."""
    from api.permissions import ACCESS, PUBLIC
    from registry.app import create_app

    app = create_app({"DATABASE_URL": "sqlite://"}, profile="test")
    text = README.read_text(encoding="utf-8")
    missing = []
    for rule in app.url_map.iter_rules():
        if ACCESS.get(rule.endpoint) != PUBLIC or rule.endpoint.endswith("static"):
            continue
        # /api/v1/public/lists/<list_kind> is written /api/v1/public/lists/{kind} or with a
        # real kind: compare the part before the first parameter, and the whole of a
        # parameterless address.
        head = rule.rule.split("<", 1)[0]
        if rule.rule == "/" or (head != "/" and head in text):
            continue
        missing.append(rule.rule)
    assert missing == [], f"describe in the README: {missing}"


def test_every_member_command_in_the_readme_parses():
    """Each `creditreg client ...` line shown names a command that exists, with options it
    takes (optional parts shown in brackets are read as given)."""
    import shlex

    import click

    from registry.app import cli

    shown = [
        line.strip()
        for line in README.read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("creditreg client ")
    ]
    assert len(shown) > 15
    for line in shown:
        words = shlex.split(line.replace("[", "").replace("]", ""), comments=True)[1:]
        command: click.Command = cli
        while isinstance(command, click.Group) and words and words[0] in command.commands:
            command = command.commands[words.pop(0)]
        assert not isinstance(command, click.Group), line
        # Its options, as the shell passes them (values are checked where the command runs).
        command.make_parser(click.Context(command, info_name=command.name)).parse_args(words)
