"""One row per (job, time slot): the claim that makes every scheduled run happen once, and its outcome."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ..audit.records import AuditedRecord


class JobRun(SQLModel, table=True):
    """Operational log, not a GMP record: what a job changed is audited on the records it changed."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "slot"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    job: str = Field(max_length=40, index=True)
    slot: datetime  # the scheduled time this run stands for (UTC); a second claim of it fails
    runner: str = Field(max_length=120)
    started_at: datetime
    finished_at: Optional[datetime] = None
    outcome: str = Field(default="running", max_length=10)  # running, ok, failed
    counts: Optional[str] = Field(default=None, sa_column=Column(Text))  # JSON {what: n}
    error: Optional[str] = Field(default=None, sa_column=Column(Text))


class RetainedDisposal(AuditedRecord, table=True):
    """The disposal of a donation's retained sample once its keep-until date has passed."""

    __tablename__ = "retained_disposal"

    id: Optional[int] = Field(default=None, primary_key=True)
    donation_id: int = Field(foreign_key="donation.id", unique=True)
    donation_code: str = Field(max_length=20)
    disposed_on: date
    method: str = Field(max_length=120)
    note: Optional[str] = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return f"{self.donation_code}/RS-disposal"
