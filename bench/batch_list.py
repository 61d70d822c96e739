"""Benchmark: the batch list, a batch page and the inventory at production scale.

    .venv/bin/python -m bench.batch_list [--batches 100000] [--donors 50] [--database-url URL]

Generates ~3 years of production straight into a fresh database (bulk inserts
with SQLAlchemy Core, not the audited ORM path: this is bench data for reads,
not GMP records): donors, one donation per batch, batches with a status mix
that follows their age (in process / awaiting QC / quarantine for the newest,
released then expired for the older, a few rejected and recalled) and ~9 dose
units for each of the newest batches. Then times the pages through the app
with a signed-in user: the list (first page, status, donor and date filters,
the next_after keyset link from the top and deep in the list), the page of a
released batch with units, and the inventory. Prints the median and p95 of
each; asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select, text

from bench.audit_trail import _prepare, drop_schema
from config import TestConfig
from lims import create_app
from lims.auth.operations import create_user
from lims.db import Actor, transaction
from lims.donors.models import Donor, DonorIdentity
from lims.equipment import operations as eq_ops
from lims.manufacturing.batches import unit_expiry
from lims.manufacturing.models import Batch, Donation, DoseUnit
from lims.manufacturing.rules import add_months, donation_code, lot_number, unit_code
from lims.manufacturing.spec import limits_of, seed_default_spec
from lims.timefmt import lab_day_bounds_utc, to_lab

DAYS = 3 * 365
CHUNK = 10_000
RUNS = 20


def _batch_status(rnd: random.Random, age: int) -> str:
    """Status by age in days: the newest are being made or wait for QC/the donor's rescreen; the rest were decided."""
    if age == 0:
        return rnd.choice(["in_process"] * 3 + ["awaiting_qc"] * 2)
    r = rnd.random()
    if r < 0.025:
        return "rejected"
    if age <= 3:
        return "awaiting_qc" if r < 0.6 else "quarantine"
    if age <= 45 and r < 0.9 * (45 - age) / 45:
        return "quarantine"
    if age > 45 and r > 0.998:
        return "recalled"
    return "released"


UNIT_STATUS = {
    "awaiting_qc": "quarantine",
    "quarantine": "quarantine",
    "rejected": "discarded",
    "expired": "expired",
    "recalled": "recalled",
}


def _insert(conn, table, rows) -> None:
    for i in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[i : i + CHUNK])


