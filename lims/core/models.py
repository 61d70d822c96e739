"""Counters behind human-readable identifiers (D-0007, FMT-20261123-01, ...)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class Counter(SQLModel, table=True):
    __tablename__ = "id_counter"

    name: str = Field(primary_key=True, max_length=60)
    value: int = 0


class FormToken(SQLModel, table=True):
    """A creating form's one-time token, spent by the request that created the record.

    A replay of the same form (double click, browser resend, a retry after a
    lost response) finds the spent token and is shown the record created the
    first time instead of creating a second one. Operational, not a GMP record.
    """

    __tablename__ = "form_token"

    token: str = Field(primary_key=True, max_length=64)
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    endpoint: str = Field(max_length=80)
    used_at: datetime
    result_url: str | None = Field(default=None, max_length=300)
    result_label: str | None = Field(default=None, max_length=200)
