"""One row per (job, time slot): the claim that makes every scheduled run happen once, and its outcome."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ..audit.records import AuditedRecord

MAX_TAKEOVERS = 3  # a run whose lease expired this often (it kills every process running it) is left stalled for QA


class JobRun(SQLModel, table=True):
    """Operational log, not a GMP record: what a job changed is audited on the records it changed.

    The claim is a lease (docs/jobs.md "Leases"): ``runner`` is the owner's token (host:pid:random), renewed
    by its heartbeat until ``lease_until``; a running run whose lease expired is stalled and is taken over.
    """

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "slot"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=40, index=True)
    slot: datetime  # the scheduled time this run stands for (UTC); a second claim of it fails
    runner: str = Field(max_length=120)  # the lease owner's token: host:pid:random
    started_at: datetime
    lease_until: datetime  # the owner holds the run until then; renewed by its heartbeat
    heartbeat_at: datetime | None = None
    takeovers: int = Field(default=0)  # times the run was taken over after its lease expired
    taken_over_at: datetime | None = None  # the last takeover
    taken_over_from: str | None = Field(default=None, max_length=120)  # the owner whose lease expired
    finished_at: datetime | None = None
    outcome: str = Field(default="running", max_length=10)  # running, ok, failed
    counts: str | None = Field(default=None, sa_column=Column(Text))  # JSON {what: n}
    error: str | None = Field(default=None, sa_column=Column(Text))

    def stalled(self, now: datetime) -> bool:
        """Still "running" past its lease: its process stopped (or hangs); the next run takes it over."""
        return self.outcome == "running" and self.lease_until < now

    @property
    def given_up(self) -> bool:
        """Taken over MAX_TAKEOVERS times and stalled again: not taken over any more (QA investigates)."""
        return self.takeovers >= MAX_TAKEOVERS


class RetainedDisposal(AuditedRecord, table=True):
    """The disposal of a donation's retained sample once its keep-until date has passed."""

    __tablename__ = "retained_disposal"

    id: int | None = Field(default=None, primary_key=True)
    donation_id: int = Field(foreign_key="donation.id", unique=True)
    donation_code: str = Field(max_length=20)
    disposed_on: date
    method: str = Field(max_length=120)
    note: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return f"{self.donation_code}/RS-disposal"
