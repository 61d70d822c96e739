"""Equipment records."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Column, Text
from sqlmodel import Field

from ..audit.records import AuditedRecord

KINDS = (
    "purification_device",
    "centrifuge",
    "biosafety_cabinet",
    "freezer",
    "refrigerator",
    "water_bath",
    "balance",
    "other",
)
STATUSES = ("in_service", "out_of_service", "retired")


class Equipment(AuditedRecord, table=True):
    __tablename__ = "equipment"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True, index=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=40)
    location: str = Field(default="", max_length=200)
    serial_number: str = Field(default="", max_length=100)
    status: str = Field(default="in_service", max_length=20)
    calibration_due: date | None = None
    notes: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return str(self.id)
