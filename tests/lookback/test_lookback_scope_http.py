"""The scope of a lookback case through HTTP (issue 16 item 6): every donation of the donor listed with in scope or
excluded and why; QA widening it with a signed reason; one case covering several batches; the signature forms bound
to what the page showed; one-time tokens on the creating forms; scanned IDs in the ID fields.

D-0001 donated on 2026-11-23 (FMT-20261123-01, released, six units) and was re-screened negative on a sample of
11-24. A positive result on 11-25 opens a case whose rule starts at 11-24: the donation of 11-23 is excluded.
"""

from __future__ import annotations

import re

from lims.lookback.models import (
    LookbackAction,
    LookbackCase,
    LookbackHold,
    LookbackNotification,
    LookbackRetest,
    LookbackScopeAddition,
)
from lims.manufacturing.models import Batch, DoseUnit
from tests.clinical.conftest import LOT2, TODAY, UNITS, administer, issue, plan, quarantined_batch, reserve
from tests.conftest import CONTENT_RE, PASSWORD, audit_rows, page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import local
from tests.manufacturing.flow import LOT, ok
from tests.manufacturing.pages import refused

from .test_lookback_http import positive_esbl

DONATION = "DN-20261123-01"
WHY = "The donor's partner reported an ESBL infection on 11-20: the stool of 11-23 may carry it too."


def text(resp) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page_text(resp)).split())


def scope_table(page: str) -> str:
    return page[page.index("Every donation of the donor") : page.index("Recipients reached")]


def hidden(browser, url: str, name: str) -> str:
    """A hidden field (a content fingerprint, a one-time token) as the page shows it now."""
    return dict(CONTENT_RE.findall(browser.get(url).get_data(as_text=True)))[name]


def widen(clinic, code, targets=LOT, reason=WHY, password=PASSWORD, **extra):
    return clinic.lab.qa.post(
        f"/lookback/{code}/scope",
        {"widen-targets": targets, "widen-reason": reason, "widen-password": password, "widen-comment": "", **extra},
        token_from=f"/lookback/{code}",
    )


def hold(clinic, code, **extra):
    return clinic.lab.qa.post(
        f"/lookback/{code}/hold",
        {
            "hold-version": str(flow.row(LookbackCase, code=code).version),
            "hold-reason": "hold everything in scope",
            "hold-password": PASSWORD,
            "hold-comment": "",
            **extra,
        },
        token_from=f"/lookback/{code}",
    )


def nothing_widened():
    return flow.rows(LookbackScopeAddition) == [] and [a for a in flow.rows(LookbackAction) if a.kind == "widen"] == []


