"""Storing a batch's units in one scan session and one signature (issue 16, item 7).

Before: storing the 30 units of a batch into a rack took one post per unit.
"""

from __future__ import annotations

import re

from lims.audit.models import Signature
from lims.manufacturing.models import DoseUnit, StorageRun
from lims.manufacturing.rules import ScannedUnit, storage_session_plan
from tests.conftest import PASSWORD, page_text
from tests.manufacturing import flow
from tests.manufacturing.flow import LOT, ok

LOT2 = "FMT-20261123-02"


def _u(code, pos=None, lot=LOT, **kw):
    return ScannedUnit(code, pos, lot=lot, **kw)


def test_units_take_the_next_free_positions_in_box_order():
    plan, problems = storage_session_plan([_u("U1"), _u("U2"), _u("U3")], LOT, "BOX", 2, 2, {"A1": "X9"})
    assert problems == [] and plan == [("U1", "A2"), ("U2", "B1"), ("U3", "B2")]


def test_a_typed_position_and_a_start_position():
    plan, problems = storage_session_plan([_u("U1"), _u("U2", "A1"), _u("U3")], LOT, "BOX", 2, 2, {}, start="B1")
    assert problems == [] and plan == [("U1", "B1"), ("U2", "A1"), ("U3", "B2")]


def test_the_last_free_position_fits_and_one_more_unit_does_not():
    plan, problems = storage_session_plan([_u("U1")], LOT, "BOX", 1, 2, {"A1": "X9"})
    assert plan == [("U1", "A2")] and problems == []
    _plan, problems = storage_session_plan([_u("U1"), _u("U2")], LOT, "BOX", 1, 2, {"A1": "X9"})
    assert problems == [("box_full", {"box": "BOX", "code": "U2"})]


def test_every_problem_is_listed():
    scans = [
        _u("U1", "A1"),
        _u("U2", lot="FMT-OTHER"),
        _u("U1"),
        _u("U4", found=False, lot=""),
        _u("U5", "Z9"),
        _u("U6", problem=("thawed_unit", {"code": "U6"})),
        _u("U7", "A2"),
        _u("U8", "A2"),
    ]
    _plan, problems = storage_session_plan(scans, LOT, "BOX", 2, 2, {"A1": "X9"})
    assert [c for c, _p in problems] == [
        "slot_occupied",
        "other_batch",
        "scanned_twice",
        "unknown_unit",
        "no_such_position",
        "thawed_unit",
        "slot_twice",
    ]


def test_a_unit_may_stay_or_move_within_the_box():
    scans = [
        _u("U1", "A1", current=("BOX", "A1")),
        _u("U2", "A1", current=("BOX", "A2")),
        _u("U3", current=("BOX", "A1")),
    ]
    assert storage_session_plan(scans[:1], LOT, "BOX", 1, 2, {"A1": "U1"}) == ([], [("nothing_to_move", {})])
    plan, problems = storage_session_plan(
        [_u("U2", "A1", current=("BOX", "A2")), _u("U1", "A2", current=("BOX", "A1"))],
        LOT,
        "BOX",
        1,
        2,
        {"A1": "U1", "A2": "U2"},
    )
    assert problems == [] and plan == [("U2", "A1"), ("U1", "A2")]  # a swap


def _box_page(browser, box="BOX-F1"):
    return f"/storage/{box}"


def _review(browser, scans, lot=LOT, start="", box="BOX-F1"):
    return browser.post(
        f"/storage/{box}/session",
        {"ss-lot": lot, "ss-start": start, "ss-scans": scans, "step": "review"},
        token_from=_box_page(browser, box),
    )


def _sign(browser, reviewed, scans, lot=LOT, start="", box="BOX-F1", password=PASSWORD):
    content = re.search(r'name="ss-content" type="hidden" value="([^"]*)"', reviewed.get_data(as_text=True)).group(1)
    return browser.post(
        f"/storage/{box}/session",
        {
            "ss-lot": lot,
            "ss-start": start,
            "ss-scans": scans,
            "ss-content": content,
            "ss-password": password,
            "step": "sign",
        },
        token_from=_box_page(browser, box),
    )


