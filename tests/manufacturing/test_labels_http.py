"""Printing labels from the record pages: documents, the release-label rule, and the audit of prints and reprints."""

import io
from datetime import date

from pypdf import PdfReader

from lims.labels.layouts import all_layouts
from tests.conftest import audit_rows, page_text
from tests.labels import zplcheck
from tests.labels.test_render import decoded
from tests.manufacturing import flow
from tests.manufacturing.conftest import lab
from tests.manufacturing.flow import LOT, ok

UNIT = f"{LOT}-01"


def print_labels(browser, kind, code, layout="tube_50x30", fmt="pdf", reason="", page=None):
    return browser.post(
        "/labels/print",
        {"kind": kind, "code": code, "layout": layout, "format": fmt, "reason": reason},
        token_from=page or f"/units/{UNIT}",
        headers={"Referer": f"http://localhost{page or '/units/' + UNIT}"},
    )


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
    assert (
        row.entity == "dose_unit" and row.new_value.startswith("print tube_50x30 pdf") and row.user_name == "Zhang Wei"
    )
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
    zplcheck.check_zpl_fits(all_layouts()["tube_50x30"], r.data.decode(), 8)


def test_retained_sample_on_a_cryovial_and_a_unit_id_that_would_not_fit(app, mfg):
    flow.to_quarantine(mfg)
    r = print_labels(mfg.tech, "RS", flow.DONATION, layout="cryovial_25x13", page=f"/donations/{flow.DONATION}")
    assert r.status_code == 200 and decoded(r.data) == [f"LIMS:RS:{flow.DONATION}"]
    r = print_labels(mfg.tech, "DU", UNIT, layout="cryovial_25x13")
    assert r.status_code == 302 and prints(UNIT) == []
    assert "does not fit on the Cryovial label" in page_text(mfg.tech.get(r.headers["Location"]))


def test_clinician_cannot_print(app, mfg):
    flow.to_quarantine(mfg)
    r = mfg.nurse.post(
        "/labels/print",
        {"kind": "DU", "code": UNIT, "layout": "tube_50x30", "format": "pdf"},
        token_from=f"/units/{UNIT}",
    )
    assert r.status_code == 403 and prints(UNIT) == []


def test_json_resolve_for_integrations(app, mfg):
    flow.to_quarantine(mfg)
    r = mfg.nurse.get(f"/scan/resolve?code=LIMS:DU:{UNIT}")
    assert r.status_code == 200 and r.json["found"] and r.json["url"] == f"/units/{UNIT}"
    assert r.json["type"] == "DU" and r.json["id"] == UNIT and r.json["label"] == "dose unit"
    r = mfg.nurse.get("/scan/resolve?code=LIMS:DU:FMT-20990101-01-01")
    assert r.status_code == 404 and r.json["problem"] == "not_found" and "No record has this ID" in r.json["message"]
    r = mfg.nurse.get("/scan/resolve?code=LIMS:DU:FMT@@")
    assert r.status_code == 400 and r.json["problem"] == "malformed"
    r = mfg.nurse.get("/scan/resolve?code=LIMS:ZZ:1")
    assert r.status_code == 400 and r.json["problem"] == "unknown_type"
    assert app.test_client().get(f"/scan/resolve?code=LIMS:DU:{UNIT}").status_code in (
        302,
        401,
    )  # signed out: no answer


def store_here(browser, box, unit_scan, position):
    return browser.post(
        f"/storage/{box}/store", {"here-unit": unit_scan, "here-position": position}, token_from=f"/storage/{box}"
    )


def test_context_scan_on_the_box_page_stores_only_dose_units(app, mfg, clock):
    from lims.manufacturing.models import DoseUnit

    flow.to_quarantine(mfg)
    r = store_here(mfg.tech, "BOX-F1", f"LIMS:LOT:{LOT}", "A1")  # a batch label scanned where a unit is expected
    assert r.status_code == 422 and "is a batch label; scan the dose unit's label" in page_text(r)
    assert f"LIMS:LOT:{LOT}" in page_text(r)  # the scan stays in the field
    r = store_here(mfg.tech, "BOX-F1", "LIMS:DU:FMT@@", "A1")
    assert r.status_code == 422 and "is not a valid LIMS code" in page_text(r)
    r = store_here(mfg.tech, "BOX-F1", "LIMS:DU:FMT-20990101-01-01", "A1")
    assert r.status_code == 404 and "No such dose unit" in page_text(r)
    assert flow.row(DoseUnit, code=UNIT).box_id is None
    ok(store_here(mfg.tech, "BOX-F1", f"LIMS:DU:{UNIT}", "A1"))
    r = store_here(mfg.tech, "BOX-F1", f"LIMS:DU:{LOT}-02", "a1")
    assert r.status_code == 422 and "already occupied" in page_text(r)
    # the unit page's box field takes a scanned location label, and refuses another kind of label
    ok(flow.place(mfg.tech, f"{LOT}-02", "LIMS:LOC:BOX-F1", "B1"))
    r = flow.place(mfg.tech, f"{LOT}-03", f"LIMS:DU:{UNIT}", "B2")
    assert r.status_code == 422 and "is not a storage location label" in page_text(r)
    # an expired unit (by its time) is refused even before expire-due marked it
    clock.set(lab(date(2027, 5, 24), 0, 0))
    flow.relogin(mfg)
    r = store_here(mfg.tech, "BOX-F1", f"LIMS:DU:{LOT}-04", "C1")
    assert r.status_code == 422 and "expired at" in page_text(r)


