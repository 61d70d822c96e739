"""Printing labels from the record pages: documents, the release-label rule, and the audit of prints and reprints."""
import io

from pypdf import PdfReader

from tests.conftest import audit_rows, page_text
from tests.labels.test_render import decoded
from tests.manufacturing import flow
from tests.manufacturing.flow import LOT, ok

UNIT = f"{LOT}-01"


def print_labels(browser, kind, code, layout="tube_50x30", fmt="pdf", reason="", page=None):
    return browser.post("/labels/print", {"kind": kind, "code": code, "layout": layout, "format": fmt, "reason": reason},
                        token_from=page or f"/units/{UNIT}", headers={"Referer": f"http://localhost{page or '/units/' + UNIT}"})


def prints(code):
    return [r for r in audit_rows(None, action="print") if r.record_id == code]


def test_quarantine_label_then_reprint_needs_a_reason(app, mfg):
    flow.to_quarantine(mfg)
    r = print_labels(mfg.tech, "DU", UNIT)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(r.data)).pages[0].extract_text()
    assert UNIT in text and "QUARANTINE" in text and "D-0001" in text
    assert decoded(r.data) == [f"LIMS:DU:{UNIT}"]
    [row] = prints(UNIT)
    assert row.entity == "dose_unit" and row.new_value.startswith("print tube_50x30 pdf") and row.user_name == "Zhang Wei"
    r = print_labels(mfg.tech, "DU", UNIT)  # a reprint without a reason: refused, back on the page, nothing printed
    assert r.status_code == 302 and len(prints(UNIT)) == 1
    assert "give a reason for the reprint" in page_text(mfg.tech.get(r.headers["Location"]))
    r = print_labels(mfg.tech, "DU", UNIT, reason="label smudged by condensation")
    assert r.status_code == 200
    assert [p.reason for p in prints(UNIT)] == [None, "label smudged by condensation"]
    assert prints(UNIT)[1].new_value.startswith("reprint")


def test_release_label_only_once_released(app, mfg, clock):
    flow.to_quarantine(mfg)
    r = print_labels(mfg.tech, "DU", UNIT, layout="dosebag_100x60")
    assert r.status_code == 302 and prints(UNIT) == []
    assert "printed only for released dose units" in page_text(mfg.tech.get(r.headers["Location"]))
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    ok(flow.release(mfg.qa))
    r = print_labels(mfg.tech, "DU", UNIT, layout="dosebag_100x60")
    assert r.status_code == 200 and "RELEASED" in PdfReader(io.BytesIO(r.data)).pages[0].extract_text()
    assert decoded(r.data) == [f"LIMS:DU:{UNIT}"]


def test_all_units_of_a_lot_in_one_document_pdf_and_zpl(app, mfg):
    flow.to_quarantine(mfg)
    page = f"/batches/{LOT}"
    r = print_labels(mfg.tech, "LOT_UNITS", LOT, page=page)
    assert r.status_code == 200 and r.headers["X-Label-Count"] == "6"
    assert len(PdfReader(io.BytesIO(r.data)).pages) == 6
    assert [decoded(r.data, i)[0] for i in range(6)] == [f"LIMS:DU:{LOT}-0{i}" for i in range(1, 7)]
    assert len([row for row in audit_rows(None, action="print") if row.entity == "dose_unit"]) == 6
    r = print_labels(mfg.tech, "LOT_UNITS", LOT, fmt="zpl", reason="ZPL copy for the Zebra in room 2", page=page)
    assert r.status_code == 200 and r.data.decode().count("^XA") == 6
    assert f"^FDQA,LIMS:DU:{LOT}-06^FS" in r.data.decode()


def test_retained_sample_on_a_cryovial_and_a_unit_id_that_would_not_fit(app, mfg):
    flow.to_quarantine(mfg)
    r = print_labels(mfg.tech, "RS", flow.DONATION, layout="cryovial_25x13", page=f"/donations/{flow.DONATION}")
    assert r.status_code == 200 and decoded(r.data) == [f"LIMS:RS:{flow.DONATION}"]
    r = print_labels(mfg.tech, "DU", UNIT, layout="cryovial_25x13")
    assert r.status_code == 302 and prints(UNIT) == []
    assert "does not fit on the Cryovial label" in page_text(mfg.tech.get(r.headers["Location"]))


def test_clinician_cannot_print(app, mfg):
    flow.to_quarantine(mfg)
    r = mfg.nurse.post("/labels/print", {"kind": "DU", "code": UNIT, "layout": "tube_50x30", "format": "pdf"},
                       token_from=f"/units/{UNIT}")
    assert r.status_code == 403 and prints(UNIT) == []
