"""The happy path from donation to released batch with dose units stored, through HTTP."""

from datetime import UTC

from lims.manufacturing.models import Batch, Donation, DoseUnit
from tests.conftest import page_text
from tests.manufacturing import flow
from tests.manufacturing.flow import LOT, ok


def test_donation_to_released_batch_with_units_stored(app, mfg, clock):
    flow.to_quarantine(mfg)
    batch = flow.row(Batch, lot=LOT)
    assert batch.status == "quarantine" and batch.enrichment_minutes == 41
    assert flow.row(Donation, code=flow.DONATION).status == "processing"
    units = flow.rows(DoseUnit, batch_id=batch.id)
    assert [u.code for u in units] == [f"{LOT}-0{i}" for i in range(1, 7)]
    assert {u.status for u in units} == {"quarantine"} and units[0].expiry_date.isoformat() == "2027-05-23"
    for i, u in enumerate(units, start=1):
        ok(flow.place(mfg.tech, u.code, "BOX-F1", f"A{i}" if i <= 3 else f"B{i - 3}"))
    page = page_text(mfg.qa.get(f"/batches/{LOT}"))
    assert "is not yet cleared" in page and "You have not recorded your review" in page
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    ok(flow.release(mfg.qa))
    assert flow.row(Batch, lot=LOT).status == "released"
    assert {u.status for u in flow.rows(DoseUnit, batch_id=batch.id)} == {"available"}
    page = page_text(mfg.qa.get(f"/batches/{LOT}"))
    assert "released" in page and "BOX-F1 / A1" in page
    inv = page_text(mfg.tech.get("/inventory"))
    assert "2027-05-23" in inv and ">6<" in inv.replace(" ", "")


def test_scanned_payloads_open_donation_batch_unit_and_box(app, mfg):
    flow.to_quarantine(mfg)
    for payload, target in [
        (f"LIMS:DN:{flow.DONATION}", f"/donations/{flow.DONATION}"),
        (f"LIMS:LOT:{LOT}", f"/batches/{LOT}"),
        (f"LIMS:DU:{LOT}-03", f"/units/{LOT}-03"),
        ("LIMS:LOC:BOX-F1", "/storage/BOX-F1"),
        (LOT, f"/batches/{LOT}"),
        (f"{LOT}-03", f"/units/{LOT}-03"),
    ]:
        r = mfg.tech.get(f"/scan?code={payload}")
        assert r.status_code == 302 and r.headers["Location"].endswith(target), payload
    r = mfg.tech.get("/scan?code=LIMS:LOT:FMT-20990101-01")
    assert r.status_code == 302 and not r.headers["Location"].startswith("/batches/FMT-2099")


def test_fresh_fill_is_used_the_same_day_and_kept_in_the_fridge(app, mfg):
    """Fresh product: use-by fill + 12 h (21:58 lab time here), never past the production day; 4 C storage only."""
    from datetime import datetime

    ok(flow.receive(mfg))
    ok(flow.start(mfg))
    flow.record_steps(mfg, upto=6)
    ok(flow.record_step(mfg, 7, fields={"dose_count": "3", "unit_volume_ml": "120", "storage": "fresh"}))
    units = flow.rows(DoseUnit, lot=LOT)
    assert [u.storage for u in units] == ["fresh"] * 3
    assert units[0].expiry_date.isoformat() == "2026-11-23"
    assert units[0].expires_at == datetime(2026, 11, 23, 13, 58, tzinfo=UTC)
    r = flow.place(mfg.tech, units[0].code, "BOX-F1", "A1")
    assert r.status_code == 422 and "cannot be stored in BOX-F1" in page_text(r)
    ok(flow.place(mfg.tech, units[0].code, "BOX-C1", "A1"))
    assert flow.row(DoseUnit, code=units[0].code).position == "A1"
