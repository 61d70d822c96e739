"""From a donor's positive ESBL re-screening to every product and recipient, through HTTP (issue 9, done-when).

D-0001 gave two stools on 2026-11-23: FMT-20261123-01 and -02, both released on 11-25 after the
screening sampled 11-24. P-0001 and P-0002 each received a unit of -01 on 11-25 and hold one
for day 2. On 11-26 the re-screening's stool culture (sampled from the donation of 11-23) is
reported ESBL positive: the last fully negative screening before that sample is the one of
11-10, so both donations are in scope.
"""

from __future__ import annotations

import re
from datetime import date

from lims.lookback.models import LookbackCase, LookbackHold, LookbackNotification, LookbackRetest
from lims.manufacturing.models import Batch, DoseUnit
from tests.clinical.conftest import (
    LOT2,
    OTHER,
    TODAY,
    UNITS,
    UNITS2,
    administer,
    dose_row,
    issue,
    plan,
    quarantined_batch,
    register,
    reserve,
    unit_row,
)
from tests.conftest import PASSWORD, audit_rows, page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import local
from tests.manufacturing.flow import LOT, ok
from tests.manufacturing.pages import refused

DAY2 = date(2026, 11, 26)


def text(resp) -> str:
    """The page as read: tags and attributes dropped."""
    return " ".join(re.sub(r"<[^>]+>", " ", page_text(resp)).split())


def treat_two_recipients(clinic):
    """Both batches released; P-0001 and P-0002 given a unit of -01 on day 1, each holding one for day 2."""
    quarantined_batch(clinic)
    ok(flow.review(clinic.lab.qa, lot=LOT2))
    ok(flow.release(clinic.lab.qa, lot=LOT2))
    assert register(clinic.nurse, OTHER) == "P-0002"
    for patient, given, held, hh in (("P-0001", UNITS[0], UNITS[1], 11), ("P-0002", UNITS[2], UNITS[3], 12)):
        clinic.at(TODAY, hh, 0)
        ok(plan(clinic.nurse, patient, TODAY))
        ok(reserve(clinic.nurse, f"{patient}-C1-D1", given))
        ok(issue(clinic.tech, given))
        clinic.at(TODAY, hh, 30)
        ok(administer(clinic.nurse, f"{patient}-C1-D1", given, local(TODAY, hh, 30), patient=patient))
        ok(reserve(clinic.nurse, f"{patient}-C1-D2", held))


def esbl_positive(clinic, sample_day=date(2026, 11, 23)) -> str:
    """tech1 starts a re-screening and enters the ESBL culture as positive; returns the case code."""
    r = clinic.tech.post("/donors/D-0001/screenings", {}, token_from="/donors/D-0001")
    assert r.status_code == 302, text(r)[:2000]
    url = r.headers["Location"]
    ok(
        clinic.tech.post(
            f"{url}/results",
            {
                "panel-sample_date": str(sample_day),
                "panel-method": "reference lab culture",
                "panel-reason": "",
                "v_S_ESBL": "positive",
            },
            token_from=url,
        )
    )
    return flow.row(LookbackCase, donor_id=1).code


def hold(clinic, code, password=PASSWORD, version=None, reason="ESBL-positive donor: quarantine all products in scope"):
    return clinic.lab.qa.post(
        f"/lookback/{code}/hold",
        {
            "hold-version": version or str(flow.row(LookbackCase, code=code).version),
            "hold-reason": reason,
            "hold-password": password,
            "hold-comment": "",
        },
        token_from=f"/lookback/{code}",
    )


def close(
    clinic,
    code,
    outcome="confirmed",
    conclusion="ESBL confirmed on the retained samples; products recalled.",
    version=None,
    password=PASSWORD,
):
    return clinic.lab.qa.post(
        f"/lookback/{code}/close",
        {
            "close-version": version or str(flow.row(LookbackCase, code=code).version),
            "close-outcome": outcome,
            "close-conclusion": conclusion,
            "close-password": password,
            "close-comment": "",
        },
        token_from=f"/lookback/{code}",
    )


