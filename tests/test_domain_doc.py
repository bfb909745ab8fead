"""docs/domain.md names the settings, modules, functions and tests that hold each rule of the
field; a rename or a removal that leaves the document behind fails here, so an auditor never
reads of a test or a setting that is not there."""

import ast
import re
from datetime import date
from functools import cache
from pathlib import Path

import pytest

from config.settings import ENV_PREFIX, RESERVED_ENV, SETTINGS_BY_KEY

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "domain.md"
CODE = re.compile(r"`([^`\n]+)`")
PATH = re.compile(r"[\w./-]+\.(?:py|toml|md)")


def spans() -> list[str]:
    return CODE.findall(DOC.read_text(encoding="utf-8"))


@cache
def top_level_names(path: Path) -> frozenset[str]:
    """What a module defines at its top level: functions, classes and assigned names."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return frozenset(names)


def shown_default(value: object) -> str:
    """A setting's default as the document writes it after ``=``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(v.isoformat() if isinstance(v, date) else str(v) for v in value)
    return str(value)


def references(kind: str) -> list[str]:
    found = []
    for span in spans():
        if span.startswith(ENV_PREFIX):
            if kind == "setting":
                found.append(span)
        elif "::" in span:
            if kind == "name":
                found.append(span)
        elif PATH.fullmatch(span) and kind == "path":
            found.append(span)
    return found


def test_the_document_names_tests_modules_and_settings():
    # A guard against the parsing itself going blind: the document holds many of each.
    assert len(references("name")) > 100
    assert len(references("path")) >= 5
    assert len(references("setting")) > 30
    assert any(ref.startswith("tests/") for ref in references("name"))


@pytest.mark.parametrize("reference", sorted(set(references("path"))))
def test_every_file_named_exists(reference):
    assert (ROOT / reference).is_file(), f"docs/domain.md names {reference}, which is not there"


@pytest.mark.parametrize("reference", sorted(set(references("name"))))
def test_every_function_and_test_named_exists(reference):
    path, _, name = reference.partition("::")
    module = ROOT / path
    assert module.is_file(), f"docs/domain.md names {path}, which is not there"
    assert name in top_level_names(module), f"{path} defines no {name}"
    if path.startswith("tests/"):
        assert name.startswith("test_"), f"{reference} is not a test"


@pytest.mark.parametrize("reference", sorted(set(references("setting"))))
def test_every_setting_named_exists_with_the_default_written(reference):
    name, equals, written = reference.partition("=")
    if name in RESERVED_ENV:
        return
    key = name.removeprefix(ENV_PREFIX)
    assert key in SETTINGS_BY_KEY, f"docs/domain.md names {name}, which is no setting"
    if equals:
        actual = shown_default(SETTINGS_BY_KEY[key].default)
        assert written == actual, f"docs/domain.md gives {name} the default {written}, not {actual}"