class FakePrinter:
    """A Zebra raw port on 127.0.0.1: collects what the LIMS sends."""

    def __init__(self):
        import socket
        import threading

        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port = self.server.getsockname()[1]
        self.received = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _addr = self.server.accept()
        with conn:
            while chunk := conn.recv(65536):
                self.received += chunk

    def close(self):
        self.thread.join(timeout=5)
        self.server.close()


def test_zpl_sent_to_a_printer_socket_and_a_dead_printer_prints_nothing(app, mfg):
    import socket

    flow.to_quarantine(mfg)
    printer = FakePrinter()
    app.config["ZPL_PRINTER"] = f"127.0.0.1:{printer.port}"
    r = print_labels(mfg.tech, "LOT_UNITS", LOT, fmt="zpl_send", page=f"/batches/{LOT}")
    printer.close()
    assert r.status_code == 302
    job = printer.received.decode()
    assert job.count("^XA") == 6 and f"^FDQA,LIMS:DU:{LOT}-01^FS" in job
    assert "6 label(s) sent to the printer" in page_text(mfg.tech.get(r.headers["Location"]))
    assert all("to 127.0.0.1:" in row.new_value for row in audit_rows(None, action="print"))
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    app.config["ZPL_PRINTER"] = f"127.0.0.1:{dead}"
    before = len(audit_rows(None, action="print"))
    r = print_labels(mfg.tech, "DU", UNIT, fmt="zpl_send", reason="second copy")
    assert r.status_code == 302 and len(audit_rows(None, action="print")) == before
    assert "did not take the job" in page_text(mfg.tech.get(r.headers["Location"]))


def test_screening_specimen_tube_labels(app, mfg):
    """One cryovial label per specimen the protocol needs; each QR opens the screening."""
    from lims.donors.screening_models import Screening

    sc = flow.row(Screening, donor_id=1)
    r = print_labels(mfg.tech, "SP", str(sc.id), layout="cryovial_25x13", page=f"/screenings/{sc.id}")
    assert r.status_code == 200 and r.headers["X-Label-Count"] == "3"
    payloads = [decoded(r.data, i)[0] for i in range(3)]
    assert payloads == [f"LIMS:SP:SC{sc.id}-BLOOD", f"LIMS:SP:SC{sc.id}-SERUM", f"LIMS:SP:SC{sc.id}-STOOL"]
    assert "D-0001" in PdfReader(io.BytesIO(r.data)).pages[0].extract_text()
    r = mfg.tech.get(f"/scan?code={payloads[2]}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/screenings/{sc.id}")


def _printed(mfg, kind, ident, layout, fmt):
    """(response, the flashed message of a refusal) of one print."""
    r = print_labels(mfg.tech, kind, ident, layout=layout, fmt=fmt, reason="layout check")
    if r.status_code != 302:
        return r, ""
    text = page_text(mfg.tech.get(r.headers["Location"]))
    return r, next((line.strip() for line in text.splitlines() if "does not fit" in line or "too small" in line), text)


