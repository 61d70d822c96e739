"""Screening episodes, their results and the signed eligibility decisions."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Column, Text
from sqlmodel import Field

from ..audit.records import AuditedRecord


class Screening(AuditedRecord, table=True):
    """One screening of a donor under one protocol version (kept for ever with it)."""

    __tablename__ = "screening"

    id: int | None = Field(default=None, primary_key=True)
    donor_id: int = Field(foreign_key="donor.id", index=True)
    protocol_id: int = Field(foreign_key="screening_protocol.id")
    started_on: date
    status: str = Field(default="open", max_length=20)  # open, decided, cancelled

    @property
    def audit_record_id(self) -> str:
        return str(self.id)


class ScreeningResult(AuditedRecord, table=True):
    """A result, answer or measurement for one protocol item; counts once a second person verified it."""

    __tablename__ = "screening_result"

    id: int | None = Field(default=None, primary_key=True)
    screening_id: int = Field(foreign_key="screening.id", index=True)
    item_id: int = Field(foreign_key="protocol_item.id")
    value: str = Field(max_length=40)
    sample_date: date
    method: str = Field(default="", max_length=120)
    comment: str | None = Field(default=None, sa_column=Column(Text))


class EligibilityDecision(AuditedRecord, table=True):
    """The engine's decision as approved (signed) by a clinician or QA, with its reasons."""

    __tablename__ = "eligibility_decision"

    id: int | None = Field(default=None, primary_key=True)
    donor_id: int = Field(foreign_key="donor.id", index=True)
    screening_id: int = Field(foreign_key="screening.id")
    protocol_id: int = Field(foreign_key="screening_protocol.id")
    protocol_label: str = Field(max_length=60)
    as_of: date
    outcome: str = Field(max_length=20)
    until: date | None = None
    reasons: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of {rule, effect, code, params}


class DonationDayCheck(AuditedRecord, table=True):
    """The short health questionnaire at a donation; a "yes" defers the donor and blocks the donation."""

    __tablename__ = "donation_day_check"

    id: int | None = Field(default=None, primary_key=True)
    donor_id: int = Field(foreign_key="donor.id", index=True)
    protocol_id: int = Field(foreign_key="screening_protocol.id")
    check_date: date
    answers: str = Field(sa_column=Column(Text, nullable=False))  # JSON {question code: "no"|"yes"}
    passed: bool
    deferred_until: date | None = None
