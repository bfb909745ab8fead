"""Server-rendered pages: the public home page (and, later, the staff console)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Flask, render_template
from flask.typing import ResponseReturnValue

from registry.db import db
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


def init_app(app: Flask) -> None:
    app.register_blueprint(public)
