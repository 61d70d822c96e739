"""Donation receipt and the start of processing, through HTTP.

Every refusal checks the status code, the sentence shown in the page's error box,
that the typed values are still in the form, and that nothing was stored.
"""

from __future__ import annotations

import html
import re
from datetime import date
from decimal import Decimal

import pytest

from lims.manufacturing.models import Batch, Donation
from tests.conftest import audit_rows, page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import DONATION_DAY, act, day_check, lab, local
from tests.manufacturing.flow import DONATION, LOT, ok
from tests.manufacturing.pages import error_of, forbidden, input_value

D = DONATION_DAY
DAY_BEFORE = date(2026, 11, 22)


# --- helpers ------------------------------------------------------------------------------------


def _tag(resp, tag, name):
    m = re.search(rf'<{tag}\b[^>]*\bname="{re.escape(name)}"[^>]*>', resp.get_data(as_text=True))
    assert m, f"no <{tag} name={name}> in the page"
    return m


def selected_value(resp, name) -> str | None:
    page = resp.get_data(as_text=True)
    m = re.search(rf'<select\b[^>]*\bname="{re.escape(name)}"[^>]*>(.*?)</select>', page, re.S)
    assert m, f"no <select name={name}> in the page"
    opt = re.search(r'<option\b(?=[^>]*\bselected\b)[^>]*\bvalue="([^"]*)"', m.group(1))
    return html.unescape(opt.group(1)) if opt else None


def refused(resp, status, *sentences) -> str:
    assert resp.status_code == status, page_text(resp)[:3000]
    err = error_of(resp)
    for s in sentences:
        assert s in page_text(resp), (s, err)
    return err


def stored():
    """What a refusal must leave untouched: every donation (code, status) and the number of batches."""
    return [(d.code, d.status, d.rejection_reason) for d in flow.rows(Donation)], len(flow.rows(Batch))


def assert_receipt_form_keeps(resp, data):
    """Every typed receipt value is re-rendered in the form."""
    for name in ("donor", "collected_at", "received_at", "appearance", "retained_location"):
        assert input_value(resp, name) == data[name], name
    for name in ("receipt_temp_c", "mass_g"):
        shown = input_value(resp, name)
        assert (Decimal(shown) == Decimal(data[name])) if data[name] else shown == "", name
    assert (selected_value(resp, "bristol") or "") == data["bristol"]


def start_form_keeps(resp, run, started):
    assert input_value(resp, "run_number") == run
    assert input_value(resp, "started_at") == started


def add_device(code, kind="purification_device", approve=False, calibration_due=date(2027, 6, 1)):
    from lims.equipment import operations as eq_ops
    from tests.conftest import PASSWORD

    eq_id = act(
        "tech1",
        lambda s, u: (
            eq_ops.create(
                s,
                code,
                {
                    "name": f"device {code}",
                    "kind": kind,
                    "location": "suite A",
                    "serial_number": code,
                    "status": "in_service",
                    "calibration_due": calibration_due,
                    "notes": None,
                },
            ).id
        ),
    )
    if approve:
        act("qa2", lambda s, u: eq_ops.approve(s, eq_ops.get(s, eq_id), f"{eq_id}@1", u, PASSWORD, None, "test"))


def late_clock(lab_, clock, hh=15, mm=0):
    """Move the lab clock to later on the donation day; everyone signs in again."""
    clock.set(lab(D, hh, mm))
    flow.relogin(lab_)


# --- receipt refused ----------------------------------------------------------------------------