def generate(app, n_batches: int, n_donors: int, unit_batches: int) -> dict:
    rnd = random.Random(11)
    now = datetime.now(UTC)
    with app.app_context():
        today = to_lab(now).date()
        first_day = today - timedelta(days=DAYS)
        actor = Actor(None, "bench")
        with transaction(actor) as s:
            spec = seed_default_spec(s)
            limits = limits_of(spec)
            user = create_user(s, "bench", "Bench User", ["qa"], "Timing-Password-123", must_change=False)
            device = eq_ops.create(
                s,
                "EQ-GFM-01",
                {
                    "name": "GenFMTer purification device",
                    "kind": "purification_device",
                    "location": "Lab 2",
                    "serial_number": "GFM-0001",
                    "status": "in_service",
                    "calibration_due": None,
                    "notes": None,
                },
            )
            spec_id, uid, device_id = spec.id, user.id, device.id
        meta = {"version": 1, "created_at": now, "updated_at": now, "created_by_id": uid, "updated_by_id": uid}
        with transaction(actor) as s:
            conn = s.connection()
            _insert(
                conn,
                Donor.__table__,
                [
                    {
                        "id": i,
                        "code": f"D-{i:04d}",
                        "sex": rnd.choice(["male", "female"]),
                        "date_of_birth": date(1985 + rnd.randint(0, 20), rnd.randint(1, 12), rnd.randint(1, 28)),
                        "height_cm": 155 + rnd.randint(0, 35),
                        "weight_kg": 50 + rnd.randint(0, 30),
                        "measured_on": today - timedelta(days=rnd.randint(0, 80)),
                        "status": "eligible" if i % 10 else "deferred",
                        **meta,
                    }
                    for i in range(1, n_donors + 1)
                ],
            )
            _insert(
                conn,
                DonorIdentity.__table__,
                [
                    {"donor_id": i, "full_name": f"Donor Name {i}", "national_id": f"ID{i:010d}", "phone": "", **meta}
                    for i in range(1, n_donors + 1)
                ],
            )
            donations, batches, units = [], [], []
            seq_of_day: dict[date, int] = {}
            per_day = n_batches / (DAYS + 1)
            for i in range(1, n_batches + 1):  # ids ascend with production day: id order = newest first
                day = first_day + timedelta(days=min(DAYS, int((i - 1) / per_day)))
                n = seq_of_day[day] = seq_of_day.get(day, 0) + 1
                age = (today - day).days
                day_start, _day_end = lab_day_bounds_utc(day)
                started = day_start + timedelta(hours=7, minutes=5 * n)  # 07:05, 07:10, ... lab time
                if age == 0:  # today's so far, all before now
                    started = day_start + (now - day_start) * (n / (per_day + 1))
                status = _batch_status(rnd, age)
                storage = expiry = expires_at = None
                if status != "in_process":
                    storage = "fresh" if rnd.random() < 0.15 else "frozen"
                    expiry, expires_at = unit_expiry(storage, day, started + timedelta(hours=3), limits)
                    if status in ("released", "quarantine") and expires_at <= now:
                        status = "expired"
                lot = lot_number(day, n)
                donations.append(
                    {
                        "id": i,
                        "code": donation_code(day, n),
                        "donor_id": rnd.randint(1, n_donors),
                        "spec_id": spec_id,
                        "collection_day": day,
                        "collected_at": started - timedelta(hours=2),
                        "received_at": started - timedelta(hours=1),
                        "receipt_temp_c": Decimal("4.0"),
                        "mass_g": Decimal(150 + rnd.randint(0, 150)),
                        "bristol": rnd.randint(3, 5),
                        "appearance": "brown, formed",
                        "received_by_id": uid,
                        "retained_ml": Decimal("2.0"),
                        "retained_location": "FRZ-RET-01",
                        "retained_until": add_months(day, limits.retained_keep_months),
                        "status": "processing",
                        "rejection_reason": None,
                        **meta,
                    }
                )
                batches.append(
                    {
                        "id": i,
                        "lot": lot,
                        "donation_id": i,
                        "donor_id": donations[-1]["donor_id"],
                        "spec_id": spec_id,
                        "status": status,
                        "production_day": day,
                        "started_at": started,
                        "device_id": device_id,
                        "run_number": f"R{i:06d}",
                        "storage": storage,
                        "expiry_date": expiry,
                        "enrichment_minutes": None if status == "in_process" else rnd.randint(35, 58),
                        "status_reason": "QC out of specification" if status in ("rejected", "recalled") else None,
                        **meta,
                        "created_at": started,
                        "updated_at": started + timedelta(hours=4),
                    }
                )
                if i > n_batches - unit_batches and status != "in_process":
                    for k in range(1, rnd.randint(8, 10) + 1):
                        u_status = UNIT_STATUS.get(status) or ("administered" if rnd.random() < 0.25 else "available")
                        units.append(
                            {
                                "code": unit_code(lot, k),
                                "batch_id": i,
                                "lot": lot,
                                "seq": k,
                                "volume_ml": Decimal("120.0"),
                                "storage": storage,
                                "status": u_status,
                                "expiry_date": expiry,
                                "expires_at": expires_at,
                                "box_id": None,
                                "position": None,
                                "thawed_at": None,
                                "thawed_by_id": None,
                                "status_reason": None,
                                **meta,
                            }
                        )
            _insert(conn, Donation.__table__, donations)
            _insert(conn, Batch.__table__, batches)
            _insert(conn, DoseUnit.__table__, units)
        db = app.extensions["lims_db"]
        if not db.is_sqlite:  # what autovacuum would have done by then on a live server
            with db.engine.begin() as c:
                c.execute(text("ANALYZE"))
        with transaction(actor, write=False) as s:
            counts = {
                t.name: s.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (Donor.__table__, Donation.__table__, Batch.__table__, DoseUnit.__table__)
            }
            counts["by status"] = dict(
                s.execute(select(Batch.status, func.count()).group_by(Batch.status).order_by(func.count().desc())).all()
            )
            counts["available units"] = s.execute(
                select(func.count())
                .select_from(DoseUnit)
                .where(DoseUnit.status == "available", DoseUnit.expires_at > now)
            ).scalar_one()
            # the newest released batch that has units (for the batch page)
            counts["lot"] = s.execute(
                select(Batch.lot)
                .where(Batch.status == "released", Batch.id.in_(select(DoseUnit.batch_id)))
                .order_by(Batch.id.desc())
                .limit(1)
            ).scalar_one()
        return counts


