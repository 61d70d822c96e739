"""Recipients (patients) of FMT products: the pseudonymous record and the separately held identity."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from sqlalchemy import Column, Text
from sqlmodel import Field

from ..audit.records import AuditedRecord


class Recipient(AuditedRecord, table=True):
    """What the clinical study needs about the patient, under a code (P-0001) that labels and listings may show."""

    __tablename__ = "recipient"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=12, unique=True, index=True)
    study: str = Field(max_length=80)
    sex: str = Field(max_length=10)
    date_of_birth: date
    diagnosis: str = Field(max_length=200)
    stage: str = Field(max_length=4)  # I, II, III, IV
    tnm: str = Field(default="", max_length=40)  # e.g. T3N1M1
    metastasis_sites: str = Field(default="", max_length=300)
    ecog: int
    prior_lines: int
    consent_date: date
    notes: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return self.code


class RecipientIdentity(AuditedRecord, table=True):
    """Name and hospital number, shown only to clinicians, QA and administrators."""

    __tablename__ = "recipient_identity"
    __audit_mask__: ClassVar[frozenset] = frozenset()

    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(foreign_key="recipient.id", unique=True)
    full_name: str = Field(max_length=200)
    hospital_number: str = Field(max_length=40, unique=True, index=True)
    phone: str = Field(default="", max_length=40)

    @property
    def audit_record_id(self) -> str:
        return str(self.recipient_id)
