"""End to end in a real browser: Debian's Chromium (/usr/bin/chromium) driven by Playwright,
against a real server on a migrated database of its own. Never a downloaded browser: the
tests skip, saying why, where the system one is missing.

Flows: a reviewer signs in with a TOTP code; a regulator proposes a listing; two reviewers
approve it with a reason; the list job publishes it after the objection window (the test
clock moves); a consumer searches for the enterprise, opens its page and a seller page.
A contrast audit measures every text on the public pages and the console against WCAG's
minimum. Screenshots go to test-artifacts/ (not committed).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import current_app

from registry import migrate, totp
from registry.clock import local_date
from registry.db import db, make_engine
from registry.listings import ListEntry, run_list_jobs
from registry.runtime import current_runtime
from registry.subjects import register_subject
from search.sync import drain_once
from tests.console_helpers import NAME, PASSWORD, PROPOSAL, USCC, seed
from tests.factories import TEST_ACTOR, member

CHROMIUM = Path(os.environ.get("CREDITREG_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"no system Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)",
)


@pytest.fixture
def server(fresh_sqlite_url, make_app, live_server, clock):
    engine = make_engine(fresh_sqlite_url)
    migrate.upgrade(engine)
    engine.dispose()
    app = make_app(fresh_sqlite_url)
    with app.app_context():
        runtime = current_runtime()
        seeded = seed(db.session, runtime, clock.now())
        platform = member(db.session, kind="marketplace", roles=("platform",), name="淘宝网")
        platform.platform_code = "taobao"
        register_subject(
            db.session,
            actor=TEST_ACTOR,
            vault=runtime.vault,
            now=clock.now(),
            kind="shop",
            name="华信旗舰店",
            platform=platform,
            shop_id="hx-001",
            operator_uscc=USCC,
        )
        db.session.commit()
    return app, live_server(app), seeded


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"], timeout=20_000
        )
        yield launched
        launched.close()


def index_everything(app) -> None:
    """Drain the search outbox, so the public search finds the seeded subjects."""
    with app.app_context():
        backend = current_app.extensions["creditreg.search"]
        while drain_once(db.session, backend, current_runtime().clock.now()):
            pass
        db.session.commit()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str, username: str, code: str = "") -> None:
    page.goto(f"{base}/console/login")
    page.get_by_label(re.compile("Username")).fill(username)
    page.get_by_label(re.compile("Password")).fill(PASSWORD)
    if code:
        page.get_by_label(re.compile("Authenticator code")).fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/console/")


def sign_out(page) -> None:
    page.get_by_role("button", name=re.compile("Sign out")).click()


def test_propose_review_publish_and_look_up(server, browser, clock):
    app, base, seeded = server
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(5_000)
    page = context.new_page()
    csp_errors: list[str] = []
    page.on(
        "console", lambda m: csp_errors.append(m.text) if "Content Security" in m.text else None
    )

    # A regulator's staff proposes a listing.
    sign_in(page, base, "carol")
    page.get_by_role("link", name="Our listings").click()
    page.get_by_role("link", name="Propose a listing").click()
    for name, label in (
        ("uscc", "USCC of the enterprise"),
        ("authority", "Issuing authority"),
        ("reason", "Reason"),
        ("legal_basis", "Legal basis"),
        ("document_number", "Decision document number"),
        ("notice_to", "Where a copy of the prior notice goes"),
    ):
        page.get_by_label(re.compile(label)).fill(PROPOSAL[name])
    page.locator("select#list").select_option("redlist")
    page.get_by_label(re.compile("绿色通道")).check()
    shot(page, "01-propose")
    page.get_by_role("button", name="Propose").click()
    page.get_by_text("The listing is proposed and waits for review.").wait_for()
    sign_out(page)

    # A reviewer with a second factor works the queue item.
    code = totp.code_at(seeded.totp_secret, clock.now().timestamp())
    sign_in(page, base, "alice", code)
    shot(page, "02-dashboard")
    page.get_by_role("link", name="Listings", exact=True).click()
    page.get_by_role("link", name=NAME).click()
    page.get_by_label(re.compile("Reason")).fill("依据充分，材料齐全")
    shot(page, "03-review")
    page.get_by_role("button", name="Approve").click()
    page.get_by_text("Your review is recorded.").wait_for()
    # A redlist needs one approval: in its notice stage, said in the page's language.
    assert page.locator("#entry-state").get_attribute("data-code") == "notice"
    assert page.locator("#entry-state").inner_text() == "In notice"
    # The subject has no member: the letter is served by post, and the reviewer records it.
    page.locator("select#channel").select_option("post")
    page.get_by_label("Date of service").fill(local_date(clock.now()).isoformat())
    page.get_by_label(re.compile("Reference")).fill("挂号信 XA500000001CN")
    page.get_by_role("button", name="Record the service").click()
    page.get_by_text("The service is recorded; the objection window runs from it.").wait_for()
    assert "挂号信 XA500000001CN" in page.locator("#notice-served").inner_text()
    sign_out(page)

    # The objection window passes; the list job publishes; the index follows.
    clock.advance(timedelta(days=20))
    with app.app_context():
        assert run_list_jobs(db.session, clock.now()) == 1
        db.session.commit()
        assert db.session.scalar(sa.select(ListEntry.state)) == "published"
    index_everything(app)

    # A consumer searches, opens the enterprise and a seller page, and switches language.
    public = context.new_page()
    public.goto(base + "/")
    public.get_by_label("Name, USCC or shop id").fill(USCC)
    public.get_by_role("button", name="Search").click()
    result = public.locator("article.result").first
    assert "Redlist" in result.inner_text()
    shot(public, "04-search")
    result.get_by_role("link", name=NAME).click()
    assert PROPOSAL["legal_basis"] in public.content()
    shot(public, "05-subject")
    public.goto(base + "/sellers/taobao/hx-001")
    assert "华信旗舰店" in public.content()
    shot(public, "06-seller")
    public.get_by_role("link", name="中文").click()
    public.get_by_role("heading", name="华信旗舰店").wait_for()
    assert "严重失信主体名单" in public.locator("header").inner_text()
    assert csp_errors == []
    context.close()


def test_a_held_back_sign_in_and_a_refused_role_in_the_browser(server, browser):
    _app, base, _seeded = server
    context = browser.new_context(locale="zh-CN")
    context.set_default_timeout(5_000)
    page = context.new_page()
    page.goto(f"{base}/console/login")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    for _ in range(5):
        page.get_by_label("用户名").fill("bob")
        page.get_by_label("密码").fill("not the right password")
        page.get_by_role("button", name="登录").click()
    page.get_by_label("用户名").fill("bob")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    assert "登录失败次数过多" in page.get_by_role("alert").inner_text()
    shot(page, "07-locked")
    page.get_by_label("用户名").fill("carol")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    response = page.goto(f"{base}/console/admin/members")
    assert response is not None and response.status == 403
    context.close()


def test_the_home_page_works_from_the_keyboard(server, browser):
    """The skip link is the first stop and leads into the page; the next stop is the search
    box, and Enter submits it."""
    app, base, _seeded = server
    index_everything(app)
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(5_000)
    page = context.new_page()
    page.goto(base + "/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.evaluate("element => element === document.activeElement")
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0  # on screen once focused (off-screen before)
    page.keyboard.press("Enter")
    # Following an in-page link is asynchronous: wait for the fragment, do not read at once.
    page.wait_for_url(re.compile(r"#content$"))
    page.keyboard.press("Tab")
    search = page.get_by_label("Name, USCC or shop id")
    assert search.evaluate("element => element === document.activeElement")
    page.keyboard.type(USCC)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"[?&]q=" + USCC))
    page.get_by_role("link", name=NAME).wait_for()
    shot(page, "08-keyboard-search")
    context.close()


# For every element holding text: its colour against the background it is drawn on (the
# nearest ancestor with one, semi-transparent layers blended over what is beneath), and the
# WCAG 2.2 contrast ratio it needs (4.5:1; 3:1 for large text: 24px, or 18.66px bold).
CONTRAST_AUDIT = """() => {
  const parse = (value) => {
    const m = value.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const [r, g, b, a] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return [r, g, b, a === undefined ? 1 : a];
  };
  const over = (top, below) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + below[i] * (1 - a)).concat(1);
  };
  const background = (element) => {
    const layers = [];
    for (let node = element; node; node = node.parentElement) {
      const colour = parse(getComputedStyle(node).backgroundColor);
      if (colour && colour[3] > 0) {
        layers.push(colour);
        if (colour[3] >= 1) break;
      }
    }
    return layers.reduceRight((below, top) => over(top, below), [255, 255, 255, 1]);
  };
  const luminance = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const failures = [];
  for (const element of document.querySelectorAll("body *")) {
    const text = [...element.childNodes]
      .filter((n) => n.nodeType === Node.TEXT_NODE)
      .map((n) => n.textContent.trim())
      .join(" ")
      .trim();
    if (!text || !element.getClientRects().length) continue;
    const style = getComputedStyle(element);
    if (style.visibility === "hidden" || Number(style.opacity) === 0) continue;
    const box = element.getBoundingClientRect();
    if (box.right <= 0 || box.bottom <= 0) continue;  // parked off screen (the skip link)
    const back = background(element);
    const fore = over(parse(style.color), back);
    const [hi, lo] = [luminance(fore), luminance(back)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const needed = large ? 3 : 4.5;
    if (ratio < needed) {
      const behind = `rgb(${back.slice(0, 3).map(Math.round)})`;
      failures.push(`${element.tagName.toLowerCase()}.${element.className} "${text.slice(0, 40)}"`
        + ` ${ratio.toFixed(2)}:1 < ${needed}:1 (${style.color} on ${behind})`);
    }
  }
  return failures;
}"""


def test_every_text_on_the_pages_meets_the_contrast_minimum(server, browser, clock):
    app, base, seeded = server
    index_everything(app)
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(5_000)
    page = context.new_page()
    failures: dict[str, list[str]] = {}

    def audit(path: str) -> None:
        response = page.goto(base + path)
        assert response is not None and response.ok, path
        found = page.evaluate(CONTRAST_AUDIT)
        if found:
            failures[path] = found

    subject = page.goto(f"{base}/?q={USCC}")
    assert subject is not None and subject.ok
    subject_path = page.get_by_role("link", name=NAME).get_attribute("href")
    public_pages = ["/", f"/?q={USCC}", subject_path, "/sellers/taobao/hx-001"]
    for path in [*public_pages, "/help/objections-and-repair", "/console/login"]:
        audit(path)
    page.get_by_role("link", name="中文").click()  # the other language's page, same colours
    page.wait_for_url(re.compile("/console/login"))
    if found := page.evaluate(CONTRAST_AUDIT):
        failures["/console/login (zh-CN)"] = found
    page.get_by_role("link", name="English").click()
    code = totp.code_at(seeded.totp_secret, clock.now().timestamp())
    sign_in(page, base, "alice", code)
    for path in ("/console/", "/console/review/listings", "/console/account/password"):
        audit(path)
    assert failures == {}
    context.close()


def test_the_api_reference_shows_an_operation_with_its_parameters(server, browser):
    """/api/docs renders the document with the registry's own copy of Swagger UI: nothing is
    fetched from another host, the Content-Security-Policy refuses nothing, and an operation
    opens with its query parameters."""
    _app, base, _seeded = server
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda request: None if request.url.startswith(base) else elsewhere.append(request.url),
    )
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(base + "/api/docs#/subjects/searchSubjects")
    operation = page.locator("#operations-subjects-searchSubjects")
    # Swagger UI reads the whole document (1.5 MB of script, then ~80 operations) before it
    # draws: slow on a busy machine, so the first wait is long.
    operation.wait_for(timeout=60_000)
    if not operation.locator(".parameters").count():
        operation.locator(".opblock-summary").first.click()
    names = operation.locator(".parameters .parameter__name")
    names.first.wait_for()
    shown = {" ".join(text.split()).removesuffix(" *").strip() for text in names.all_inner_texts()}
    assert {"purpose", "q", "kind", "after", "limit"} <= shown, shown
    assert operation.get_by_text("why the member looks").count() >= 1
    shot(page, "09-api-reference")
    assert elsewhere == []
    assert refused == []
    context.close()
