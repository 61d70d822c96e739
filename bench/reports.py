"""Benchmark: rendering a full batch report, and a 100-report ZIP export.

    .venv/bin/python -m bench.reports [--units 40] [--qc 20] [--aes 10] [--audit 300] [--reports 100] [--runs 10]

The report's data is generated in memory in the shape ``batch_report.collect``
returns (a batch with its donor decision and 46 screening results, 7 steps,
QC results, a closed deviation, signatures, dose units with their
distribution, adverse events and audit rows), so the figures are ReportLab's
layout and the embedded font alone - reading the database is measured by the
page benchmarks. Prints the median and p95 of one report (pages, KiB), then
the time for ``--reports`` reports written into one ZIP (what the bulk export
does per job), once in English and once in Chinese. Asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import time
import zipfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace as NS

from config import TestConfig
from lims import create_app
from lims.manufacturing.rules import ProcessLimits


def fake_data(n_units: int, n_qc: int, n_aes: int, n_audit: int) -> dict:
    rnd = random.Random(7)
    t0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    batch = NS(
        lot="FMT-20261123-01",
        status="released",
        status_reason=None,
        storage="frozen",
        production_day=date(2026, 11, 23),
        run_number="GFM-2026-0187",
        expiry_date=date(2027, 5, 23),
        enrichment_minutes=52,
        version=9,
    )
    spec = NS(code="WMT-SPEC", spec_version=1, title="Washed microbiota suspension - process limits and release spec")
    limits = ProcessLimits(
        min_mass_g=Decimal(100),
        processing_limit_minutes=360,
        enrichment_limit_minutes=60,
        washes_required=3,
        filtration_stages_min=2,
        dose_volume_ml=Decimal(120),
        fresh_use_hours=12,
        frozen_expiry_months=6,
        thaw_use_hours=6,
        retained_sample_ml=Decimal(2),
        retained_keep_months=6,
        expiry_warning_days=7,
    )
    donation = NS(
        code="DN-20261123-01",
        collection_day=date(2026, 11, 23),
        collected_at=t0,
        received_at=t0 + timedelta(minutes=30),
        receipt_temp_c=Decimal("4.0"),
        mass_g=Decimal("182.5"),
        bristol=4,
        appearance="brown, formed; 棕色成形",
        retained_ml=Decimal("2.0"),
        retained_location="FRG-01 retained-sample rack",
        retained_until=date(2027, 5, 23),
    )
    decision = NS(outcome="eligible", until=date(2026, 12, 14), protocol_label="CN-WMT v1", as_of=date(2026, 10, 17))
    sig = ["FMT-20261123-01/S1", "Chen Jing", "Technician", "verified", "2026-11-23 10:40:00 CST", "valid", "witnessed"]
    params = [
        ("homogenisation", 1, {"diluent": "0.9 % saline", "volume_ml": "500"}),
        ("microfiltration", 1, {"mesh_um": [2000, 500, 100, 0.45]}),
        ("wash", 1, {"g_force": 1100, "minutes": 3, "temperature_c": 25}),
        ("wash", 2, {"g_force": 1100, "minutes": 3, "temperature_c": 25}),
        ("wash", 3, {"g_force": 1100, "minutes": 3, "temperature_c": 25}),
        (
            "resuspension",
            1,
            {"volume_ml": "120", "diluent": "saline", "cryoprotectant": "glycerol", "cryoprotectant_pct": "10"},
        ),
        ("fill", 1, {"dose_count": n_units, "unit_volume_ml": "120", "storage": "frozen"}),
    ]
    steps = [
        (
            NS(
                position=i,
                kind=k,
                seq=q,
                started_at=t0 + timedelta(minutes=8 * i),
                ended_at=t0 + timedelta(minutes=8 * i + 7),
            ),
            p,
            "Zhang Wei",
        )
        for i, (k, q, p) in enumerate(params, 1)
    ]
    qc = [
        (
            NS(
                item_code=f"Q{i}",
                value=str(99 + rnd.random()),
                in_spec=True,
                tested_on=date(2026, 11, 24),
                method="microbiology QC laboratory",
            ),
            NS(
                name=f"QC test {i}",
                name_zh=f"质控项目 {i}",
                result_type="numeric",
                min_value=Decimal(99),
                max_value=None,
                unit="%",
            ),
        )
        for i in range(1, n_qc + 1)
    ]
    units = []
    for i in range(1, n_units + 1):
        u = NS(
            code=f"FMT-20261123-01-{i:02d}",
            volume_ml=Decimal("120.0"),
            storage="frozen",
            status="administered" if i <= n_aes else "available",
            expiry_date=date(2027, 5, 23),
        )
        admin = (
            NS(
                status="given",
                given_at=t0 + timedelta(days=i),
                code=f"P-{i:04d}-C1-D1",
                scheduled_date=date(2026, 11, 24),
            )
            if i <= n_aes
            else None
        )
        units.append((u, f"SITE-A > FRZ-01 > FRZ-01-R1 > FRZ-01-R1-B1 / A{i}", admin, f"P-{i:04d}" if admin else None))
    aes = [
        NS(
            code=f"AE-{i:04d}",
            recipient_code=f"P-{i:04d}",
            term=rnd.choice(["Fever", "Diarrhea", "Nausea"]),
            grade=rnd.choice([1, 1, 2]),
            onset_date=date(2026, 11, 25),
            attribution_fmt="possible",
            attribution_cotherapy="unrelated",
            serious=False,
        )
        for i in range(1, n_aes + 1)
    ]
    audit = [
        NS(
            id=1000 + i,
            ts=t0 + timedelta(seconds=20 * i),
            user_name=rnd.choice(["Zhang Wei", "Chen Jing", "Li Na"]),
            action=rnd.choice(["create", "update", "sign"]),
            entity="dose_unit",
            record_id=f"FMT-20261123-01-{i % 40:02d}",
            field=rnd.choice(["status", "box_id", "position", "params"]),
            old_value="quarantine",
            new_value="available; moved from SITE-A > FRZ-01 > FRZ-01-R1 > FRZ-01-R1-B1 / A1",
            reason="batch released",
        )
        for i in range(n_audit)
    ]
    from lims.audit.display import DisplayRow
    from lims.reports.batch_report import StatusAtPrint

    # what ``display_rows`` makes of them (its lookups are a handful of queries, not ReportLab's time)
    audit = [
        DisplayRow(
            entry=a,
            when=f"{a.ts:%Y-%m-%d %H:%M:%S} CST",
            user=a.user_name,
            action=a.action,
            record=f"Dose unit {a.record_id}",
            field=a.field,
            old=a.old_value,
            new=a.new_value,
        )
        for a in audit
    ]
    status = StatusAtPrint(
        "on_hold",
        "Held by lookback case LB-2026-0001: do not use.",
        ("LB-2026-0001",),
        (),
        ("Held by lookback case LB-2026-0001.",),
    )
    return {
        "batch": batch,
        "donation": donation,
        "donor": NS(code="D-0001"),
        "spec": spec,
        "limits": limits,
        "device": NS(code="EQ-GFM-01", name="GenFMTer automated microbiota purification device"),
        "received_by": "Zhang Wei",
        "decision": decision,
        "decision_reasons": [f"Item {i}: the result of 2026-10-15 is valid through 2026-12-14." for i in range(46)],
        "decision_results": [
            [f"Protocol item {i} 检验项目", "negative", "2026-10-15", "2026-12-14"] for i in range(46)
        ],
        "decision_signatures": [sig],
        "clearing": NS(as_of=date(2026, 11, 25)),
        "steps": steps,
        "step_signatures": [sig] * 7,
        "qc": qc,
        "qc_signatures": [sig] * n_qc,
        "deviations": [
            NS(
                code="DEV-2026-0001",
                source="manual",
                description="Centrifuge lid alarm during wash 2 " * 4,
                investigation="Lid sensor cleaned " * 6,
                outcome="No impact",
                status="closed",
            )
        ],
        "deviation_signatures": [sig],
        "dispositions": [],
        "release_signatures": [sig, sig],
        "units": units,
        "aes": aes,
        "audit": audit,
        "status": status,
        "last_audit_id": 1000 + n_audit,
    }


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=40)
    ap.add_argument("--qc", type=int, default=20)
    ap.add_argument("--aes", type=int, default=10)
    ap.add_argument("--audit", type=int, default=300)
    ap.add_argument("--reports", type=int, default=100)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()

    from flask_babel import force_locale
    from pypdf import PdfReader

    from lims.reports import batch_report

    app = create_app(TestConfig)
    data = fake_data(args.units, args.qc, args.aes, args.audit)
    now = datetime.now(UTC)
    with app.test_request_context():
        batch_report.build(data, "Li Na", now)  # warm-up: font parsing and registration happen once per process
        for lang in ("en", "zh_CN"):
            with force_locale(lang):
                pdf = batch_report.build(data, "Li Na", now)
                times = timed(lambda: batch_report.build(data, "Li Na", now), args.runs)
                pages = len(PdfReader(io.BytesIO(pdf)).pages)
                p95 = sorted(times)[max(0, int(len(times) * 0.95) - 1)]
                print(
                    f"[{lang}] one batch report ({args.units} units, {args.qc} QC, {args.aes} AEs, {args.audit} audit rows): "
                    f"median {statistics.median(times):.0f} ms, p95 {p95:.0f} ms, {pages} pages, {len(pdf) / 1024:.0f} KiB"
                )
                t = time.perf_counter()
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                    for i in range(args.reports):
                        zf.writestr(f"report-{i:03d}.pdf", batch_report.build(data, "Li Na", now))
                total = time.perf_counter() - t
                print(
                    f"[{lang}] export of {args.reports} reports into one ZIP: {total:.1f} s "
                    f"({total / args.reports * 1000:.0f} ms a report), {len(buf.getvalue()) / 1024 / 1024:.1f} MiB"
                )


if __name__ == "__main__":
    main()
