"""The donor screening and recipient course reports, built directly and read back with pypdf.

Each report is collected in a read-only transaction inside a request context
(the reader's language comes from the request), then checked for its key
values, "Page X of Y" on every page, the watermark only where the record is not
signed, Chinese text for a zh_CN reader, and the header QR code decoding to the
record. Set LIMS_REPORT_SAMPLES=<dir> to keep the PDFs for a look.
"""

from __future__ import annotations

import io
import os
import re
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from flask_babel import refresh
from pypdf import PdfReader
from sqlmodel import select

from lims.audit.models import AuditEntry
from lims.audit.trail import audit_event, change_reason
from lims.clinical import courses
from lims.clinical.course_models import Course
from lims.clock import utcnow
from lims.db import Actor, transaction
from lims.donors.models import Donor
from lims.donors.screening_models import EligibilityDecision, Screening, ScreeningResult
from lims.reports import course_report, donor_report
from tests.clinical.conftest import (
    FEVER,
    NAUSEA,
    TODAY,
    UNITS,
    administer,
    dose_row,
    dose_url,
    issue,
    plan,
    postpone,
    reserve,
)
from tests.clinical.test_ae_http import send_report
from tests.labels.test_render import decoded
from tests.manufacturing.conftest import act, local
from tests.manufacturing.flow import LOT, ok

# The shared fixtures (pytest finds them as names of this module).

WATERMARK = "NO SIGNED DECISION"


# --- helpers ------------------------------------------------------------------------------------------


@contextmanager
def reading(app, zh=False):
    """A request (English, or a browser asking for zh-CN) and a read-only transaction."""
    headers = {"Accept-Language": "zh-CN,zh;q=0.9"} if zh else {"Accept-Language": "en"}
    with app.test_request_context(headers=headers):
        refresh()  # the locale is cached on g, which the app fixture's context shares
        try:
            with transaction(Actor(None, "test"), write=False) as s:
                yield s
        finally:
            refresh()


def pages_of(pdf: bytes) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def squeeze(text: str) -> str:
    """Without any whitespace: extraction breaks lines inside wrapped cells."""
    return "".join(text.split())


def assert_has(text: str, *expected: str) -> None:
    flat = squeeze(text)
    missing = [e for e in expected if squeeze(e) not in flat]
    assert not missing, (missing, text[:6000])


def assert_pages(pages: list[str], title: str, record: str) -> None:
    n = len(pages)
    for i, page in enumerate(pages, start=1):
        assert_has(page, f"Page {i} of {n}", f"{title} · {record}")


def keep(name: str, pdf: bytes) -> None:
    folder = os.environ.get("LIMS_REPORT_SAMPLES")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / name).write_bytes(pdf)


def first_screening(s, donor_code="D-0001") -> Screening:
    donor = s.exec(select(Donor).where(Donor.code == donor_code)).one()
    return s.exec(select(Screening).where(Screening.donor_id == donor.id).order_by(Screening.id)).first()


def donor_pdf(app, screening_id=None, zh=False):
    with reading(app, zh) as s:
        sc = s.get(Screening, screening_id) if screening_id else first_screening(s)
        data = donor_report.collect(s, sc)
        return data, donor_report.doc_version(data), donor_report.build(data, "Li Na", utcnow())


def course_pdf(app, code="P-0001-C1", zh=False):
    with reading(app, zh) as s:
        data = course_report.collect(s, courses.course(s, code))
        return data, course_report.doc_version(data), course_report.build(data, "Li Na", utcnow())


# --- donor screening report ---------------------------------------------------------------------------


