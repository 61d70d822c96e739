"""FMT courses: the template they follow, the planned and given doses, postponements, observations, co-therapy.

Record ids start with the recipient's code (``P-0004-C1``, ``P-0004-C1-D2``),
so a recipient's whole course is one prefix query in the audit trail.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Numeric, Text, UniqueConstraint
from sqlmodel import Field

from ..audit.records import AuditedRecord


class CourseTemplate(AuditedRecord, table=True):
    """One version of a course template; ``body`` is the template as data (see default_course.json)."""

    __tablename__ = "course_template"
    __table_args__ = (UniqueConstraint("code", "template_version"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40)
    template_version: int = 1
    title: str = Field(max_length=200)
    status: str = Field(default="active", max_length=20)  # active, retired
    body: str = Field(sa_column=Column(Text, nullable=False))

    @property
    def audit_record_id(self) -> str:
        return f"{self.code} v{self.template_version}"


class Course(AuditedRecord, table=True):
    """One recipient's course of FMT, planned from a template version."""

    __tablename__ = "course"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True, index=True)  # P-0004-C1
    recipient_id: int = Field(foreign_key="recipient.id", index=True)
    template_id: int = Field(foreign_key="course_template.id")
    day1: date
    same_donor: bool = True
    status: str = Field(default="planned", max_length=20)  # planned, in_progress, completed, stopped
    status_reason: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return self.code


class Administration(AuditedRecord, table=True):
    """One planned dose of a course (day 1, 2, 3) and, once given, what was given, when and by whom."""

    __tablename__ = "administration"
    __table_args__ = (UniqueConstraint("course_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=24, unique=True, index=True)  # P-0004-C1-D2
    course_id: int = Field(foreign_key="course.id", index=True)
    recipient_id: int = Field(foreign_key="recipient.id", index=True)
    day: int
    planned_date: date  # as first planned: day1 + (day - 1)
    scheduled_date: date = Field(index=True)  # after postponements
    status: str = Field(default="planned", max_length=20)  # planned, given, cancelled
    unit_id: int | None = Field(default=None, foreign_key="dose_unit.id", unique=True)
    issued_at: datetime | None = None
    issued_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    given_at: datetime | None = None
    given_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    volume_ml: Decimal | None = Field(default=None, sa_column=Column(Numeric(6, 1)))
    route: str | None = Field(default=None, max_length=60)
    tube_confirmed_on: date | None = None
    tube_method: str | None = Field(default=None, max_length=120)
    fasting: bool | None = None
    identity_checked: bool | None = None
    instructions_given: str | None = Field(default=None, max_length=200)  # codes of post-infusion instructions given
    note: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return self.code


class Postponement(AuditedRecord, table=True):
    """A dose moved to a later day (fever, diarrhoea, ...); the later days of the course move with it."""

    __tablename__ = "postponement"

    id: int | None = Field(default=None, primary_key=True)
    administration_id: int = Field(foreign_key="administration.id", index=True)
    admin_code: str = Field(max_length=24)
    from_date: date
    to_date: date
    reason_code: str = Field(max_length=20)  # fever, diarrhoea, other
    reason: str = Field(sa_column=Column(Text, nullable=False))

    @property
    def audit_record_id(self) -> str:
        return f"{self.admin_code}/PP{self.id}"


class Observation(AuditedRecord, table=True):
    """A post-infusion observation at one of the template's times (minutes after the dose)."""

    __tablename__ = "observation"
    __table_args__ = (UniqueConstraint("administration_id", "minutes_after"),)

    id: int | None = Field(default=None, primary_key=True)
    administration_id: int = Field(foreign_key="administration.id", index=True)
    admin_code: str = Field(max_length=24)
    minutes_after: int
    observed_at: datetime
    temperature_c: Decimal | None = Field(default=None, sa_column=Column(Numeric(4, 1)))
    diarrhoea: bool = False
    abdominal_pain: bool = False
    nausea_vomiting: bool = False
    note: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return f"{self.admin_code}/O{self.minutes_after}"


class CoTherapy(AuditedRecord, table=True):
    """A dose of a co-administered drug (e.g. toripalimab 200 mg IV), by date."""

    __tablename__ = "co_therapy"

    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(foreign_key="recipient.id", index=True)
    recipient_code: str = Field(max_length=12)
    course_id: int | None = Field(default=None, foreign_key="course.id")
    drug: str = Field(max_length=80)
    dose: str = Field(max_length=40)
    route: str = Field(max_length=20)
    given_on: date
    cycle: int | None = None
    note: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def audit_record_id(self) -> str:
        return f"{self.recipient_code}/CT{self.id}"
