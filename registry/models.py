"""Imports every model module so that ``Base.metadata`` describes the whole schema.

Alembic's autogenerate and the models-versus-migrations check read the metadata from here.
"""

from registry import access, audit, members, records, staff, subjects, submissions, worker
from registry.db import Base

metadata = Base.metadata

__all__ = [
    "access",
    "audit",
    "members",
    "metadata",
    "records",
    "staff",
    "subjects",
    "submissions",
    "worker",
]