RECEIPT_REFUSALS = [
    pytest.param(
        {"mass_g": "99.9"},
        422,
        ["Mass 99.9 g is below the minimum of 100 g:", "the donation cannot be accepted"],
        id="mass-99.9",
    ),
    pytest.param(
        {"collected_at": local(D, 8, 30), "received_at": local(D, 8, 0)},
        422,
        ["The receipt time is before the collection time."],
        id="received-before-collected",
    ),
    pytest.param(
        {"collected_at": local(D, 10, 1), "received_at": local(D, 10, 2)},
        422,
        ["The collection time is in the future."],
        id="collected-in-future",
    ),
    pytest.param(
        {"received_at": local(D, 10, 1)}, 422, ["The receipt time is in the future."], id="received-in-future"
    ),
    pytest.param(
        {"collected_at": local(DAY_BEFORE, 8, 0), "received_at": local(DAY_BEFORE, 8, 30)},
        422,
        ["Donor D-0001 has no donation-day check on 2026-11-22."],
        id="no-day-check-that-day",
    ),
    pytest.param({"donor": "D-9999"}, 422, ["No donor with code D-9999."], id="unknown-donor"),
    pytest.param(
        {"bristol": ""},
        400,
        ["Correct the marked fields.", "Choose the Bristol stool form (1-7)."],
        id="bristol-missing",
    ),
    pytest.param({"mass_g": ""}, 400, ["Correct the marked fields.", "Enter the mass in g."], id="mass-missing"),
]


@pytest.mark.parametrize("overrides,status,sentences", RECEIPT_REFUSALS)
def test_receipt_refused_stores_nothing_and_keeps_the_form(app, mfg, overrides, status, sentences):
    before = stored()
    data = {**flow.RECEIPT, **overrides}
    resp = flow.receive(mfg, **overrides)
    refused(resp, status, *sentences)
    assert_receipt_form_keeps(resp, data)
    assert stored() == before == ([], 0)


def test_bristol_missing_marks_the_field(app, mfg):
    resp = flow.receive(mfg, bristol="")
    assert resp.status_code == 400
    m = re.search(r'<div class="field has-error[^"]*">(.*?)</div>\s*</div>', page_text(resp), re.S)
    assert m and 'name="bristol"' in m.group(1) and "Choose the Bristol stool form (1-7)." in m.group(1)


def test_deferred_donor_refused(app, mfg):
    day_check("D-0001", DONATION_DAY, "yes")  # a "yes" on the day defers him
    before = stored()
    resp = flow.receive(mfg)
    err = refused(resp, 422)
    assert "Donor D-0001 is not eligible on 2026-11-23" in err and "deferred" in err, err
    assert_receipt_form_keeps(resp, flow.RECEIPT)
    assert stored() == before == ([], 0)


def test_clinician_cannot_receive(app, mfg):
    resp = mfg.nurse.post("/donations/", flow.RECEIPT, token_from="/donations/")
    forbidden(resp)
    assert stored() == ([], 0)
    assert audit_rows(app, entity="donation") == []


# --- receipt accepted -----------------------------------------------------------------------------


def test_mass_at_the_minimum_accepted(app, mfg):
    resp = ok(flow.receive(mfg, mass_g="100.0"))
    assert resp.headers["Location"].endswith(f"/donations/{DONATION}")
    d = flow.row(Donation, code=DONATION)
    assert d.mass_g == Decimal("100.0") and d.status == "received"


def test_codes_and_retained_sample_shown(app, mfg):
    ok(flow.receive(mfg))
    ok(flow.receive(mfg, collected_at=local(D, 9, 0), received_at=local(D, 9, 20)))
    assert [d.code for d in flow.rows(Donation)] == [DONATION, "DN-20261123-02"]
    d = flow.row(Donation, code=DONATION)
    assert d.retained_until == date(2027, 5, 23) and d.received_by_id is not None
    page = page_text(mfg.tech.get(f"/donations/{DONATION}"))
    assert "keep until 2027-05-23" in page and "FRG-T retained rack" in page
    assert "DN-20261123-02" in page_text(mfg.tech.get("/donations/"))


# --- start of processing --------------------------------------------------------------------------


def test_start_exactly_six_hours_after_collection_accepted(app, mfg, clock):
    late_clock(mfg, clock)
    ok(flow.receive(mfg))
    resp = ok(flow.start(mfg, started=local(D, 14, 0)))
    assert resp.headers["Location"].endswith(f"/batches/{LOT}")
    batch = flow.row(Batch, lot=LOT)
    assert batch.status == "in_process" and batch.run_number == "RUN-1"
    assert flow.row(Donation, code=DONATION).status == "processing"


