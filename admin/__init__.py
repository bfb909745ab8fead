"""Server-rendered pages: the public site (home search, subject, list and seller pages) and
the staff console (``admin.console``)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue

from admin.web import list_label
from registry import objections
from registry.clock import local_date
from registry.db import db
from registry.listings import ListEntry, ListingState
from registry.members import Member
from registry.records import CreditRecord, RecordStatus
from registry.subjects import Subject, SubjectKind

public = Blueprint(
    "public",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)


log = logging.getLogger(__name__)

# What the public sees of a search hit: no person is ever searched or shown here.
PUBLIC_KINDS = (SubjectKind.ENTERPRISE, SubjectKind.SHOP)
SEARCH_PAGE_SIZE = 20


@public.get("/")
def home() -> ResponseReturnValue:
    """One search box: enterprises and shops by name, USCC or shop id.

    ---
    get:
      operationId: home
      summary: 'The public home page: a search of enterprises and shops, 20 results a page'
      parameters:
        - name: q
          in: query
          required: false
          schema:
            type: string
          description: a name, USCC or shop id; the page searches its first 200 characters
        - name: after
          in: query
          required: false
          schema:
            type: string
          description: the page token of the results' next-page link
      responses:
        200: HtmlPage
        429: PageRateLimited
    """
    from search.query import SearchQuery, decode_after, encode_after

    session = db.session
    # NUL is never part of a name; PostgreSQL refuses it in a query parameter, which would
    # read as "search unavailable".
    q = (request.args.get("q") or "").replace("\x00", " ").strip()[:200]
    hits: list[dict[str, object]] = []
    total = 0
    unavailable = False
    next_after = None
    after = None
    if request.args.get("after"):
        # The member API's page token (api.subjects). One that does not decode (edited by
        # hand, cut short) starts the results over rather than failing the page.
        try:
            after = decode_after(request.args["after"])
        except ValueError:
            after = None
    if q:
        backend = current_app.extensions["creditreg.search"]
        try:
            result = backend.search(
                SearchQuery(
                    text=q,
                    kinds=tuple(str(k) for k in PUBLIC_KINDS),
                    size=SEARCH_PAGE_SIZE,
                    after=after,
                ),
                session=session,
            )
            hits = [hit.document for hit in result.hits]
            total = result.total
            next_after = encode_after(result.next_after)
        except Exception:  # noqa: BLE001 - any backend failure: say so, keep the page up
            log.warning("search backend failed for a public search", exc_info=True)
            session.rollback()
            unavailable = True
    by_kind = dict(
        session.execute(sa.select(Subject.kind, sa.func.count()).group_by(Subject.kind))
        .tuples()
        .all()
    )
    records = (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(CreditRecord)
            .where(CreditRecord.status == RecordStatus.ACTIVE)
        )
        or 0
    )
    members = session.scalar(sa.select(sa.func.count()).select_from(Member)) or 0
    return render_template(
        "home.html",
        q=q,
        hits=hits,
        total=total,
        paged=after is not None,
        next_after=next_after,
        unavailable=unavailable,
        enterprises=by_kind.get(SubjectKind.ENTERPRISE, 0),
        persons=by_kind.get(SubjectKind.PERSON, 0),
        shops=by_kind.get(SubjectKind.SHOP, 0),
        records=records,
        members=members,
    )


@public.get("/subjects/<subject_id>")
def subject_page(subject_id: str) -> ResponseReturnValue:
    """An enterprise's or a shop's public page. Persons never get one (404, as if absent).

    ---
    get:
      operationId: subjectPage
      summary: An enterprise's or a shop's public page (never a person's)
      responses:
        200: HtmlPage
        429: PageRateLimited
      problems: [404]
    """
    from api.subjects import subject_view
    from registry import retention
    from registry.runtime import current_runtime

    try:
        subject = db.session.get(Subject, uuid.UUID(subject_id))
    except ValueError:
        subject = None
    if subject is None or subject.kind not in PUBLIC_KINDS:
        abort(404)
    runtime = current_runtime()
    today = local_date(runtime.clock.now())
    view = subject_view(db.session, subject)
    # Only what the publication rules let the public see (registry.retention).
    records = db.session.scalars(
        sa.select(CreditRecord)
        .where(
            CreditRecord.subject_id == subject.id,
            retention.publicly_shown(today, retention.policy_from_settings(runtime.settings)),
        )
        .order_by(CreditRecord.decided_at.desc().nulls_last())
        .limit(100)
    ).all()
    platform = (
        db.session.get(Member, subject.platform_member_id) if subject.platform_member_id else None
    )
    # The objection marks beside the items: disputed ones, and the subject's statements.
    entry_ids = [uuid.UUID(entry["id"]) for entry in view["list_entries"]]
    marks = {
        **objections.public_marks(db.session, objections.ItemKind.LIST_ENTRY, entry_ids),
        **objections.public_marks(db.session, objections.ItemKind.RECORD, [r.id for r in records]),
    }
    return render_template(
        "subject.html",
        view=view,
        marks=marks,
        records=records,
        platform=platform,
        explanation=_explanation_bars((view.get("rating") or {}).get("explanation") or []),
    )


def _explanation_bars(explanation: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scorecard's points as bars (positive right, negative left of the middle)."""
    bars = []
    largest = max((abs(float(p.get("points", 0) or 0)) for p in explanation), default=0) or 1
    for index, point in enumerate(explanation[:12]):
        points = float(point.get("points", 0) or 0)
        width = round(150 * abs(points) / largest, 1)
        bars.append(
            {
                "label": str(point.get("rule") or point.get("list") or point.get("kind") or ""),
                "points": points,
                "x": 200 if points >= 0 else 200 - width,
                "y": index * 22,
                "width": width,
            }
        )
    return bars


@public.get("/help/objections-and-repair")
def help_page() -> ResponseReturnValue:
    """How to object to a record or entry, and how to apply for credit repair.

    ---
    get:
      operationId: helpPage
      summary: How to object and apply for repair
      responses:
        200: HtmlPage
        429: PageRateLimited
    """
    return render_template("help.html")


@public.get("/lists/<list_kind>")
def list_page(list_kind: str) -> ResponseReturnValue:
    """The published entries of a list, filtered by authority, region and date.

    ---
    get:
      operationId: listPage
      summary: A public list as a web page, with filters
      parameters:
        - in: query
          schema: PublicListSchema
      responses:
        200: HtmlPage
        429: PageRateLimited
      problems: [404]
    """
    from flask import abort, request
    from marshmallow import ValidationError

    from api.listings import PublicListSchema, _policy, _published, marked_views

    kinds = _policy().list_kinds
    if list_kind not in kinds.public_lists():
        abort(404)
    try:
        params = PublicListSchema().load(request.args.to_dict())
        error = None
    except ValidationError as exc:
        params, error = PublicListSchema().load({}), exc.messages
    try:
        page, total = _published(list_kind, params)
    except ValueError:  # a page token cut short or edited: the first page
        params.pop("after")
        page, total = _published(list_kind, params)
    entries = page.items
    # The links to other pages keep the filters.
    filters: dict[str, Any] = {k: v for k, v in request.args.items() if k not in ("after", "page")}
    authorities = db.session.scalars(
        sa.select(ListEntry.authority)
        .where(
            ListEntry.list_kind.in_(kinds.public_kinds(list_kind)),
            ListEntry.state == ListingState.PUBLISHED,
        )
        .distinct()
        .order_by(ListEntry.authority)
    ).all()
    return render_template(
        "list.html",
        list_kind=list_kind,
        title=list_label(list_kind),
        # The feeds' view, with the repair date as a date: the page words its own sentences.
        entries=[
            {**view, "repair_from": entry.repair_from}
            for entry, view in zip(entries, marked_views(entries), strict=True)
        ],
        total=total,
        params=params,
        next_page=(
            url_for("public.list_page", list_kind=list_kind, **filters, after=page.next)
            if page.next
            else None
        ),
        first_page=(
            url_for("public.list_page", list_kind=list_kind, **filters)
            if "after" in params or "page" in params
            else None
        ),
        authorities=authorities,
        error=error,
    )


def init_app(app: Flask) -> None:
    from admin import console, sellers, web

    web.init_app(app, public_blueprints={public.name, sellers.bp.name})
    app.register_blueprint(public)
    app.register_blueprint(sellers.bp)
    console.init_app(app)
