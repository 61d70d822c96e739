"""Benchmark: scanning a label to its record page, and printing labels, at 1,000,000 dose units.

    .venv/bin/python -m bench.scan_labels [--units 1000000] [--donors 100] [--database-url URL]

Generates its own data straight into a fresh database (a temp SQLite file by
default; for PostgreSQL pass a URL of a scratch database: the bench creates and
drops its own schema there) with bulk SQLAlchemy Core inserts in chunks, not
the audited ORM path: this is bench data for reads, not GMP records. ~9 dose
units per batch, one donation per batch, ~3 years of production (longer when
needed to keep lot numbers at two digits a day), batch status by age as in
bench.batch_list, unit status from its batch's.

Then, with a signed-in user through the Flask test client:
- scan -> record page: GET /scan?code=LIMS:DU:<unit> (302) then its Location
  (the unit page), for random units; the same for a bare typed unit ID and a
  batch payload LIMS:LOT:<lot>; GET /scan/resolve (JSON) when the app has it;
- labels: 100 dose-unit LabelContent built in a transaction, rendered to PDF
  (tube_50x30, dosebag_100x60, a4_sheet_50x30) and ZPL (tube_50x30), median of
  5 runs after a warm-up; POST /labels/print kind=LOT_UNITS for lots of 9 units
  (PDF and ZPL; each print writes its audit rows, as in production).
Prints p50 and p95 of each; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import shutil
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, select, text

from bench.audit_trail import _prepare
from bench.audit_trail import drop_schema as _drop_schema
from config import TestConfig
from lims import create_app
from lims.auth.operations import create_user
from lims.db import Actor, transaction
from lims.donors.models import Donor, DonorIdentity
from lims.equipment import operations as eq_ops
from lims.labels import content as label_content
from lims.labels import pdf as label_pdf
from lims.labels import zpl as label_zpl
from lims.labels.layouts import all_layouts
from lims.manufacturing.batches import unit_expiry
from lims.manufacturing.models import Batch, Donation, DoseUnit
from lims.manufacturing.rules import add_months, donation_code, lot_number, unit_code
from lims.manufacturing.spec import limits_of, seed_default_spec
from lims.timefmt import lab_day_bounds_utc, to_lab

SCHEMA = "lims_bench_scan"  # its own scratch schema: never clobbers another bench's lims_bench
CHUNK = 50_000
UNITS_PER_BATCH = 9
MAX_LOTS_PER_DAY = 95  # lot numbers keep their two-digit sequence (FMT-YYYYMMDD-NN)
PASSWORD = "Timing-Password-123"
UNIT_STATUS = {
    "awaiting_qc": "quarantine",
    "quarantine": "quarantine",
    "rejected": "discarded",
    "expired": "expired",
    "recalled": "recalled",
}


# --- database --------------------------------------------------------------------------


def prepare(url: str | None) -> str:
    return _prepare(url, SCHEMA)


def drop_schema(url: str | None) -> None:
    _drop_schema(url, SCHEMA)


# --- data ------------------------------------------------------------------------------


def _batch_status(rnd: random.Random, age: int) -> str:
    """By age in days (every batch here is filled: none in process)."""
    r = rnd.random()
    if age == 0:
        return "awaiting_qc"
    if r < 0.025:
        return "rejected"
    if age <= 3:
        return "awaiting_qc" if r < 0.6 else "quarantine"
    if age <= 45 and r < 0.9 * (45 - age) / 45:
        return "quarantine"
    if age > 45 and r > 0.998:
        return "recalled"
    return "released"


def generate(app, n_units: int, n_donors: int) -> dict:
    rnd = random.Random(23)
    now = datetime.now(UTC)
    n_batches = math.ceil(n_units / UNITS_PER_BATCH)
    days = max(3 * 365, math.ceil(n_batches / MAX_LOTS_PER_DAY))
    with app.app_context():
        today = to_lab(now).date()
        first_day = today - timedelta(days=days - 1)
        actor = Actor(None, "bench")
        with transaction(actor) as s:
            spec = seed_default_spec(s)
            limits = limits_of(spec)
            user = create_user(s, "bench", "Bench User", ["technician", "qa"], PASSWORD, must_change=False)
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
        volume = Decimal(str(limits.dose_volume_ml))
        with transaction(actor) as s:
            conn = s.connection()
            conn.execute(
                insert(Donor.__table__),
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
            conn.execute(
                insert(DonorIdentity.__table__),
                [
                    {"donor_id": i, "full_name": f"Donor Name {i}", "national_id": f"ID{i:010d}", "phone": "", **meta}
                    for i in range(1, n_donors + 1)
                ],
            )
            donations, batches, units = [], [], []

            def flush():
                for table, rows in (
                    (Donation.__table__, donations),
                    (Batch.__table__, batches),
                    (DoseUnit.__table__, units),
                ):
                    if rows:
                        conn.execute(insert(table), rows)
                        rows.clear()

            per_day = n_batches / days
            seq_of_day: dict[date, int] = {}
            unit_id = 0
            for i in range(1, n_batches + 1):  # ids ascend with production day
                day = first_day + timedelta(days=min(days - 1, int((i - 1) / per_day)))
                n = seq_of_day[day] = seq_of_day.get(day, 0) + 1
                age = (today - day).days
                day_start, _day_end = lab_day_bounds_utc(day)
                started = day_start + timedelta(hours=6, minutes=5 * n)
                if age == 0:
                    started = min(started, now - timedelta(hours=5))
                status = _batch_status(rnd, age)
                storage = "fresh" if rnd.random() < 0.15 else "frozen"
                expiry, expires_at = unit_expiry(storage, day, started + timedelta(hours=3), limits)
                if status in ("released", "quarantine") and expires_at <= now:
                    status = "expired"
                lot = lot_number(day, n)
                donor_id = rnd.randint(1, n_donors)
                donations.append(
                    {
                        "id": i,
                        "code": donation_code(day, n),
                        "donor_id": donor_id,
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
                        "donor_id": donor_id,
                        "spec_id": spec_id,
                        "status": status,
                        "production_day": day,
                        "started_at": started,
                        "device_id": device_id,
                        "run_number": f"R{i:07d}",
                        "storage": storage,
                        "expiry_date": expiry,
                        "enrichment_minutes": rnd.randint(35, 58),
                        "status_reason": "QC out of specification" if status in ("rejected", "recalled") else None,
                        **meta,
                        "created_at": started,
                        "updated_at": started + timedelta(hours=4),
                    }
                )
                for k in range(1, min(UNITS_PER_BATCH, n_units - unit_id) + 1):
                    unit_id += 1
                    u_status = UNIT_STATUS.get(status) or ("administered" if rnd.random() < 0.25 else "available")
                    units.append(
                        {
                            "id": unit_id,
                            "code": unit_code(lot, k),
                            "batch_id": i,
                            "lot": lot,
                            "seq": k,
                            "volume_ml": volume,
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
                if len(units) >= CHUNK:
                    flush()
            flush()
        db = app.extensions["lims_db"]
        if not db.is_sqlite:  # what autovacuum would have done by then on a live server
            with db.engine.begin() as c:
                c.execute(text("ANALYZE"))
        with transaction(actor, write=False) as s:
            counts = {
                t.name: s.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (Donor.__table__, Donation.__table__, Batch.__table__, DoseUnit.__table__)
            }
            counts["units by status"] = dict(
                s.execute(
                    select(DoseUnit.status, func.count()).group_by(DoseUnit.status).order_by(func.count().desc())
                ).all()
            )
            counts["days"] = days
        return counts


# --- timing ----------------------------------------------------------------------------


def pct(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[math.ceil(0.95 * len(times)) - 1]


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def scan_then_page(client, codes: list[str], prefix: str) -> tuple[list[float], list[float], int]:
    """Per code: the scan's redirect alone, and scan + the record page it points to (ms); the last page's size."""
    for c in codes[:3]:  # warm-up
        client.get(client.get(f"/scan?code={prefix}{c}").headers["Location"])
    scan, both, size = [], [], 0
    for c in codes:
        t0 = time.perf_counter()
        r = client.get(f"/scan?code={prefix}{c}")
        t_scan = _ms(t0)
        assert r.status_code == 302, (c, r.status_code)
        loc = r.headers["Location"]
        assert "/scan" not in loc and "/login" not in loc, (c, loc)  # landed on a record, not back with a message
        p = client.get(loc)
        t_both = _ms(t0)
        assert p.status_code == 200, (loc, p.status_code)
        scan.append(t_scan)
        both.append(t_both)
        size = len(p.data)
    return scan, both, size


def get_each(client, urls: list[str], status=200) -> list[float]:
    client.get(urls[0])
    out = []
    for u in urls:
        t0 = time.perf_counter()
        r = client.get(u)
        out.append(_ms(t0))
        assert r.status_code == status, (u, r.status_code)
    return out


def median_of(fn, runs: int) -> tuple[float, object]:
    result = fn()  # warm-up (fonts registered, QR code paths imported)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(_ms(t0))
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=1_000_000)
    ap.add_argument("--donors", type=int, default=100)
    ap.add_argument("--scans", type=int, default=200, help="random records scanned per case")
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    t_start = time.perf_counter()
    url = prepare(args.database_url)
    app = create_app(TestConfig, DATABASE_URL=url)
    t0 = time.perf_counter()
    counts = generate(app, args.units, args.donors)
    t_gen = time.perf_counter() - t0
    print(f"database: {app.extensions['lims_db'].url.get_backend_name()}  (generated in {t_gen:.1f} s)")
    print(
        "rows: "
        + "  ".join(f"{k} {counts[k]}" for k in ("donor", "donation", "batch", "dose_unit"))
        + f"  over {counts['days']} production days"
    )
    print("units by status: " + ", ".join(f"{k} {v}" for k, v in counts["units by status"].items()))

    rnd = random.Random(5)
    n_units, n_batches = counts["dose_unit"], counts["batch"]
    with app.app_context(), transaction(Actor(None, "bench"), write=False) as s:
        ids = rnd.sample(range(1, n_units + 1), min(args.scans, n_units))
        by_id = dict(s.execute(select(DoseUnit.id, DoseUnit.code).where(DoseUnit.id.in_(ids))).all())
        unit_codes = [by_id[i] for i in ids]
        bare_codes = [by_id[i] for i in rnd.sample(ids, len(ids))]
        full_lots = range(1, max(2, n_batches))  # the last batch may hold fewer than 9 units
        lot_ids = rnd.sample(full_lots, min(args.scans + 22, len(full_lots)))
        lots_by_id = dict(s.execute(select(Batch.id, Batch.lot).where(Batch.id.in_(lot_ids))).all())
        lots = [lots_by_id[i] for i in lot_ids[: args.scans]]
        print_lots = [lots_by_id[i] for i in lot_ids[args.scans :]] or lots  # distinct from the scanned ones

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"csrf_token": token, "username": "bench", "password": PASSWORD})
    assert r.status_code == 302 and "/login" not in r.headers["Location"], "sign-in failed"

    rows: list[tuple[str, float, float, str]] = []
    scan, both, size = scan_then_page(client, unit_codes, "LIMS:DU:")
    rows.append(("scan LIMS:DU:<unit> -> 302", *pct(scan), f"n={len(scan)}"))
    rows.append(("  scan + unit page", *pct(both), f"page {size / 1024:.1f} KiB"))
    scan, both, size = scan_then_page(client, bare_codes, "")
    rows.append(("scan bare FMT-...-NN -> 302", *pct(scan), f"n={len(scan)}"))
    rows.append(("  scan + unit page", *pct(both), f"page {size / 1024:.1f} KiB"))
    scan, both, size = scan_then_page(client, lots, "LIMS:LOT:")
    rows.append(("scan LIMS:LOT:<lot> -> 302", *pct(scan), f"n={len(scan)}"))
    rows.append(("  scan + batch page", *pct(both), f"page {size / 1024:.1f} KiB"))
    has_resolve = any(rule.rule == "/scan/resolve" for rule in app.url_map.iter_rules())
    if has_resolve:
        t = get_each(client, [f"/scan/resolve?code=LIMS:DU:{c}" for c in unit_codes])
        rows.append(("GET /scan/resolve LIMS:DU:", *pct(t), f"n={len(t)}"))
        t = get_each(client, [f"/scan/resolve?code={c}" for c in bare_codes])
        rows.append(("GET /scan/resolve bare unit ID", *pct(t), f"n={len(t)}"))
        t = get_each(client, [f"/scan/resolve?code=LIMS:LOT:{lot}" for lot in lots])
        rows.append(("GET /scan/resolve LIMS:LOT:", *pct(t), f"n={len(t)}"))

    # Labels: 100 dose units, rendered directly (no HTTP, no audit)
    layouts = all_layouts()
    label_rows: list[tuple[str, float, str]] = []
    with app.app_context(), transaction(Actor(None, "bench"), write=False) as s:
        picks = rnd.sample(range(1, n_units + 1), min(100, n_units))
        units = list(s.execute(select(DoseUnit).where(DoseUnit.id.in_(picks))).scalars())
        s.expunge_all()  # build the contents from a cold identity map, as a print request would
        t0 = time.perf_counter()
        contents = [label_content.dose_unit(s, u) for u in units]
        label_rows.append((f"build {len(contents)} LabelContent", _ms(t0), "1 run, cold session"))
        for code in ("tube_50x30", "dosebag_100x60", "a4_sheet_50x30"):
            ms, doc = median_of(lambda code=code: label_pdf.render(layouts[code], contents, title="bench"), 5)
            label_rows.append((f"PDF {len(contents)} labels {code}", ms, f"{len(doc) / 1024:.0f} KB"))
        ms, job = median_of(
            lambda: label_zpl.render(
                layouts["tube_50x30"],
                contents,
                app.config["ZPL_DOTS_PER_MM"],
                app.config["ZPL_CJK"],
                app.config["ZPL_FONT"],
            ),
            5,
        )
        label_rows.append((f"ZPL {len(contents)} labels tube_50x30", ms, f"{len(job.encode()) / 1024:.0f} KB"))

    # POST /labels/print, a lot's 9 units per request (each a different lot: first prints, audited)
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get(f"/batches/{lots[0]}").get_data(as_text=True)
    ).group(1)
    printed: set[str] = set()
    for fmt in ("pdf", "zpl"):
        times, size = [], 0
        for k in range(11):
            lot = print_lots[(k + (11 if fmt == "zpl" else 0)) % len(print_lots)]
            reason = "bench reprint" if lot in printed else ""  # only on tiny data sets: a reprint needs a reason
            printed.add(lot)
            t0 = time.perf_counter()
            r = client.post(
                "/labels/print",
                data={
                    "csrf_token": token,
                    "kind": "LOT_UNITS",
                    "code": lot,
                    "layout": "tube_50x30",
                    "format": fmt,
                    "reason": reason,
                },
                headers={"Referer": f"http://localhost/batches/{lot}"},
            )
            if k:  # the first one warms up
                times.append(_ms(t0))
            assert r.status_code == 200 and r.headers["X-Label-Count"] == "9", (lot, r.status_code, r.headers)
            size = len(r.data)
        rows.append(
            (f"POST /labels/print LOT_UNITS {fmt}", *pct(times), f"9 labels, {size / 1024:.1f} KB, n={len(times)}")
        )

    print(f"\n{'case':<36} {'p50 ms':>8} {'p95 ms':>8}   notes")
    for label, p50, p95, note in rows:
        print(f"{label:<36} {p50:8.2f} {p95:8.2f}   {note}")
    if not has_resolve:
        print("GET /scan/resolve: not in this app (skipped)")
    print(f"\n{'labels (rendered in process)':<36} {'median ms':>9}   notes (5 runs after a warm-up)")
    for label, ms, note in label_rows:
        print(f"{label:<36} {ms:9.1f}   {note}")
    print(f"\ntotal bench time {time.perf_counter() - t_start:.0f} s")
    app.extensions["lims_db"].dispose()
    drop_schema(args.database_url)
    if args.database_url is None:  # the temp SQLite file (hundreds of MB at 1,000,000 units)
        shutil.rmtree(Path(app.extensions["lims_db"].url.database).parent, ignore_errors=True)


if __name__ == "__main__":
    main()