def test_signed_screening_report_prints_every_item_the_decision_and_its_signatures(app, mfg):
    data, version, pdf = donor_pdf(app)
    keep("donor-screening-signed.pdf", pdf)
    pages = pages_of(pdf)
    text = " ".join(pages)
    assert_pages(pages, "Donor screening report", "D-0001")
    # Donor by code, never the identity held apart.
    assert_has(text, "D-0001", "male")
    assert "Zhao Yu" not in text and "320106200603141237" not in text
    # Protocol and every item of the panel with its result, sample date and last valid day.
    assert_has(text, "CN-WMT v1", "Donor screening - Chinese 2020 consensus defaults", "2026-11-10", "central lab")
    assert_has(
        text,
        "White blood cell count 6.5 10^9/L 3.5–9.5 10^9/L 2026-11-10 2027-01-09",
        "Haemoglobin 145.0 g/L 115–175 g/L 2026-11-10 2027-01-09",
        "Self-rating Depression Scale (SDS), standard score 24.5 score ≤ 49 score 2026-11-10 2027-02-08",
        "HIV-1/2 antigen/antibody negative",
        "MDRO: methicillin-resistant Staphylococcus aureus (MRSA) negative",
        "Fever, vomiting or diarrhoea in the last 4 weeks no",
    )
    assert len(data["rows"]) == 49 and all(r["value"] is not None and r["verified_ok"] for r in data["rows"])
    assert "missing" not in text and "not verified" not in text
    # Verified by the second person (printed name, role, meaning, time with zone), every signature valid.
    assert_has(
        text,
        "White blood cell count 6.5 10^9/L 3.5–9.5 10^9/L 2026-11-10 2027-01-09 Chen Jing 2026-11-23 10:00:00 CST",
        "Result verification signatures",
        "49 results Chen Jing Technician verified 2026-11-23 10:00:00 CST valid",
    )
    assert data["result_signatures"] == [
        ["49 results", "Chen Jing", "Technician", "verified", "2026-11-23 10:00:00 CST", "valid", ""]
    ]  # one signing act over the panel, one line
    # The decision with every reason sentence, signed "approved" by the clinician.
    assert_has(
        text,
        "Eligibility decision",
        "Outcome eligible",
        "Until 2027-01-09",
        "Decided as of 2026-11-12",
        "White blood cell count: the result of 2026-11-10 is valid through 2027-01-09.",
        "Decision signature (approved)",
        "Dr. Liu Yang",
        "Clinician / research nurse",
        "approved",
    )
    assert len(data["decision_reasons"]) > 30  # one sentence per result that sets the end date
    assert [(row[1], row[3], row[5]) for row in data["decision_signatures"]] == [("Dr. Liu Yang", "approved", "valid")]
    assert "INVALID" not in text
    # No watermark and no warning on a signed decision (and no red on the results page).
    assert WATERMARK not in text and "NO SIGNED DECISION:" not in text
    assert reddish_pixels(pdf, 1) == 0
    # The header: QR code to the donor, document version with the last audit row of the screening's records.
    assert decoded(pdf, 0, dpi=300) == ["LIMS:DO:D-0001"]
    m = re.search(r"FMT-DS rev 1 · screening #(\d+) · record version (\d+) · audit trail to #(\d+)", pages[0])
    assert m and m.group(0) == version, pages[0][:500]
    with transaction(Actor(None, "test"), write=False) as s:
        sc = first_screening(s)
        results = [str(r.id) for r in s.exec(select(ScreeningResult).where(ScreeningResult.screening_id == sc.id))]
        decision = s.exec(select(EligibilityDecision).where(EligibilityDecision.screening_id == sc.id)).one()
        rows = s.exec(select(AuditEntry).where(AuditEntry.entity.in_(donor_report.ENTITIES))).all()
        own = [
            a.id
            for a in rows
            if (a.entity, a.record_id)
            in {("screening", str(sc.id)), ("eligibility_decision", str(decision.id))}
            | {("screening_result", rid) for rid in results}
        ]
        # The last row is the decision's "decided" status change; the donor's own rows are not the screening's.
        assert (int(m.group(1)), int(m.group(2)), int(m.group(3))) == (sc.id, sc.version, max(own))


def test_document_version_ignores_prints_and_moves_with_any_change(app, mfg):
    _d, before, _pdf = donor_pdf(app)
    with transaction(Actor(None, "printer")) as s:  # what the report view writes after a print
        audit_event(s, "report", "screening", str(first_screening(s).id), new=before, reason="donor screening report")
    _d, again, _pdf = donor_pdf(app)
    assert again == before
    with transaction(Actor(None, "test correction")) as s, change_reason(s, "test: comment added"):
        sc = first_screening(s)
        r = s.exec(
            select(ScreeningResult).where(ScreeningResult.screening_id == sc.id).order_by(ScreeningResult.id)
        ).first()
        r.comment = "re-read from the source document"
    data, after, pdf = donor_pdf(app)
    assert after != before
    # The corrected result's verification no longer holds, and the report says so.
    text = " ".join(pages_of(pdf))
    assert_has(text, "INVALID: record changed after signing (signed version 1, now 2)")
    assert [(row[0], row[5]) for row in data["result_signatures"]] == [
        (
            "Antibiotics, proton-pump inhibitors, immunosuppressants or chemotherapy in the last 3 months",
            "INVALID: record changed after signing (signed version 1, now 2)",
        ),
        ("48 results", "valid"),
    ]


