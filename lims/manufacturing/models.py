"""Manufacturing records: spec versions, donations, batches and their record, QC, deviations, dose units, storage.

Records that belong to a batch carry its lot number, and their audit
record id starts with it (``FMT-20261123-01/S3``, ``FMT-20261123-01-02``),
so the batch's audit trail is one indexed prefix query for the QA review.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Index, Numeric, Text, UniqueConstraint
from sqlmodel import Field

from ..audit.records import AuditedRecord


class ManufacturingSpec(AuditedRecord, table=True):
    """One version of the process limits and the QC specification; batches keep the version they started with."""

    __tablename__ = "manufacturing_spec"
    __table_args__ = (UniqueConstraint("code", "spec_version"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40)
    spec_version: int = 1
    title: str = Field(max_length=200)
    status: str = Field(default="active", max_length=20)  # active, retired
    min_mass_g: Decimal = Field(sa_column=Column(Numeric(7, 1), nullable=False))
    processing_limit_minutes: int
    enrichment_limit_minutes: int
    washes_required: int
    filtration_stages_min: int
    dose_volume_ml: Decimal = Field(sa_column=Column(Numeric(6, 1), nullable=False))
    fresh_use_hours: int
    frozen_expiry_months: int
    thaw_use_hours: int
    retained_sample_ml: Decimal = Field(sa_column=Column(Numeric(4, 1), nullable=False))
    retained_keep_months: int
    expiry_warning_days: int
    # What clears the donor for release (manufacturing.rules.RELEASE_BASES): fresh product is given the day it is
    # made, so it cannot wait for a screening sampled after the donation the way frozen product does.
    fresh_release_basis: str = Field(
        default="eligible_at_donation", max_length=40, sa_column_kwargs={"server_default": "eligible_at_donation"}
    )
    frozen_release_basis: str = Field(
        default="screening_after_donation",
        max_length=40,
        sa_column_kwargs={"server_default": "screening_after_donation"},
    )
    source: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return f"{self.code} v{self.spec_version}"


class QcSpecItem(AuditedRecord, table=True):
    """One QC test of a spec version with its acceptance criterion."""

    __tablename__ = "qc_spec_item"
    __table_args__ = (UniqueConstraint("spec_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    spec_id: int = Field(foreign_key="manufacturing_spec.id", index=True)
    position: int
    code: str = Field(max_length=40)
    name: str = Field(max_length=200)
    name_zh: str = Field(default="", max_length=200)
    result_type: str = Field(max_length=20)  # numeric, negative, conforms
    min_value: Decimal | None = Field(default=None, sa_column=Column(Numeric(30, 4)))
    max_value: Decimal | None = Field(default=None, sa_column=Column(Numeric(30, 4)))
    unit: str = Field(default="", max_length=30)
    criterion: str = Field(default="", max_length=120)  # as printed in the spec, e.g. ">= 99 %"


class Donation(AuditedRecord, table=True):
    """A stool donation as received in the lab, with its retained sample."""

    __tablename__ = "donation"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True, index=True)  # DN-20261123-01
    donor_id: int = Field(foreign_key="donor.id", index=True)
    spec_id: int = Field(foreign_key="manufacturing_spec.id")
    collection_day: date = Field(index=True)  # lab-zone date of collection
    collected_at: datetime
    received_at: datetime
    receipt_temp_c: Decimal = Field(sa_column=Column(Numeric(4, 1), nullable=False))
    mass_g: Decimal = Field(sa_column=Column(Numeric(7, 1), nullable=False))
    bristol: int
    appearance: str = Field(max_length=200)
    received_by_id: int = Field(foreign_key="app_user.id")
    retained_ml: Decimal = Field(sa_column=Column(Numeric(4, 1), nullable=False))
    retained_location: str = Field(max_length=120)
    retained_until: date
    status: str = Field(default="received", max_length=20, index=True)  # received, processing, rejected
    rejection_reason: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return self.code


class Batch(AuditedRecord, table=True):
    """A washed-microbiota batch: one donation of one donor, never pooled."""

    __tablename__ = "batch"
    __table_args__ = (Index("ix_batch_status_id", "status", "id"), Index("ix_batch_donor_id_id", "donor_id", "id"))

    id: int | None = Field(default=None, primary_key=True)
    lot: str = Field(max_length=24, unique=True, index=True)  # FMT-20261123-01
    donation_id: int = Field(foreign_key="donation.id", unique=True)
    donor_id: int = Field(foreign_key="donor.id")
    spec_id: int = Field(foreign_key="manufacturing_spec.id")
    status: str = Field(default="in_process", max_length=20)
    production_day: date = Field(index=True)
    started_at: datetime
    device_id: int = Field(foreign_key="equipment.id")
    run_number: str = Field(max_length=40)
    storage: str | None = Field(default=None, max_length=10)  # fresh, frozen (chosen at fill)
    expiry_date: date | None = None
    enrichment_minutes: int | None = None
    status_reason: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return self.lot


class BatchStep(AuditedRecord, table=True):
    """One recorded step of the batch record; ``params`` holds its parameters as JSON."""

    __tablename__ = "batch_step"
    __table_args__ = (UniqueConstraint("batch_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    lot: str = Field(max_length=24)
    position: int
    kind: str = Field(max_length=20)
    seq: int = 1
    params: str = Field(sa_column=Column(Text, nullable=False))
    started_at: datetime
    ended_at: datetime
    operator_id: int = Field(foreign_key="app_user.id")

    @property
    def audit_record_id(self) -> str:
        return f"{self.lot}/S{self.position}"


class QcResult(AuditedRecord, table=True):
    """A QC result judged against the batch's spec version at entry (and again at each correction)."""

    __tablename__ = "qc_result"
    __table_args__ = (UniqueConstraint("batch_id", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    lot: str = Field(max_length=24)
    item_id: int = Field(foreign_key="qc_spec_item.id")
    item_code: str = Field(max_length=40)
    value: str = Field(max_length=60)
    in_spec: bool
    tested_on: date
    method: str = Field(default="", max_length=120)

    @property
    def audit_record_id(self) -> str:
        return f"{self.lot}/QC-{self.item_code}"


class Deviation(AuditedRecord, table=True):
    """A departure from specification or procedure; blocks release until QA closes it by signature."""

    __tablename__ = "deviation"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True, index=True)  # DEV-2026-0001
    batch_id: int = Field(foreign_key="batch.id", index=True)
    lot: str = Field(max_length=24)
    source: str = Field(max_length=20)  # qc, process, manual
    qc_result_id: int | None = Field(default=None, foreign_key="qc_result.id")
    description: str = Field(sa_column=Column(Text, nullable=False))
    investigation: str | None = Field(default=None, sa_column=Column(Text))
    outcome: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(default="open", max_length=10)  # open, closed

    @property
    def audit_record_id(self) -> str:
        return f"{self.lot}/{self.code}"


class BatchReview(AuditedRecord, table=True):
    """QA's review of the batch's audit trail, up to the newest row it covered; signed "reviewed"."""

    __tablename__ = "batch_review"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    lot: str = Field(max_length=24)
    last_audit_id: int
    rows_reviewed: int

    @property
    def audit_record_id(self) -> str:
        return f"{self.lot}/R{self.id}"


class BatchDisposition(AuditedRecord, table=True):
    """QA's signed decision on a batch: released or rejected (with the reason)."""

    __tablename__ = "batch_disposition"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    lot: str = Field(max_length=24)
    decision: str = Field(max_length=20)  # released, rejected, recalled
    reason: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return f"{self.lot}/{self.decision}-{self.id}"


class StorageLocation(AuditedRecord, table=True):
    """site > freezer/fridge > rack > box; a box has rows x columns positions, one unit each."""

    __tablename__ = "storage_location"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True, index=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=10)  # site, freezer, fridge, rack, box
    parent_id: int | None = Field(default=None, foreign_key="storage_location.id", index=True)
    rows: int | None = None
    cols: int | None = None
    equipment_id: int | None = Field(default=None, foreign_key="equipment.id")

    @property
    def audit_record_id(self) -> str:
        return self.code


