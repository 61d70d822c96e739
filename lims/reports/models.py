"""A bulk export of batch reports, run in the background; its row carries the progress the page shows."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class ReportExport(SQLModel, table=True):
    """Not a GMP record itself: each report it contains is audited as printed (who, which version, when)."""

    __tablename__ = "report_export"

    id: int | None = Field(default=None, primary_key=True)
    requested_by_id: int = Field(foreign_key="app_user.id")
    requested_by: str = Field(max_length=200)
    language: str = Field(max_length=10)
    from_day: date
    to_day: date
    status: str = Field(default="queued", max_length=20)  # queued, running, done, failed
    total: int = 0
    done: int = 0
    file_name: str | None = Field(default=None, max_length=200)
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime
    finished_at: datetime | None = None