def test_start_one_minute_late_rejects_the_donation_for_good(app, mfg, clock):
    late_clock(mfg, clock)
    ok(flow.receive(mfg))
    resp = flow.start(mfg, started=local(D, 14, 1))
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/donations/{DONATION}")
    d = flow.row(Donation, code=DONATION)
    assert d.status == "rejected"
    assert "361 min" in d.rejection_reason and "360" in d.rejection_reason, d.rejection_reason
    assert flow.rows(Batch) == []
    trail = [r for r in audit_rows(app, entity="donation", record_id=DONATION) if r.field == "status"]
    assert trail and trail[-1].new_value == "rejected" and "361 min" in (trail[-1].reason or "")
    page = page_text(mfg.tech.get(f"/donations/{DONATION}"))
    assert "rejected" in page and "361 min" in page and 'id="start-form"' not in page
    # never startable afterwards, not even with a time inside the limit
    before = stored()
    resp = flow.start(mfg, started=local(D, 14, 0))
    err = refused(resp, 422)
    assert f"Donation {DONATION} was rejected" in err and "361 min" in err, err
    assert stored() == before


@pytest.mark.parametrize("started", [local(D, 7, 59), local(D, 10, 1)], ids=["before-collection", "in-future"])
def test_start_time_refused(app, mfg, started):
    ok(flow.receive(mfg))
    before = stored()
    resp = flow.start(mfg, started=started)
    message = (
        "Processing cannot start before the stool was collected."
        if started.endswith("07:59")
        else "The processing start time is in the future."
    )
    refused(resp, 422, message)
    start_form_keeps(resp, "RUN-1", started)
    assert stored() == before
    assert flow.row(Donation, code=DONATION).status == "received"


@pytest.mark.parametrize(
    "device,setup,status,message",
    [
        pytest.param("EQ-NOPE-99", None, 400, "Not a valid choice", id="unknown"),
        pytest.param(
            "EQ-CEN-01", dict(kind="centrifuge", approve=True), 400, "Not a valid choice", id="not-purification"
        ),
        pytest.param("EQ-GFM-02", dict(), 422, "Device EQ-GFM-02 is not usable for GMP work", id="not-approved"),
        pytest.param(
            "EQ-GFM-03",
            dict(approve=True, calibration_due=date(2026, 11, 1)),
            422,
            "Device EQ-GFM-03 is not usable for GMP work",
            id="calibration-overdue",
        ),
    ],
)
def test_start_with_unusable_device_refused(app, mfg, device, setup, status, message):
    if setup is not None:
        add_device(device, **setup)
    ok(flow.receive(mfg))
    before = stored()
    resp = flow.start(mfg, device=device, run="RUN-77")
    refused(resp, status, message)
    start_form_keeps(resp, "RUN-77", local(D, 9, 0))
    assert stored() == before
    assert flow.row(Donation, code=DONATION).status == "received"


def test_one_batch_per_donation(app, mfg):
    ok(flow.receive(mfg))
    ok(flow.start(mfg))
    before = stored()
    resp = flow.start(mfg, started=local(D, 9, 30), run="RUN-2")
    refused(resp, 422, "one batch per donation")
    assert stored() == before and before[1] == 1
    assert flow.row(Batch, lot=LOT).run_number == "RUN-1"


@pytest.mark.parametrize("who", ["nurse", "qa"])
def test_only_a_technician_starts_processing(app, mfg, who):
    ok(flow.receive(mfg))
    before = stored()
    resp = getattr(mfg, who).post(
        f"/donations/{DONATION}/start",
        {"device": "EQ-GFM-01", "run_number": "RUN-1", "started_at": local(D, 9, 0)},
        token_from=f"/donations/{DONATION}",
    )
    forbidden(resp)
    assert stored() == before