def test_open_screening_prints_missing_items_and_the_watermark_on_every_page(app, mfg):
    from lims.donors import operations as donor_ops
    from lims.donors import screening

    def start(s, user):
        sc = screening.start(s, donor_ops.get(s, "D-0001"), date(2026, 11, 23))
        screening.record_results(
            s,
            sc,
            {"B_WBC": ("12.1", ""), "B_HIV": ("negative", "")},
            date(2026, 11, 23),
            "central lab",
            None,
            date(2026, 11, 23),
        )
        return sc.id

    sc_id = act("tech1", start)
    data, _version, pdf = donor_pdf(app, sc_id)
    keep("donor-screening-open.pdf", pdf)
    pages = pages_of(pdf)
    assert len(pages) >= 2
    assert_pages(pages, "Donor screening report", "D-0001")
    for page in pages:
        assert WATERMARK in page
    text = " ".join(pages)
    assert_has(
        text,
        "NO SIGNED DECISION: this screening has no approved eligibility decision",
        "White blood cell count 12.1 10^9/L 3.5–9.5 10^9/L 2026-11-23 2027-01-22 not verified",
        "Haemoglobin no result 115–175 g/L missing",
        "No eligibility decision has been approved for this screening.",
        "Evaluation as of 2026-11-23 (not a decision) incomplete",
        "Reasons 49 items have no valid, verified result yet",
    )
    assert sum(1 for r in data["rows"] if r["value"] is None) == 47
    assert data["result_signatures"] == [] and data["decision"] is None
    assert decoded(pdf, 0, dpi=300) == ["LIMS:DO:D-0001"]


def test_decision_changed_after_signing_is_invalid_and_watermarked(app, mfg):
    with transaction(Actor(None, "test tamper")) as s, change_reason(s, "test: changed after approval"):
        d = s.exec(select(EligibilityDecision).where(EligibilityDecision.screening_id == first_screening(s).id)).one()
        d.until = d.until - timedelta(days=1)
    data, _version, pdf = donor_pdf(app)
    pages = pages_of(pdf)
    assert not data["signed"]
    for page in pages:
        assert WATERMARK in page
    assert_has(" ".join(pages), "Dr. Liu Yang", "INVALID: record changed after signing")


def reddish_pixels(pdf: bytes, page: int) -> int:
    """Pixels of the page where red clearly dominates (the watermark's tint; the tables are black, grey and navy)."""
    import pypdfium2

    rgb = pypdfium2.PdfDocument(pdf)[page].render(scale=50 / 72).to_pil().convert("RGB").tobytes()
    return sum(1 for i in range(0, len(rgb), 3) if rgb[i] - rgb[i + 1] > 15 and rgb[i] - rgb[i + 2] > 15)


def test_watermark_shows_over_the_tables(app, mfg):
    with transaction(Actor(None, "test tamper")) as s, change_reason(s, "test: changed after approval"):
        d = s.exec(select(EligibilityDecision).where(EligibilityDecision.screening_id == first_screening(s).id)).one()
        d.until = d.until - timedelta(days=1)
    _data, _version, pdf = donor_pdf(app)
    assert reddish_pixels(pdf, 1) > 300  # page 2: nothing but the results table under the watermark


def test_screening_report_for_a_chinese_reader(app, mfg):
    _data, _version, pdf = donor_pdf(app, zh=True)
    keep("donor-screening-zh.pdf", pdf)
    pages = pages_of(pdf)
    text = " ".join(pages)
    # Item names from the protocol's Chinese, labels from the catalogue, the engine's outcome in Chinese.
    assert_has(text, "白细胞计数", "HIV-1/2抗原/抗体", "血液检测", "供体", "合格", "D-0001")
    assert re.search(r"[\u4e00-\u9fff]{4,}", text)
    assert decoded(pdf, 0, dpi=300) == ["LIMS:DO:D-0001"]


# --- recipient course report ---------------------------------------------------------------------------

