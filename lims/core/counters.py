"""Gap-tolerant, collision-free numbering for identifiers.

The counter row is locked for the rest of the transaction (FOR UPDATE on
PostgreSQL; the SQLite write lock serializes anyway), so two registrations
at the same moment get different numbers. A rolled-back transaction leaves
no gap because its increment is rolled back too.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .models import Counter


def next_number(session, name: str) -> int:
    conn = session.connection()
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(insert(Counter.__table__).values(name=name, value=0).on_conflict_do_nothing())
    current = conn.execute(select(Counter.value).where(Counter.name == name).with_for_update()).scalar_one()
    conn.execute(update(Counter.__table__).where(Counter.name == name).values(value=current + 1))
    return current + 1
