"""The lookback PDF report through HTTP, read back with pypdf: the case, its scope rule, everything it reaches,
the recipients and their notifications, re-tests, signed actions, the timeline; watermark, QR, audit, access.

Set LIMS_REPORT_SAMPLES=<dir> to keep the PDFs for a look.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

from pypdf import PdfReader

from lims.lookback.models import LookbackCase
from tests.clinical.conftest import TODAY, UNITS, administer, issue, plan, reserve
from tests.conftest import PASSWORD, audit_rows
from tests.labels.test_render import decoded
from tests.manufacturing import flow
from tests.manufacturing.conftest import local
from tests.manufacturing.flow import LOT, ok

WATERMARK = "OPEN CASE"
DOCTOR = "Dr Li (oncologist)"
HEADER = r"FMT-LB rev 1 · case {code} · record version (\d+) · audit trail to #(\d+)"


def url(code: str) -> str:
    return f"/reports/lookback/{code}.pdf"


def pages_of(resp) -> list[str]:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    assert resp.mimetype == "application/pdf"
    return [p.extract_text() for p in PdfReader(io.BytesIO(resp.data)).pages]


def squeeze(text: str) -> str:
    """Without any whitespace: extraction breaks lines inside wrapped cells."""
    return "".join(text.split())


def assert_has(text: str, *expected: str) -> None:
    flat = squeeze(text)
    missing = [e for e in expected if squeeze(e) not in flat]
    assert not missing, (missing, text[:6000])


def keep(name: str, pdf: bytes) -> None:
    folder = os.environ.get("LIMS_REPORT_SAMPLES")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / name).write_bytes(pdf)


def case_for_the_batch(clinic, reason="Recipient P-0001 developed ESBL bacteraemia; traced to this batch.") -> str:
    """Unit -01 given to P-0001 at 10:00, unit -02 reserved for day 2; at 12:00 QA opens a case for the batch."""
    ok(plan(clinic.nurse, "P-0001", TODAY))
    ok(reserve(clinic.nurse, "P-0001-C1-D1", UNITS[0]))
    ok(issue(clinic.tech, UNITS[0]))
    ok(administer(clinic.nurse, "P-0001-C1-D1", UNITS[0], local(TODAY, 10, 0)))
    ok(reserve(clinic.nurse, "P-0001-C1-D2", UNITS[1]))
    clinic.at(TODAY, 12, 0)
    r = clinic.lab.qa.post(
        "/lookback/new",
        {"donor": "", "lot": LOT, "finding_date": str(TODAY), "reason": reason},
        token_from="/lookback/",
    )
    assert r.status_code == 302
    return r.headers["Location"].rsplit("/", 1)[1]


def notify(browser, code, when, person=DOCTOR, reached="yes", note="Told by phone; stool culture ordered."):
    return browser.post(
        f"/lookback/{code}/notifications",
        {
            "recipient": "P-0001",
            "informed_person": person,
            "informed_at": when,
            "method": "phone",
            "reached": reached,
            "note": note,
        },
        token_from=f"/lookback/{code}",
    )


def last_lookback_row(app, code: str) -> int:
    return max(
        a.id
        for a in audit_rows(app)
        if a.entity.startswith("lookback_")
        and a.action not in ("report", "print")
        and a.record_id
        and (a.record_id == code or a.record_id.startswith((f"{code}-", f"{code}:")))
    )


def test_open_case_report_prints_the_reach_the_recipient_and_the_notification(app, clinic):
    code = case_for_the_batch(clinic)
    clinic.at(TODAY, 14, 0)
    ok(notify(clinic.lab.qa, code, local(TODAY, 13, 30)))
    resp = clinic.lab.qa.get(url(code))
    pages = pages_of(resp)
    keep("lookback-open.pdf", resp.data)
    text = " ".join(pages)
    n = len(pages)
    for i, page in enumerate(pages, start=1):
        assert_has(page, f"Page {i} of {n}", f"Lookback report · {code}")
        assert WATERMARK in page  # an open case says so on every page
    # The case: donor by code only, the trigger, the times against the target.
    assert_has(
        text,
        code,
        "Donor D-0001",
        "opened by hand: Recipient P-0001 developed ESBL bacteraemia",
        f"Finding dated {TODAY}",
        f"Opened {TODAY} 12:00 CST",
        "Status open",
        "open for 2 h when this report was generated; target: record review within 3 calendar days",
    )
    assert "OVERDUE" not in text
    # The scope rule that applied.
    assert_has(
        text,
        "Scope rule",
        "the batch named when the case was opened",
        f"Batch {LOT}",
        "28 days before the finding (from 2026-10-28)",
    )
    # Every donation, retained sample, batch and unit in scope, with its status, place and recipient.
    assert_has(
        text,
        "DN-20261123-01",
        "2026-11-23",
        "2.0 mL · FRG-T retained rack · kept until 2027-05-23",
        f"{LOT} released",
        f"{UNITS[0]} administered",
        f"{UNITS[1]} reserved",
    )
    for unit in UNITS:
        assert_has(text, unit)
    # The recipient by study code: doses from units in scope, informed; the notification itself.
    assert_has(
        text,
        "Recipients and notification status",
        f"P-0001 {UNITS[0]} · P-0001-C1-D1 · given {TODAY} 10:00 CST",
        f"{UNITS[1]} · P-0001-C1-D2 · planned for 2026-11-26, not given",
        "informed",
        f"P-0001 {DOCTOR} {TODAY} 13:30 CST phone informed Told by phone; stool culture ordered.",
    )
    assert "Xu Ming" not in text and "H2019-0122" not in text  # never the recipient's identity
    # Nothing signed or re-tested yet; the timeline.
    assert_has(
        text,
        "No re-test recorded.",
        "Signed actions None recorded.",
        "Timeline",
        f"{TODAY} 12:00 CST Case opened: Recipient P-0001",
        f"{TODAY} 13:30 CST P-0001: {DOCTOR} informed by phone",
    )
    # The header: QR code to the case, the document version; the print is audited with that version.
    assert decoded(resp.data, 0, dpi=300) == [f"LIMS:LB:{code}"]
    m = re.search(HEADER.format(code=code), pages[0])
    assert m, pages[0][:600]
    case = flow.row(LookbackCase, code=code)
    assert (int(m.group(1)), int(m.group(2))) == (case.version, last_lookback_row(app, code))
    rows = audit_rows(app, action="report", record_id=code)
    assert [(r.entity, r.new_value, r.user_name) for r in rows] == [("lookback_case", m.group(0), "Li Na")]
    # A second print of the same state carries the same version (prints are not counted).
    again = re.search(HEADER.format(code=code), pages_of(clinic.lab.qa.get(url(code)))[0]).group(0)
    assert again == m.group(0)
    assert [r.new_value for r in audit_rows(app, action="report", record_id=code)] == [m.group(0)] * 2


def test_closed_case_report_prints_the_signed_actions_and_no_watermark(app, clinic):
    code = case_for_the_batch(clinic)
    clinic.at(TODAY, 13, 0)
    before = re.search(HEADER.format(code=code), pages_of(clinic.lab.qa.get(url(code)))[0]).group(0)
    ok(
        clinic.lab.qa.post(
            f"/lookback/{code}/hold",
            {
                "hold-version": str(flow.row(LookbackCase, code=code).version),
                "hold-reason": "ESBL in a recipient",
                "hold-password": PASSWORD,
                "hold-comment": "",
            },
            token_from=f"/lookback/{code}",
        )
    )
    clinic.at(TODAY, 13, 30)
    ok(notify(clinic.lab.qa, code, local(TODAY, 13, 5), person="the patient", reached="no", note="no answer"))
    ok(notify(clinic.lab.qa, code, local(TODAY, 13, 20)))
    ok(
        clinic.lab.qa.post(
            f"/lookback/{code}/retests",
            {
                "donation": "DN-20261123-01",
                "test": "ESBL culture",
                "result": "positive",
                "tested_on": str(TODAY),
                "laboratory": "central lab",
                "note": "retained aliquot 1",
            },
            token_from=f"/lookback/{code}",
        )
    )
    clinic.at(TODAY, 15, 0)
    ok(
        clinic.lab.qa.post(
            f"/lookback/{code}/close",
            {
                "close-version": str(flow.row(LookbackCase, code=code).version),
                "close-outcome": "confirmed",
                "close-conclusion": "Donor D-0001 carried ESBL; batch recalled.",
                "close-password": PASSWORD,
                "close-comment": "",
            },
            token_from=f"/lookback/{code}",
        )
    )
    assert flow.row(LookbackCase, code=code).status == "closed"
    clinic.at(TODAY, 16, 0)
    resp = clinic.lab.qa.get(url(code))
    pages = pages_of(resp)
    keep("lookback-closed.pdf", resp.data)
    text = " ".join(pages)
    assert WATERMARK not in text
    assert_has(
        text,
        "Status closed: confirmed",
        f"Closed at {TODAY} 15:00 CST",
        f"closed {TODAY} 15:00 CST, 3 h after it opened (target 3 calendar days)",
        "Conclusion Donor D-0001 carried ESBL; batch recalled.",
        f"{LOT} recalled",
        f"{UNITS[1]} recalled",
    )
    # Both attempts, the one that did not reach anyone and the one that did.
    assert_has(text, "P-0001 the patient", "attempt, not reached no answer", f"P-0001 {DOCTOR}")
    # The re-test, positive.
    assert_has(text, f"DN-20261123-01 ESBL culture positive {TODAY} central lab retained aliquot 1")
    # The signed hold and close, each with what it touched and its signature (printed name, role, meaning, validity).
    assert_has(
        text,
        f"{code}-A1 · Hold",
        "ESBL in a recipient",
        f"Units recalled {', '.join(UNITS[1:])}",
        f"Batches on hold {LOT}",
        "Doses whose reservation was removed P-0001-C1-D2",
        f"{code}-A2 · Closed as confirmed",
        f"Batches recalled {LOT}",
        f"{code}-A1 Li Na",
        f"{code}-A2 Li Na",
        "QA officer",
        "approved",
        "valid",
    )
    assert "INVALID" not in text
    assert_has(
        text,
        "Hold signed: 5 units recalled, 1 batches held or on hold, 1 doses freed.",
        f"{TODAY} Re-test of DN-20261123-01 (ESBL culture): positive, central lab",
        "P-0001: the patient not reached by phone",
        "Closed as confirmed: Donor D-0001 carried ESBL",
    )
    assert not re.search(r"\d{4}-\d\d-\d\d 00:00 CST", text)  # a re-test is dated, not timed: no made-up midnight
    assert "Xu Ming" not in text and "H2019-0122" not in text
    m = re.search(HEADER.format(code=code), pages[0])
    assert m and m.group(0) != before  # the record moved on: a new document version
    assert int(m.group(2)) == last_lookback_row(app, code)


def test_report_for_a_chinese_reader_wraps_chinese_text(app, clinic, as_user):
    code = case_for_the_batch(clinic, reason="受者 P-0001 出现产ESBL大肠埃希菌菌血症，追溯至该批次。" * 3)
    zh = as_user("qa_zh", roles=["qa"], language="zh_CN")
    resp = zh.get(url(code))
    pages = pages_of(resp)
    keep("lookback-zh.pdf", resp.data)
    text = " ".join(pages)
    assert_has(text, "受者P-0001出现产ESBL大肠埃希菌菌血症", code, LOT, "P-0001")
    assert re.search(r"[\u4e00-\u9fff]{4,}", text)
    assert decoded(resp.data, 0, dpi=300) == [f"LIMS:LB:{code}"]


def test_clinicians_may_print_technicians_may_not_an_unknown_case_is_404(app, clinic):
    code = case_for_the_batch(clinic)
    assert clinic.tech.get(url(code)).status_code == 403
    assert clinic.nurse.get(url(code)).status_code == 200
    assert clinic.lab.qa.get(url("LB-2099-9999")).status_code == 404
    assert [r.user_name for r in audit_rows(app, action="report", record_id=code)] == ["Dr. Liu Yang"]


def test_a_case_opened_by_a_positive_result_prints_the_scope_rule_that_applied(app, clinic):
    from tests.lookback.test_lookback_http import positive_esbl

    positive_esbl(TODAY, TODAY)  # the donation of 11-23 precedes the negative screening sampled 11-24
    code = flow.row(LookbackCase, donor_id=1).code
    text = " ".join(pages_of(clinic.lab.qa.get(url(code))))
    assert_has(
        text,
        "positive or excluding result",
        "ESBL",
        "donations from 2026-11-24 on: the last fully negative screening (sampled 2026-11-24) is later than "
        "the 28-day window before the finding (2026-10-28) up to now.",
        "Last fully negative screening 2026-11-24",
        "Scope start 2026-11-24",
        "No donation in scope.",
        "No recipient received or holds a unit in scope.",
        "No notification recorded.",
        WATERMARK,
    )
