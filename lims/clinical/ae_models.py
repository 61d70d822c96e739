"""Adverse events, graded by CTCAE and judged for seriousness (ICH E2A) and relatedness."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field

from ..audit.records import AuditedRecord


class AdverseEvent(AuditedRecord, table=True):
    """One adverse event of a recipient; when related to FMT it names the administration, and so unit, batch and donor.

    Term name, SOC and CTCAE version are stored with the code: the record
    must read the same after the catalogue moves to a new version.
    """

    __tablename__ = "adverse_event"
    __table_args__ = (Index("ix_adverse_event_term_grade", "term_code", "grade"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True, index=True)  # AE-0001
    recipient_id: int = Field(foreign_key="recipient.id", index=True)
    recipient_code: str = Field(max_length=12)
    administration_id: int | None = Field(default=None, foreign_key="administration.id", index=True)
    ctcae_version: str = Field(max_length=10)
    term_code: str = Field(max_length=12)
    term: str = Field(max_length=200)
    soc: str = Field(max_length=120)
    grade: int
    description: str | None = Field(default=None, sa_column=Column(Text))
    onset_date: date
    resolved_date: date | None = None
    seriousness: str = Field(default="", max_length=200)  # comma-separated ICH E2A criteria; empty: not serious
    expected: bool | None = None
    attribution_fmt: str = Field(max_length=20)
    attribution_cotherapy: str = Field(max_length=20)
    action_taken: str = Field(max_length=30)
    outcome: str = Field(max_length=30)
    aware_at: datetime
    ethics_due_at: datetime | None = None
    regulatory_due_at: datetime | None = None
    ethics_reported_at: datetime | None = None
    regulatory_reported_at: datetime | None = None

    @property
    def audit_record_id(self) -> str:
        return self.code

    @property
    def criteria(self) -> tuple[str, ...]:
        return tuple(c for c in self.seriousness.split(",") if c)

    @property
    def serious(self) -> bool:
        return bool(self.seriousness)
