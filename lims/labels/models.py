"""Label prints and their reconciliation: every dose-unit label printed, what state it said, and its scan-back.

A unit leaves the lab only under a label that says what the record says now; the print row keeps what the label
said (effective status, use-by minute, thaw time) so the issue desk can compare it with the unit's state.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field

from ..audit.records import AuditedRecord


class LabelPrint(AuditedRecord, table=True):
    """One printed dose-unit label (a lot printed at once gives one row per unit) and who verified it by scanning."""

    __tablename__ = "label_print"

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="dose_unit.id", index=True)
    unit_code: str = Field(max_length=30)
    payload: str = Field(max_length=60)  # the QR payload printed, LIMS:DU:<code>
    layout: str = Field(max_length=40)  # label stock code, e.g. tube_50x30
    format: str = Field(max_length=10)  # pdf, zpl, zpl_send
    state: str = Field(max_length=20)  # effective unit status printed
    use_by: datetime  # the use-by (or EXP) minute printed
    thawed_at: datetime | None = None  # the thaw time printed, None on a frozen or fresh label
    printed_at: datetime
    printed_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    verified_at: datetime | None = None
    verified_by_id: int | None = Field(default=None, foreign_key="app_user.id")

    @property
    def audit_record_id(self) -> str:
        return f"{self.unit_code}/L{self.id}"


def _register_entity_label() -> None:
    """The audit pages name this record type (each domain adds its own, lims.audit.labels)."""
    from flask_babel import lazy_gettext as _l

    from ..audit.labels import ENTITY_LABELS

    ENTITY_LABELS.setdefault("label_print", _l("Label print"))


_register_entity_label()