def test_an_excluded_donation_is_listed_with_its_reason_and_a_signed_widening_brings_its_batch_under_the_hold(
    app, clinic
):
    quarantined_batch(clinic)  # a second donation of 11-23: FMT-20261123-02, in quarantine
    positive_esbl(TODAY, TODAY)
    code = flow.row(LookbackCase, donor_id=1).code
    page = text(clinic.lab.qa.get(f"/lookback/{code}"))
    table = scope_table(page)
    assert (
        f"{DONATION} 2026-11-23 {LOT} released excluded before the last negative screening, sampled 2026-11-24" in table
    )
    assert f"DN-20261123-02 2026-11-23 {LOT2} quarantine excluded before the last negative screening" in table
    assert "No donation in scope." in page and "nothing left to hold" in page

    # Refused, each with its message, nothing stored: no reason, no code, a wrong password, a code of no donation,
    # a dose unit's label, a malformed scan, a code named twice, a forged fingerprint.
    r = widen(clinic, code, reason="")
    assert r.status_code == 400 and "A reason is required to widen the scope." in text(r)
    r = widen(clinic, code, targets="  ")
    assert r.status_code == 400 and "Name the donations or batches to add to the scope" in text(r)
    refused(widen(clinic, code, password="wrong"), 422, "the password is not correct")
    refused(widen(clinic, code, targets="DN-20990101-01"), 422, "No donation has the code DN-20990101-01.")
    refused(widen(clinic, code, targets=f"LIMS:DU:{UNITS[0]}"), 422, f"LIMS:DU:{UNITS[0]} is not a donation or a batch")
    refused(widen(clinic, code, targets="LIMS:??:x"), 422, "The code LIMS:??:x is not a valid LIMS code.")
    refused(widen(clinic, code, targets=f"{LOT} {DONATION}"), 422, f"{DONATION} is named twice.")
    assert widen(clinic, code, targets="x" * 1001).status_code == 400
    refused(widen(clinic, code, **{"widen-content": "0" * 64}), 409, "What you are signing changed since you opened it")
    assert nothing_widened()
    stale = hidden(clinic.lab.qa, f"/lookback/{code}", "widen-content")

    # Widened by the batch's scanned label, signed: the donation is in scope with the signed reason.
    r = widen(clinic, code, targets=f"LIMS:LOT:{LOT.lower()}")
    assert r.status_code == 302, text(r)[:3000]
    addition = flow.row(LookbackScopeAddition, case_id=flow.row(LookbackCase, code=code).id)
    assert (addition.kind, addition.ref_code, addition.reason) == ("batch", LOT, WHY)
    assert [x.action for x in audit_rows(app, entity="lookback_scope", record_id=f"{code}-S1")][:1] == ["create"]
    assert any(x.action == "sign" for x in audit_rows(app, entity="lookback_action", record_id=f"{code}-A1"))
    page = text(clinic.lab.qa.get(f"/lookback/{code}"))
    assert f"{DONATION} 2026-11-23 {LOT} released in scope added by QA ({code}-S1): {WHY}" in scope_table(page)
    assert f"DN-20261123-02 2026-11-23 {LOT2} quarantine excluded" in scope_table(page)
    assert "Scope widened to FMT-20261123-01" in page  # the timeline
    refused(widen(clinic, code, targets=DONATION), 422, f"{DONATION} is already in scope (added by QA")
    # A form opened before that widening is stale: refused, nothing stored.
    refused(
        widen(clinic, code, targets=LOT2, **{"widen-content": stale}),
        409,
        "What you are signing changed since you opened it",
    )
    assert len(flow.rows(LookbackScopeAddition)) == 1

    # The hold now covers the widened batch like one the rule took in.
    assert "Signing takes out of use now: 6 dose units not yet administered" in page
    ok(hold(clinic, code))
    assert flow.row(Batch, lot=LOT).status == "on_hold" and flow.row(Batch, lot=LOT2).status == "quarantine"
    assert {u.status for u in flow.rows(DoseUnit, lot=LOT)} == {"recalled"}
    assert {h.ref_code for h in flow.rows(LookbackHold) if h.kind == "batch"} == {LOT}


def test_one_case_covers_several_batches_of_the_donor_once_qa_widens_a_batch_case(app, clinic):
    quarantined_batch(clinic)
    clinic.at(TODAY, 12, 0)
    r = clinic.lab.qa.post(
        "/lookback/new",
        {
            "donor": "",
            "lot": f"LIMS:LOT:{LOT}",
            "finding_date": str(TODAY),
            "reason": "Recipient infection traced to this batch.",
        },
        token_from="/lookback/",
    )
    assert r.status_code == 302, text(r)[:3000]  # the batch's scanned label opens the case for it
    code = r.headers["Location"].rsplit("/", 1)[1]
    table = scope_table(text(clinic.lab.qa.get(f"/lookback/{code}")))
    assert f"{DONATION} 2026-11-23 {LOT} released in scope the batch named when the case was opened" in table
    assert f"DN-20261123-02 2026-11-23 {LOT2} quarantine excluded the case was opened for another batch" in table

    # A hold page opened before the widening is stale once the scope changed: refused, nothing held.
    stale = hidden(clinic.lab.qa, f"/lookback/{code}", "hold-content")
    ok(
        widen(
            clinic, code, targets="LIMS:DN:DN-20261123-02", reason="Same donor, same week: hold the second batch too."
        )
    )
    refused(hold(clinic, code, **{"hold-content": stale}), 409, "What you are signing changed since you opened it")
    assert flow.rows(LookbackHold) == []

    ok(hold(clinic, code))
    assert flow.row(Batch, lot=LOT).status == "on_hold" and flow.row(Batch, lot=LOT2).status == "quarantine"
    held = {(h.kind, h.ref_code) for h in flow.rows(LookbackHold)}
    assert {("batch", LOT), ("batch", LOT2)} <= held and {
        ("unit", u) for u in UNITS
    } <= held  # quarantine units: their batch is held
    r = flow.release(clinic.lab.qa, lot=LOT2)
    assert r.status_code in (409, 422) and f"Held by lookback case {code}" in text(r)
    # The PDF lists every donation with its scope and reason, and the signed widening.
    pdf = clinic.lab.qa.get(f"/reports/lookback/{code}.pdf")
    from tests.lookback.test_lookback_report import assert_has, pages_of

    assert_has(
        " ".join(pages_of(pdf)),
        "Every donation of the donor: in scope or excluded",
        f"{DONATION} 2026-11-23 {LOT}",
        "the batch named when the case was opened",
        f"DN-20261123-02 2026-11-23 {LOT2}",
        f"added by QA ({code}-S1): Same donor, same week",
        "Scope widened",
        "Batches added – ",
        "Donations added DN-20261123-02",
    )


