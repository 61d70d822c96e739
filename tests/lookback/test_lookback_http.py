"""Lookback cases: opened by a positive re-screening result, or by QA for a batch; the case shows its reach."""

from __future__ import annotations

import re
from datetime import date

from lims.lookback.models import LookbackCase
from tests.clinical.conftest import TODAY, UNITS, administer, issue, plan, reserve
from tests.conftest import audit_rows, page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import act, local
from tests.manufacturing.flow import LOT, ok
from tests.manufacturing.pages import refused


def positive_esbl(sample_day: date, today: date) -> None:
    """A re-screening of D-0001 whose ESBL stool test is positive (entered by tech1)."""
    from lims.donors import operations as donor_ops
    from lims.donors import screening

    def run(s, user):
        donor = donor_ops.get(s, "D-0001")
        sc = screening.open_screening(s, donor) or screening.start(s, donor, today)
        item = "S_ESBL" if not screening.results_of(s, sc) else "S_CRE"
        screening.record_results(s, sc, {item: ("positive", "")}, sample_day, "central lab", None, today)

    act("tech1", run)


def test_a_positive_result_opens_a_case_that_excludes_donations_before_the_last_negative_screening(app, clinic):
    # D-0001 donated on 2026-11-23 and was re-screened negative (sampled 2026-11-24); ESBL positive on 11-25.
    positive_esbl(TODAY, TODAY)
    case = flow.row(LookbackCase, donor_id=1)
    assert (case.trigger, case.finding_date, case.scope_basis, case.scope_start) == (
        "result",
        TODAY,
        "negative_screening",
        date(2026, 11, 24),
    )
    assert "ESBL" in case.trigger_text and case.code.startswith("LB-2026-")
    assert [r.action for r in audit_rows(app, entity="lookback_case", record_id=case.code)][:1] == ["create"]
    page = " ".join(page_text(clinic.lab.qa.get(f"/lookback/{case.code}")).split())
    assert "donations from 2026-11-24 on" in page and "No donation in scope." in page
    # A second positive while the case is open does not open another.
    positive_esbl(TODAY, TODAY)
    assert len(flow.rows(LookbackCase)) == 1
    # QA sees it among the due work.
    assert case.code in page_text(clinic.lab.qa.get("/"))


def test_qa_opens_a_case_for_a_batch_and_sees_every_unit_and_recipient(app, clinic):
    ok(plan(clinic.nurse, "P-0001", TODAY))
    ok(reserve(clinic.nurse, "P-0001-C1-D1", UNITS[0]))
    ok(issue(clinic.tech, UNITS[0]))
    ok(administer(clinic.nurse, "P-0001-C1-D1", UNITS[0], local(TODAY, 10, 0)))
    ok(reserve(clinic.nurse, "P-0001-C1-D2", UNITS[1]))
    clinic.at(TODAY, 12, 0)
    form = {
        "donor": "",
        "lot": LOT,
        "finding_date": str(TODAY),
        "reason": "Recipient P-0001 developed ESBL bacteraemia; traced to this batch.",
    }
    # Bad input: no reason, a future date, an unknown lot: refused, nothing opened.
    assert clinic.lab.qa.post("/lookback/new", {**form, "reason": ""}, token_from="/lookback/").status_code == 400
    refused(
        clinic.lab.qa.post("/lookback/new", {**form, "finding_date": "2026-12-31"}, token_from="/lookback/"),
        422,
        "The date of the finding is in the future.",
    )
    refused(
        clinic.lab.qa.post("/lookback/new", {**form, "lot": "FMT-20990101-01"}, token_from="/lookback/"),
        422,
        "No batch has the lot FMT-20990101-01.",
    )
    assert flow.rows(LookbackCase) == []
    assert clinic.nurse.post("/lookback/new", form, token_from="/lookback/").status_code == 403

    r = clinic.lab.qa.post("/lookback/new", form, token_from="/lookback/")
    assert r.status_code == 302
    case = flow.row(LookbackCase, trigger="manual")
    page = " ".join(page_text(clinic.lab.qa.get(r.headers["Location"])).split())
    assert "the batch named when the case was opened" in page and "DN-20261123-01" in page
    assert LOT in page and "2.0 mL · FRG-T retained rack · kept until 2027-05-23" in page
    for code in UNITS:
        assert code in page
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    recipients = text[text.index("Recipients reached") : text.index("Donations, retained samples")]
    assert "P-0001" in recipients and f"{UNITS[0]} · P-0001-C1-D1 · given 2026-11-25 10:00" in recipients
    assert f"{UNITS[1]} · P-0001-C1-D2 · planned for 2026-11-26, not given" in recipients
    assert case.batch_id is not None


def test_the_case_exports_its_reach_as_csv_and_the_export_is_audited(app, clinic):
    import csv
    import io

    ok(plan(clinic.nurse, "P-0001", TODAY))
    ok(reserve(clinic.nurse, "P-0001-C1-D1", UNITS[0]))
    ok(issue(clinic.tech, UNITS[0]))
    ok(administer(clinic.nurse, "P-0001-C1-D1", UNITS[0], local(TODAY, 10, 0)))
    clinic.at(TODAY, 12, 0)
    r = clinic.lab.qa.post(
        "/lookback/new",
        {"donor": "", "lot": LOT, "finding_date": str(TODAY), "reason": '=HYPERLINK("x") traced back'},
        token_from="/lookback/",
    )
    code = r.headers["Location"].rsplit("/", 1)[1]
    resp = clinic.lab.qa.get(f"/lookback/{code}.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert [row["unit"] for row in rows] == UNITS
    first = rows[0]
    assert (first["case"], first["donor"], first["batch"], first["recipient"], first["dose"]) == (
        code,
        "D-0001",
        LOT,
        "P-0001",
        "P-0001-C1-D1",
    )
    assert first["given_at_lab"] == "2026-11-25 10:00:00 CST" and rows[1]["recipient"] == ""
    assert [x.new_value for x in audit_rows(app, action="report", record_id=code)] == ["lookback CSV"]