SCANS = "\n".join(f"LIMS:DU:{LOT}-0{i}" for i in range(1, 7))


def test_a_batch_is_scanned_reviewed_and_stored_with_one_signature(app, mfg):
    flow.to_quarantine(mfg)
    reviewed = _review(mfg.tech, SCANS, lot=f"LIMS:LOT:{LOT}")
    assert reviewed.status_code == 200
    text = page_text(reviewed)
    assert "Sign and store all" in text and f"{LOT}-06" in text and "BOX-F1 / B3" in text
    assert {u.box_id for u in flow.rows(DoseUnit, lot=LOT)} == {None}  # reviewing stores nothing
    ok(_sign(mfg.tech, reviewed, SCANS, lot=f"LIMS:LOT:{LOT}"))
    where = {u.code: u.position for u in flow.rows(DoseUnit, lot=LOT)}
    assert where == {f"{LOT}-0{i}": p for i, p in zip(range(1, 7), ("A1", "A2", "A3", "B1", "B2", "B3"))}
    [run] = flow.rows(StorageRun)
    assert (run.code, run.unit_count, run.box_code) == ("SR-2026-0001", 6, "BOX-F1")
    sigs = flow.rows(Signature, record_type="storage_run")
    assert [(s.meaning, s.user_name) for s in sigs] == [("performed", "Zhang Wei")]
    from tests.conftest import audit_rows

    moves = [
        r
        for r in audit_rows(app, entity="dose_unit", field="position")
        if r.reason == "stored by scan session SR-2026-0001"
    ]
    assert len(moves) == 6


def test_an_occupied_slot_refuses_the_whole_session(app, mfg):
    flow.to_quarantine(mfg)
    ok(flow.place(mfg.tech, f"{LOT}-06", "BOX-F1", "A2"))
    r = _review(mfg.tech, f"{LOT}-01 A2\n{LOT}-02")
    assert r.status_code == 422 and f"Position A2 is occupied by {LOT}-06" in page_text(r)
    assert "Sign and store all" not in page_text(r) and f"{LOT}-01 A2" in page_text(r)  # the scans are kept
    assert flow.row(DoseUnit, code=f"{LOT}-01").box_id is None


def test_a_unit_of_another_batch_is_refused_with_the_reason(app, mfg):
    from tests.concurrency.builders import quarantined_batch

    flow.to_quarantine(mfg)
    quarantined_batch(2)
    r = _review(mfg.tech, f"{LOT}-01\nLIMS:DU:{LOT2}-01")
    assert r.status_code == 422 and f"Unit {LOT2}-01 belongs to batch {LOT2}, not to {LOT}." in page_text(r)
    r = _review(mfg.tech, f"LIMS:LOT:{LOT2}")
    assert r.status_code == 422 and "is a batch label; this field takes a dose unit" in page_text(r)


def test_a_plan_that_changed_after_review_or_a_wrong_password_stores_nothing(app, mfg):
    flow.to_quarantine(mfg)
    reviewed = _review(mfg.tech, SCANS)
    r = _sign(mfg.tech, reviewed, SCANS, password="not-my-password")
    assert r.status_code == 422 and flow.rows(StorageRun) == []
    reviewed = _review(mfg.tech, SCANS)
    ok(flow.place(mfg.tech2, f"{LOT}-03", "BOX-F1", "C3"))
    r = _sign(mfg.tech, reviewed, SCANS)
    assert r.status_code == 409 and "changed since you opened it" in page_text(r) and "Chen Jing" in page_text(r)
    assert flow.rows(StorageRun) == [] and flow.row(DoseUnit, code=f"{LOT}-01").box_id is None


def test_signing_a_plan_that_was_never_reviewed_is_refused(app, mfg):
    flow.to_quarantine(mfg)
    r = mfg.tech.post(
        "/storage/BOX-F1/session",
        {"ss-lot": LOT, "ss-scans": SCANS, "ss-content": "", "ss-password": PASSWORD, "step": "sign"},
        token_from="/storage/BOX-F1",
    )
    assert r.status_code == 422 and "Review the plan before signing it." in page_text(r)
    assert flow.rows(StorageRun) == []
