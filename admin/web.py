"""What every page of the site shares: security headers, CSRF, the public rate limit,
the language of the page, and the unit of work.

- **Headers on every response** (pages, API, static files): a strict Content-Security-Policy
  with no inline script at all and no inline style of ours (the site's CSS is one static
  file); the API's own documentation pages keep their inline ``<style>`` blocks, allowed by
  their SHA-256 hash computed from the template at start-up. Framing is refused
  (``frame-ancestors 'none'``), MIME sniffing is off, the referrer is kept to our origin.
- **CSRF**: a random token per session (the session cookie is signed, ``HttpOnly`` and
  ``SameSite=Lax``), put in every form by ``csrf_field()`` and checked on every
  state-changing request to the page blueprints (not the API: members sign their requests,
  and a browser cannot forge an RFC 9421 signature).
- **Rate limit of the public pages** per client address: a fixed one-minute window counted
  in each worker process. With N workers a client gets up to N times the limit; that is
  accepted for pages that only read public data (the member API has its own, database-backed
  limit). Behind proxies, ``TRUSTED_PROXIES`` says how many pass the client address on
  (werkzeug's ``ProxyFix``).
- **Language**: zh-CN or en, from the ``lang`` cookie the switch sets, else the browser's
  ``Accept-Language``, else zh-CN (the registry's public is Chinese).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, abort, redirect, request, session
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from admin import charts
from registry.regions import region_label


def code_label(group: str, code: str | None) -> str:
    """A stored code (a record category, a list entry's state...) in the page's language,
    from the one table the reports use (api.report_text); an unknown code as it is."""
    from api import report_text

    return report_text.label(group, code, select_language())


LANGUAGES = {"zh_CN": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh_CN"
LANGUAGE_COOKIE = "lang"
CSRF_KEY = "_csrf"
CSRF_FIELD = "csrf_token"

BASE_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def select_language() -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best is None:
        return DEFAULT_LANGUAGE
    return "en" if best == "en" else "zh_CN"


def _style_hashes(template_dirs: list[Path]) -> list[str]:
    """'sha256-…' sources for the static inline <style> blocks of the given templates."""
    found = []
    for folder in template_dirs:
        for path in sorted(folder.glob("*.html")):
            for block in re.findall(r"<style>(.*?)</style>", path.read_text("utf-8"), re.S):
                if "{{" in block or "{%" in block:
                    continue  # a rendered block would not match its source's hash
                digest = hashlib.sha256(block.encode()).digest()
                found.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return found


def content_security_policy(extra_styles: list[str]) -> str:
    parts = dict(BASE_CSP)
    if extra_styles:
        parts["style-src"] = " ".join(["'self'", *extra_styles])
    return "; ".join(f"{key} {value}" for key, value in parts.items())


def csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return str(token)


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf_token())


def check_csrf() -> None:
    """Refuse (400) a form post whose token is missing or not the session's."""
    expected = session.get(CSRF_KEY)
    given = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    if not expected or not hmac.compare_digest(str(expected), given):
        abort(400, description="The form has expired or did not come from this site.")


class WindowCounter:
    """Requests per key in the current fixed window, in this process only."""

    def __init__(self, window_seconds: float = 60.0) -> None:
        self.window = window_seconds
        self._lock = threading.Lock()
        self._started = 0.0
        self._counts: dict[str, int] = {}

    def hit(self, key: str, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        with self._lock:
            if now - self._started >= self.window:
                self._started, self._counts = now, {}
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]


def format_iso_date(value: str | None) -> str:
    """An ISO 8601 date or timestamp from a view (as the feeds carry it), as a date in the
    page's locale and the registry's time zone; empty for None."""
    from datetime import date, datetime

    from flask_babel import format_date

    if not value:
        return ""
    if len(value) == 10:
        return format_date(date.fromisoformat(value))
    return format_date(datetime.fromisoformat(value.replace("Z", "+00:00")))


def list_label(code: str | None) -> str:
    """A list's name in the page's language: a kind (``watch``) or a side (``blacklist``)."""
    from flask_babel import gettext as _

    labels = {
        "blacklist": _("Blacklist"),
        "redlist": _("Redlist"),
        "judgment_debtor": _("Dishonest judgment debtors"),
        "serious_illegal": _("Serious illegality and dishonesty"),
        "watch": _("Watch list"),
        "abnormal": _("Abnormal operations"),
    }
    return labels.get(code or "", code or "")


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to return to (never another site)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def init_app(app: Flask, *, public_blueprints: set[str]) -> None:
    from flask_babel import (
        Babel,
        format_date,
        format_datetime,
        format_decimal,
        format_number,
        format_percent,
    )

    Babel(
        app,
        locale_selector=select_language,
        default_translation_directories=str(Path(__file__).parent / "translations"),
        default_locale=DEFAULT_LANGUAGE,
        default_timezone="Asia/Shanghai",
    )
    root = Path(__file__).resolve().parent.parent
    csp = content_security_policy(_style_hashes([root / "api" / "templates"]))
    settings = app.extensions["creditreg.settings"]
    limit = settings.PUBLIC_RATE_LIMIT_PER_MINUTE
    counter = WindowCounter()
    app.extensions["creditreg.public_rate"] = counter

    app.jinja_env.globals.update(
        csrf_field=csrf_field,
        languages=LANGUAGES,
        current_language=select_language,
        format_number=format_number,
        format_decimal=format_decimal,
        format_date=format_date,
        format_datetime=format_datetime,
        format_percent=format_percent,
        format_iso_date=format_iso_date,
        list_label=list_label,
        chart_is_empty=charts.is_empty,
        region_label=region_label,
        code_label=code_label,
    )

    @app.before_request
    def _limit_public_pages() -> ResponseReturnValue | None:
        if not limit or request.blueprint not in public_blueprints:
            return None
        if counter.hit(request.remote_addr or "-") > limit:
            response = Response(
                "Too many requests from your address; please wait a minute.\n"
                "请求过于频繁，请一分钟后再试。\n",
                status=429,
                mimetype="text/plain",
            )
            response.headers["Retry-After"] = "60"
            return response
        return None

    # Every blueprint of the pages (the console's included) is checked; the API is not.
    page_blueprints = public_blueprints | {"console"}

    @app.before_request
    def _csrf_on_pages() -> None:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        if request.blueprint in page_blueprints:
            check_csrf()

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", csp)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.blueprint == "console" or request.path.startswith("/console"):
            headers["Cache-Control"] = "no-store"
        return response

    @app.get("/language/<code>")
    def switch_language(code: str) -> ResponseReturnValue:
        """Choose zh_CN or en (a cookie).

        ---
        get:
          operationId: switchLanguage
          summary: Choose zh_CN or en (a cookie)
          responses:
            302:
              description: Redirect
            429: PageRateLimited
          problems: [404]
        """
        if code not in LANGUAGES:
            abort(404)
        response = redirect(safe_next(request.args.get("next")))
        response.set_cookie(
            LANGUAGE_COOKIE,
            code,
            max_age=365 * 24 * 3600,
            secure=bool(app.config.get("SESSION_COOKIE_SECURE")),
            httponly=True,
            samesite="Lax",
        )
        return response
