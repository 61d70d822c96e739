"""Benchmark: the clinical pages (recipient, course, dose, today, AE listings, AE summary, home) at study scale.

    .venv/bin/python -m bench.clinical_pages [--recipients 2000] [--batches 10000] [--unit-batches 4000]
                                              [--donors 50] [--database-url URL] [--sql]

Production first: donors, batches and dose units from bench.batch_list's
generator (frozen units of released batches are what the courses use). Then
the study, with bulk SQLAlchemy Core inserts (bench data for reads, not GMP
records: no audit rows): the reference course template
(seed_default_template), recipients P-0001.. with their identities, one
3-day course each (P-0001-C1, doses P-0001-C1-D1..D3) spread from the first
usable units to the next days, so some doses fall on today. Each course takes
its three units first-expiry-first-out from one frozen batch made 50-170 days
before day 1 (Administration.unit_id is unique; the unit becomes
administered, or reserved/issued for a dose still to give today). About 5 %
of courses have a dose postponed a day for fever, ~3 % are stopped early;
every given dose has its observations at 30/120/240 min (those already past)
and the toripalimab co-therapy is recorded on day 3. About 1.5 adverse events
per treated recipient, CTCAE v5 (mostly fever, diarrhoea, nausea, abdominal
pain, with a grade the term defines, a few other terms), half linked to one
of the recipient's given doses; ~2 % are serious, with ethics/regulatory
deadlines from the SAE rules, the recent ones still to report (the home page's
"SAE reports due").

Then times real GETs through the app with a signed-in QA user (one warm-up, 20
timed requests each): the recipient page, its course and day-2 dose, today's
doses, the AE listing (all, by batch, by donor, by recipient), the summary,
the CTCAE catalogue, and home. Prints median, p95, response size and the
number of SQL statements one request of the page runs (counted with a
before_cursor_execute listener on the engine; BEGIN not counted). With --sql
it also prints, for each page with 30 or more statements, the statements it
repeats most. Asserts nothing.

--database-url: a temp SQLite file by default; for PostgreSQL pass a scratch
database, e.g. postgresql+psycopg://127.0.0.1:5432/test - the bench creates and
drops its own schema (lims_bench_clinical) there.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, event, func, insert, select, text, update

from bench.audit_trail import _prepare, drop_schema
from bench.batch_list import RUNS, generate, timed
from config import TestConfig
from lims import create_app
from lims.auth.models import User
from lims.clinical.ae_models import AdverseEvent
from lims.clinical.ae_rules import RELATED, SaeLimits, sae_deadlines
from lims.clinical.course_models import Administration, CoTherapy, Course, Observation, Postponement
from lims.clinical.courses import seed_default_template
from lims.clinical.models import Recipient, RecipientIdentity
from lims.core.models import Counter as IdCounter
from lims.ctcae import catalogue as ctcae
from lims.db import Actor, transaction
from lims.donors.models import Donor
from lims.manufacturing.models import Batch, DoseUnit
from lims.timefmt import lab_day_bounds_utc, to_lab

SCHEMA = "lims_bench_clinical"
CHUNK = 5_000
# (MedDRA code, weight): fever, diarrhoea, nausea, abdominal pain; the rest goes to other catalogue terms
COMMON_TERMS = (("10016558", 35), ("10012727", 30), ("10028813", 15), ("10000081", 15))
OTHER_WEIGHT = 5
DIAGNOSES = (
    "Gastric adenocarcinoma",
    "Colorectal adenocarcinoma",
    "Pancreatic ductal adenocarcinoma",
    "Non-small cell lung cancer",
    "Hepatocellular carcinoma",
    "Oesophageal squamous cell carcinoma",
)


def _insert(conn, table, rows) -> None:
    for i in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[i : i + CHUNK])


def _at(day, hour: float) -> datetime:
    """``hour`` hours after the start of the lab day ``day``, in UTC."""
    return lab_day_bounds_utc(day)[0] + timedelta(hours=hour)


def _unit_pool(s):
    """Frozen units of released (or since expired) batches, by batch, oldest production first."""
    rows = s.execute(
        select(DoseUnit.id, DoseUnit.batch_id, Batch.production_day)
        .join(Batch, Batch.id == DoseUnit.batch_id)
        .where(
            Batch.status.in_(("released", "expired")),
            Batch.storage == "frozen",
            DoseUnit.status.in_(("available", "administered", "expired")),
        )
        .order_by(Batch.production_day, Batch.id, DoseUnit.seq)
    ).all()
    batches: dict[int, dict] = {}
    for uid, bid, day in rows:
        batches.setdefault(bid, {"day": day, "units": []})["units"].append(uid)
    return [b for b in batches.values() if len(b["units"]) >= 3]


def _ae_terms(cat, rnd):
    common = [(cat.by_code(code), w) for code, w in COMMON_TERMS]
    others = [t for t in cat.terms if not t.term.endswith(ctcae.OTHER_SPECIFY_SUFFIX) and min(t.grades) == 1]
    terms, weights = zip(*common)

    def pick():
        if rnd.random() * 100 < OTHER_WEIGHT:
            return rnd.choice(others)
        return rnd.choices(terms, weights)[0]

    return pick


def _grade(rnd, term, serious: bool) -> int:
    """Mostly 1-2, some 3 (3 when serious); never a grade the term does not define."""
    g = 3 if serious else rnd.choices((1, 2, 3), (60, 32, 8))[0]
    return max((x for x in term.grades if x <= g), default=min(term.grades))


def generate_clinical(app, n_recipients: int) -> dict:
    """The study on top of the production data: recipients, courses, doses, observations, co-therapy, AEs."""
    rnd = random.Random(23)
    now = datetime.now(UTC)
    cat = ctcae.default()
    pick_term = _ae_terms(cat, rnd)
    limits = SaeLimits()
    with app.app_context():
        today = to_lab(now).date()
        actor = Actor(None, "bench")
        with transaction(actor) as s:
            template_id = seed_default_template(s).id
            uid = s.execute(select(User.id).where(User.username == "bench")).scalar_one()
            pool = _unit_pool(s)
        meta = {"version": 1, "created_at": now, "updated_at": now, "created_by_id": uid, "updated_by_id": uid}
        # day 1 of each course, evenly from the first day a pooled unit could be used (50 days after its
        # production) to two days from now; recipients are numbered in the order they started
        first = pool[0]["day"] + timedelta(days=50)
        span = max(1, (today + timedelta(days=2) - first).days)
        day1s = sorted(
            first + timedelta(days=int(span * (i + rnd.random()) / n_recipients)) for i in range(n_recipients)
        )
        recipients, identities, courses, doses, postponements, observations, co, aes = [], [], [], [], [], [], [], []
        unit_status: dict[int, str] = {}
        b_idx, no_unit = 0, 0
        for i, day1 in enumerate(day1s, start=1):
            code = f"P-{i:04d}"
            consent = day1 - timedelta(days=rnd.randint(3, 20))
            recipients.append(
                {
                    "id": i,
                    "code": code,
                    "study": "WMT + toripalimab, end-stage cachexia (exploratory)",
                    "sex": rnd.choice(["male", "female"]),
                    "date_of_birth": consent.replace(year=consent.year - rnd.randint(35, 80), day=min(consent.day, 28)),
                    "diagnosis": rnd.choice(DIAGNOSES),
                    "stage": "IV",
                    "tnm": f"T{rnd.randint(2, 4)}N{rnd.randint(0, 2)}M1",
                    "metastasis_sites": rnd.choice(["liver", "lung", "peritoneum", "liver, lung", "bone"]),
                    "ecog": rnd.randint(1, 3),
                    "prior_lines": rnd.randint(1, 4),
                    "consent_date": consent,
                    "notes": None,
                    **meta,
                }
            )
            identities.append(
                {
                    "id": i,
                    "recipient_id": i,
                    "full_name": f"Recipient Name {i}",
                    "hospital_number": f"H{i:08d}",
                    "phone": "",
                    **meta,
                }
            )
            # the course: a postponement moves the dose and the later ones a day; a stopped course cancels the rest
            scheduled = {d: day1 + timedelta(days=d - 1) for d in (1, 2, 3)}
            pp_day = rnd.choice((1, 2, 3)) if rnd.random() < 0.05 else None
            if pp_day:
                for d in range(pp_day, 4):
                    scheduled[d] += timedelta(days=1)
            stop_after = rnd.choice((1, 2)) if rnd.random() < 0.03 and scheduled[3] < today else None
            # units: first-expiry-first-out from one frozen batch made 50-170 days before day 1
            while b_idx < len(pool) and (
                pool[b_idx]["day"] < day1 - timedelta(days=170) or len(pool[b_idx]["units"]) < 3
            ):
                b_idx += 1
            batch = pool[b_idx] if b_idx < len(pool) and pool[b_idx]["day"] <= day1 - timedelta(days=50) else None
            courses.append(
                {
                    "id": i,
                    "code": f"{code}-C1",
                    "recipient_id": i,
                    "template_id": template_id,
                    "day1": day1,
                    "same_donor": True,
                    "status": "planned",
                    "status_reason": None,
                    **meta,
                }
            )
            given_days = []
            for d in (1, 2, 3):
                aid = 3 * (i - 1) + d
                row = {
                    "id": aid,
                    "code": f"{code}-C1-D{d}",
                    "course_id": i,
                    "recipient_id": i,
                    "day": d,
                    "planned_date": day1 + timedelta(days=d - 1),
                    "scheduled_date": scheduled[d],
                    "status": "planned",
                    "unit_id": None,
                    "issued_at": None,
                    "issued_by_id": None,
                    "given_at": None,
                    "given_by_id": None,
                    "volume_ml": None,
                    "route": None,
                    "tube_confirmed_on": None,
                    "tube_method": None,
                    "fasting": None,
                    "identity_checked": None,
                    "instructions_given": None,
                    "note": None,
                    **meta,
                }
                if stop_after is not None and d > stop_after:
                    row["status"] = "cancelled"
                elif scheduled[d] <= today and batch is not None:
                    given_at = _at(scheduled[d], 9 + rnd.random() * 4)
                    if scheduled[d] == today and (given_at > now - timedelta(minutes=30) or rnd.random() < 0.5):
                        # today's dose not given yet: its unit is reserved, or already issued to the ward
                        row["unit_id"] = batch["units"].pop(0)
                        issued = rnd.random() < 0.5
                        unit_status[row["unit_id"]] = "issued" if issued else "reserved"
                        if issued:
                            row.update(issued_at=now - timedelta(minutes=20), issued_by_id=uid)
                    else:
                        row.update(
                            status="given",
                            unit_id=batch["units"].pop(0),
                            issued_at=given_at - timedelta(hours=1),
                            issued_by_id=uid,
                            given_at=given_at,
                            given_by_id=uid,
                            volume_ml=Decimal("120.0"),
                            route="nasojejunal tube",
                            tube_confirmed_on=day1 - timedelta(days=1),
                            tube_method="under gastroscopy",
                            fasting=True,
                            identity_checked=True,
                            instructions_given="position,no_food",
                        )
                        unit_status[row["unit_id"]] = "administered"
                        given_days.append((aid, scheduled[d], given_at))
                        for m in (30, 120, 240):
                            if given_at + timedelta(minutes=m) <= now:
                                temp = rnd.uniform(38.1, 39.2) if rnd.random() < 0.06 else rnd.uniform(36.2, 37.4)
                                observations.append(
                                    {
                                        "administration_id": aid,
                                        "admin_code": row["code"],
                                        "minutes_after": m,
                                        "observed_at": given_at + timedelta(minutes=m),
                                        "temperature_c": Decimal(f"{temp:.1f}"),
                                        "diarrhoea": rnd.random() < 0.08,
                                        "abdominal_pain": rnd.random() < 0.05,
                                        "nausea_vomiting": rnd.random() < 0.05,
                                        "note": None,
                                        **meta,
                                    }
                                )
                elif scheduled[d] <= today:
                    no_unit += 1
                doses.append(row)
                if pp_day == d:
                    postponements.append(
                        {
                            "administration_id": aid,
                            "admin_code": row["code"],
                            "from_date": scheduled[d] - timedelta(days=1),
                            "to_date": scheduled[d],
                            "reason_code": "fever",
                            "reason": "Temperature 38.4 °C in the morning",
                            **meta,
                        }
                    )
            statuses = [r["status"] for r in doses[-3:]]
            if stop_after is not None:
                courses[-1].update(status="stopped", status_reason="Recipient withdrew consent")
            elif given_days and "planned" not in statuses:
                courses[-1]["status"] = "completed"
            elif given_days:
                courses[-1]["status"] = "in_progress"
            if len(given_days) == 3:
                co.append(
                    {
                        "recipient_id": i,
                        "recipient_code": code,
                        "course_id": i,
                        "drug": "toripalimab",
                        "dose": "200 mg",
                        "route": "IV",
                        "given_on": scheduled[3],
                        "cycle": 1,
                        "note": None,
                        **meta,
                    }
                )
            # adverse events: ~1.5 per treated recipient, half linked to one of the doses given
            n_ae = 0 if not given_days else max(2 if i == 1 else 0, rnd.choice((0, 1, 1, 2, 2, 3)))
            for k in range(n_ae):
                linked = (k % 2 == 0) if i == 1 else rnd.random() < 0.5
                if linked:
                    aid, given_on, given_at = rnd.choice(given_days)
                    onset = min(today, given_on + timedelta(days=rnd.choice((0, 0, 0, 1, 2))))
                    attribution = rnd.choice(("possible", "possible", "probable", "definite", "unlikely"))
                else:
                    aid, onset = None, min(today, day1 + timedelta(days=rnd.randint(-2, 20)))
                    attribution = rnd.choice(("unrelated", "unrelated", "unlikely", "possible"))
                serious = rnd.random() < 0.02
                term = pick_term()
                grade = _grade(rnd, term, serious)
                aware_at = min(now - timedelta(minutes=5), _at(onset, 10 + rnd.random() * 8))
                criteria = ("hospitalisation",) if serious else ()
                expected = rnd.random() < 0.5 if serious else None
                related = attribution in RELATED
                co_attr = rnd.choice(("unrelated", "unlikely", "possible"))
                due = sae_deadlines(criteria, expected, related or co_attr in RELATED, aware_at, limits)
                resolved = onset + timedelta(days=rnd.randint(1, 10))
                resolved = resolved if resolved <= today and rnd.random() < 0.9 else None
                old = aware_at < now - timedelta(days=20)  # reports of older SAEs were sent in time
                aes.append(
                    {
                        "recipient_id": i,
                        "recipient_code": code,
                        "administration_id": aid,
                        "ctcae_version": cat.version,
                        "term_code": term.code,
                        "term": term.term,
                        "soc": term.soc,
                        "grade": grade,
                        "description": None,
                        "onset_date": onset,
                        "resolved_date": resolved,
                        "seriousness": ",".join(criteria),
                        "expected": expected,
                        "attribution_fmt": attribution,
                        "attribution_cotherapy": co_attr,
                        "action_taken": rnd.choice(("none", "none", "medication", "fmt_postponed")),
                        "outcome": "recovered" if resolved else rnd.choice(("recovering", "not_recovered")),
                        "aware_at": aware_at,
                        "ethics_due_at": due.ethics,
                        "regulatory_due_at": due.regulatory,
                        "ethics_reported_at": due.ethics - timedelta(hours=6) if due.ethics and old else None,
                        "regulatory_reported_at": due.regulatory - timedelta(days=2)
                        if due.regulatory and old
                        else None,
                        **meta,
                    }
                )
        aes.sort(key=lambda a: (a["aware_at"], a["recipient_id"]))
        for n, a in enumerate(aes, start=1):
            a["id"], a["code"] = n, f"AE-{n:04d}"
        with transaction(actor) as s:
            conn = s.connection()
            _insert(conn, Recipient.__table__, recipients)
            _insert(conn, RecipientIdentity.__table__, identities)
            _insert(conn, Course.__table__, courses)
            _insert(conn, Administration.__table__, doses)
            _insert(conn, Postponement.__table__, postponements)
            _insert(conn, Observation.__table__, observations)
            _insert(conn, CoTherapy.__table__, co)
            _insert(conn, AdverseEvent.__table__, aes)
            items = [{"uid": k, "st": v} for k, v in unit_status.items()]
            units = DoseUnit.__table__
            stmt = update(units).where(units.c.id == bindparam("uid")).values(status=bindparam("st"))
            for j in range(0, len(items), CHUNK):
                conn.execute(stmt, items[j : j + CHUNK])
            conn.execute(
                insert(IdCounter.__table__),
                [{"name": "recipient", "value": n_recipients}, {"name": "adverse_event", "value": len(aes)}],
            )
        db = app.extensions["lims_db"]
        if not db.is_sqlite:
            with db.engine.begin() as c:
                c.execute(text("ANALYZE"))
        with transaction(actor, write=False) as s:
            lot, lot_n = s.execute(
                select(Batch.lot, func.count())
                .select_from(AdverseEvent)
                .join(Administration, Administration.id == AdverseEvent.administration_id)
                .join(DoseUnit, DoseUnit.id == Administration.unit_id)
                .join(Batch, Batch.id == DoseUnit.batch_id)
                .group_by(Batch.lot)
                .order_by(func.count().desc(), Batch.lot)
                .limit(1)
            ).one()
            donor, donor_n = s.execute(
                select(Donor.code, func.count())
                .select_from(AdverseEvent)
                .join(Administration, Administration.id == AdverseEvent.administration_id)
                .join(DoseUnit, DoseUnit.id == Administration.unit_id)
                .join(Batch, Batch.id == DoseUnit.batch_id)
                .join(Donor, Donor.id == Batch.donor_id)
                .group_by(Donor.code)
                .order_by(func.count().desc(), Donor.code)
                .limit(1)
            ).one()
            counts = {
                t.name: s.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (
                    Recipient.__table__,
                    Course.__table__,
                    Administration.__table__,
                    Observation.__table__,
                    Postponement.__table__,
                    CoTherapy.__table__,
                    AdverseEvent.__table__,
                )
            }
            counts["doses by status"] = dict(
                s.execute(select(Administration.status, func.count()).group_by(Administration.status)).all()
            )
            counts["linked AEs"] = s.execute(
                select(func.count()).select_from(AdverseEvent).where(AdverseEvent.administration_id.is_not(None))
            ).scalar_one()
            counts["SAEs"] = s.execute(
                select(func.count()).select_from(AdverseEvent).where(AdverseEvent.seriousness != "")
            ).scalar_one()
            counts["open SAEs"] = s.execute(
                select(func.count())
                .select_from(AdverseEvent)
                .where(
                    AdverseEvent.ethics_due_at.is_not(None) & AdverseEvent.ethics_reported_at.is_(None)
                    | AdverseEvent.regulatory_due_at.is_not(None) & AdverseEvent.regulatory_reported_at.is_(None)
                )
            ).scalar_one()
            counts["today"] = s.execute(
                select(func.count()).select_from(Administration).where(Administration.scheduled_date == today)
            ).scalar_one()
        counts.update(lot=lot, lot_n=lot_n, donor=donor, donor_n=donor_n, no_unit=no_unit)
        return counts


class StatementCounter:
    """Counts the SQL statements the engine runs (BEGIN excluded), their text and the time spent executing them."""

    def __init__(self, engine):
        self.statements: list[str] = []
        self.seconds = 0.0
        self.on = False
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if self.on and not statement.lstrip().upper().startswith("BEGIN"):
            self.statements.append(statement)
            conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        t0 = conn.info.pop("bench_t0", None)
        if t0 is not None:
            self.seconds += time.perf_counter() - t0

    def run(self, client, url) -> tuple[list[str], float]:
        """The statements of one GET of ``url`` and the ms spent in the driver executing them."""
        self.statements, self.seconds, self.on = [], 0.0, True
        try:
            r = client.get(url)
        finally:
            self.on = False
        assert r.status_code == 200, (url, r.status_code)
        return self.statements, self.seconds * 1000


def _short(sql: str, width: int = 150) -> str:
    return re.sub(r"\s+", " ", sql).strip()[:width]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipients", type=int, default=2_000)
    ap.add_argument("--batches", type=int, default=10_000, help="batches over 3 years (bench.batch_list's generator)")
    ap.add_argument("--unit-batches", type=int, default=4_000, help="newest batches that get dose units")
    ap.add_argument("--donors", type=int, default=50)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--sql", action="store_true", help="print the most repeated statements of the busier pages")
    args = ap.parse_args()
    url = _prepare(args.database_url, SCHEMA)
    app = create_app(TestConfig, DATABASE_URL=url)
    t0 = time.perf_counter()
    prod = generate(app, args.batches, args.donors, args.unit_batches)
    t1 = time.perf_counter()
    counts = generate_clinical(app, args.recipients)
    t2 = time.perf_counter()
    print(
        f"database: {app.extensions['lims_db'].url.get_backend_name()}  "
        f"(production generated in {t1 - t0:.1f} s, study in {t2 - t1:.1f} s)"
    )
    print(
        "rows: "
        + "  ".join(f"{k} {prod[k]}" for k in ("donor", "batch", "dose_unit"))
        + "  "
        + "  ".join(
            f"{k} {counts[k]}"
            for k in (
                "recipient",
                "course",
                "administration",
                "observation",
                "postponement",
                "co_therapy",
                "adverse_event",
            )
        )
    )
    print(
        "doses by status: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts["doses by status"].items()))
        + f"; scheduled today {counts['today']}; past doses without a unit (pool ran out) {counts['no_unit']}"
    )
    print(
        f"adverse events: {counts['adverse_event']} ({counts['linked AEs']} linked to a dose, {counts['SAEs']} serious, "
        f"{counts['open SAEs']} with a report still due); "
        f"busiest lot {counts['lot']} ({counts['lot_n']} linked AEs), busiest donor {counts['donor']} "
        f"({counts['donor_n']} linked AEs)"
    )
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"csrf_token": token, "username": "bench", "password": "Timing-Password-123"})
    sql = StatementCounter(app.extensions["lims_db"].engine)
    cases = (
        ("recipient P-0001", "/recipients/P-0001"),
        ("course P-0001-C1", "/courses/P-0001-C1"),
        ("dose P-0001-C1-D2", "/courses/doses/P-0001-C1-D2"),
        ("today's doses", "/courses/today"),
        ("AEs, all (first page)", "/aes/"),
        (f"AEs, batch {counts['lot']}", f"/aes/?batch={counts['lot']}"),
        (f"AEs, donor {counts['donor']}", f"/aes/?donor={counts['donor']}"),
        ("AEs, recipient P-0001", "/aes/?recipient=P-0001"),
        ("AE summary", "/aes/summary"),
        ("CTCAE terms", "/aes/terms"),
        ("home (SAE reports due)", "/"),
    )
    print(f"{'page':<34} {'median ms':>10} {'p95 ms':>8} {'KiB':>7} {'SQL':>5} {'SQL ms':>7}   ({RUNS} requests each)")
    repeated = []
    for label, u in cases:
        med, p95, size = timed(client, u)
        stmts, sql_ms = sql.run(client, u)
        print(f"{label:<34} {med:10.2f} {p95:8.2f} {size / 1024:7.1f} {len(stmts):5d} {sql_ms:7.1f}   {u}")
        if len(stmts) >= 30:
            repeated.append((label, Counter(stmts).most_common(5)))
    if args.sql:
        for label, top in repeated:
            print(f"\n{label}: most repeated statements")
            for stmt, n in top:
                print(f"  {n:5d} x  {_short(stmt)}")
    app.extensions["lims_db"].dispose()
    drop_schema(args.database_url, SCHEMA)


if __name__ == "__main__":
    main()
