"""Lookback cases: a donor's positive finding followed to every affected product and recipient."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Text
from sqlmodel import Field

from ..audit.records import AuditedRecord


class LookbackCase(AuditedRecord, table=True):
    """The scope is stored as opened (start day and its basis); the donations it covers are read live up to now."""

    __tablename__ = "lookback_case"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True, index=True)  # LB-2026-0001
    donor_id: int = Field(foreign_key="donor.id", index=True)
    batch_id: int | None = Field(default=None, foreign_key="batch.id")  # a case opened for one batch
    trigger: str = Field(max_length=20)  # result, manual
    trigger_text: str = Field(sa_column=Column(Text, nullable=False))
    result_id: int | None = Field(default=None, foreign_key="screening_result.id")
    finding_date: date
    window_days: int
    scope_start: date | None = None
    scope_basis: str = Field(max_length=30)
    last_negative: date | None = None
    opened_at: datetime
    status: str = Field(default="open", max_length=20)  # open, closed
    conclusion: str | None = Field(default=None, sa_column=Column(Text))
    held_at: datetime | None = None  # the last signed hold of what is in scope
    outcome: str | None = Field(default=None, max_length=20)  # confirmed, unfounded (when closed)
    closed_at: datetime | None = None

    @property
    def audit_record_id(self) -> str:
        return self.code


class LookbackAction(AuditedRecord, table=True):
    """A signed QA act on a case: holding what is in scope, or closing it (and, if unfounded, releasing the holds).

    ``summary`` keeps what the act touched (codes), so the case can show it after the units moved on."""

    __tablename__ = "lookback_action"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="lookback_case.id", index=True)
    case_code: str = Field(max_length=20)
    seq: int
    kind: str = Field(max_length=20)  # hold, close
    outcome: str | None = Field(default=None, max_length=20)  # close: confirmed, unfounded
    text: str = Field(sa_column=Column(Text, nullable=False))  # the hold's reason, the conclusion
    summary: str = Field(sa_column=Column(Text, nullable=False))  # JSON
    acted_at: datetime

    @property
    def audit_record_id(self) -> str:
        return f"{self.case_code}-A{self.seq}"


class LookbackHold(AuditedRecord, table=True):
    """One donation, batch or unit held by a case, with the status it had, until the case releases it."""

    __tablename__ = "lookback_hold"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="lookback_case.id", index=True)
    case_code: str = Field(max_length=20)
    action_id: int = Field(foreign_key="lookback_action.id")
    kind: str = Field(max_length=20)  # donation, batch, unit
    ref_id: int = Field(index=True)
    ref_code: str = Field(max_length=40)
    prior_status: str = Field(max_length=20)
    active: bool = Field(default=True, index=True)
    released_by_action_id: int | None = Field(default=None, foreign_key="lookback_action.id")
    outcome: str | None = Field(default=None, max_length=20)  # released: back to stock, expired, kept (issued)

    @property
    def audit_record_id(self) -> str:
        return f"{self.case_code}:{self.ref_code}"


class LookbackNotification(AuditedRecord, table=True):
    """One attempt to inform a recipient (or their physician) reached by a case: who, when, how, and whether reached."""

    __tablename__ = "lookback_notification"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="lookback_case.id", index=True)
    case_code: str = Field(max_length=20)
    seq: int
    recipient_id: int = Field(foreign_key="recipient.id")
    recipient_code: str = Field(max_length=20)
    informed_person: str = Field(max_length=200)  # e.g. "the patient", "Dr Li (oncologist)"
    informed_at: datetime
    method: str = Field(max_length=20)  # in_person, phone, letter, email, other
    reached: bool  # False: an attempt that did not reach anyone
    note: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return f"{self.case_code}-N{self.seq}"


class LookbackRetest(AuditedRecord, table=True):
    """A re-test of a donation's retained sample, recorded in the case."""

    __tablename__ = "lookback_retest"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="lookback_case.id", index=True)
    case_code: str = Field(max_length=20)
    seq: int
    donation_id: int = Field(foreign_key="donation.id")
    donation_code: str = Field(max_length=40)
    test: str = Field(max_length=200)
    result: str = Field(max_length=20)  # negative, positive, inconclusive
    tested_on: date
    laboratory: str = Field(max_length=200)
    note: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return f"{self.case_code}-R{self.seq}"


class LookbackScopeAddition(AuditedRecord, table=True):
    """A donation (named by itself or by its batch) QA added to a case's scope, with the signed reason.

    Written by a signed "widen" action; from then on the case covers the donation like one its rule took in
    (hold, re-tests, recipients, close)."""

    __tablename__ = "lookback_scope"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="lookback_case.id", index=True)
    case_code: str = Field(max_length=20)
    action_id: int = Field(foreign_key="lookback_action.id")
    seq: int
    kind: str = Field(max_length=20)  # donation, batch (what QA named)
    donation_id: int = Field(foreign_key="donation.id")
    ref_code: str = Field(max_length=40)  # the donation code or the lot named
    reason: str = Field(sa_column=Column(Text, nullable=False))

    @property
    def audit_record_id(self) -> str:
        return f"{self.case_code}-S{self.seq}"