D1, D2, D3 = (f"P-0001-C1-D{n}" for n in (1, 2, 3))
DAY2, DAY3, DAY4 = (TODAY + timedelta(days=n) for n in (1, 2, 3))
REASON = "38.2 °C at 20:00 on day 1; day 2 moved by one day per protocol"


def three_day_course(clinic):
    """P-0001's course: day 1 on plan, day 2 postponed for fever and given a day late with 38.4 °C after it,
    a grade 1 fever possibly related to FMT, toripalimab on day 3, a serious (unrelated) nausea reported to ethics."""
    nurse, tech = clinic.nurse, clinic.tech
    ok(plan(nurse, "P-0001", TODAY))
    ok(reserve(nurse, D1, UNITS[0]))
    ok(issue(tech, UNITS[0]))
    clinic.at(TODAY, 10, 30)
    ok(administer(nurse, D1, UNITS[0], local(TODAY, 10, 25)))
    clinic.at(TODAY, 20, 0)
    ok(postpone(nurse, D2, DAY3.isoformat(), "fever", REASON))
    clinic.at(DAY3, 9, 0)
    ok(reserve(nurse, D2, UNITS[1]))
    ok(issue(tech, UNITS[1]))
    clinic.at(DAY3, 9, 40)
    ok(administer(nurse, D2, UNITS[1], local(DAY3, 9, 30)))
    clinic.at(DAY3, 11, 35)
    ok(
        nurse.post(
            f"{dose_url(D2)}/observations",
            {
                "obs-minutes_after": "120",
                "obs-observed_at": local(DAY3, 11, 30),
                "obs-temperature_c": "38.4",
                "obs-note": "indometacin suppository",
            },
            token_from=dose_url(D2),
        )
    )
    url = f"/aes/new/P-0001?term={FEVER}"
    ok(
        nurse.post(
            url,
            {
                "term_code": FEVER,
                "grade": "1",
                "description": "38.4 °C two hours after the day-2 infusion",
                "onset_date": DAY3.isoformat(),
                "attribution_fmt": "possible",
                "attribution_cotherapy": "unrelated",
                "administration_id": str(dose_row(D2).id),
                "action_taken": "medication",
                "outcome": "recovering",
                "aware_at": local(DAY3, 11, 30),
            },
            token_from=url,
        )
    )
    clinic.at(DAY4, 8, 30)
    ok(reserve(nurse, D3, UNITS[2]))
    ok(issue(tech, UNITS[2]))
    clinic.at(DAY4, 9, 5)
    ok(administer(nurse, D3, UNITS[2], local(DAY4, 9, 0)))
    ok(
        nurse.post(
            "/courses/co-therapy/P-0001",
            {
                "co-drug": "toripalimab",
                "co-dose": "200 mg",
                "co-route": "IV",
                "co-given_on": DAY4.isoformat(),
                "co-cycle": "1",
            },
            token_from="/recipients/P-0001",
        )
    )
    clinic.at(DAY4, 16, 0)
    url = f"/aes/new/P-0001?term={NAUSEA}"
    ok(
        nurse.post(
            url,
            {
                "term_code": NAUSEA,
                "grade": "3",
                "description": "admitted for IV fluids",
                "onset_date": DAY4.isoformat(),
                "seriousness": ["hospitalisation"],
                "expected": "no",
                "attribution_fmt": "unrelated",
                "attribution_cotherapy": "unlikely",
                "administration_id": "",
                "action_taken": "medication",
                "outcome": "recovering",
                "aware_at": local(DAY4, 15, 0),
            },
            token_from=url,
        )
    )
    ok(send_report(nurse, "AE-0002", "ethics", local(DAY4, 15, 45)))


