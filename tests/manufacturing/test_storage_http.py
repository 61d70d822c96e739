"""Storage locations, placing and moving dose units, the box view, the inventory, thawing, discarding and expiry,
through HTTP."""

from __future__ import annotations

import re
from datetime import UTC, date, timedelta

from lims.db import Actor, transaction
from lims.manufacturing.models import Batch, DoseUnit, StorageLocation
from tests.conftest import audit_rows, page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import lab, local
from tests.manufacturing.flow import LOT, ok
from tests.manufacturing.pages import error_of

UNITS = [f"{LOT}-0{i}" for i in range(1, 7)]
U1, U2 = UNITS[0], UNITS[1]
F1_PATH = "SITE-T > FRZ-T > FRZ-T-R1 > BOX-F1"
EXPIRY = date(2027, 5, 23)
RELEASE_DAY = date(2026, 11, 25)  # flow.clear_donor moves the clock here (10:00 lab time)


# --- helpers ------------------------------------------------------------------------------------


def refused(resp, sentence, status=422):
    assert resp.status_code == status, page_text(resp)[:3000]
    err = error_of(resp)
    assert sentence in err, err
    return err


def unit(code):
    return flow.row(DoseUnit, code=code)


def where(code):
    """(status, box code, position) of a unit."""
    u = unit(code)
    box = flow.row(StorageLocation, id=u.box_id).code if u.box_id is not None else None
    return u.status, box, u.position


def box_cells(browser, box="BOX-F1") -> dict[str, tuple[str, str]]:
    """position -> (td class, cell text) from the box grid."""
    page = page_text(browser.get(f"/storage/{box}"))
    grid = re.search(r'<table class="boxgrid" id="box-grid">(.*?)</table>', page, re.S)
    assert grid, "no box grid"
    return {
        pos: (cls, body)
        for cls, pos, body in re.findall(r'<td class="([^"]*)" title="([A-Z]\d+)">(.*?)</td>', grid.group(1), re.S)
    }


