"""The base of every GMP record: version, creator and last editor.

Subclasses are audited automatically (lims.audit.trail) and carry a version
column that SQLAlchemy checks on every UPDATE, so two writers can never
silently overwrite each other even if both passed the form's version check.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel


class AuditedRecord(SQLModel):
    __audited__: ClassVar[bool] = True
    __audit_exclude__: ClassVar[frozenset] = frozenset()
    __audit_mask__: ClassVar[frozenset] = frozenset()

    version: int = Field(default=1, nullable=False)
    created_at: datetime | None = Field(default=None, nullable=False)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    updated_at: datetime | None = Field(default=None, nullable=False)
    updated_by_id: int | None = Field(default=None, foreign_key="app_user.id")

    @declared_attr
    def __mapper_args__(cls):
        return {"version_id_col": cls.__table__.c.version}

    # Meta columns (and the id) are part of every audit row already; never listed as fields.
    META_FIELDS: ClassVar[frozenset] = frozenset(
        {"id", "version", "created_at", "created_by_id", "updated_at", "updated_by_id"}
    )

    @property
    def audit_entity(self) -> str:
        return self.__tablename__

    @property
    def audit_record_id(self) -> str:
        return str(self.id)