def test_course_report_prints_plan_against_actual_observations_and_adverse_events(app, clinic):
    three_day_course(clinic)
    data, version, pdf = course_pdf(app)
    keep("course.pdf", pdf)
    pages = pages_of(pdf)
    text = " ".join(pages)
    assert_pages(pages, "Recipient course report", "P-0001-C1")
    # The recipient by code with the study facts; no name, no hospital number.
    assert_has(
        text,
        "P-0001",
        "Sigmoid colon adenocarcinoma",
        "IV · T3N1M1",
        "liver",
        "ECOG 3",
        "Prior treatment lines 7",
        "Informed consent 2026-11-20",
    )
    assert "Xu Ming" not in text and "H2019-0122" not in text
    # The template.
    assert_has(text, "nasojejunal tube", "WMT-NJ-D1D3 v1", "days 1, 2, 3, 120 mL each")
    # Planned against actual: day 1 on plan, days 2 and 3 a day late after the fever postponement.
    assert_has(
        text,
        f"Day 1 {TODAY} {TODAY} {TODAY} 10:25 CST 120.0 mL Dr. Liu Yang {UNITS[0]} {LOT} D-0001 given",
        f"Day 2 {DAY2} {DAY3} +1 d {DAY3} 09:30 CST (1 d after plan) 120.0 mL Dr. Liu Yang {UNITS[1]} {LOT} D-0001 given",
        f"Postponed {DAY2} → {DAY3}: fever – {REASON}",
        f"Day 3 {DAY3} {DAY4} +1 d {DAY4} 09:00 CST (1 d after plan)",
    )
    # Observations per dose.
    assert_has(text, f"Day 2 120 {DAY3} 11:30 CST 38.4 fever no no no indometacin suppository")
    # Co-therapy.
    assert_has(text, f"{DAY4} toripalimab 200 mg IV 1")
    # Adverse events: term, grade and its meaning, attribution, outcome, the dose it followed.
    assert_has(
        text,
        "AE-0001 Fever",
        "1 · mild",
        "FMT: possible",
        "co-therapy: unrelated",
        "recovering/resolving",
        D2,
        "38.4 °C two hours after the day-2 infusion",
        "AE-0002 Nausea",
        "3 · severe",
        "requires or prolongs hospitalisation · unexpected",
        "not serious",
    )
    # SAE reporting: ethics due and sent, regulatory not required (not related).
    assert_has(
        text,
        f"AE-0002 Ethics committee {DAY4 + timedelta(days=1)} 15:00 CST {DAY4} 15:45 CST sent",
        "AE-0002 Regulatory authority (expedited) not required (expected or not related)",
    )
    assert "OVERDUE" not in text and "NOT RELEASED" not in text and WATERMARK not in text
    # The header: QR code to the course and the document version.
    assert decoded(pdf, 0, dpi=300) == ["LIMS:CO:P-0001-C1"]
    m = re.search(r"FMT-CR rev 1 · course P-0001-C1 · record version (\d+) · audit trail to #(\d+)", pages[0])
    assert m and m.group(0) == version
    with transaction(Actor(None, "test"), write=False) as s:
        c = s.exec(select(Course).where(Course.code == "P-0001-C1")).one()
        ids = [
            a.id
            for a in s.exec(select(AuditEntry)).all()
            if a.action not in ("report", "print")
            and a.record_id
            and (
                a.record_id == c.code
                or a.record_id.startswith(c.code + "-")
                or a.record_id in ("AE-0001", "AE-0002")
                or (a.entity, a.record_id) == ("recipient", "P-0001")
                or a.record_id.startswith("P-0001/CT")
            )
        ]
        assert (int(m.group(1)), int(m.group(2))) == (c.version, max(ids))


def test_course_report_for_a_chinese_reader_and_an_empty_course(app, clinic):
    ok(plan(clinic.nurse, "P-0001", TODAY))
    ok(postpone(clinic.nurse, D1, DAY2.isoformat(), "fever", "38.5 °C 发热"))
    data, _version, pdf = course_pdf(app, zh=True)
    keep("course-zh.pdf", pdf)
    pages = pages_of(pdf)
    text = " ".join(pages)
    assert_has(text, "鼻空肠管", "受者", "发热", "38.5 °C 发热", "P-0001-C1")
    assert re.search(r"[\u4e00-\u9fff]{4,}", text)
    assert decoded(pdf, 0, dpi=300) == ["LIMS:CO:P-0001-C1"]
    assert [r["dose"].status for r in data["rows"]] == ["planned"] * 3 and data["aes"] == []
    # English: nothing given yet, nothing observed, no events.
    _data, _version, pdf = course_pdf(app)
    text = " ".join(pages_of(pdf))
    assert_has(
        text,
        "Page 1 of",
        f"Day 1 {TODAY} {DAY2} +1 d",
        "none reserved",
        "No adverse events recorded.",
        "No serious adverse events.",
    )
