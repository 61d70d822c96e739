"""Counters behind human-readable identifiers (D-0007, FMT-20261123-01, ...)."""
from __future__ import annotations

from sqlmodel import Field, SQLModel


class Counter(SQLModel, table=True):
    __tablename__ = "id_counter"

    name: str = Field(primary_key=True, max_length=60)
    value: int = 0