def test_the_close_form_is_bound_to_the_page_and_the_creating_forms_are_sent_once(app, clinic):
    ok(plan(clinic.nurse, "P-0001", TODAY))
    ok(reserve(clinic.nurse, "P-0001-C1-D1", UNITS[0]))
    ok(issue(clinic.tech, UNITS[0]))
    ok(administer(clinic.nurse, "P-0001-C1-D1", UNITS[0], local(TODAY, 10, 0)))
    clinic.at(TODAY, 12, 0)
    form = {
        "donor": "",
        "lot": LOT,
        "finding_date": str(TODAY),
        "reason": "traced back",
        "once": hidden(clinic.lab.qa, "/lookback/", "once"),
    }
    first = clinic.lab.qa.post("/lookback/new", form, token_from="/lookback/")
    again = clinic.lab.qa.post("/lookback/new", form, token_from="/lookback/")  # a double click
    assert first.status_code == again.status_code == 302 and first.headers["Location"] == again.headers["Location"]
    assert len(flow.rows(LookbackCase)) == 1
    code = first.headers["Location"].rsplit("/", 1)[1]
    # A donor label in the batch field is refused by name; a form without its token is refused; neither opens a case.
    refused(
        clinic.lab.qa.post("/lookback/new", {**form, "lot": "LIMS:DO:D-0001", "once": ""}, token_from="/lookback/"),
        400,
        "one-time token is missing",
    )
    r = clinic.lab.qa.post(
        "/lookback/new",
        {**form, "lot": "LIMS:DO:D-0001", "once": hidden(clinic.lab.qa, "/lookback/", "once")},
        token_from="/lookback/",
    )
    refused(r, 422, "LIMS:DO:D-0001 is a donor label; this field takes a batch.")
    assert len(flow.rows(LookbackCase)) == 1

    url = f"/lookback/{code}"
    note = {
        "recipient": "LIMS:PT:P-0001",
        "informed_person": "the patient",
        "informed_at": local(TODAY, 12, 0),
        "method": "phone",
        "reached": "yes",
        "note": "",
        "once": hidden(clinic.lab.qa, url, "once"),
    }
    ok(clinic.lab.qa.post(f"{url}/notifications", note, token_from=url))
    ok(clinic.lab.qa.post(f"{url}/notifications", note, token_from=url))
    assert [n.recipient_code for n in flow.rows(LookbackNotification)] == ["P-0001"]
    test = {
        "donation": f"LIMS:RS:{DONATION}",
        "test": "ESBL culture",
        "result": "negative",
        "tested_on": str(TODAY),
        "laboratory": "central lab",
        "note": "",
        "once": hidden(clinic.lab.qa, url, "once"),
    }
    ok(clinic.lab.qa.post(f"{url}/retests", test, token_from=url))
    ok(clinic.lab.qa.post(f"{url}/retests", test, token_from=url))
    assert [x.donation_code for x in flow.rows(LookbackRetest)] == [DONATION]

    # The close signs what the page showed: a forged or stale fingerprint is refused, nothing closed.
    close = {
        "close-version": str(flow.row(LookbackCase, code=code).version),
        "close-outcome": "unfounded",
        "close-conclusion": "Retained sample negative.",
        "close-password": PASSWORD,
        "close-comment": "",
    }
    refused(
        clinic.lab.qa.post(f"{url}/close", {**close, "close-content": "f" * 64}, token_from=url),
        409,
        "What you are signing changed since you opened it",
    )
    assert flow.row(LookbackCase, code=code).status == "open"
    ok(clinic.lab.qa.post(f"{url}/close", close, token_from=url))
    assert flow.row(LookbackCase, code=code).status == "closed"