def inventory_rows(browser) -> list[tuple[str, list[str]]]:
    """(tr class, cell texts) of the inventory table."""
    page = page_text(browser.get("/inventory"))
    body = re.search(r'<table class="grid" id="inventory">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    out = []
    for cls, cells in re.findall(r'<tr(?: class="([^"]*)")?>(.*?)</tr>', body, re.S):
        texts = [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
        out.append((cls, texts))
    return out


def use_problem(browser, code) -> str | None:
    page = page_text(browser.get(f"/units/{code}"))
    m = re.search(r'<p class="flash flash-error" id="use-problem">(.*?)</p>', page, re.S)
    return " ".join(m.group(1).split()) if m else None


def thaw(browser, code, at):
    return browser.post(f"/units/{code}/thaw", {"thaw-thawed_at": at}, token_from=f"/units/{code}")


def discard(browser, code, reason):
    return browser.post(f"/units/{code}/discard", {"discard-reason": reason}, token_from=f"/units/{code}")


def new_location(browser, code, kind, parent="", rows="", cols="", name=""):
    return browser.post(
        "/storage",
        {
            "loc-code": code,
            "loc-name": name,
            "loc-kind": kind,
            "loc-parent": parent,
            "loc-rows": rows,
            "loc-cols": cols,
        },
        token_from="/storage",
    )


def release(lab_, clock):
    """The batch from flow.to_quarantine, released by qa1 on 2026-11-25 (10:00 lab time)."""
    flow.to_quarantine(lab_)
    flow.clear_donor(lab_, clock)
    ok(flow.review(lab_.qa))
    ok(flow.release(lab_.qa))
    assert flow.row(Batch, lot=LOT).status == "released"


def set_clock(lab_, clock, when):
    """Move the clock; past the 30-minute idle timeout everyone signs in again."""
    idle = abs(when - clock.now()) >= timedelta(minutes=30)
    clock.set(when)
    if idle:
        flow.relogin(lab_)


def expire_due(now):
    from lims.manufacturing.release import expire_due as run

    with transaction(Actor(None, "t")) as s:
        return run(s, now)


# --- placing and moving --------------------------------------------------------------------------


def test_place_one_unit_per_position_and_only_in_existing_positions_of_a_freezer_box(app, mfg):
    flow.to_quarantine(mfg)
    ok(flow.place(mfg.tech, U1, "BOX-F1", "a1"))  # typed lower case, stored as printed on the box
    assert where(U1) == ("quarantine", "BOX-F1", "A1")

    refused(flow.place(mfg.tech, U2, "BOX-F1", "A1"), "Position A1 is already occupied: one unit per position.")
    assert where(U2) == ("quarantine", None, None) and where(U1) == ("quarantine", "BOX-F1", "A1")

    refused(flow.place(mfg.tech, U2, "BOX-F1", "J9"), "Position J9 does not exist in this box (A1 to C3).")
    refused(flow.place(mfg.tech, U2, "BOX-F1", "A4"), "Position A4 does not exist in this box (A1 to C3).")
    assert where(U2) == ("quarantine", None, None)

    refused(flow.place(mfg.tech, U2, "BOX-C1", "A1"), f"Unit {U2} is frozen, -80 °C and cannot be stored in BOX-C1.")
    assert where(U2) == ("quarantine", None, None)

    refused(flow.place(mfg.tech, U2, "FRZ-T-R1", "A1"), "FRZ-T-R1 is not a box: units are stored in box positions.")
    refused(flow.place(mfg.tech, U2, "FRZ-T", "A1"), "FRZ-T is not a box")
    assert where(U2) == ("quarantine", None, None)
    assert [a for a in audit_rows(app, entity="dose_unit", record_id=U2) if a.field in ("box_id", "position")] == []

    # Refused for a clinician, and for a missing position.
    assert flow.place(mfg.nurse, U2, "BOX-F1", "A2").status_code == 403
    assert flow.place(mfg.tech, U2, "BOX-F1", "").status_code == 400
    assert where(U2) == ("quarantine", None, None)

    ok(flow.place(mfg.tech, U2, "BOX-F1", "C3"))
    assert where(U2) == ("quarantine", "BOX-F1", "C3")


def test_move_is_audited_and_frees_the_old_position(app, mfg):
    flow.to_quarantine(mfg)
    ok(flow.place(mfg.tech, U1, "BOX-F1", "A1"))
    cells = box_cells(mfg.tech)
    assert cells["A1"][0] == "occupied status-quarantine"
    assert f'href="/units/{U1}"' in cells["A1"][1] and U1[4:] in cells["A1"][1]
    assert cells["B2"][0] == "free"

    refused(flow.place(mfg.tech, U1, "BOX-F1", "A1"), f"Unit {U1} is already at BOX-F1 / A1.")
    ok(flow.place(mfg.tech, U1, "BOX-F1", "B2"))
    assert where(U1) == ("quarantine", "BOX-F1", "B2")
    reasons = [a.reason for a in audit_rows(app, entity="dose_unit", record_id=U1) if a.field == "position"]
    assert reasons[-1] == f"moved from {F1_PATH} / A1 to {F1_PATH} / B2"
    assert "moved from" in reasons[-1] and " to " in reasons[-1]
    moved = [a for a in audit_rows(app, entity="dose_unit", record_id=U1) if a.field == "position"][-1]
    assert (moved.old_value, moved.new_value) == ("A1", "B2")

    cells = box_cells(mfg.tech)
    assert cells["A1"][0] == "free" and U1[4:] not in cells["A1"][1]
    assert cells["B2"][0] == "occupied status-quarantine" and U1[4:] in cells["B2"][1]
    # A1 is free again: another unit goes there.
    ok(flow.place(mfg.tech, U2, "BOX-F1", "A1"))
    assert where(U2) == ("quarantine", "BOX-F1", "A1")
    assert page_text(mfg.tech.get(f"/units/{U1}")).count(f"{F1_PATH} / B2") >= 1


# --- inventory -----------------------------------------------------------------------------------


def test_inventory_lists_released_units_by_expiry_and_highlights_the_last_7_days(app, mfg, clock):
    flow.to_quarantine(mfg)
    assert inventory_rows(mfg.tech) == [("", ["No available units."])]  # quarantined units are not available
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    ok(flow.release(mfg.qa))
    ok(discard(mfg.tech, U1, "Bag seal leaking."))
    frozen = "Washed microbiota suspension, frozen (-80 °C)"
    assert inventory_rows(mfg.tech) == [("", [frozen, "2027-05-23", "5"])]

    set_clock(mfg, clock, lab(date(2027, 5, 15), 10))
    assert inventory_rows(mfg.tech) == [("", [frozen, "2027-05-23", "5"])]
    set_clock(mfg, clock, lab(date(2027, 5, 16), 0))  # expiry = today + 7 days: inside the window
    assert inventory_rows(mfg.tech) == [("expiring", [frozen, "2027-05-23 expires within 7 days", "5"])]
    set_clock(mfg, clock, lab(date(2027, 5, 17), 10))
    assert inventory_rows(mfg.tech) == [("expiring", [frozen, "2027-05-23 expires within 7 days", "5"])]
    set_clock(mfg, clock, lab(EXPIRY, 23, 59))
    assert inventory_rows(mfg.tech)[0][0] == "expiring"
    set_clock(mfg, clock, lab(EXPIRY + timedelta(days=1), 0))  # expired: no longer listed
    assert inventory_rows(mfg.tech) == [("", ["No available units."])]


# --- thawing -------------------------------------------------------------------------------------


def test_thaw_only_released_units_and_the_6_hour_window(app, mfg, clock):
    flow.to_quarantine(mfg)
    ok(flow.place(mfg.tech, U1, "BOX-F1", "A1"))
    refused(
        thaw(mfg.tech, U1, local(flow.DONATION_DAY, 10, 0)), f"Only released units are thawed; unit {U1} is quarantine."
    )
    u = unit(U1)
    assert (u.thawed_at, u.status) == (None, "quarantine") and where(U1) == ("quarantine", "BOX-F1", "A1")

    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    ok(flow.release(mfg.qa))
    t = lab(RELEASE_DAY, 10, 0)  # now
    refused(thaw(mfg.tech, U1, local(RELEASE_DAY, 10, 1)), "The thaw time is in the future.")
    assert unit(U1).thawed_at is None
    ok(thaw(mfg.nurse, U1, local(RELEASE_DAY, 10, 0)))  # clinicians thaw units for administration
    u = unit(U1)
    assert u.thawed_at.replace(tzinfo=UTC) == t
    assert where(U1) == ("available", None, None)
    assert box_cells(mfg.tech)["A1"][0] == "free"
    thaw_rows = [a for a in audit_rows(app, entity="dose_unit", record_id=U1) if a.field == "thawed_at"]
    assert thaw_rows and thaw_rows[-1].reason == f"thawed, removed from {F1_PATH} / A1"

    set_clock(mfg, clock, t + timedelta(hours=6))  # thaw + 6 h exactly: still usable
    assert use_problem(mfg.tech, U1) is None
    clock.advance(minutes=1)
    problem = use_problem(mfg.tech, U1)
    assert problem is not None and problem.startswith("Do not use:")
    assert "thawed more than 6 h ago" in problem

    refused(thaw(mfg.tech, U1, local(RELEASE_DAY, 16, 0)), f"Unit {U1} was already thawed.")
    assert unit(U1).thawed_at == u.thawed_at
    refused(flow.place(mfg.tech, U1, "BOX-F1", "A1"), f"Unit {U1} was thawed and cannot go back into storage.")
    assert where(U1) == ("available", None, None)


def test_inventory_does_not_count_a_unit_past_its_thaw_window(app, mfg, clock):
    release(mfg, clock)
    frozen = "Washed microbiota suspension, frozen (-80 °C)"
    assert inventory_rows(mfg.tech) == [("", [frozen, "2027-05-23", "6"])]
    ok(thaw(mfg.tech, U1, local(RELEASE_DAY, 10, 0)))
    set_clock(mfg, clock, lab(RELEASE_DAY, 16, 1))
    assert "thawed more than 6 h ago" in use_problem(mfg.tech, U1)
    assert inventory_rows(mfg.tech) == [("", [frozen, "2027-05-23", "5"])]


# --- discarding ----------------------------------------------------------------------------------


def test_discard_needs_a_reason_and_frees_the_position(app, mfg):
    flow.to_quarantine(mfg)
    ok(flow.place(mfg.tech, U1, "BOX-F1", "A1"))
    resp = discard(mfg.tech, U1, "")
    assert resp.status_code == 400 and "A reason is required to discard a unit." in error_of(resp)
    resp = discard(mfg.tech, U1, "   ")
    assert resp.status_code in (400, 422) and "A reason is required to discard a unit." in page_text(resp)
    assert where(U1) == ("quarantine", "BOX-F1", "A1")
    assert discard(mfg.nurse, U1, "Dropped.").status_code == 403
    assert where(U1) == ("quarantine", "BOX-F1", "A1")

    ok(discard(mfg.tech, U1, "Bag punctured while moving the box."))
    u = unit(U1)
    assert (u.status, u.status_reason, u.box_id, u.position) == (
        "discarded",
        "Bag punctured while moving the box.",
        None,
        None,
    )
    assert box_cells(mfg.tech)["A1"][0] == "free"
    refused(discard(mfg.tech, U1, "again"), f"Unit {U1} is discarded and cannot be discarded.")
    refused(flow.place(mfg.tech, U1, "BOX-F1", "A2"), f"Unit {U1} is discarded and cannot be stored.")
    ok(flow.place(mfg.tech, U2, "BOX-F1", "A1"))


# --- expiry ----------------------------------------------------------------------------------------


def test_unit_usable_through_its_expiry_date_and_expire_due_expires_units_and_batch(app, mfg, clock):
    release(mfg, clock)
    ok(flow.place(mfg.tech, U1, "BOX-F1", "A1"))
    assert unit(U1).expiry_date == EXPIRY

    set_clock(mfg, clock, lab(EXPIRY, 23, 59))
    assert use_problem(mfg.tech, U1) is None
    assert expire_due(clock.now()) == (0, 0)
    assert flow.row(Batch, lot=LOT).status == "released"
    assert {u.status for u in flow.rows(DoseUnit, lot=LOT)} == {"available"}

    set_clock(mfg, clock, lab(EXPIRY + timedelta(days=1), 0))
    problem = use_problem(mfg.tech, U1)
    assert problem is not None and "The unit expired at" in problem
    refused(thaw(mfg.tech, U2, local(EXPIRY + timedelta(days=1), 0)), "The unit expired at")
    assert unit(U2).thawed_at is None

    assert expire_due(clock.now()) == (6, 1)
    assert {u.status for u in flow.rows(DoseUnit, lot=LOT)} == {"expired"}
    assert flow.row(Batch, lot=LOT).status == "expired"
    assert expire_due(clock.now()) == (0, 0)  # nothing left to do
    assert "expired" in page_text(mfg.tech.get(f"/units/{U1}"))


def test_expire_due_leaves_the_batch_when_some_units_are_not_expired(app, mfg, clock):
    release(mfg, clock)
    ok(discard(mfg.tech, U1, "Seal broken."))
    set_clock(mfg, clock, lab(EXPIRY + timedelta(days=1), 0))
    assert expire_due(clock.now()) == (5, 1)  # a discarded unit is not live: the batch expires with the others
    assert [u.status for u in flow.rows(DoseUnit, lot=LOT)] == ["discarded"] + ["expired"] * 5
    assert flow.row(Batch, lot=LOT).status == "expired"


def test_expire_due_on_a_quarantined_batch_expires_units_only(app, mfg, clock):
    flow.to_quarantine(mfg)
    clock.set(lab(EXPIRY + timedelta(days=1), 0))
    assert expire_due(clock.now()) == (6, 0)
    assert {u.status for u in flow.rows(DoseUnit, lot=LOT)} == {"expired"}
    assert flow.row(Batch, lot=LOT).status == "quarantine"


# --- locations -------------------------------------------------------------------------------------


def test_create_locations_and_refusals(app, mfg):
    before = len(flow.rows(StorageLocation))

    refused(new_location(mfg.tech, "BOX-F2", "box", "FRZ-T-R1"), "A box needs 1-26 rows and 1-26 columns")
    refused(new_location(mfg.tech, "BOX-F2", "box", "FRZ-T-R1", rows="9"), "A box needs 1-26 rows and 1-26 columns")
    assert flow.row(StorageLocation, code="BOX-F2") is None

    refused(
        new_location(mfg.tech, "RACK-X", "rack"), "A Rack must be placed in: Freezer (-80 °C), Refrigerator (4 °C)."
    )
    refused(new_location(mfg.tech, "RACK-X", "rack", "SITE-T"), "A Rack must be placed in")
    assert flow.row(StorageLocation, code="RACK-X") is None

    refused(new_location(mfg.tech, "BOX-F1", "box", "FRZ-T-R1", rows="3", cols="3"), "Location BOX-F1 already exists.")
    refused(new_location(mfg.tech, "box-f1", "box", "FRZ-T-R1", rows="3", cols="3"), "Location BOX-F1 already exists.")

    resp = new_location(mfg.nurse, "BOX-F3", "box", "FRZ-T-R1", rows="9", cols="9")
    assert resp.status_code == 403
    assert flow.row(StorageLocation, code="BOX-F3") is None
    assert len(flow.rows(StorageLocation)) == before

    ok(new_location(mfg.tech, "BOX-F2", "box", "FRZ-T-R1", rows="9", cols="9", name="Second box"))
    box = flow.row(StorageLocation, code="BOX-F2")
    parent = flow.row(StorageLocation, code="FRZ-T-R1")
    assert (box.kind, box.rows, box.cols, box.parent_id, box.name) == ("box", 9, 9, parent.id, "Second box")
    cells = box_cells(mfg.tech, "BOX-F2")
    assert len(cells) == 81 and "I9" in cells and all(c[0] == "free" for c in cells.values())
    ok(new_location(mfg.tech, "RACK-X", "rack", "FRG-T"))
    assert len(flow.rows(StorageLocation)) == before + 2