def timed(client, url, runs=RUNS) -> tuple[float, float, int]:
    """Median and p95 (ms) of ``runs`` GETs after one warm-up, and the response size."""
    r = client.get(url)
    assert r.status_code == 200, (url, r.status_code)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    times.sort()
    return statistics.median(times), times[math.ceil(0.95 * len(times)) - 1], len(r.data)


def next_link(client, url) -> str:
    """The "Next page" link of a list page (the next_after keyset link as rendered)."""
    m = re.search(r'<a class="button" href="([^"]+)">', client.get(url).get_data(as_text=True))
    assert m, f"no next page on {url}"
    return m.group(1).replace("&amp;", "&")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=100_000)
    ap.add_argument("--donors", type=int, default=50)
    ap.add_argument("--unit-batches", type=int, default=5_000, help="newest batches that get dose units")
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    url = _prepare(args.database_url)
    app = create_app(TestConfig, DATABASE_URL=url)
    t0 = time.perf_counter()
    counts = generate(app, args.batches, args.donors, args.unit_batches)
    print(
        f"database: {app.extensions['lims_db'].url.get_backend_name()}  (generated in {time.perf_counter() - t0:.1f} s)"
    )
    print("rows: " + "  ".join(f"{k} {counts[k]}" for k in ("donor", "donation", "batch", "dose_unit")))
    print("batches by status: " + ", ".join(f"{k} {v}" for k, v in counts["by status"].items()))
    print(f"available unexpired units: {counts['available units']}")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"csrf_token": token, "username": "bench", "password": "Timing-Password-123"})
    page2 = next_link(client, "/batches/")
    deep = next_link(client, f"/batches/?after={args.batches // 2}")
    cases = (
        ("list, first page", "/batches/"),
        ("list, status=quarantine", "/batches/?status=quarantine"),
        ("list, donor=D-0007", "/batches/?donor=D-0007"),
        ("list, Jan 2025", "/batches/?date_from=2025-01-01&date_to=2025-01-31"),
        ("list, rejected + Jan 2025", "/batches/?status=rejected&date_from=2025-01-01&date_to=2025-01-31"),
        ("list, page 2 (next_after)", page2),
        ("list, deep page (next_after)", deep),
        (f"batch page {counts['lot']}", f"/batches/{counts['lot']}"),
        ("inventory", "/inventory"),
    )
    print(f"{'page':<36} {'median ms':>10} {'p95 ms':>8} {'KiB':>6}   ({RUNS} requests each)")
    for label, u in cases:
        med, p95, size = timed(client, u)
        print(f"{label:<36} {med:10.2f} {p95:8.2f} {size / 1024:6.1f}   {u}")
    app.extensions["lims_db"].dispose()
    drop_schema(args.database_url)


if __name__ == "__main__":
    main()