def notify(browser, code, recipient, at=local(DAY2, 11, 0), person="the patient", method="in_person", reached="yes"):
    return browser.post(
        f"/lookback/{code}/notifications",
        {
            "recipient": recipient,
            "informed_person": person,
            "informed_at": at,
            "method": method,
            "reached": reached,
            "note": "",
        },
        token_from=f"/lookback/{code}",
    )


def retest(clinic, code, donation="DN-20261123-01", result="positive", tested_on=str(DAY2)):
    return clinic.lab.qa.post(
        f"/lookback/{code}/retests",
        {
            "donation": donation,
            "test": "ESBL culture (ChromID)",
            "result": result,
            "tested_on": tested_on,
            "laboratory": "central lab",
            "note": "",
        },
        token_from=f"/lookback/{code}",
    )


def reach_of(page: str) -> str:
    return page[page.index("Donations, retained samples") : page.index("Hold everything in scope")]


def test_a_positive_esbl_re_screening_holds_every_product_and_closes_once_recipients_are_informed(app, clinic):
    treat_two_recipients(clinic)
    clinic.at(DAY2, 8, 0)
    ok(issue(clinic.tech, UNITS[1]))  # P-0001's day-2 unit is thawed and on its way to the ward
    code = esbl_positive(clinic)
    case = flow.row(LookbackCase, code=code)
    assert (case.scope_basis, case.scope_start, case.finding_date) == (
        "negative_screening",
        date(2026, 11, 10),
        date(2026, 11, 23),
    )

    # The case lists exactly the two donations, their twelve units, and the two recipients.
    page = text(clinic.lab.qa.get(f"/lookback/{code}"))
    reach = reach_of(page)
    assert reach.count("DN-2026") == 2 and "DN-20261123-01" in reach and "DN-20261123-02" in reach
    assert LOT in reach and LOT2 in reach
    assert all(u in reach for u in UNITS + UNITS2) and reach.count(f"{LOT}-0") + reach.count(f"{LOT2}-0") == 12
    recipients = page[page.index("Recipients reached") : page.index("Donations, retained samples")]
    assert "P-0001" in recipients and "P-0002" in recipients and "P-0003" not in recipients
    assert f"{UNITS[0]} · P-0001-C1-D1 · given 2026-11-25 11:30" in recipients
    assert f"{UNITS[2]} · P-0002-C1-D1 · given 2026-11-25 12:30" in recipients
    assert "Signing takes out of use now: 10 dose units not yet administered" in page
    assert "2 released batches (on hold)" in page

    # Bad input changes nothing: no reason, a wrong password, a stale form.
    before = [(u.code, u.status) for u in flow.rows(DoseUnit)]
    assert hold(clinic, code, reason="").status_code == 400
    refused(hold(clinic, code, password="wrong"), 422, "the password is not correct")
    assert hold(clinic, code, version="0").status_code == 409
    assert [(u.code, u.status) for u in flow.rows(DoseUnit)] == before and flow.rows(LookbackHold) == []
    assert (
        clinic.nurse.post(
            f"/lookback/{code}/hold", {"hold-reason": "x", "hold-password": PASSWORD}, token_from=f"/lookback/{code}"
        ).status_code
        == 403
    )

    # One signature holds everything not yet administered.
    clinic.at(DAY2, 9, 0)
    ok(hold(clinic, code))
    assert {b.lot: b.status for b in flow.rows(Batch)} == {LOT: "on_hold", LOT2: "on_hold"}
    status = {u.code: u.status for u in flow.rows(DoseUnit)}
    assert [status[u] for u in UNITS] == [
        "administered",
        "recalled",
        "administered",
        "recalled",
        "recalled",
        "recalled",
    ]
    assert {status[u] for u in UNITS2} == {"recalled"}
    assert dose_row("P-0001-C1-D2").unit_id is None and dose_row("P-0002-C1-D2").unit_id is None
    assert dose_row("P-0001-C1-D2").status == "planned" and dose_row("P-0001-C1-D1").unit_id is not None
    assert len(flow.rows(LookbackHold)) == 2 + 10
    assert any(r.action == "sign" for r in audit_rows(app, entity="lookback_action", record_id=f"{code}-A1"))
    assert [r.new_value for r in audit_rows(app, entity="dose_unit", record_id=UNITS[3], field="status")][
        -1
    ] == "recalled"
    refused(hold(clinic, code), 422, "there is nothing left to hold")

    # At the bedside, P-0001's day-2 unit (issued before the hold) is refused as recalled; nothing is stored.
    clinic.at(DAY2, 10, 0)
    r = administer(clinic.nurse, "P-0001-C1-D2", UNITS[1], local(DAY2, 10, 0))
    assert r.status_code == 422 and f"Unit {UNITS[1]} is recalled and must not be given." in text(r)
    assert dose_row("P-0001-C1-D2").status == "planned" and unit_row(UNITS[1]).status == "recalled"
    # ... and a recalled unit cannot be reserved again.
    refused(reserve(clinic.nurse, "P-0002-C1-D2", UNITS2[0]), 422, "recalled")

    # A re-test of the retained sample; a donation outside the case is refused.
    refused(
        retest(clinic, code, donation="DN-20261123-09"),
        422,
        "Donation DN-20261123-09 is not in the scope of this case.",
    )
    refused(retest(clinic, code, tested_on="2026-12-31"), 422, "The test date is in the future.")
    ok(retest(clinic, code))
    assert [(x.donation_code, x.result) for x in flow.rows(LookbackRetest)] == [("DN-20261123-01", "positive")]

    # Closing needs every recipient who was given a unit informed.
    refused(close(clinic, code), 422, "Recipients not yet informed: P-0001, P-0002.")
    refused(notify(clinic.nurse, code, "P-0003"), 422, "P-0003 is not a recipient reached by this case.")
    refused(
        notify(clinic.nurse, code, "P-0001", at=local(DAY2, 23, 0)),
        422,
        "The time of the notification is in the future.",
    )
    refused(notify(clinic.nurse, code, "P-0001", person=""), 400, "Correct the marked fields.")
    assert flow.rows(LookbackNotification) == []
    clinic.at(DAY2, 12, 0)
    ok(
        notify(
            clinic.nurse,
            code,
            "P-0002",
            at=local(DAY2, 10, 40),
            person="the patient's daughter",
            method="phone",
            reached="no",
        )
    )
    ok(notify(clinic.nurse, code, "P-0001", at=local(DAY2, 11, 0), person="the patient, with Dr Li"))
    refused(close(clinic, code), 422, "Recipients not yet informed: P-0002.")
    ok(notify(clinic.nurse, code, "P-0002", at=local(DAY2, 11, 30), person="the patient", method="phone"))
    notes = [(n.recipient_code, n.informed_person, n.method, n.reached) for n in flow.rows(LookbackNotification)]
    assert notes == [
        ("P-0002", "the patient's daughter", "phone", False),
        ("P-0001", "the patient, with Dr Li", "in_person", True),
        ("P-0002", "the patient", "phone", True),
    ]

    # Closed as confirmed by a QA signature: the batches on hold are recalled, the units stay out of use.
    refused(close(clinic, code, conclusion=""), 400, "Correct the marked fields.")
    refused(close(clinic, code, password="wrong"), 422, "the password is not correct")
    assert flow.row(LookbackCase, code=code).status == "open"
    ok(close(clinic, code))
    case = flow.row(LookbackCase, code=code)
    assert (case.status, case.outcome) == ("closed", "confirmed") and case.closed_at is not None
    assert {b.lot: b.status for b in flow.rows(Batch)} == {LOT: "recalled", LOT2: "recalled"}
    assert unit_row(UNITS2[0]).status == "recalled"
    page = text(clinic.lab.qa.get(f"/lookback/{code}"))
    assert "closed: confirmed" in page and "Sign and close" not in page and "Record a notification" not in page
    timeline = page[page.index("Timeline") : page.index("History")]
    assert (
        timeline.index("Hold signed")
        < timeline.index("P-0001: the patient, with Dr Li informed")
        < timeline.index("Closed as confirmed")
    )
    # Off the QA home page once closed.
    assert "Lookback cases open" not in text(clinic.lab.qa.get("/"))
    refused(notify(clinic.nurse, code, "P-0001"), 422, f"Lookback case {code} is closed.")