def _print_everything(app, mfg, records, quarantined: bool):
    """Every kind on every stock through POST /labels/print, as PDF and as ZPL at 203 and 300 dpi.

    PDF: the page is the stock's size, the ID is printed, the code decodes frosted at 203 and 300 dpi. ZPL, rendered
    by zplkit: every text box inside its field, no overlaps, the code decodes frosted. A refusal is the same
    refusal in both formats. Returns the refused (kind, stock) pairs."""
    from lims.labels.layouts import all_layouts

    refused = []
    for code, layout in all_layouts().items():
        if layout.release_only and quarantined:
            continue  # covered by test_release_label_only_once_released
        for kind, (ident, payload) in records.items():
            if layout.release_only and kind != "DU":
                continue
            r, message = _printed(mfg, kind, ident, code, "pdf")
            answers = []
            for dots in (8, 12):
                app.config["ZPL_DOTS_PER_MM"] = dots
                answers.append(_printed(mfg, kind, ident, code, "zpl"))
            if r.status_code == 302:
                assert "does not fit on the" in message, (kind, code, message)
                assert [(z.status_code, m) for z, m in answers] == [(302, message)] * 2, (kind, code)
                refused.append((kind, code))
                continue
            assert r.status_code == 200, (kind, code)
            page = PdfReader(io.BytesIO(r.data)).pages[0]
            size = (round(float(page.mediabox.width) / 72 * 25.4), round(float(page.mediabox.height) / 72 * 25.4))
            assert size == ((210, 297) if layout.sheet else (round(layout.width_mm), round(layout.height_mm))), (
                kind,
                code,
            )
            assert payload.split(":", 2)[2] in page.extract_text().replace("\n", ""), (kind, code)
            for dpi in (203, 300):
                assert payload in zplcheck.pdf_decodes_frosted(r.data, layout.symbology, dpi), (kind, code, dpi)
            for dots, (z, _message) in zip((8, 12), answers):
                assert z.status_code == 200, (kind, code, dots)
                job = z.data.decode()
                zplcheck.check_zpl_fits(layout, job, dots)
                assert zplcheck.zpl_decodes_frosted(job, layout.symbology, dots)[0] == [payload], (kind, code, dots)
    app.config["ZPL_DOTS_PER_MM"] = 8
    return refused


def test_every_label_kind_on_every_stock(app, mfg, clock):
    """Quarantined, then released: each kind on each stock in PDF and ZPL fits, scans, or is refused the same way in
    both (a long ID on a cryovial is refused, never cut); the release label prints once the unit is released."""
    from lims.donors.screening_models import Screening

    flow.to_quarantine(mfg)
    sc = flow.row(Screening, donor_id=1)
    records = {
        "DU": (UNIT, f"LIMS:DU:{UNIT}"),
        "LOT": (LOT, f"LIMS:LOT:{LOT}"),
        "DN": (flow.DONATION, f"LIMS:DN:{flow.DONATION}"),
        "RS": (flow.DONATION, f"LIMS:RS:{flow.DONATION}"),
        "LOC": ("BOX-F1", "LIMS:LOC:BOX-F1"),
        "SP": (str(sc.id), f"LIMS:SP:SC{sc.id}-BLOOD"),
    }
    assert _print_everything(app, mfg, records, quarantined=True) == [("DU", "cryovial_25x13")]
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    ok(flow.release(mfg.qa))
    assert _print_everything(app, mfg, {"DU": records["DU"]}, quarantined=False) == [("DU", "cryovial_25x13")]


def test_stock_chooser_and_refusal_name_the_stock_in_chinese_for_zh_users(app, mfg):
    from lims.labels.layouts import all_layouts

    flow.to_quarantine(mfg)
    assert mfg.tech.post("/profile", {"language": "zh_CN"}).status_code == 302
    html = page_text(mfg.tech.get(f"/units/{UNIT}"))
    for code, layout in all_layouts().items():
        assert f'<option value="{code}"' in html and layout.name_zh in html and layout.name not in html
    r = print_labels(mfg.tech, "DU", UNIT, layout="cryovial_25x13", fmt="zpl")
    assert r.status_code == 302 and prints(UNIT) == []
    assert f"{UNIT} 在 冻存管标签 25 × 13 mm（留样） 上放不下" in page_text(mfg.tech.get(r.headers["Location"]))


def test_zpl_settings_that_cannot_print_are_refused_with_nothing_printed(app, mfg):
    flow.to_quarantine(mfg)
    for setting, value, message in (
        ("ZPL_CJK", "truetype", "LIMS_ZPL_CJK must be graphic or font"),
        ("ZPL_CJK", "font", "LIMS_ZPL_FONT names no font on the printer"),
        ("ZPL_DOTS_PER_MM", 24, "LIMS_ZPL_DOTS_PER_MM must be 8 (203 dpi) or 12"),
    ):
        before = {k: app.config[k] for k in ("ZPL_CJK", "ZPL_FONT", "ZPL_DOTS_PER_MM")}
        app.config[setting] = value
        r = print_labels(mfg.tech, "DU", UNIT, fmt="zpl")
        app.config.update(before)
        assert r.status_code == 302 and prints(UNIT) == []
        assert message in page_text(mfg.tech.get(r.headers["Location"]))
    app.config.update(ZPL_CJK="font", ZPL_FONT="E:SIMSUN.TTF")
    r = print_labels(mfg.tech, "DU", UNIT, fmt="zpl")
    app.config.update(ZPL_CJK="graphic", ZPL_FONT="")
    assert r.status_code == 200 and "^CWJ,E:SIMSUN.TTF" in r.data.decode() and "^FD待放行^FS" in r.data.decode()
