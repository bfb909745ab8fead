"""Server-rendered pages: the public home page (and, later, the staff console)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Flask, render_template
from flask.typing import ResponseReturnValue

from registry.db import db
from registry.listings import ListEntry, ListingState
from registry.members import Member
from registry.records import CreditRecord, RecordStatus
from registry.subjects import Subject, SubjectKind

public = Blueprint("public", __name__, template_folder="templates")


@public.get("/")
def home() -> ResponseReturnValue:
    session = db.session
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
        enterprises=by_kind.get(SubjectKind.ENTERPRISE, 0),
        persons=by_kind.get(SubjectKind.PERSON, 0),
        shops=by_kind.get(SubjectKind.SHOP, 0),
        records=records,
        members=members,
    )


LIST_TITLES = {"blacklist": "严重失信主体名单 · Blacklist", "redlist": "守信激励名单 · Redlist"}


@public.get("/lists/<list_kind>")
def list_page(list_kind: str) -> ResponseReturnValue:
    """The published entries of a list, filtered by authority, region and date."""
    from flask import abort, request
    from marshmallow import ValidationError

    from api.listings import PublicListSchema, _published

    if list_kind not in LIST_TITLES:
        abort(404)
    try:
        params = PublicListSchema().load(request.args.to_dict())
        error = None
    except ValidationError as exc:
        params, error = PublicListSchema().load({}), exc.messages
    entries, total = _published(list_kind, params)
    authorities = db.session.scalars(
        sa.select(ListEntry.authority)
        .where(ListEntry.list_kind == list_kind, ListEntry.state == ListingState.PUBLISHED)
        .distinct()
        .order_by(ListEntry.authority)
    ).all()
    return render_template(
        "list.html",
        list_kind=list_kind,
        title=LIST_TITLES[list_kind],
        entries=[entry.public_view() for entry in entries],
        total=total,
        params=params,
        authorities=authorities,
        error=error,
    )


def init_app(app: Flask) -> None:
    from admin import sellers

    app.register_blueprint(public)
    app.register_blueprint(sellers.bp)
