"""Benchmark: audit-trail write rate, filtered page query and chain verification.

    .venv/bin/python -m bench.audit_trail [--rows 100000] [--database-url URL]

Generates its own data in a fresh database (a temp SQLite file by default;
for PostgreSQL pass a URL of a scratch database: the bench creates and drops
its own schema there). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlmodel import select

from config import TestConfig
from lims import create_app
from lims.audit.models import AuditChainHead, AuditEntry
from lims.audit.trail import change_reason, verify_stored_chain
from lims.db import Actor, Database, transaction
from lims.equipment import operations as eq_ops
from lims.migrate import upgrade

SCHEMA = "lims_bench"


def _prepare(url: str | None, schema: str = SCHEMA) -> str:
    """A migrated empty database: a temp SQLite file, or a fresh scratch ``schema`` in the given PostgreSQL database."""
    if url is None:
        path = Path(tempfile.mkdtemp()) / "bench.sqlite"
        url = f"sqlite:///{path}"
    else:
        eng = create_engine(url)
        with eng.begin() as c:
            c.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            c.execute(text(f"CREATE SCHEMA {schema}"))
        eng.dispose()
        url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    db = Database(url)
    upgrade(db)
    db.dispose()
    return url


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000, help="approximate audit rows to generate")
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    url = _prepare(args.database_url)
    app = create_app(TestConfig, DATABASE_URL=url)
    actor = Actor(None, "bench")
    with app.app_context():
        # 1 record = 5 create rows; each update transaction = 1 row
        n_records = max(1, args.rows // 50)
        t0 = time.perf_counter()
        ids = []
        with transaction(actor) as s:
            for i in range(n_records):
                ids.append(
                    eq_ops.create(
                        s,
                        f"EQ-B-{i:05d}",
                        {
                            "name": f"bench {i}",
                            "kind": "other",
                            "location": "0",
                            "serial_number": "s",
                            "status": "in_service",
                            "calibration_due": None,
                            "notes": None,
                        },
                    ).id
                )
        t_create = time.perf_counter() - t0
        updates = max(0, args.rows - n_records * 5)
        t0 = time.perf_counter()
        per_tx = 100
        done = 0
        while done < updates:
            with transaction(actor) as s:
                for _ in range(min(per_tx, updates - done)):
                    from lims.equipment.models import Equipment

                    eq = s.get(Equipment, ids[done % len(ids)])
                    with change_reason(s, "bench"):
                        eq.location = str(int(eq.location) + 1)
                    done += 1
        t_update = time.perf_counter() - t0
        with transaction(actor, write=False) as s:
            total = s.exec(select(AuditChainHead)).one().last_seq
        print(f"database: {app.extensions['lims_db'].url.get_backend_name()}  audit rows: {total}")
        print(f"create: {n_records} records ({n_records * 5} rows) in {t_create:.2f} s")
        if updates:
            print(
                f"update: {updates} audited changes in {t_update:.2f} s = {updates / t_update:.0f} rows/s "
                f"(batches of {per_tx} per transaction)"
            )
        # single-change transactions: the latency a user's save pays for the audit
        t0 = time.perf_counter()
        for k in range(200):
            with transaction(actor) as s:
                from lims.equipment.models import Equipment

                eq = s.get(Equipment, ids[k % len(ids)])
                with change_reason(s, "bench single"):
                    eq.location = str(int(eq.location) + 1)
        print(f"single-change transaction: {(time.perf_counter() - t0) / 200 * 1000:.2f} ms each (200 runs)")
        # page query as the trail view runs it (newest first, one filter, 101 rows)
        with transaction(actor, write=False) as s:
            for label, q in (
                ("newest 100 rows", select(AuditEntry).order_by(AuditEntry.id.desc()).limit(101)),
                (
                    "one record's history",
                    select(AuditEntry)
                    .where(AuditEntry.entity == "equipment", AuditEntry.record_id == str(ids[-1]))
                    .order_by(AuditEntry.id.desc())
                    .limit(101),
                ),
                (
                    "one action, newest 100",
                    select(AuditEntry).where(AuditEntry.action == "update").order_by(AuditEntry.id.desc()).limit(101),
                ),
            ):
                t0 = time.perf_counter()
                for _ in range(20):
                    s.exec(q).all()
                print(f"query {label}: {(time.perf_counter() - t0) / 20 * 1000:.2f} ms")
            t0 = time.perf_counter()
            result = verify_stored_chain(s)
            dt = time.perf_counter() - t0
            print(
                f"audit-verify: {result.checked} rows in {dt:.2f} s = {result.checked / dt:.0f} rows/s, ok={result.ok}"
            )
    app.extensions["lims_db"].dispose()
    drop_schema(args.database_url)


def drop_schema(url: str | None, schema: str = SCHEMA) -> None:
    """Remove the bench's scratch schema from a PostgreSQL database (no-op for the temp SQLite file)."""
    if not url:
        return
    eng = create_engine(url)
    with eng.begin() as c:
        c.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    eng.dispose()


if __name__ == "__main__":
    main()
