"""The staff console under ``/console``: sign-in, the dashboard, the reviewers' queues, the
regulator staff's listings and repairs, and the administrators' pages.

Every action calls the same domain function the ``creditreg`` commands call, acting as the
signed-in staff user (so the audit log names them), and is refused with a 403 page to a
role that lacks it. Regulator staff see only their own regulator's entries. A refusal by the
domain (a missing reason, a move the state does not allow, four eyes) rolls the request back
and is shown on the item's page. Commits happen once, in the app's after-request hook.

A session is checked against the database on every request: the id Flask-Login keeps in it
carries the account's session generation, which signing out raises (as a change or a reset of
the password does), so a session signed out, or a copy of its cookie taken before, no longer
loads. It also carries a keyed fingerprint of the account's password hash, so that a session
ended by a new password can be told why. The session that changed the password is issued
anew. While an account's password is
one an administrator made or reset, every page but the change page and sign-out sends the
person to change it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import json
import math
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)

from admin import charts
from admin.web import CSRF_KEY, safe_next
from api.csv_export import csv_response
from api.params import parse_integer
from registry import (
    listings,
    objections,
    paging,
    person_notices,
    provenance,
    publicity,
    ratings,
    repairs,
    seller_ratings,
    staff_auth,
    totp,
)
from registry.audit import Actor, ActorKind, AuditEvent
from registry.calendar import calendar_from_settings, missing_years_ahead
from registry.clock import local_date
from registry.db import db, get_by_id
from registry.errors import InvalidInput, NotFound, RegistryError, Worded
from registry.identifiers import mask_id_numbers, normalize_uscc
from registry.listings import ListEntry, ListingState, ListObjection, RepairApplication
from registry.members import (
    KeyAlgorithm,
    KeyStatus,
    Member,
    MemberKey,
    MemberKind,
    MemberRole,
    add_key,
    add_member,
    get_member,
    revoke_key,
)
from registry.notifications import Notices
from registry.records import CreditRecord
from registry.runtime import current_runtime
from registry.security import MIN_PASSWORD_LENGTH, TOO_SHORT, HashingBusy
from registry.staff import StaffRole, StaffStatus, StaffUser, add_staff_user
from registry.subjects import Subject, SubjectKind
from registry.submissions import Submission

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")
login_manager = LoginManager()
login_manager.login_view = "console.login"
login_manager.login_message = None  # type: ignore[assignment]
# "strong": a session whose address or browser changes is dropped, not just marked.
login_manager.session_protection = "strong"

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])


def _password_fingerprint(staff: StaffUser) -> str:
    """A keyed digest of the account's password hash, which changes (new salt) with every
    change or reset. Keyed, because the session cookie is signed, not encrypted. A hash
    upgraded at sign-in (new Argon2id parameters) changes it too: the account's other
    sessions end once, then."""
    key = current_app.secret_key
    key_bytes = key if isinstance(key, bytes) else str(key).encode()
    message = b"console-session\0" + staff.password_hash.encode()
    return hmac.new(key_bytes, message, hashlib.sha256).hexdigest()[:32]


class ConsoleUser(UserMixin):
    """The signed-in staff account as Flask-Login sees it."""

    def __init__(self, staff: StaffUser) -> None:
        self.staff = staff
        # Flask-Login's "alternative id": what the session keeps, and what the loader checks.
        self.id = f"{staff.id}:{staff.session_generation}:{_password_fingerprint(staff)}"

    @property
    def is_active(self) -> bool:
        return self.staff.status == StaffStatus.ACTIVE

    @property
    def roles(self) -> set[str]:
        return self.staff.roles

    @property
    def actor(self) -> Actor:
        return Actor(ActorKind.STAFF, str(self.staff.id))


@login_manager.user_loader
def _load_user(session_id: str) -> ConsoleUser | None:
    try:
        user_id, generation, fingerprint = session_id.split(":")
        staff = db.session.get(StaffUser, uuid.UUID(user_id))
    except ValueError:
        return None  # not an id this console issued (or one from before generations)
    if staff is None or staff.status != StaffStatus.ACTIVE:
        return None
    if not hmac.compare_digest(fingerprint, _password_fingerprint(staff)):
        g.console_password_replaced = True  # told to the person in _idle_timeout
        return None
    if generation != str(staff.session_generation):
        return None  # signed out since
    return ConsoleUser(staff)


def requires(*roles: StaffRole) -> Callable[[F], F]:
    """Signed in and holding one of ``roles``; otherwise the sign-in page or a 403 page."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            if not current_user.roles & {str(r) for r in roles}:
                abort(403)
            return view(*args, **kwargs)

        # Read by the authorisation matrix test against api/permissions.py.
        wrapper.staff_roles = tuple(str(r) for r in roles)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _now() -> datetime:
    return current_runtime().clock.now()


def _me() -> ConsoleUser:
    return current_user._get_current_object()  # type: ignore[no-any-return]


@bp.before_request
def _idle_timeout() -> ResponseReturnValue | None:
    """End a session after CONSOLE_IDLE_MINUTES without a request (the registry's clock).
    A session the user loader refused because its password changed is cleared, and the person
    told why."""
    if not current_user.is_authenticated:
        if g.pop("console_password_replaced", False):
            session.clear()
            flash(_("The password of this account was changed or reset. Please sign in again."))
        return None
    idle = timedelta(minutes=current_runtime().settings.CONSOLE_IDLE_MINUTES)
    now = _now().timestamp()
    seen = session.get("_seen")
    if seen is not None and now - float(seen) > idle.total_seconds():
        logout_user()
        session.clear()
        flash(_("Your session ended after a period without activity. Please sign in again."))
        return redirect(url_for("console.login", next=request.full_path))
    session["_seen"] = now
    return None


@bp.before_request
def _password_change_first() -> ResponseReturnValue | None:
    """Send a person whose password an administrator made or reset to change it first."""
    if not current_user.is_authenticated or not current_user.staff.password_change_required:
        return None
    if request.endpoint in ("console.change_password", "console.logout"):
        return None
    flash(_("Your password was set by an administrator. Choose a password of your own to go on."))
    back = request.full_path if request.method == "GET" else None
    return redirect(url_for("console.change_password", next=back), code=303)


@bp.app_context_processor
def _console_context() -> dict[str, Any]:
    return {"me": current_user, "StaffRole": StaffRole}


@bp.errorhandler(403)
def _forbidden(_error: Exception) -> ResponseReturnValue:
    return render_template("console/forbidden.html"), 403


@bp.errorhandler(HashingBusy)
def _hashing_busy(_error: HashingBusy) -> ResponseReturnValue:
    """Every password-hashing slot of this process stayed taken: the person tries again (a
    sign-in flood is answered at once rather than queued behind the hashes)."""
    db.session.rollback()
    return render_template("console/busy.html"), 503, {"Retry-After": "5"}


def _worded(text: str) -> str:
    """A domain refusal's text in the page's language. The constant texts the domain raises
    are catalogue entries (the Makefile extracts the exceptions' first argument), and so are
    the templates of its Worded texts, whose values go in after; a text built otherwise (an
    f-string) has none and is shown as the domain wrote it. The empty text is kept: its
    catalogue entry is the header."""
    if isinstance(text, Worded):
        return _(text.template, **text.values)
    return _(text) if text else text


def _worded_errors(exc: RegistryError) -> dict[str, list[str]]:
    """The field errors of a refusal (InvalidInput's), each in the page's language."""
    fields: dict[str, list[str]] = getattr(exc, "errors", {})
    return {name: [_worded(m) for m in messages] for name, messages in fields.items()}


def _refused(exc: RegistryError) -> None:
    """Undo the request's work and tell the user why the domain refused."""
    db.session.rollback()
    detail = _worded(exc.detail)
    fields = _worded_errors(exc)
    if fields:
        detail += " (" + "; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items()) + ")"
    flash(_("Refused: %(detail)s", detail=detail), "error")


def _act(action: Callable[[], object], done: str, back: str) -> ResponseReturnValue:
    try:
        action()
    except RegistryError as exc:
        _refused(exc)
        return redirect(back, code=303)
    flash(done, "ok")
    return redirect(back, code=303)


