"""Benchmark: the donor list at registry scale.

    .venv/bin/python -m bench.donor_list [--donors 10000] [--database-url URL]

Generates donors straight into a fresh database (bulk inserts: this is bench
data, not GMP records) and times the list page through the app with a
signed-in user: first page, status filter, code-prefix search, a page deep in
the registry, and a donor page. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert

from bench.audit_trail import _prepare, drop_schema
from config import TestConfig
from lims import create_app
from lims.auth.operations import create_user
from lims.db import Actor, transaction
from lims.donors.models import Donor, DonorIdentity
from lims.donors.protocols import seed_default_protocol

STATUSES = ["candidate"] * 60 + ["in_screening"] * 10 + ["excluded"] * 25 + ["deferred"] * 3 + ["eligible"] * 2


def generate(app, n: int) -> None:
    rnd = random.Random(7)
    now = datetime.now(UTC)
    with app.app_context():
        with transaction(Actor(None, "bench")) as s:
            seed_default_protocol(s)
            create_user(s, "bench", "Bench User", ["clinician"], "Timing-Password-123", must_change=False)
            conn = s.connection()
            rows = []
            for i in range(1, n + 1):
                rows.append(
                    {
                        "id": i,
                        "code": f"D-{i:04d}",
                        "sex": rnd.choice(["male", "female"]),
                        "date_of_birth": date(1990 + rnd.randint(0, 15), rnd.randint(1, 12), rnd.randint(1, 28)),
                        "height_cm": 150 + rnd.randint(0, 40),
                        "weight_kg": 45 + rnd.randint(0, 40),
                        "measured_on": date(2026, 1, 1) + timedelta(days=rnd.randint(0, 300)),
                        "status": rnd.choice(STATUSES),
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            conn.execute(insert(Donor.__table__), rows)
            conn.execute(
                insert(DonorIdentity.__table__),
                [
                    {
                        "donor_id": i,
                        "full_name": f"Name {i}",
                        "national_id": f"ID{i:010d}",
                        "phone": "",
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(1, n + 1)
                ],
            )


def timed(client, url, runs=20):
    client.get(url)  # warm
    t0 = time.perf_counter()
    for _ in range(runs):
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
    return (time.perf_counter() - t0) / runs * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--donors", type=int, default=10_000)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    url = _prepare(args.database_url)
    app = create_app(TestConfig, DATABASE_URL=url)
    t0 = time.perf_counter()
    generate(app, args.donors)
    print(
        f"database: {app.extensions['lims_db'].url.get_backend_name()}  donors: {args.donors} "
        f"(generated in {time.perf_counter() - t0:.1f} s)"
    )
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"csrf_token": token, "username": "bench", "password": "Timing-Password-123"})
    deep = args.donors - 60
    for label, u in (
        ("list, first page", "/donors/"),
        ("list, status=eligible", "/donors/?status=eligible"),
        ("list, code prefix D-99", "/donors/?code=D-99"),
        (f"list, page after id {deep}", f"/donors/?after={deep}"),
        ("donor page", f"/donors/D-{args.donors // 2:04d}"),
    ):
        print(f"{label:<32} {timed(client, u):7.2f} ms per request")
    app.extensions["lims_db"].dispose()
    drop_schema(args.database_url)


if __name__ == "__main__":
    main()