def test_an_unfounded_case_releases_what_it_held_except_units_that_had_left_the_lab(app, clinic):
    treat_two_recipients(clinic)
    clinic.at(DAY2, 8, 0)
    ok(issue(clinic.tech, UNITS[1]))
    code = esbl_positive(clinic)
    clinic.at(DAY2, 9, 0)
    ok(hold(clinic, code))
    clinic.at(DAY2, 10, 0)
    ok(notify(clinic.nurse, code, "P-0001", at=local(DAY2, 9, 10)))
    ok(notify(clinic.nurse, code, "P-0002", at=local(DAY2, 9, 20)))
    ok(retest(clinic, code, result="negative"))
    ok(retest(clinic, code, donation="DN-20261123-02", result="negative"))
    ok(
        close(
            clinic,
            code,
            outcome="unfounded",
            conclusion="Re-tests of both retained samples negative: the reference lab reported a mislabelled culture.",
        )
    )
    assert {b.lot: b.status for b in flow.rows(Batch)} == {LOT: "released", LOT2: "released"}
    status = {u.code: u.status for u in flow.rows(DoseUnit)}
    # The issued (thawed, on the ward) unit stays recalled; the reserved one goes back to stock, not to its dose.
    assert [status[u] for u in UNITS] == [
        "administered",
        "recalled",
        "administered",
        "available",
        "available",
        "available",
    ]
    assert {status[u] for u in UNITS2} == {"available"}
    assert dose_row("P-0002-C1-D2").unit_id is None
    assert {h.outcome for h in flow.rows(LookbackHold) if h.kind == "unit"} == {"available", "recalled"}
    assert not any(h.active for h in flow.rows(LookbackHold))
    # Released units can be reserved again.
    ok(reserve(clinic.nurse, "P-0002-C1-D2", UNITS[3]))