def _form(name: str) -> str:
    """A form field's text. NUL is refused (400) here, for every form alike: PostgreSQL
    cannot store it and SQLite would keep it, so no field may carry one into the domain."""
    text = (request.form.get(name) or "").strip()
    if "\x00" in text:
        abort(400, description=_("A form field holds a NUL character."))
    return text


def _form_count(name: str) -> int | None:
    """A whole number typed into a form; None when the field is left empty.

    :raises InvalidInput: anything else (read as the API reads integer parameters), as the
        field's error.
    """
    text = _form(name)
    if not text:
        return None
    value = parse_integer(text, maximum=9999)
    if value is None:
        message = _("a whole number")  # outside the call: the extractor skips nested ones
        raise InvalidInput("the form is not complete", {name: [message]})
    return value


def _form_date(name: str) -> date | None:
    """A date typed into a form (YYYY-MM-DD, as a date input sends it); None when empty.

    :raises InvalidInput: anything else, as the field's error.
    """
    text = _form(name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        message = _("a date such as 2026-10-09")  # outside the call, as in _form_count
        raise InvalidInput("the form is not complete", {name: [message]}) from None


def _policy() -> listings.ListPolicy:
    return listings.policy_from_settings(current_runtime().settings)


def _history(object_type: str, object_id: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
    )


def _merged(*histories: list[AuditEvent]) -> list[AuditEvent]:
    """Several objects' histories as one, in time order (an appeal and its rating)."""
    return sorted((e for h in histories for e in h), key=lambda e: (e.occurred_at, e.id))


# --- sign-in -----------------------------------------------------------------------------------


def _new_session(staff: StaffUser) -> ResponseReturnValue:
    """Sign the account in on a new session (no fixation: the old one, with its CSRF token,
    is dropped) and go on to the page asked for."""
    next_page = safe_next(request.args.get("next"), url_for("console.dashboard"))
    session.clear()
    login_user(ConsoleUser(staff))
    session["_seen"] = _now().timestamp()
    return redirect(next_page, code=303)


def _client_address() -> str:
    return request.remote_addr or "-"


def _seconds_until(until: str, now: datetime) -> str:
    """A Retry-After value: whole seconds until the ISO time ``until``, at least one."""
    return str(max(1, math.ceil((datetime.fromisoformat(until) - now).total_seconds())))


def _over_sign_in_limit() -> str | None:
    """Count this sign-in attempt against its client address; the seconds to wait if the
    address has had its attempts this minute. Counted and committed on its own, before any
    password is checked, so that every worker process sees the attempts still running."""
    runtime = current_runtime()
    now = runtime.clock.now()
    counting = db.new_session()
    try:
        attempts, window_end = staff_auth.count_sign_in_attempt(counting, _client_address(), now)
        counting.commit()
    finally:
        counting.close()
    if attempts <= runtime.settings.CONSOLE_LOGIN_RATE_LIMIT_PER_MINUTE:
        return None
    return _seconds_until(window_end.isoformat(), now)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("console.dashboard"))
    error = None
    if request.method == "POST":
        wait = _over_sign_in_limit()
        if wait is not None:
            error = _("Too many sign-in attempts from your address. Please wait a minute.")
            page = render_template("console/login.html", error=error)
            return page, 429, {"Retry-After": wait}
        runtime = current_runtime()
        try:
            user = staff_auth.sign_in(
                db.session,
                passwords=runtime.passwords,
                vault=runtime.vault,
                username=_form("username"),
                password=request.form.get("password") or "",
                code=_form("code") or None,
                address=_client_address(),
                policy=staff_auth.policy_from_settings(runtime.settings),
                now=runtime.clock.now(),
            )
        except staff_auth.TooManyFailures as exc:
            # The same answer whether or not an account has this name: names nobody has are
            # held back alike.
            page = render_template("console/login.html", error=_held_back_message())
            return page, 429, {"Retry-After": _seconds_until(exc.extensions["until"], _now())}
        except staff_auth.LoginRefused:
            error = _("The username, password or code is not right.")
        else:
            return _new_session(user)
        # A failed attempt is answered 200 so the failure it counted is committed with the
        # request (the unit of work rolls back any error status).
    return render_template("console/login.html", error=error)


def _held_back_message() -> str:
    return _(
        "Too many failed sign-ins with this username from your address. Please try again later."
    )


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    """Sign out: every session of the account ends, on this browser and any other, and so
    does any copy of this session's cookie."""
    staff_auth.sign_out(db.session, _me().staff, now=_now())
    logout_user()
    session.pop(CSRF_KEY, None)
    session.clear()
    return redirect(url_for("console.login"), code=303)


def _password_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """The domain's field errors of a password change, in the page's language."""
    worded = {
        staff_auth.CURRENT_REQUIRED: _("Enter your current password."),
        staff_auth.CURRENT_WRONG: _("The current password is not right."),
        staff_auth.SAME_AS_CURRENT: _("The new password must differ from the current one."),
        staff_auth.REPEAT_DIFFERS: _("The two new passwords differ."),
        TOO_SHORT: _("At least %(count)d characters.", count=MIN_PASSWORD_LENGTH),
    }
    return {field: [worded.get(m, m) for m in messages] for field, messages in errors.items()}


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> ResponseReturnValue:
    """Every staff member changes their own password here, giving the current one."""
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        runtime = current_runtime()
        staff = _me().staff
        try:
            staff_auth.change_password(
                db.session,
                staff,
                passwords=runtime.passwords,
                vault=runtime.vault,
                current=request.form.get("current") or "",
                new=request.form.get("new") or "",
                repeat=request.form.get("repeat") or "",
                address=_client_address(),
                policy=staff_auth.policy_from_settings(runtime.settings),
                now=runtime.clock.now(),
            )
        except staff_auth.TooManyFailures:
            # Guessing through this form made this address wait: the account's sessions end
            # too, and the failure that did it is committed with the redirect.
            staff_auth.sign_out(db.session, staff, now=runtime.clock.now())
            logout_user()
            session.clear()
            flash(_held_back_message(), "error")
            return redirect(url_for("console.login"), code=303)
        except InvalidInput as exc:
            errors = _password_errors(exc.errors)
        else:
            # The other sessions carry the old generation and end; this one is issued anew.
            answer = _new_session(staff)
            flash(_("Your password is changed. Your other sessions are signed out."), "ok")
            return answer
    # The form comes back with 200, as a failed sign-in does, so a wrong current password is
    # counted: the unit of work rolls back any error status.
    return render_template("console/password.html", errors=errors, min_length=MIN_PASSWORD_LENGTH)


# --- dashboard ---------------------------------------------------------------------------------


def queue_sizes() -> dict[str, int]:
    s = db.session

    def count(query: Any) -> int:
        return s.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0

    return {
        "listings": count(
            sa.select(ListEntry.id).where(
                ListEntry.state.in_([ListingState.PROPOSED, ListingState.UNDER_REVIEW])
            )
        ),
        "notices": count(
            sa.select(ListEntry.id).where(
                ListEntry.state == ListingState.NOTICE, ListEntry.notice_served_on.is_(None)
            )
        ),
        "objections": count(sa.select(ListObjection.id).where(ListObjection.outcome.is_(None))),
        "ratings": count(
            sa.select(ratings.SubjectRating.id).where(
                ratings.SubjectRating.status.in_(ratings.OPEN)
            )
        ),
        "sellers": count(
            sa.select(seller_ratings.SellerRating.id).where(
                seller_ratings.SellerRating.review_state == seller_ratings.ReviewState.PENDING
            )
        ),
        "repairs": count(
            sa.select(RepairApplication.id).where(RepairApplication.status == "filed")
        ),
        "late_repairs": count(sa.select(RepairApplication.id).where(repairs.late_applications())),
        "appeals": count(
            sa.select(ratings.RatingAppeal.id).where(
                ratings.RatingAppeal.status == ratings.AppealStatus.OPEN
            )
        ),
        "escalated": count(
            sa.select(objections.Objection.id).where(
                objections.Objection.status == objections.ObjectionStatus.ESCALATED
            )
        ),
    }


def _by_day(times: list[datetime], days: int, today: datetime) -> list[tuple[str, int]]:
    counted = Counter(t.date() for t in times)
    start = today.date() - timedelta(days=days - 1)
    return [
        ((start + timedelta(days=i)).strftime("%m-%d"), counted.get(start + timedelta(days=i), 0))
        for i in range(days)
    ]


