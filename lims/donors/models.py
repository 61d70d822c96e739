"""Donors, their separately held identity, and screening protocols (versioned data)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import Column, Numeric, Text, UniqueConstraint
from sqlmodel import Field

from ..audit.records import AuditedRecord

SEXES = ("male", "female")
DONOR_STATUSES = (
    "candidate",
    "in_screening",
    "eligible",
    "deferred",
    "excluded",
    "retired",
    "screening_expired",
    "suspended",
)


class Donor(AuditedRecord, table=True):
    """The pseudonymous donor: the only donor record other modules and labels see."""

    __tablename__ = "donor"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=12, unique=True, index=True)  # D-0007
    sex: str = Field(max_length=10)
    date_of_birth: date
    height_cm: Decimal = Field(sa_column=Column(Numeric(5, 1), nullable=False))
    weight_kg: Decimal = Field(sa_column=Column(Numeric(5, 1), nullable=False))
    measured_on: date  # when height and weight were taken (BMI validity)
    status: str = Field(default="candidate", max_length=20, index=True)
    status_until: date | None = None  # eligible until / deferred until
    # Why the donor has this status when a finding (not a signed decision) set it: a suspension's cause.
    status_reason: str | None = Field(default=None, sa_column=Column(Text))
    notes: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return self.code


class DonorIdentity(AuditedRecord, table=True):
    """Name and contact data, kept apart and shown only to clinician, QA and admin roles."""

    __tablename__ = "donor_identity"
    __audit_mask__: ClassVar[frozenset] = frozenset()

    id: int | None = Field(default=None, primary_key=True)
    donor_id: int = Field(foreign_key="donor.id", unique=True)
    full_name: str = Field(max_length=200)
    national_id: str = Field(max_length=40, unique=True, index=True)
    phone: str = Field(default="", max_length=40)

    @property
    def audit_record_id(self) -> str:
        return str(self.donor_id)


class ScreeningProtocol(AuditedRecord, table=True):
    """One version of the screening rules. Screenings keep the version they used."""

    __tablename__ = "screening_protocol"
    __table_args__ = (UniqueConstraint("code", "protocol_version"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40)
    protocol_version: int = 1  # the rule set's version ("version" is the record's edit counter)
    title: str = Field(max_length=200)
    status: str = Field(default="active", max_length=20)  # draft, active, retired
    age_min: int
    age_max: int
    bmi_min: Decimal = Field(sa_column=Column(Numeric(4, 1), nullable=False))
    bmi_max: Decimal = Field(sa_column=Column(Numeric(4, 1), nullable=False))
    bmi_validity_days: int = 90
    bmi_defer_days: int = 90
    rescreen_days: int = 60
    items_revision: int = 0  # bumped when an item rule of a draft changes
    source: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return f"{self.code} v{self.protocol_version}"


class ProtocolItem(AuditedRecord, table=True):
    """A question, assessment or test of a protocol version, with its rule."""

    __tablename__ = "protocol_item"
    __table_args__ = (UniqueConstraint("protocol_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    protocol_id: int = Field(foreign_key="screening_protocol.id", index=True)
    position: int
    code: str = Field(max_length=40)
    kind: str = Field(max_length=20)  # questionnaire, assessment, blood, stool
    name: str = Field(max_length=200)
    name_zh: str = Field(default="", max_length=200)  # shown to zh_CN users; the English name is the reference
    specimen: str = Field(default="", max_length=40)
    result_type: str = Field(max_length=20)  # qualitative, numeric, yes_no
    unit: str = Field(default="", max_length=20)
    normal_min: Decimal | None = Field(default=None, sa_column=Column(Numeric(10, 3)))
    normal_max: Decimal | None = Field(default=None, sa_column=Column(Numeric(10, 3)))
    validity_days: int
    lookback_days: int | None = None
    on_fail: str = Field(max_length=10)  # defer, exclude
    defer_days: int | None = None
    note: str = Field(default="", max_length=300)
