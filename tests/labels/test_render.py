"""Every layout renders at its exact physical size, with the right texts and a QR code that decodes to the payload."""

import io
import re

import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader

from lims.labels import pdf, zpl
from lims.labels.content import LabelContent
from lims.labels.layouts import all_layouts

MM = 72 / 25.4
LAYOUTS = all_layouts()
UNIT = LabelContent(
    "DU",
    "FMT-20261123-01-03",
    {
        "product": "Washed microbiota, frozen",
        "product_zh": "洗涤菌群悬液（冷冻）",
        "id": "FMT-20261123-01-03",
        "donor": "Donor D-0001",
        "dates": "Don. 2026-11-23 · Prod. 2026-11-23",
        "expiry": "EXP 2027-05-23 23:59 CST",
        "volume_storage": "120 mL · Store at -80 °C / -80 °C保存",
        "status": "QUARANTINE 待放行",
        "statement": "For clinical research use only / 仅供临床研究使用",
        "date": "2026-11-23",
        "keep_until": "RS 2027-05-23",
    },
)


RETAINED = LabelContent("RS", "DN-20261123-01", {**UNIT.texts, "id": "DN-20261123-01"})


CODE_FORMATS = {zxingcpp.BarcodeFormat.QRCode: "qr", zxingcpp.BarcodeFormat.DataMatrix: "datamatrix"}


def decoded(document: bytes, page: int = 0, dpi: int = 600, symbology: str | None = None) -> list[str]:
    """Rasterise one PDF page and decode every QR code and Data Matrix on it (only ``symbology``'s when given)."""
    image = pypdfium2.PdfDocument(document)[page].render(scale=dpi / 72).to_pil().convert("L")
    return sorted(
        r.text
        for r in zxingcpp.read_barcodes(image)
        if CODE_FORMATS.get(r.format) and symbology in (None, CODE_FORMATS[r.format])
    )


@pytest.mark.parametrize("code", sorted(c for c in LAYOUTS if LAYOUTS[c].sheet is None))
def test_label_pdf_is_the_layout_size_with_its_texts_and_qr(code):
    layout = LAYOUTS[code]
    first = RETAINED if code == "cryovial_25x13" else UNIT  # the cryovial stock is for retained samples
    second = LabelContent(first.kind, first.record_id[:-1] + "4", {**first.texts, "id": first.record_id[:-1] + "4"})
    document = pdf.render(layout, [first, second])
    reader = PdfReader(io.BytesIO(document))
    assert len(reader.pages) == 2  # one label per page for thermal printers
    box = reader.pages[0].mediabox
    assert (round(float(box.width) / MM, 2), round(float(box.height) / MM, 2)) == (layout.width_mm, layout.height_mm)
    text = "".join(reader.pages[0].extract_text().split())  # extraction spaces font runs apart: compare without spaces
    for f in layout.fields:  # every field the layout prints is on the label whole
        assert "".join(first.texts[f.field].split()) in text, (f.field, text)
    assert decoded(document, 0, symbology=layout.symbology) == [first.payload]
    assert decoded(document, 1, symbology=layout.symbology) == [second.payload]


def test_an_id_that_does_not_fit_is_refused_never_cut():
    with pytest.raises(pdf.DoesNotFit) as err:
        pdf.render(LAYOUTS["cryovial_25x13"], [UNIT])
    assert err.value.field == "id" and err.value.text == "FMT-20261123-01-03"


def test_chinese_and_english_both_render_in_the_pdf():
    document = pdf.render(LAYOUTS["dosebag_100x60"], [UNIT])
    text = PdfReader(io.BytesIO(document)).pages[0].extract_text()
    assert "QUARANTINE" in text and "待放行" in text and "洗涤菌群悬液" in text and "仅供临床研究使用" in text


def test_a4_sheet_places_36_labels_per_page_and_each_qr_decodes():
    layout = LAYOUTS["a4_sheet_50x30"]
    labels = [
        LabelContent("DU", f"FMT-20261123-01-{i:02d}", {**UNIT.texts, "id": f"FMT-20261123-01-{i:02d}"})
        for i in range(1, 41)
    ]
    document = pdf.render(layout, labels)
    reader = PdfReader(io.BytesIO(document))
    assert len(reader.pages) == 2
    box = reader.pages[0].mediabox
    assert (round(float(box.width) / MM), round(float(box.height) / MM)) == (210, 297)
    first = decoded(document, 0, dpi=300)
    assert len(first) == 36 and first[0] == "LIMS:DU:FMT-20261123-01-01"
    assert decoded(document, 1, dpi=300) == [f"LIMS:DU:FMT-20261123-01-{i}" for i in range(37, 41)]


def test_too_long_text_shrinks_then_is_cut_never_overflows():
    from lims.labels.pdf import MIN_FONT_PT, fit_text

    shown, size = fit_text("FMT-20261123-01-03", True, 7, 25 * 72 / 25.4)
    assert shown == "FMT-20261123-01-03" and size <= 7
    shown, size = fit_text("x" * 200, False, 7, 20)
    assert size == MIN_FONT_PT and shown.endswith("…") and len(shown) < 200


@pytest.mark.parametrize("code", sorted(LAYOUTS))
def test_zpl_round_trips_payload_size_and_fields(code):
    layout = LAYOUTS[code]
    first = RETAINED if code == "cryovial_25x13" else UNIT
    second = LabelContent(first.kind, first.record_id[:-1] + "4", {**first.texts, "id": first.record_id[:-1] + "4"})
    job = zpl.render(layout, [first, second], 8)
    formats = re.findall(r"\^XA.*?\^XZ", job, re.S)
    assert len(formats) == 2
    one = formats[0]
    if layout.symbology == "qr":
        assert re.search(rf"\^BQN,2,\d+\^FDQA,{first.payload}\^FS", one)  # QR, error correction Q
    else:
        assert re.search(rf"\^BXN,\d+,200,\d+,\d+,6\^FH_\^FD{first.payload}\^FS", one)  # Data Matrix ECC 200
    assert f"^PW{round(layout.width_mm * 8)}" in one and f"^LL{round(layout.height_mm * 8)}" in one
    assert "^CI28" in one
    assert re.findall(r"\^FX(\w+)\^FS", one) == [f.field for f in layout.fields]  # every field, in layout order
    sent = "".join(re.findall(r"\^FH_\^FD(.*?)\^FS", one.split("^FXid^FS")[1].split("^FX")[0]))
    assert sent == first.record_id  # the ID goes as text in font 0


def test_zpl_escapes_carets_and_tildes_in_data():
    job = zpl.render(LAYOUTS["tube_50x30"], [LabelContent("LOC", "BOX-1", {"id": "A^B~C_D"})])
    assert "^FDA_5EB_7EC_5FD^FS" in job and "A^B" not in job
