"""Lookback cases: a donor's positive finding followed to every affected product and recipient."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Column, Text
from sqlmodel import Field

from ..audit.records import AuditedRecord


class LookbackCase(AuditedRecord, table=True):
    """The scope is stored as opened (start day and its basis); the donations it covers are read live up to now."""

    __tablename__ = "lookback_case"

    id: Optional[int] = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True, index=True)  # LB-2026-0001
    donor_id: int = Field(foreign_key="donor.id", index=True)
    batch_id: Optional[int] = Field(default=None, foreign_key="batch.id")  # a case opened for one batch
    trigger: str = Field(max_length=20)  # result, manual
    trigger_text: str = Field(sa_column=Column(Text, nullable=False))
    result_id: Optional[int] = Field(default=None, foreign_key="screening_result.id")
    finding_date: date
    window_days: int
    scope_start: Optional[date] = None
    scope_basis: str = Field(max_length=30)
    last_negative: Optional[date] = None
    opened_at: datetime
    status: str = Field(default="open", max_length=20)  # open, closed
    conclusion: Optional[str] = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return self.code
