"""The happy path from donation to released batch with dose units stored, through HTTP."""
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