def _by_month(times: list[datetime], months: int, today: datetime) -> list[tuple[str, int]]:
    counted = Counter((t.year, t.month) for t in times)
    year, month = today.year, today.month
    keys = []
    for _i in range(months):
        keys.append((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return [(f"{y % 100:02d}-{m:02d}", counted.get((y, m), 0)) for y, m in reversed(keys)]


# The dashboard's count of late 双公示 records: the last month.
LATE_PUBLICITY_DAYS = 30


@bp.get("/")
@login_required
def dashboard() -> ResponseReturnValue:
    s = db.session
    now = _now()
    # Only the timestamps of the window are read and counted here, the same on SQLite and
    # PostgreSQL; the windows are short (two weeks, a year) and these tables modest.
    submitted = list(
        s.scalars(
            sa.select(Submission.received_at).where(
                Submission.received_at >= now - timedelta(days=14)
            )
        )
    )
    published = list(
        s.scalars(
            sa.select(ListEntry.published_at).where(
                ListEntry.published_at >= now - timedelta(days=366)
            )
        )
    )
    grades = sorted(
        s.execute(
            sa.select(ratings.SubjectRating.final_grade, sa.func.count())
            .where(ratings.SubjectRating.status == ratings.RatingStatus.PUBLISHED)
            .group_by(ratings.SubjectRating.final_grade)
        )
        .tuples()
        .all(),
        key=lambda row: str(row[0]),
    )
    sizes = queue_sizes()
    queue_labels = {
        "listings": _("Listings"),
        "notices": _("Notices"),
        "objections": _("Objections"),
        "ratings": _("Ratings"),
        "sellers": _("Seller ratings"),
        "repairs": _("Repairs"),
        "late_repairs": _("Late repairs"),
        "appeals": _("Appeals"),
        "escalated": _("Escalated"),
    }
    chart_data = {
        "queues": [(queue_labels[k], v) for k, v in sizes.items()],
        "submissions": _by_day(submitted, 14, now),
        "publications": _by_month([p for p in published if p is not None], 12, now),
        "grades": [(str(g or "-"), n) for g, n in grades],
    }
    settings = current_runtime().settings
    today = local_date(now)
    missing_years = missing_years_ahead(calendar_from_settings(settings), today)
    return render_template(
        "console/dashboard.html",
        late_publicity=publicity.late_count(
            s, publicity.Window.ending(today, today - timedelta(days=LATE_PUBLICITY_DAYS - 1))
        ),
        late_publicity_days=LATE_PUBLICITY_DAYS,
        late_authorities=[
            row
            for row in publicity.lateness_by_authority(s, publicity.Window.ending(today))
            if row.late
        ][:5],
        missing_years=missing_years,
        sizes=sizes,
        charts={name: charts.columns(values) for name, values in chart_data.items()},
        data=chart_data,
        chart_width=charts.WIDTH,
        chart_height=charts.HEIGHT,
    )


@bp.get("/reports/publicity")
@login_required
def publicity_report() -> ResponseReturnValue:
    """Licences and penalties received late (双公示), per issuing authority, for the days of
    receipt asked (default: the last twelve months)."""
    today = local_date(_now())
    days: dict[str, date | None] = {}
    errors = []
    for name in ("since", "until"):
        text = (request.args.get(name) or "").strip()
        try:
            days[name] = date.fromisoformat(text) if text else None
        except ValueError:
            days[name] = None
            errors.append(name)
    window = publicity.Window.ending(today, days["since"], days["until"])
    if window.until < window.since:
        errors.append("until")
        window = publicity.Window.ending(today)
    return render_template(
        "console/publicity.html",
        rows=publicity.lateness_by_authority(db.session, window),
        window=window,
        errors=errors,
        working_days=current_runtime().settings.PUBLICITY_WORKING_DAYS,
    )


# --- reviewers: list entries and objections ------------------------------------------------


@bp.get("/review/listings")
@requires(StaffRole.REVIEWER)
def review_listings() -> ResponseReturnValue:
    entries = db.session.scalars(
        sa.select(ListEntry)
        .where(ListEntry.state.in_([ListingState.PROPOSED, ListingState.UNDER_REVIEW]))
        .order_by(ListEntry.proposed_at)
    ).all()
    return render_template("console/listings.html", entries=entries, title=_("Listings to review"))


@bp.get("/review/objections")
@requires(StaffRole.REVIEWER)
def review_objections() -> ResponseReturnValue:
    entries = db.session.scalars(
        sa.select(ListEntry)
        .where(
            ListEntry.id.in_(
                sa.select(ListObjection.entry_id).where(ListObjection.outcome.is_(None))
            )
        )
        .order_by(ListEntry.proposed_at)
    ).all()
    return render_template("console/listings.html", entries=entries, title=_("Open objections"))


@bp.get("/review/notices")
@requires(StaffRole.REVIEWER)
def review_notices() -> ResponseReturnValue:
    """Entries in their notice stage whose notice is not served yet: the subject's member
    has not read it, or the subject has none and staff must serve it by another channel."""
    return render_template(
        "console/listings.html",
        entries=listings.awaiting_service(db.session),
        title=_("Notices awaiting service"),
    )


@bp.get("/review/listings/<entry_id>")
@requires(StaffRole.REVIEWER)
def review_listing(entry_id: str) -> ResponseReturnValue:
    return _listing_page(_entry_or_404(entry_id), reviewer=True)


def _listing_page(entry: ListEntry, *, reviewer: bool) -> ResponseReturnValue:
    calendar = _policy().calendar
    return render_template(
        "console/listing.html",
        entry=entry,
        view=entry.summary(calendar),
        notice=entry.notice_view(calendar),
        representatives=_representatives(entry.subject),
        channels=_channel_labels(),
        today=local_date(_now()).isoformat(),
        history=_history("list_entry", str(entry.id)),
        reviewer=reviewer,
    )


def _representatives(subject: Subject) -> list[Member]:
    """The members the subject's notices reach: itself, or the operator of a shop."""
    return list(
        db.session.scalars(
            sa.select(Member)
            .where(
                Member.uscc.is_not(None),
                Member.uscc.in_([u for u in (subject.uscc, subject.operator_uscc) if u]),
            )
            .order_by(Member.name)
        )
    )


def _channel_labels() -> dict[str, str]:
    return {
        "member": _("Delivered to the subject's member"),
        "post": _("Post (registered letter)"),
        "in_person": _("In person, against a signed receipt"),
        "announcement": _("Public announcement"),
        "email": _("E-mail, receipt confirmed"),
    }


def _record_service(entry: ListEntry, role: listings.Role, back: str) -> ResponseReturnValue:
    me = _me()

    def step() -> None:
        listings.record_service(
            db.session,
            entry,
            actor=me.actor,
            role=role,
            channel=_form("channel"),
            served_on=_form_date("served_on"),
            reference=_form("reference"),
            policy=_policy(),
            at=_now(),
            acting_for=me.staff.regulator_member_id if role == listings.Role.PROPOSER else None,
        )

    return _act(step, _("The service is recorded; the objection window runs from it."), back)


def _publish(entry: ListEntry, role: listings.Role, back: str) -> ResponseReturnValue:
    me = _me()
    try:
        listings.publish(
            db.session,
            entry,
            actor=me.actor,
            role=role,
            at=_now(),
            acting_for=me.staff.regulator_member_id if role == listings.Role.PROPOSER else None,
        )
    except listings.NoticeNotServed:
        db.session.rollback()
        flash(
            _(
                "Refused: the notice has not been served. Record its service first; the "
                "entry can be published once the objection window that follows has closed."
            ),
            "error",
        )
        return redirect(back, code=303)
    except RegistryError as exc:
        _refused(exc)
        return redirect(back, code=303)
    flash(_("The entry is published."), "ok")
    return redirect(back, code=303)


@bp.post("/review/listings/<entry_id>/service")
@requires(StaffRole.REVIEWER)
def review_listing_service(entry_id: str) -> ResponseReturnValue:
    entry = _entry_or_404(entry_id)
    return _record_service(
        entry, listings.Role.REVIEWER, url_for("console.review_listing", entry_id=entry.id)
    )


@bp.post("/review/listings/<entry_id>/publish")
@requires(StaffRole.REVIEWER)
def review_listing_publish(entry_id: str) -> ResponseReturnValue:
    entry = _entry_or_404(entry_id)
    return _publish(
        entry, listings.Role.REVIEWER, url_for("console.review_listing", entry_id=entry.id)
    )


@bp.get("/subjects/<subject_id>")
@requires(StaffRole.REVIEWER)
def subject_page(subject_id: str) -> ResponseReturnValue:
    """A subject as staff see it: who receives its notices, every list entry in any state,
    and for an entry in its notice stage what the subject is told and how it may object."""
    try:
        subject = get_by_id(db.session, Subject, subject_id, what="subject")
    except NotFound:
        abort(404)
    calendar = _policy().calendar
    entries = list(
        db.session.scalars(
            sa.select(ListEntry)
            .where(ListEntry.subject_id == subject.id)
            .order_by(ListEntry.proposed_at.desc())
        )
    )
    return render_template(
        "console/subject.html",
        subject=subject,
        representatives=_representatives(subject),
        entries=entries,
        pending=[e.pending_view(calendar) for e in entries if e.state == ListingState.NOTICE],
        notices={str(e.id): e.notice_view(calendar) for e in entries},
        channels=_channel_labels(),
        counter=_counter(subject, entries) if subject.kind == SubjectKind.PERSON else None,
    )


def _counter(subject: Subject, entries: list[ListEntry]) -> dict[str, Any]:
    """What the registry's counter works with for a person, who has no member: the records
    about them (those held until they are told first), the objections about them, and the
    items they may object to."""
    records = list(
        db.session.scalars(
            sa.select(CreditRecord)
            .where(CreditRecord.subject_id == subject.id)
            .order_by(CreditRecord.held_for_notice.desc(), CreditRecord.created_at.desc())
        )
    )
    filed = list(
        db.session.scalars(
            sa.select(objections.Objection)
            .where(objections.Objection.subject_id == subject.id)
            .order_by(objections.Objection.filed_at.desc())
        )
    )
    policy = person_notices.policy_from_settings(current_runtime().settings)
    objectable = [(f"record:{r.id}", r) for r in records if r.status == "active"] + [
        (f"list_entry:{e.id}", e)
        for e in entries
        if e.state in (ListingState.NOTICE, ListingState.PUBLISHED)
    ]
    return {
        "records": records,
        "objections": filed,
        "objectable": objectable,
        "shared_from": {r.id: person_notices.shared_from(r, policy) for r in records},
        "notice_channels": [str(c) for c in person_notices.Channel],
    }


def _person_or_404(subject_id: str) -> Subject:
    try:
        subject = get_by_id(db.session, Subject, subject_id, what="subject")
    except NotFound:
        abort(404)
    if subject.kind != SubjectKind.PERSON:
        abort(404)
    return subject


@bp.post("/subjects/<subject_id>/objections")
@requires(StaffRole.REVIEWER)
def object_for_person(subject_id: str) -> ResponseReturnValue:
    """A person's objection, filed at the counter after an identity check."""
    person = _person_or_404(subject_id)
    item_kind, _colon, item_id = _form("item").partition(":")
    return _act(
        lambda: objections.object_for_person(
            db.session,
            staff=_me().actor,
            person=person,
            item_kind=item_kind,
            item_id=item_id,
            grounds=_form("grounds"),
            statement=_form("statement") or None,
            identity_check=_form("identity_check"),
            answer_days=objections.answer_days_from_settings(current_runtime().settings),
            at=_now(),
        ),
        _("The objection is filed; the item is disputed."),
        url_for("console.subject_page", subject_id=person.id),
    )


@bp.post("/subjects/<subject_id>/objections/<objection_id>/statement")
@requires(StaffRole.REVIEWER)
def statement_for_person(subject_id: str, objection_id: str) -> ResponseReturnValue:
    """A person's statement beside an objection about them, after an identity check."""
    person = _person_or_404(subject_id)
    objection = _objection_or_404(objection_id)
    return _act(
        lambda: objections.statement_for_person(
            db.session,
            objection,
            staff=_me().actor,
            person=person,
            statement=_form("statement"),
            identity_check=_form("identity_check"),
            at=_now(),
        ),
        _("The statement is recorded."),
        url_for("console.subject_page", subject_id=person.id),
    )


@bp.post("/subjects/<subject_id>/records/<record_id>/notice")
@requires(StaffRole.REVIEWER)
def person_notice_served(subject_id: str, record_id: str) -> ResponseReturnValue:
    """The registry's own notice to a person of a record held until they are told."""
    person = _person_or_404(subject_id)
    back = url_for("console.subject_page", subject_id=person.id)

    def step() -> None:
        record = get_by_id(db.session, CreditRecord, record_id, what="credit record")
        if record.subject_id != person.id:
            raise NotFound("no such record about this person")
        served_on = _form_date("served_on")
        if served_on is None:
            message = _("required")  # outside the call, as in _form_count
            raise InvalidInput("the form is not complete", {"served_on": [message]})
        person_notices.record_registry_notice(
            db.session,
            actor=_me().actor,
            record=record,
            channel=_form("channel"),
            served_on=served_on,
            policy=person_notices.policy_from_settings(current_runtime().settings),
            at=_now(),
        )

    return _act(step, _("The notice is recorded."), back)


def _entry_or_404(entry_id: str) -> ListEntry:
    try:
        return listings.get_entry(db.session, entry_id)
    except NotFound:
        abort(404)


@bp.post("/review/listings/<entry_id>/review")
@requires(StaffRole.REVIEWER)
def review_listing_action(entry_id: str) -> ResponseReturnValue:
    entry = _entry_or_404(entry_id)
    me = _me()
    runtime = current_runtime()
    decision = _form("decision")
    if decision not in ("approve", "reject"):
        abort(400)
    return _act(
        lambda: listings.review(
            db.session,
            entry,
            reviewer=me.actor,
            approve=decision == "approve",
            reason=_form("reason"),
            policy=listings.policy_from_settings(runtime.settings),
            at=runtime.clock.now(),
            reviewer_regulator_id=me.staff.regulator_member_id,
            notifications=Notices(),
        ),
        _("Your review is recorded."),
        url_for("console.review_listing", entry_id=entry.id),
    )


@bp.post("/review/listings/<entry_id>/objections/<objection_id>")
@requires(StaffRole.REVIEWER)
def answer_objection(entry_id: str, objection_id: str) -> ResponseReturnValue:
    entry = _entry_or_404(entry_id)
    decision = _form("decision")
    if decision not in ("uphold", "dismiss"):
        abort(400)
    return _act(
        lambda: listings.answer_objection(
            db.session,
            entry,
            objection_id,
            reviewer=_me().actor,
            upheld=decision == "uphold",
            answer=_form("answer"),
            at=_now(),
        ),
        _("The objection is answered."),
        url_for("console.review_listing", entry_id=entry.id),
    )


# --- reviewers: repair applications ------------------------------------------------------------


@bp.get("/review/repairs")
@requires(StaffRole.REVIEWER)
def review_repairs() -> ResponseReturnValue:
    """Applications to acknowledge, and every late one: an authority that has not decided
    in time is the reviewers' to chase."""
    applications = db.session.scalars(
        sa.select(RepairApplication)
        .where(sa.or_(RepairApplication.status == "filed", repairs.late_applications()))
        .order_by(RepairApplication.escalated_at.is_(None), RepairApplication.filed_at)
    ).all()
    return render_template(
        "console/repairs.html",
        applications=applications,
        deciding=False,
        today=local_date(current_runtime().clock.now()),
    )


@bp.post("/review/repairs/<application_id>/acknowledge")
@requires(StaffRole.REVIEWER)
def acknowledge_repair(application_id: str) -> ResponseReturnValue:
    application = _application_or_404(application_id)
    runtime = current_runtime()
    return _act(
        lambda: listings.acknowledge_repair(
            db.session,
            application,
            actor=_me().actor,
            policy=listings.policy_from_settings(runtime.settings),
            at=runtime.clock.now(),
        ),
        _("The application is acknowledged; the authority's decision period starts."),
        url_for("console.review_repairs"),
    )


def _application_or_404(application_id: str) -> RepairApplication:
    try:
        return get_by_id(db.session, RepairApplication, application_id, what="repair application")
    except NotFound:
        abort(404)


# --- reviewers: credit ratings -----------------------------------------------------------------


RATINGS_PAGE_SIZE = 100


def _queue_filter(grades: list[str]) -> tuple[ratings.QueueFilter, dict[str, Any]]:
    """The queue's filters as the reviewer chose them; a value the form does not offer is
    dropped (the page shows what it filtered by)."""
    args = {
        name: (request.args.get(name) or "").replace("\x00", "").strip()[:100]
        for name in ("grade", "change", "kind", "region", "name", "status")
    }
    offered = {
        "grade": grades,
        "change": [str(c) for c in ratings.GradeChange],
        "kind": [str(k) for k in SubjectKind],
        "status": [str(s) for s in ratings.OPEN],
    }
    for name, values in offered.items():
        if args[name] not in values:
            args[name] = ""
    if not (args["region"].isascii() and args["region"].isdigit()):
        args["region"] = ""  # a GB/T 2260 code, or the first digits of one
    wanted = ratings.QueueFilter(
        grade=args["grade"] or None,
        change=ratings.GradeChange(args["change"]) if args["change"] else None,
        kind=args["kind"] or None,
        region=args["region"][:6] or None,
        name=args["name"] or None,
        status=ratings.RatingStatus(args["status"]) if args["status"] else None,
    )
    return wanted, {k: v for k, v in args.items() if v}


@bp.get("/review/ratings")
@requires(StaffRole.REVIEWER)
def review_ratings() -> ResponseReturnValue:
    """The open proposals a page at a time, oldest first, with filters; those whose grade is
    the one published now can be approved together."""
    grades = list(ratings.scorecard_from_settings(current_runtime().settings).grade_order)
    wanted, args = _queue_filter(grades)
    try:
        page, total = ratings.queue_page(
            db.session, wanted, after=request.args.get("after") or None, size=RATINGS_PAGE_SIZE
        )
    except ValueError:  # a page token cut short or edited: the first page
        page, total = ratings.queue_page(db.session, wanted, after=None, size=RATINGS_PAGE_SIZE)
    queue = page.items
    return render_template(
        "console/ratings.html",
        queue=queue,
        total=total,
        subjects=_subjects({r.subject_id for r in queue}),
        published=ratings.published_grades(db.session, [r.subject_id for r in queue]),
        args=args,
        grades=grades,
        kinds=[str(k) for k in SubjectKind],
        next_page=url_for("console.review_ratings", **args, after=page.next) if page.next else None,
        first_page=url_for("console.review_ratings", **args) if "after" in request.args else None,
        here=request.full_path,
    )


@bp.post("/review/ratings/approve-unchanged")
@requires(StaffRole.REVIEWER)
def review_ratings_approve_unchanged() -> ResponseReturnValue:
    """Approve the chosen proposals whose grade is unchanged, with one reason
    (``registry.ratings.approve_unchanged``: each is audited on its own)."""
    back = safe_next(request.form.get("next"), url_for("console.review_ratings"))
    try:
        approved, left = ratings.approve_unchanged(
            db.session,
            request.form.getlist("rating_id"),
            reviewer=_me().actor,
            reason=_form("reason"),
            at=_now(),
        )
    except RegistryError as exc:
        _refused(exc)
        return redirect(back, code=303)
    flash(_("%(count)s proposals approved.", count=len(approved)), "ok")
    if left:
        flash(
            _(
                "%(count)s left in the queue: their grade is not the published one, or they "
                "were decided meanwhile.",
                count=len(left),
            ),
            "error",
        )
    return redirect(back, code=303)


def _subjects(ids: set[uuid.UUID]) -> dict[uuid.UUID, Subject]:
    if not ids:
        return {}
    return {s.id: s for s in db.session.scalars(sa.select(Subject).where(Subject.id.in_(ids)))}


@bp.get("/review/ratings/<rating_id>")
@requires(StaffRole.REVIEWER)
def review_rating(rating_id: str) -> ResponseReturnValue:
    try:
        rating = ratings.get_rating(db.session, rating_id)
    except NotFound:
        abort(404)
    card = ratings.scorecard_from_settings(current_runtime().settings)
    return render_template(
        "console/rating.html",
        rating=rating,
        view=rating.summary(),
        subject=db.session.get(Subject, rating.subject_id),
        grades=list(card.grade_order),
        history=_history("subject_rating", str(rating.id)),
        earlier=[
            r.summary(explanation=False) for r in ratings.history(db.session, rating.subject_id)
        ],
    )


@bp.post("/review/ratings/<rating_id>")
@requires(StaffRole.REVIEWER)
def review_rating_action(rating_id: str) -> ResponseReturnValue:
    try:
        rating = ratings.get_rating(db.session, rating_id)
    except NotFound:
        abort(404)
    me, now = _me(), _now()
    card = ratings.scorecard_from_settings(current_runtime().settings)
    action = _form("action")
    steps: dict[str, Callable[[], object]] = {
        "approve": lambda: ratings.approve(db.session, rating, reviewer=me.actor, at=now),
        "override": lambda: ratings.override(
            db.session,
            rating,
            reviewer=me.actor,
            grade=_form("grade"),
            reason=_form("reason"),
            scorecard=card,
            at=now,
            second_review_from=current_runtime().settings.RATING_SECOND_REVIEW_FROM_GRADES,
        ),
        "confirm": lambda: ratings.second_review(
            db.session,
            rating,
            reviewer=me.actor,
            confirm=True,
            reason=_form("reason") or None,
            at=now,
        ),
        "refuse": lambda: ratings.second_review(
            db.session, rating, reviewer=me.actor, confirm=False, reason=_form("reason"), at=now
        ),
    }
    if action not in steps:
        abort(400)
    return _act(
        steps[action],
        _("The rating decision is recorded."),
        url_for("console.review_rating", rating_id=rating.id),
    )


# --- reviewers: rating appeals -----------------------------------------------------------------


def _appeal_or_404(appeal_id: str) -> ratings.RatingAppeal:
    try:
        return ratings.get_appeal(db.session, appeal_id)
    except NotFound:
        abort(404)


@bp.get("/review/appeals")
@requires(StaffRole.REVIEWER)
def review_appeals() -> ResponseReturnValue:
    appeals = ratings.open_appeals(db.session)
    rated = {
        r.id: r
        for r in db.session.scalars(
            sa.select(ratings.SubjectRating).where(
                ratings.SubjectRating.id.in_({a.rating_id for a in appeals})
            )
        )
    }
    subjects = _subjects({r.subject_id for r in rated.values()})
    return render_template("console/appeals.html", appeals=appeals, rated=rated, subjects=subjects)


@bp.get("/review/appeals/<appeal_id>")
@requires(StaffRole.REVIEWER)
def review_appeal(appeal_id: str) -> ResponseReturnValue:
    appeal = _appeal_or_404(appeal_id)
    rating = ratings.get_rating(db.session, appeal.rating_id)
    card = ratings.scorecard_from_settings(current_runtime().settings)
    return render_template(
        "console/appeal.html",
        appeal=appeal,
        rating=rating,
        view=rating.summary(),
        subject=db.session.get(Subject, rating.subject_id),
        grades=list(card.grade_order),
        history=_merged(
            _history("rating_appeal", str(appeal.id)), _history("subject_rating", str(rating.id))
        ),
        earlier=[
            r.summary(explanation=False) for r in ratings.history(db.session, rating.subject_id)
        ],
    )


@bp.post("/review/appeals/<appeal_id>")
@requires(StaffRole.REVIEWER)
def review_appeal_action(appeal_id: str) -> ResponseReturnValue:
    appeal = _appeal_or_404(appeal_id)
    decision = _form("decision")
    if decision not in ("uphold", "amend"):
        abort(400)
    grade = _form("grade") if decision == "amend" else None
    card = ratings.scorecard_from_settings(current_runtime().settings)

    def decide() -> None:
        if decision == "amend" and not grade:
            raise InvalidInput("an amendment needs a grade", {"grade": ["required"]})
        ratings.decide_appeal(
            db.session,
            appeal,
            reviewer=_me().actor,
            grade=grade,
            reason=_form("reason"),
            scorecard=card,
            at=_now(),
            second_review_from=current_runtime().settings.RATING_SECOND_REVIEW_FROM_GRADES,
        )

    return _act(
        decide,
        _("The appeal decision is recorded."),
        url_for("console.review_appeal", appeal_id=appeal.id),
    )


# --- reviewers: escalated objections to records and published entries --------------------------


def _objection_or_404(objection_id: str) -> objections.Objection:
    try:
        return objections.get_objection(db.session, objection_id)
    except NotFound:
        abort(404)


@bp.get("/review/escalated")
@requires(StaffRole.REVIEWER)
def review_escalated() -> ResponseReturnValue:
    queue = objections.queue(db.session)
    subjects = _subjects({o.subject_id for o in queue})
    return render_template("console/escalated.html", queue=queue, subjects=subjects)


@bp.get("/review/escalated/<objection_id>")
@requires(StaffRole.REVIEWER)
def review_escalated_objection(objection_id: str) -> ResponseReturnValue:
    objection = _objection_or_404(objection_id)
    item = objections.find_item(db.session, objection.item_kind, objection.item_id)
    item_type = "credit_record" if item.record is not None else "list_entry"
    return render_template(
        "console/escalated_objection.html",
        objection=objection,
        view=objection.view(),
        item=item,
        entry_view=item.entry.summary(_policy().calendar) if item.entry is not None else None,
        outcomes=[str(o) for o in objections.Outcome],
        history=_merged(
            _history("objection", str(objection.id)), _history(item_type, str(item.id))
        ),
    )


@bp.post("/review/escalated/<objection_id>")
@requires(StaffRole.REVIEWER)
def decide_escalated_objection(objection_id: str) -> ResponseReturnValue:
    objection = _objection_or_404(objection_id)
    me = _me()
    return _act(
        lambda: objections.decide(
            db.session,
            objection,
            reviewer=me.actor,
            reviewer_regulator_id=me.staff.regulator_member_id,
            outcome=_form("outcome"),
            reason=_form("reason"),
            at=_now(),
        ),
        _("The objection is decided."),
        url_for("console.review_escalated_objection", objection_id=objection.id),
    )


# --- reviewers: flagged seller ratings ---------------------------------------------------------


@bp.get("/review/sellers")
@requires(StaffRole.REVIEWER)
def review_sellers() -> ResponseReturnValue:
    queue = seller_ratings.review_queue(db.session, limit=100)
    return render_template("console/sellers.html", queue=queue)


@bp.get("/review/sellers/<rating_id>")
@requires(StaffRole.REVIEWER)
def review_seller(rating_id: str) -> ResponseReturnValue:
    try:
        rating = seller_ratings.get_rating(db.session, rating_id)
    except NotFound:
        abort(404)
    return render_template(
        "console/seller_rating.html",
        view=rating.reviewer_view(),
        history=_history("seller_rating", str(rating.id)),
    )


@bp.post("/review/sellers/<rating_id>")
@requires(StaffRole.REVIEWER)
def review_seller_action(rating_id: str) -> ResponseReturnValue:
    try:
        rating = seller_ratings.get_rating(db.session, rating_id)
    except NotFound:
        abort(404)
    decision = _form("decision")
    if decision not in ("kept", "excluded"):
        abort(400)
    return _act(
        lambda: seller_ratings.decide(
            db.session,
            rating,
            reviewer=_me().actor,
            decision=seller_ratings.ReviewState(decision),
            reason=_form("reason"),
            at=_now(),
        ),
        _("The decision is recorded."),
        url_for("console.review_seller", rating_id=rating.id),
    )


# --- regulator staff -------------------------------------------------------------------------


def _my_regulator() -> uuid.UUID:
    regulator = _me().staff.regulator_member_id
    if regulator is None:
        abort(403)
    return regulator


def _own_entry_or_404(entry_id: str) -> ListEntry:
    entry = _entry_or_404(entry_id)
    if entry.proposer_member_id != _my_regulator():
        abort(404)  # another regulator's entry does not exist for this account
    return entry


@bp.get("/regulator/listings")
@requires(StaffRole.REGULATOR)
def regulator_listings() -> ResponseReturnValue:
    entries = db.session.scalars(
        sa.select(ListEntry)
        .where(ListEntry.proposer_member_id == _my_regulator())
        .order_by(ListEntry.proposed_at.desc())
    ).all()
    return render_template("console/regulator_listings.html", entries=entries)


@bp.route("/regulator/listings/new", methods=["GET", "POST"])
@requires(StaffRole.REGULATOR)
def propose_listing() -> ResponseReturnValue:
    regulator = db.session.get(Member, _my_regulator())
    assert regulator is not None
    values = {"authority": regulator.name, "list": "serious_illegal"} | request.form.to_dict()
    chosen = request.form.getlist("measures")
    policy = listings.policy_from_settings(current_runtime().settings)
    form = {
        "values": values,
        "list_kinds": [str(kind) for kind in listings.ListKind],
        "catalogue": list(policy.measures.measures.values()),
        "chosen_measures": chosen,
    }
    if request.method == "GET":
        return render_template("console/propose.html", errors={}, measure_errors=[], **form)
    runtime = current_runtime()
    uscc = normalize_uscc(_form("uscc"))
    subject = db.session.scalar(sa.select(Subject).where(Subject.uscc == uscc))
    try:
        if subject is None:
            message = _("no enterprise with this USCC")  # outside the call, as in _form_count
            raise InvalidInput("the listing cannot be proposed", {"uscc": [message]})
        entry = listings.propose_listing(
            db.session,
            actor=_me().actor,
            proposer_member_id=regulator.id,
            subject=subject,
            list_kind=_form("list"),
            authority=_form("authority"),
            reason=_form("reason"),
            legal_basis=_form("legal_basis"),
            document_number=_form("document_number"),
            measures=chosen,
            period_months=_form_count("period_months"),
            notice_to=_form("notice_to") or None,
            policy=policy,
            at=runtime.clock.now(),
        )
    except RegistryError as exc:
        db.session.rollback()
        errors = _worded_errors(exc)
        # The boxes are one field on the form: its errors (measures.<position>) go together.
        measure_errors = [
            message
            for name, messages in errors.items()
            if name == "measures" or name.startswith("measures.")
            for message in messages
        ]
        return render_template(
            "console/propose.html",
            errors=errors,
            measure_errors=measure_errors,
            detail=_worded(exc.detail),
            **form,
        ), 422
    flash(_("The listing is proposed and waits for review."), "ok")
    return redirect(url_for("console.regulator_listing", entry_id=entry.id), code=303)


@bp.get("/regulator/listings/<entry_id>")
@requires(StaffRole.REGULATOR)
def regulator_listing(entry_id: str) -> ResponseReturnValue:
    return _listing_page(_own_entry_or_404(entry_id), reviewer=False)


@bp.post("/regulator/listings/<entry_id>/<action>")
@requires(StaffRole.REGULATOR)
def regulator_listing_action(entry_id: str, action: str) -> ResponseReturnValue:
    """Withdraw (before publication), extend or revoke one of our own entries, with a reason;
    record the service of its notice, or publish it once the window has closed. Another
    regulator's entry is a 404, as on its page."""
    entry = _own_entry_or_404(entry_id)
    me, regulator = _me(), _my_regulator()
    reason = _form("reason")
    back = url_for("console.regulator_listing", entry_id=entry.id)
    if action == "service":
        return _record_service(entry, listings.Role.PROPOSER, back)
    if action == "publish":
        return _publish(entry, listings.Role.PROPOSER, back)

    def extend() -> None:
        listings.extend(
            db.session,
            entry,
            actor=me.actor,
            months=_form_count("months") or 0,
            reason=reason,
            policy=_policy(),
            at=_now(),
            acting_for=regulator,
        )

    steps: dict[str, tuple[Callable[[], object], str]] = {
        "withdraw": (
            lambda: listings.withdraw(
                db.session, entry, actor=me.actor, reason=reason, at=_now(), acting_for=regulator
            ),
            _("The entry is withdrawn."),
        ),
        "extend": (extend, _("The publication period is extended.")),
        "revoke": (
            lambda: listings.revoke(
                db.session,
                entry,
                actor=me.actor,
                role=listings.Role.PROPOSER,
                reason=reason,
                at=_now(),
                acting_for=regulator,
            ),
            _("The entry is revoked and taken down."),
        ),
    }
    if action not in steps:
        abort(404)
    step, done = steps[action]
    return _act(step, done, back)


@bp.get("/regulator/repairs")
@requires(StaffRole.REGULATOR)
def regulator_repairs() -> ResponseReturnValue:
    """Acknowledged applications this regulator decides: for the entries it proposed and
    the penalties it submitted."""
    mine = _my_regulator()
    applications = db.session.scalars(
        sa.select(RepairApplication)
        .outerjoin(ListEntry, ListEntry.id == RepairApplication.entry_id)
        .outerjoin(CreditRecord, CreditRecord.id == RepairApplication.record_id)
        .where(
            sa.or_(ListEntry.proposer_member_id == mine, CreditRecord.member_id == mine),
            RepairApplication.status == "acknowledged",
        )
        .order_by(RepairApplication.decide_by)
    ).all()
    return render_template(
        "console/repairs.html",
        applications=applications,
        deciding=True,
        today=local_date(current_runtime().clock.now()),
    )


@bp.post("/regulator/repairs/<application_id>/decide")
@requires(StaffRole.REGULATOR)
def decide_repair(application_id: str) -> ResponseReturnValue:
    application = _application_or_404(application_id)
    if application.entry_id is not None:
        _own_entry_or_404(str(application.entry_id))
    else:
        penalty = db.session.get(CreditRecord, application.record_id)
        if penalty is None or penalty.member_id != _my_regulator():
            abort(404)
    decision = _form("decision")
    if decision not in ("grant", "refuse"):
        abort(400)
    return _act(
        lambda: listings.decide_repair(
            db.session,
            application,
            actor=_me().actor,
            grant=decision == "grant",
            reason=_form("reason"),
            at=_now(),
            acting_for=_my_regulator(),
        ),
        _("The repair decision is recorded."),
        url_for("console.regulator_repairs"),
    )


# --- administrators ----------------------------------------------------------------------------


MEMBERS_PAGE_SIZE = 50


def _members_page(
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    detail: str | None = None,
) -> str:
    """Members as a table, a page at a time in the order of their names (then ids), with
    each member's id and active keys; a member's keys are on its own page."""
    order = (paging.Key(Member.name), paging.Key(Member.id))
    try:
        page = paging.keyset_page(
            db.session,
            sa.select(Member),
            order,
            after=request.args.get("after"),
            size=MEMBERS_PAGE_SIZE,
        )
    except ValueError:  # a page token cut short or edited: the first page
        page = paging.keyset_page(
            db.session, sa.select(Member), order, after=None, size=MEMBERS_PAGE_SIZE
        )
    members = page.items
    active_keys = dict(
        db.session.execute(
            sa.select(MemberKey.member_id, sa.func.count())
            .where(
                MemberKey.member_id.in_([m.id for m in members]),
                MemberKey.status != KeyStatus.REVOKED,
                MemberKey.valid_from <= _now(),
                sa.or_(MemberKey.valid_until.is_(None), MemberKey.valid_until > _now()),
            )
            .group_by(MemberKey.member_id)
        )
        .tuples()
        .all()
    )
    return render_template(
        "console/members.html",
        members=members,
        active_keys=active_keys,
        next_page=url_for("console.admin_members", after=page.next) if page.next else None,
        total=db.session.scalar(sa.select(sa.func.count()).select_from(Member)),
        kinds=[str(k) for k in MemberKind],
        member_roles=[str(r) for r in MemberRole],
        values=values or {"kind": "bank", "roles": []},
        errors=errors or {},
        detail=detail,
    )


@bp.get("/admin/members")
@requires(StaffRole.ADMIN)
def admin_members() -> ResponseReturnValue:
    return _members_page()


@bp.get("/admin/members/<member_id>")
@requires(StaffRole.ADMIN)
def admin_member(member_id: str) -> ResponseReturnValue:
    """One member: what it is, its keys (revoke one with a reason), and the form to register
    another."""
    try:
        member = get_member(db.session, member_id)
    except NotFound:
        abort(404)
    return render_template(
        "console/member.html",
        member=member,
        algorithms=[str(a) for a in KeyAlgorithm],
    )


@bp.post("/admin/members")
@requires(StaffRole.ADMIN)
def admin_add_member() -> ResponseReturnValue:
    """Admit a member organisation; the form comes back with the domain's field errors."""
    values: dict[str, Any] = {
        "name": _form("name"),
        "kind": _form("kind"),
        "roles": request.form.getlist("roles"),
        "uscc": _form("uscc"),
        "platform_code": _form("platform_code"),
    }
    try:
        member = add_member(
            db.session,
            actor=_me().actor,
            name=values["name"],
            kind=values["kind"],
            roles=values["roles"],
            uscc=values["uscc"] or None,
            platform_code=values["platform_code"] or None,
            now=_now(),
        )
    except RegistryError as exc:
        db.session.rollback()
        return _members_page(values, _worded_errors(exc), _worded(exc.detail)), 422
    flash(_("%(name)s is admitted.", name=member.name), "ok")
    return redirect(url_for("console.admin_member", member_id=member.id), code=303)


@bp.post("/admin/members/<member_id>/keys")
@requires(StaffRole.ADMIN)
def admin_add_key(member_id: str) -> ResponseReturnValue:
    """Register a member's public key (PEM); its id is the key's JWK thumbprint."""
    try:
        member = get_member(db.session, member_id)
    except NotFound:
        abort(404)
    back = url_for("console.admin_member", member_id=member.id)
    try:
        key = add_key(
            db.session,
            actor=_me().actor,
            member=member,
            public_key_pem=request.form.get("public_key") or "",
            algorithm=_form("algorithm") or KeyAlgorithm.ED25519,
            now=_now(),
        )
    except RegistryError as exc:
        _refused(exc)
        return redirect(back, code=303)
    # The thumbprint is public (it names the key in every signature), so a flash may carry it.
    flash(_("The key is registered. Its key id: %(key_id)s", key_id=key.id), "ok")
    return redirect(back, code=303)


@bp.post("/admin/keys/<key_id>/revoke")
@requires(StaffRole.ADMIN)
def admin_revoke_key(key_id: str) -> ResponseReturnValue:
    key = db.session.get(MemberKey, key_id)
    if key is None:
        abort(404)
    return _act(
        lambda: revoke_key(
            db.session, actor=_me().actor, key_id=key_id, reason=_form("reason"), now=_now()
        ),
        _("The key is revoked."),
        url_for("console.admin_member", member_id=key.member_id),
    )


def _staff_page(
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    detail: str | None = None,
) -> str:
    users = db.session.scalars(sa.select(StaffUser).order_by(StaffUser.username)).all()
    regulators = [
        m
        for m in db.session.scalars(
            sa.select(Member).where(Member.kind == MemberKind.REGULATOR).order_by(Member.name)
        )
        if m.has_role(MemberRole.REGULATOR)
    ]
    return render_template(
        "console/staff.html",
        users=users,
        held_back=staff_auth.held_back(
            db.session, current_runtime().vault, [u.username for u in users], _now()
        ),
        staff_roles=[str(r) for r in StaffRole],
        regulators=regulators,
        values=values or {"roles": []},
        errors=errors or {},
        detail=detail,
    )


def _staff_or_404(user_id: str) -> StaffUser:
    try:
        return get_by_id(db.session, StaffUser, user_id, what="staff user")
    except NotFound:
        abort(404)


def _one_time(user: StaffUser, **shown: str | bool) -> str:
    """The page that shows a secret once: rendered in the answer to the POST itself (never
    flashed: the session cookie is signed, not encrypted) and never stored in clear."""
    return render_template("console/staff_secret.html", user=user, **shown)


@bp.get("/admin/staff")
@requires(StaffRole.ADMIN)
def admin_staff() -> ResponseReturnValue:
    return _staff_page()


@bp.post("/admin/staff")
@requires(StaffRole.ADMIN)
def admin_add_staff() -> ResponseReturnValue:
    """Create a staff account with a random initial password, shown once to the administrator
    to hand over: nobody picks a weak one, and only its Argon2id hash is kept. The person must
    replace it with their own at their first sign-in."""
    values: dict[str, Any] = {
        "username": _form("username"),
        "display_name": _form("display_name"),
        "roles": request.form.getlist("roles"),
        "regulator_member": _form("regulator_member"),
    }
    regulator = None
    if values["regulator_member"]:
        try:
            regulator = get_member(db.session, values["regulator_member"])
        except NotFound:
            regulator = None
    password = staff_auth.new_password()
    runtime = current_runtime()
    try:
        if values["regulator_member"] and regulator is None:
            raise InvalidInput(
                "the staff account cannot be created", {"regulator_member": ["no such member"]}
            )
        user = add_staff_user(
            db.session,
            actor=_me().actor,
            passwords=runtime.passwords,
            username=values["username"],
            password=password,
            roles=values["roles"],
            display_name=values["display_name"] or None,
            regulator_member=regulator,
            password_change_required=True,
            now=runtime.clock.now(),
        )
    except RegistryError as exc:
        db.session.rollback()
        return _staff_page(values, _worded_errors(exc), _worded(exc.detail)), 422
    return _one_time(user, password=password)


@bp.post("/admin/staff/<user_id>/unlock")
@requires(StaffRole.ADMIN)
def admin_unlock_staff(user_id: str) -> ResponseReturnValue:
    user = _staff_or_404(user_id)
    return _act(
        lambda: staff_auth.unlock(
            db.session, user, vault=current_runtime().vault, actor=_me().actor, now=_now()
        ),
        _("%(username)s is unlocked.", username=user.username),
        url_for("console.admin_staff"),
    )


@bp.post("/admin/staff/<user_id>/password")
@requires(StaffRole.ADMIN)
def admin_reset_password(user_id: str) -> ResponseReturnValue:
    """A new random password for the account, shown once; the person's sessions end and they
    must choose their own at the next sign-in."""
    user = _staff_or_404(user_id)
    try:
        password = staff_auth.reset_password(
            db.session,
            user,
            actor=_me().actor,
            passwords=current_runtime().passwords,
            vault=current_runtime().vault,
            now=_now(),
        )
    except RegistryError as exc:
        _refused(exc)
        return redirect(url_for("console.admin_staff"), code=303)
    return _one_time(user, password=password, reset=True)


@bp.post("/admin/staff/<user_id>/totp")
@requires(StaffRole.ADMIN)
def admin_enroll_totp(user_id: str) -> ResponseReturnValue:
    """A new TOTP seed for the account (replacing any), shown once as a secret and an
    ``otpauth://`` URI for the user's authenticator app."""
    user = _staff_or_404(user_id)
    try:
        secret = staff_auth.enroll_totp(
            db.session, user, vault=current_runtime().vault, actor=_me().actor, now=_now()
        )
    except RegistryError as exc:
        _refused(exc)
        return redirect(url_for("console.admin_staff"), code=303)
    return _one_time(
        user, totp_secret=secret, totp_uri=totp.provisioning_uri(secret, user.username)
    )


@bp.get("/admin/settings")
@requires(StaffRole.ADMIN)
def admin_settings() -> ResponseReturnValue:
    settings = current_runtime().settings
    return render_template(
        "console/settings.html",
        profile=settings.profile,
        values=settings.redacted(),
        sources=settings.sources,
    )


AUDIT_PAGE = 100
# An export is one response built in memory: past this, the page says to narrow the dates.
AUDIT_EXPORT_MAX = 100_000
AUDIT_ORDER = (
    paging.Key(AuditEvent.occurred_at, descending=True),
    paging.Key(AuditEvent.id, descending=True),
)
AUDIT_FILTERS = ("action", "object_type", "object_id", "actor_id", "since", "until")
AUDIT_COLUMNS = (
    "occurred_at", "action", "object_type", "object_id", "actor_kind", "actor_id", "reason",
    "before", "after", "chain_seq",
)  # fmt: skip


def _audit_search() -> tuple[sa.Select[Any], dict[str, str], list[str]]:
    """The events the filters of the audit page select, the filters, and those not read."""
    args = {k: (request.args.get(k) or "").replace("\x00", "").strip() for k in AUDIT_FILTERS}
    query = sa.select(AuditEvent)
    if args["action"]:
        query = query.where(AuditEvent.action.startswith(args["action"], autoescape=True))
    for name in ("object_type", "object_id", "actor_id"):
        if args[name]:
            query = query.where(getattr(AuditEvent, name) == args[name])
    errors = []
    for name, op in (("since", "ge"), ("until", "lt")):
        if args[name]:
            try:
                day = datetime.fromisoformat(args[name]).replace(tzinfo=_now().tzinfo)
            except ValueError:
                errors.append(name)
                continue
            column = AuditEvent.occurred_at
            query = query.where(column >= day if op == "ge" else column < day + timedelta(days=1))
    return query, args, errors


def _audit_row(event: AuditEvent) -> dict[str, Any]:
    """An event as the page and the export show it. Events are written without ID numbers,
    but a reason is typed by people (a counter clerk noting the card checked): anything in
    the text that reads as a resident ID number is masked on the way out."""

    def text(value: Any) -> str | None:
        if value is None:
            return None
        plain = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return mask_id_numbers(plain)

    return {
        "occurred_at": event.occurred_at.isoformat(),
        "when": event.occurred_at,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "actor_kind": event.actor_kind,
        "actor_id": event.actor_id,
        "reason": text(event.reason),
        "before": text(event.before),
        "after": text(event.after),
        "chain_seq": event.chain_seq,
    }


@bp.get("/admin/audit")
@requires(StaffRole.ADMIN)
def admin_audit() -> ResponseReturnValue:
    query, args, errors = _audit_search()
    try:
        page = paging.keyset_page(
            db.session, query, AUDIT_ORDER, after=request.args.get("after"), size=AUDIT_PAGE
        )
    except ValueError:  # a page token cut short or edited: the newest events
        page = paging.keyset_page(db.session, query, AUDIT_ORDER, after=None, size=AUDIT_PAGE)
    filters: dict[str, Any] = {k: v for k, v in args.items() if v}
    creation = _creation_of(args["object_type"], args["object_id"])
    return render_template(
        "console/audit.html",
        creation=_audit_row(creation) if creation is not None else None,
        events=[_audit_row(event) for event in page.items],
        args=args,
        errors=errors,
        page=AUDIT_PAGE,
        export_max=AUDIT_EXPORT_MAX,
        export=url_for("console.admin_audit_csv", **filters),
        export_bom=url_for("console.admin_audit_csv", **filters, bom=1),
        next_page=url_for("console.admin_audit", **filters, after=page.next) if page.next else None,
        first_page=url_for("console.admin_audit", **filters) if "after" in request.args else None,
    )


def _creation_of(object_type: str, object_id: str) -> AuditEvent | None:
    """The event that tells how the record or subject the filters name was created (a
    submission's, for one it created: ``registry.provenance``)."""
    if not object_id:
        return None
    for kind in (object_type,) if object_type else ("credit_record", "subject"):
        event = provenance.creation_event(db.session, kind, object_id)
        if event is not None:
            return event
    return None


@bp.get("/admin/audit.csv")
@requires(StaffRole.ADMIN)
def admin_audit_csv() -> ResponseReturnValue:
    """The events the filters select, newest first, as CSV (``bom=1``: with the byte-order
    mark Excel needs to read UTF-8)."""
    query, args, errors = _audit_search()
    if errors:
        abort(400, description=_("Dates are written like 2026-11-25."))
    events = db.session.scalars(
        query.order_by(*(key.ordered() for key in AUDIT_ORDER))
        .limit(AUDIT_EXPORT_MAX)
        .execution_options(yield_per=1000)
    )
    # One record's or subject's history ends (newest first) with how it was created, as the
    # page shows it: the submission's event, when a submission created it (its own event is
    # among the others).
    creation = _creation_of(args["object_type"], args["object_id"])
    last = [creation] if creation is not None and creation.object_id != args["object_id"] else []
    return csv_response(
        AUDIT_COLUMNS,
        (_audit_row(event) for event in itertools.chain(events, last)),
        filename=f"audit-{_now():%Y%m%d-%H%M%S}.csv",
    )


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.register_blueprint(bp)