class DoseUnit(AuditedRecord, table=True):
    """One filled dose (default 120 mL) with its place, expiry and status."""

    __tablename__ = "dose_unit"
    __table_args__ = (
        UniqueConstraint("box_id", "position"),
        Index("ix_dose_unit_status_expiry", "status", "expiry_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=30, unique=True, index=True)  # FMT-20261123-01-03
    batch_id: int = Field(foreign_key="batch.id", index=True)
    lot: str = Field(max_length=24)
    seq: int
    volume_ml: Decimal = Field(sa_column=Column(Numeric(6, 1), nullable=False))
    storage: str = Field(max_length=10)  # fresh, frozen
    status: str = Field(default="quarantine", max_length=20)
    expiry_date: date
    expires_at: datetime  # first instant the unit is expired
    box_id: int | None = Field(default=None, foreign_key="storage_location.id")
    position: str | None = Field(default=None, max_length=4)
    thawed_at: datetime | None = None
    thawed_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    status_reason: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return self.code


class StorageRun(AuditedRecord, table=True):
    """One scan session that stored a batch's units into a box, signed once by the person who did it."""

    __tablename__ = "storage_run"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True, index=True)  # SR-2026-0001
    box_id: int = Field(foreign_key="storage_location.id", index=True)
    box_code: str = Field(max_length=40)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    lot: str = Field(max_length=24)
    placements: str = Field(sa_column=Column(Text, nullable=False))  # JSON [[unit code, position], ...]
    unit_count: int

    @property
    def audit_record_id(self) -> str:
        return f"{self.lot}/{self.code}"
