"""ZPL fits like the PDF, prints Chinese on a stock Zebra, and every stock's code scans frosted (issue 17, items 2-4).

The ZPL is rendered offline with zplkit (captured Zebra font strikes): every
text box must lie inside its field's box and the label, no two boxes may
overlap, and what the PDF refuses ZPL refuses with the same field.
"""

import io
import re

import pytest
from pypdf import PdfReader

from lims.labels import codes, fit, pdf, zpl
from lims.labels.content import LabelContent
from lims.labels.layouts import all_layouts
from tests.labels import zplcheck
from tests.labels.test_render import RETAINED, UNIT

LAYOUTS = all_layouts()
STATEMENT = "For clinical research use only / 仅供临床研究使用"
# One label of each kind as content.py builds them (texts shortened where the kind has no such field).
KINDS = {
    "DU": UNIT,
    "LOT": LabelContent(
        "LOT",
        "FMT-20261123-01",
        {
            "product": "Washed microbiota, frozen",
            "product_zh": "洗涤菌群悬液（冷冻）",
            "id": "FMT-20261123-01",
            "donor": "Donor D-0001",
            "dates": "Don. 2026-11-23 · Prod. 2026-11-23",
            "expiry": "EXP 2027-05-23",
            "volume_storage": "Store at -80 °C / -80 °C保存",
            "status": "ON HOLD 暂停使用 · DO NOT USE 禁止使用",
            "statement": STATEMENT,
        },
    ),
    "DN": LabelContent(
        "DN",
        "DN-20261123-01",
        {
            "product": "Stool donation",
            "product_zh": "供体粪便",
            "id": "DN-20261123-01",
            "donor": "Donor D-0001",
            "dates": "Coll. 2026-11-23 08:40 CST",
            "date": "2026-11-23",
            "volume_storage": "182.5 g · 2-8 °C",
            "status": "QUARANTINE 待放行",
            "statement": STATEMENT,
        },
    ),
    "RS": RETAINED,
    "LOC": LabelContent(
        "LOC",
        "BOX-F1",
        {
            "product": "Freezer 1 box 1",
            "id": "BOX-F1",
            "location": "FRZ-1 > BOX-F1",
            "dates": "FRZ-1",
            "volume_storage": "9 x 9 positions",
        },
    ),
    "SP": LabelContent(
        "SP",
        "SC12-SERUM",
        {
            "product": "Screening specimen: serum",
            "product_zh": "筛查标本：血清",
            "id": "SC12-SERUM",
            "donor": "Donor D-0001",
            "date": "2026-11-23",
            "dates": "Screening #12 · 2026-11-23",
            "keep_until": "serum",
            "statement": STATEMENT,
        },
    ),
}


def _outcome(render):
    try:
        render()
    except fit.DoesNotFit as err:
        return ("refused", err.field, err.text)
    return "printed"


@pytest.mark.parametrize("dots_per_mm", [8, 12])
@pytest.mark.parametrize("code", sorted(LAYOUTS))
def test_every_kind_fits_its_fields_on_every_stock_at_both_resolutions(code, dots_per_mm):
    layout = LAYOUTS[code]
    printed = 0
    for kind, content in KINDS.items():
        if _outcome(lambda: pdf.render(layout, [content])) != "printed":
            continue  # refused whole (the PDF test proves which); parity below proves ZPL refuses it too
        job = zpl.render(layout, [content], dots_per_mm)
        [boxes] = zplcheck.check_zpl_fits(layout, job, dots_per_mm)
        assert "id" in boxes, (kind, code)
        printed += 1
    assert printed >= 5  # only the dose unit's long ID is refused, and only on the cryovial


@pytest.mark.parametrize("code", sorted(LAYOUTS))
def test_zpl_refuses_exactly_what_the_pdf_refuses(code):
    """IDs growing one character at a time: both renderers print the same ones and refuse the rest by the same field."""
    layout = LAYOUTS[code]
    outcomes = []
    for n in range(8, 100, 3):
        ident = ("FMT-20261123-01-0" + "9" * 90)[:n]
        content = LabelContent("DU", "X", {**UNIT.texts, "id": ident})
        expected = _outcome(lambda: pdf.render(layout, [content]))
        for d in (8, 12):
            for mode, font in (("graphic", ""), ("font", "E:SIMSUN.TTF")):
                assert _outcome(lambda: zpl.render(layout, [content], d, mode, font)) == expected, (n, d, mode)
        outcomes.append(expected)
    assert "printed" in outcomes and any(o != "printed" for o in outcomes)  # the sweep crosses the boundary


def test_an_id_the_pdf_refuses_on_the_cryovial_is_refused_in_zpl():
    with pytest.raises(fit.DoesNotFit) as err:
        zpl.render(LAYOUTS["cryovial_25x13"], [UNIT])
    assert err.value.field == "id" and err.value.text == "FMT-20261123-01-03"


