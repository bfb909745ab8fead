"""Screening jobs: large screenings run by ``creditreg worker``, with progress and a result
the member downloads later."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from registry.clock import iso
from registry.db import Base, one_of, uuid_pk


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ScreeningJob(Base):
    __tablename__ = "screening_jobs"
    __table_args__ = (one_of("status", JobStatus),)

    id: Mapped[uuid_pk]
    member_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("members.id"), index=True)
    key_id: Mapped[str] = mapped_column(sa.String(128))
    purpose: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    total_rows: Mapped[int]
    done_rows: Mapped[int] = mapped_column(default=0)
    rows: Mapped[list[Any]] = mapped_column(comment="the checked input rows")
    results: Mapped[list[Any]] = mapped_column(comment="one result per row done so far")
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(sa.Text)

    def progress(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "status": self.status,
            "total_rows": self.total_rows,
            "done_rows": self.done_rows,
            "created_at": iso(self.created_at),
            "finished_at": iso(self.finished_at),
            "error": self.error,
        }
