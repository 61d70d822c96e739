"""Label reconciliation and the use-by a label prints (issue 17, items 1 and 5), through HTTP.

The clinic fixture starts on 2026-11-25 10:00 lab time with FMT-20261123-01 released (frozen, expiry 2027-05-23).
A printed dose-unit label is scanned back on the unit page; a wrong scan is refused with nothing stored; a
unit is issued only under a verified label of its current state, so a thaw makes a new label due.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import timedelta

from pypdf import PdfReader

from lims.labels.models import LabelPrint
from tests.clinical.conftest import TODAY, UNITS, dose_url, issue, plan, reserve, unit_row
from tests.conftest import audit_rows, page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import lab
from tests.manufacturing.flow import LOT, ok
from tests.manufacturing.pages import refused

D1 = "P-0001-C1-D1"
U1, U2 = UNITS[0], UNITS[1]


def print_label(browser, unit, layout="tube_50x30", reason="label check"):
    page = f"/units/{unit}"
    r = browser.post(
        "/labels/print",
        {"kind": "DU", "code": unit, "layout": layout, "format": "pdf", "reason": reason},
        token_from=page,
        headers={"Referer": f"http://localhost{page}"},
    )
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf", page_text(r)[:2000]
    return " ".join(PdfReader(io.BytesIO(r.data)).pages[0].extract_text().split())


def scan(browser, unit, payload):
    return browser.post(f"/units/{unit}/verify-label", {"verify-payload": payload}, token_from=f"/units/{unit}")


def thaw(browser, unit, at="2026-11-25T10:00"):
    return browser.post(f"/units/{unit}/thaw", {"thaw-thawed_at": at}, token_from=f"/units/{unit}")


def prints(unit):
    return flow.rows(LabelPrint, unit_code=unit)


def use_by_on_page(browser, unit) -> str:
    text = " ".join(re.sub(r"<[^>]+>", " ", page_text(browser.get(f"/units/{unit}"))).split())
    return re.search(r"Use by (\d{4}-\d\d-\d\d \d\d:\d\d CST)", text).group(1)


def test_wrong_scans_are_refused_with_nothing_stored_and_the_right_one_verifies(app, clinic):
    tech = clinic.tech
    refused(scan(tech, U1, f"LIMS:DU:{U1}"), 422, f"No label was printed for unit {U1}: print its label first")
    print_label(tech, U1)
    print_label(tech, U2)
    before = len(audit_rows(app))
    refused(scan(tech, U1, f"LIMS:DU:{U2}"), 422, f"This label belongs to unit {U2}, not to {U1}")
    refused(
        scan(tech, U1, f"LIMS:LOT:{LOT}"), 422, f"LIMS:LOT:{LOT} is not a dose unit label: scan the label of unit {U1}."
    )
    refused(scan(tech, U1, "hello world"), 422, "hello world is not a label scan")
    refused(scan(tech, U1, U1), 422, f"{U1} is not a label scan")  # typing the code proves no label was scanned
    refused(scan(tech, U1, "LIMS:"), 422, "is not a label scan")
    refused(scan(tech, U1, ""), 400, "Scan the printed label.")
    assert len(audit_rows(app)) == before and all(p.verified_at is None for p in prints(U1))

    ok(scan(tech, U1, f"lims:du:{U1.lower()}"))  # a scanner in caps-lock off still reads the same payload
    (p,) = prints(U1)
    assert (p.verified_at, p.payload, p.layout, p.state) == (
        lab(TODAY, 10, 0),
        f"LIMS:DU:{U1}",
        "tube_50x30",
        "available",
    )
    rows = [r for r in audit_rows(app, entity="label_print") if r.field == "verified_at"]
    assert [(r.record_id, r.reason) for r in rows] == [(f"{U1}/L{p.id}", "label verified by scan")]
    assert "verified 2026-11-25 10:00 CST" in page_text(tech.get(f"/units/{U1}"))
    refused(
        scan(tech, U1, f"LIMS:DU:{U1}"),
        422,
        f"The label of unit {U1} printed 2026-11-25 10:00 CST was already verified.",
    )
    assert prints(U2)[0].verified_at is None


def test_clinician_cannot_verify_a_label(app, clinic):
    print_label(clinic.tech, U1)
    r = scan(clinic.nurse, U1, f"LIMS:DU:{U1}")
    assert r.status_code == 403 and prints(U1)[0].verified_at is None


def test_a_thaw_makes_a_new_label_due_before_the_issue(app, clinic):
    tech = clinic.tech
    ok(plan(clinic.nurse, "P-0001", TODAY))
    ok(reserve(clinic.nurse, D1, U1))
    frozen = print_label(tech, U1)
    assert "EXP 2027-05-23 23:59 CST" in frozen and "Store at -80 °C" in frozen
    ok(scan(tech, U1, f"LIMS:DU:{U1}"))
    refused(issue(tech, U1, label=False), 422, f"Unit {U1} is still frozen: record its thaw on the unit page")
    assert unit_row(U1).status == "reserved" and unit_row(U1).thawed_at is None

    ok(thaw(tech, U1, "2026-11-25T10:00"))
    refused(
        issue(tech, U1, label=False),
        422,
        f"The label of unit {U1} says reserved, use by 2027-05-23 23:59 CST, but the unit is now reserved, "
        "thawed 2026-11-25 10:00 CST, use by 2026-11-25 16:00 CST: print a new label",
    )
    refused(scan(tech, U1, f"LIMS:DU:{U1}"), 422, f"The last label of unit {U1} says reserved, use by 2027-05-23")
    thawed = print_label(tech, U1)
    assert "USE BY 2026-11-25 16:00 CST" in thawed and "EXP" not in thawed and "-80" not in thawed
    assert "120 mL · Thawed 10:00 · 2-8 °C 已解冻 RELEASED" in thawed  # the whole line, not cut
    refused(issue(tech, U1, label=False), 422, f"The label of unit {U1} was printed but not verified")
    assert unit_row(U1).status == "reserved"

    # the label's minute is the unit page's and the dose page's
    assert use_by_on_page(tech, U1) == "2026-11-25 16:00 CST"
    assert "use by 2026-11-25 16:00 CST" in page_text(tech.get(dose_url(D1)))
    ok(scan(tech, U1, f"LIMS:DU:{U1}"))
    ok(issue(tech, U1, label=False))
    assert unit_row(U1).status == "issued"
    assert [(p.state, p.thawed_at is not None, p.verified_at is not None) for p in prints(U1)] == [
        ("reserved", False, True),
        ("reserved", True, True),
    ]


def test_a_reservation_needs_no_new_label_but_a_release_does(app, mfg):
    """RELEASED reads the same when available, reserved or issued; a quarantine label is not a released one."""
    from lims.labels.reconcile import is_current
    from lims.manufacturing.queries import UnitState

    p = LabelPrint(
        unit_id=1,
        unit_code=U1,
        payload="",
        layout="",
        format="pdf",
        state="available",
        use_by=lab(TODAY, 23, 59),
        thawed_at=None,
        printed_at=lab(TODAY, 9, 0),
    )
    now = UnitState(
        "reserved", "reserved", None, True, lab(TODAY, 23, 59) + timedelta(seconds=59), "expiry", None, 6, "frozen"
    )
    assert is_current(p, now) and is_current(p, replace(now, code="issued"))
    for changed in (
        dict(code="on_hold"),
        dict(code="quarantine"),
        dict(code="expired"),
        dict(thawed_at=lab(TODAY, 10, 0)),
        dict(use_by=lab(TODAY, 16, 0)),
    ):
        assert not is_current(p, replace(now, **changed)), changed


def test_the_page_and_the_label_print_the_same_minute_for_a_frozen_unit(app, clinic):
    text = print_label(clinic.tech, U2)
    assert use_by_on_page(clinic.tech, U2) == "2027-05-23 23:59 CST"
    assert "EXP 2027-05-23 23:59 CST" in text and "RELEASED" in text


def test_the_demo_issues_its_units_under_verified_thawed_labels(app):
    from lims.manufacturing.models import DoseUnit

    r = app.test_cli_runner().invoke(args=["lims", "demo-data"])
    assert r.exit_code == 0, r.output
    given = [u for u in flow.rows(DoseUnit) if u.status in ("issued", "administered")]
    assert given
    for u in given:
        p = prints(u.code)[-1]
        assert p.verified_at is not None and p.thawed_at == u.thawed_at and p.thawed_at is not None, u.code
