"""Imports every model module so that ``Base.metadata`` describes the whole schema.

Alembic's autogenerate and the models-versus-migrations check read the metadata from here.
"""

from registry import (
    access,
    audit,
    chains,
    listings,
    members,
    monitoring,
    notifications,
    objections,
    outbox,
    querylog,
    ratings,
    records,
    reports,
    retention,
    screening_jobs,
    seller_ratings,
    staff,
    staff_auth,
    subjects,
    submissions,
    tlog,
    webhooks,
    worker,
)
from registry.db import Base
from search import store as search_store

metadata = Base.metadata

__all__ = [
    "access",
    "audit",
    "chains",
    "listings",
    "members",
    "monitoring",
    "notifications",
    "metadata",
    "objections",
    "outbox",
    "querylog",
    "ratings",
    "records",
    "reports",
    "retention",
    "screening_jobs",
    "search_store",
    "seller_ratings",
    "staff",
    "staff_auth",
    "subjects",
    "submissions",
    "tlog",
    "webhooks",
    "worker",
]