def test_a_held_batch_awaiting_release_cannot_be_released_and_its_retained_sample_cannot_be_disposed(app, clinic):
    quarantined_batch(clinic)  # FMT-20261123-02 in quarantine
    clinic.at(DAY2, 8, 0)
    code = esbl_positive(clinic)
    ok(hold(clinic, code))
    assert flow.row(Batch, lot=LOT2).status == "quarantine"
    ok(flow.review(clinic.lab.qa, lot=LOT2))
    refused(flow.release(clinic.lab.qa, lot=LOT2), 422, f"Held by lookback case {code}.")
    assert flow.row(Batch, lot=LOT2).status == "quarantine"

    from sqlmodel import select

    from lims.db import Actor, transaction
    from lims.errors import RuleViolation
    from lims.jobs.disposal import dispose
    from lims.manufacturing.models import Donation

    with transaction(Actor(None, "t")) as s:
        dn = s.exec(select(Donation).where(Donation.code == "DN-20261123-02")).one()
        try:
            dispose(s, dn, date(2027, 6, 1), "autoclaved", None, date(2027, 6, 1))
        except RuleViolation as err:
            assert f"needed for re-testing by open lookback case {code}" in err.message
        else:
            raise AssertionError("the retained sample of a donation in an open case was disposed of")
    # A confirmed close keeps the hold: the batch is never released.
    clinic.at(DAY2, 12, 0)
    ok(close(clinic, code))
    ok(flow.review(clinic.lab.qa, lot=LOT2))
    refused(flow.release(clinic.lab.qa, lot=LOT2), 422, f"Held by lookback case {code}.")
    assert flow.row(Batch, lot=LOT).status == "recalled"
