"""zh-CN and en pages: the language follows the browser, the switch overrides it, and the
committed catalogues are complete and compiled."""

from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parents[2] / "admin" / "translations"


@pytest.mark.parametrize("locale", ["zh_Hans_CN", "en"])
def test_the_committed_mo_is_the_compiled_po(locale):
    folder = TRANSLATIONS / locale / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as fh:
        po = read_po(fh, locale=locale)
    with (folder / "messages.mo").open("rb") as fh:
        mo = read_mo(fh)

    def pairs(catalog):
        return {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}

    assert pairs(po) == pairs(mo), "run `make translations`"


def test_every_page_string_has_a_chinese_translation():
    with (TRANSLATIONS / "messages.pot").open("rb") as fh:
        template = read_po(fh)
    with (TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        zh = read_po(fh, locale="zh_CN")
    untranslated = [m.id for m in template if m.id and not (zh.get(m.id) and zh.get(m.id).string)]
    assert untranslated == []


def test_the_language_follows_the_browser_and_the_switch(client):
    english = client.get("/console/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.get_data(as_text=True)
    assert "Staff console: sign in" in english.get_data(as_text=True)
    chinese = client.get("/console/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN">' in chinese.get_data(as_text=True)
    assert "工作人员后台登录" in chinese.get_data(as_text=True)
    assert "工作人员后台登录" in client.get("/console/login").get_data(as_text=True)  # default

    switched = client.get("/language/en?next=/console/login")
    assert switched.status_code == 302 and switched.headers["Location"] == "/console/login"
    page = client.get("/console/login", headers={"Accept-Language": "zh-CN"})
    assert "Staff console: sign in" in page.get_data(as_text=True)
    assert client.get("/language/en?next=https://evil.example/").headers["Location"] == "/"
    assert client.get("/language/fr").status_code == 404