def test_a_long_cuttable_text_is_cut_the_same_in_pdf_and_zpl():
    layout = LAYOUTS["tube_50x30"]
    content = LabelContent("DU", "X", {**UNIT.texts, "product": "Washed microbiota, frozen, " * 4})
    job = zpl.render(layout, [content])
    product = zplcheck.parts(zplcheck.formats(job)[0])[2]["product"]
    sent = "".join(re.findall(r"\^FD(.*?)\^FS", "".join(product)))
    spec = next(f for f in layout.fields if f.field == "product")
    shown, _size = fit.fit_field(spec, content.texts["product"], layout.name)
    assert shown.endswith("…") and sent == shown[:-1]  # the ellipsis, which font 0 lacks, goes as a bitmap
    assert "".join(shown.split()) in "".join(
        PdfReader(io.BytesIO(pdf.render(layout, [content]))).pages[0].extract_text().split()
    )
    zplcheck.check_zpl_fits(layout, job, 8)


def test_graphic_mode_sends_chinese_as_a_bitmap_never_as_font_0_text():
    layout = LAYOUTS["dosebag_100x60"]
    job = zpl.render(layout, [UNIT], 8, "graphic")
    sent = "".join(re.findall(r"\^FD(.*?)\^FS", job))
    assert not any(fit.is_ideographic(ch) for ch in sent) and "^CW" not in job
    status = zplcheck.parts(zplcheck.formats(job)[0])[2]["status"]
    assert any(line.startswith("^FT") and "^A0N" in line and "QUARANTINE" in line for line in status)
    [graphic] = [line for line in status if "^GFA," in line]  # 待放行, drawn with the report font
    assert re.fullmatch(r"\^FO\d+,\d+\^GFA,(\d+),\1,\d+,[0-9A-F]+\^FS", graphic)
    assert zplcheck.ink_box(zplcheck.parts(zplcheck.formats(job)[0])[0], [graphic], 8) is not None  # it has ink
    zplcheck.check_zpl_fits(layout, job, 8)


def test_font_mode_maps_the_printer_truetype_font_and_sends_chinese_as_text():
    job = zpl.render(LAYOUTS["dosebag_100x60"], [UNIT], 8, "font", "E:SIMSUN.TTF")
    assert "^CWJ,E:SIMSUN.TTF" in job and "^GFA" in job  # ° still goes as a bitmap: it is not a CJK glyph
    assert re.search(r"\^AJN,\d+,\d+\^FH_\^FD待放行\^FS", job)
    with pytest.raises(zpl.ZplSettingError):
        zpl.render(LAYOUTS["dosebag_100x60"], [UNIT], 8, "font", "")
    with pytest.raises(zpl.ZplSettingError):
        zpl.render(LAYOUTS["dosebag_100x60"], [UNIT], 8, "truetype", "E:SIMSUN.TTF")


def test_label_pdf_embeds_its_chinese_font():
    reader = PdfReader(io.BytesIO(pdf.render(LAYOUTS["tube_50x30"], [UNIT])))
    fonts = [f.get_object() for f in reader.pages[0]["/Resources"]["/Font"].values()]
    names = [str(f["/BaseFont"]) for f in fonts]
    assert not any("STSong" in n for n in names), names
    [cjk] = [f for f in fonts if f["/BaseFont"] not in ("/Helvetica", "/Helvetica-Bold")]
    assert "/FontFile2" in cjk["/FontDescriptor"]  # the TrueType subset is in the file


@pytest.mark.parametrize("code", sorted(LAYOUTS))
def test_every_stock_code_has_half_millimetre_modules_and_decodes_frosted(code):
    layout = LAYOUTS[code]
    content = RETAINED if code == "cryovial_25x13" else UNIT
    side = codes.modules(content.payload, layout.symbology) + 2 * codes.quiet_zone(layout.symbology)
    assert layout.qr_size_mm / side >= 0.5
    document = pdf.render(layout, [content])
    for dpi in (203, 300):
        assert zplcheck.pdf_decodes_frosted(document, layout.symbology, dpi) == [content.payload], dpi
    for d in (8, 12):
        job = zpl.render(layout, [content], d)
        magnification = int(re.search(r"\^B[QX]N,(?:2,)?(\d+)", job).group(1))
        assert magnification >= codes.min_dots(d) == {8: 4, 12: 6}[d]
        assert zplcheck.zpl_decodes_frosted(job, layout.symbology, d) == [[content.payload]], d


def test_the_cryovial_prints_a_data_matrix_in_pdf_and_zpl():
    layout = LAYOUTS["cryovial_25x13"]
    assert layout.symbology == "datamatrix"
    job = zpl.render(layout, [RETAINED])
    side = codes.modules(RETAINED.payload, "datamatrix")
    assert f"^BXN,4,200,{side},{side},6^FH_^FD{RETAINED.payload}^FS" in job
    assert zplcheck.pdf_decodes_frosted(pdf.render(layout, [RETAINED]), "qr", 300) == []


def test_a_payload_whose_code_would_print_too_small_is_refused_in_both_formats():
    layout = LAYOUTS["cryovial_25x13"]
    long = LabelContent("LOC", "BOX-" + "Q" * 30, {"id": "BOX-1"})
    with pytest.raises(codes.CodeTooSmall):
        pdf.render(layout, [long])
    with pytest.raises(codes.CodeTooSmall):
        zpl.render(layout, [long])


def test_a_resolution_the_fitting_rules_do_not_measure_for_is_refused():
    """Fitting measures at 8 and 12 dots/mm only; 24 (600 dpi) would print text it never measured."""
    with pytest.raises(zpl.ZplSettingError, match="8 or 12"):
        zpl.render(LAYOUTS["tube_50x30"], [UNIT], 24)
