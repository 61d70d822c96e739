"""The report frame at its rules' boundaries: line breaks that keep IDs whole, a watermark that survives a copy.

Pure layout (no database): ``lims.reports.document`` turns text into PDF pages; the pages are rasterised
(pypdfium2) or read back (pypdf) as a reader or a photocopier would.
"""

from __future__ import annotations

import io

import pypdfium2
import pytest
from pypdf import PdfReader
from reportlab.lib.units import mm

from lims.reports import document as doc

IDS = ["FMT-20261116-01-09", "LB-2026-0001", "DN-20261116-01", "DEV-FMT-20261116-01-1", "2026-11-16 23:59 CST"]


@pytest.fixture
def font():
    return doc.register()


@pytest.mark.parametrize("width_mm", [30, 36, 45, 60])
def test_chinese_text_breaks_between_chinese_characters_and_never_inside_an_id(font, width_mm):
    text = (
        "批次 FMT-20261116-01-09 因回溯调查 LB-2026-0001 暂停使用，供体捐献 DN-20261116-01 的偏差"
        "DEV-FMT-20261116-01-1 已关闭；有效期至2026-11-16 23:59 CST。"
    )
    lines = doc.break_lines(text, width_mm * mm, font, 7.5)
    assert len(lines) > 1
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")  # nothing lost, only breaks added
    for ident in IDS:
        assert any(ident in line for line in lines), (ident, lines)


def test_a_line_never_starts_with_closing_punctuation_nor_ends_with_an_opening_one(font):
    text = "已放行（质量受权人签名），存放于冰箱。" * 6
    lines = doc.break_lines(text, 20 * mm, font, 7.5)
    assert not any(line[0] in "，。）" for line in lines[1:]), lines
    assert not any(line[-1] == "（" for line in lines), lines


def test_a_piece_wider_than_the_whole_column_is_the_only_thing_cut(font):
    lines = doc.break_lines("编号 FMT-20261116-01-09", 12 * mm, font, 7.5)
    assert lines[0] == "编号" and "".join(lines[1:]) == "FMT-20261116-01-09" and len(lines) > 2


def _pdf(font, watermark, pages=3) -> bytes:
    meta = doc.ReportMeta(
        title="Batch record report",
        record="FMT-20261116-01",
        subtitle="s",
        qr_payload=None,
        doc_version="v",
        generated_by="g",
        generated_at="t",
        footer_note="f",
        page_label="Page %(x)s of %(y)s",
        watermark=watermark,
    )
    st = doc.styles()
    rows = [[str(i), "FMT-20261116-01-09", "批次已放行，存放于 BOX-F1 A1" * 2] for i in range(60 * pages)]
    return doc.render(
        meta,
        [doc.para("x", st["base"]), doc.table(["#", "ID", "Text"], rows, [10, 40, 130])]
        if pages
        else [doc.para("x", st["base"])],
    )


def _gray(pdf: bytes, page: int, dpi: int = 80):
    return pypdfium2.PdfDocument(pdf)[page].render(scale=dpi / 72).to_pil().convert("L")


def _watermark_pixels(marked: bytes, plain: bytes, page: int) -> list[int]:
    """Gray levels of the pixels the watermark darkened, in the band across the middle of the page
    (the header with its banner is above it)."""
    a, b = _gray(marked, page), _gray(plain, page)
    w, h = a.size
    pa, pb = a.load(), b.load()
    return [
        pa[x, y]
        for y in range(int(h * 0.25), int(h * 0.85))
        for x in range(w)
        if pb[x, y] >= 240 and pa[x, y] < pb[x, y] - 8
    ]  # drawn on the paper, not on a letter's edge


def test_the_watermark_survives_a_grayscale_copy_on_every_page(font):
    marked, plain = _pdf(font, "NOT RELEASED"), _pdf(font, None)
    n = len(PdfReader(io.BytesIO(marked)).pages)
    assert n >= 3 and n == len(PdfReader(io.BytesIO(plain)).pages)
    for page in range(n):
        drawn = _watermark_pixels(marked, plain, page)
        assert drawn and min(drawn) <= 180, page  # the faint tint it replaced was ~225: gone on a copy


def test_the_watermark_is_an_outline_so_the_text_under_it_still_reads(font):
    """Its letters are outlines with a faint inside, not a gray slab: most of what it covers stays light."""
    drawn = _watermark_pixels(_pdf(font, "NOT RELEASED", pages=0), _pdf(font, None, pages=0), 0)
    assert min(drawn) <= 180
    assert sum(1 for v in drawn if v >= 200) / len(drawn) >= 0.5


def test_the_banner_words_are_on_every_page_and_absent_from_a_released_report(font):
    marked = PdfReader(io.BytesIO(_pdf(font, "NOT RELEASED"))).pages
    for page in marked:
        text = page.extract_text()
        assert text.count("NOT RELEASED") >= 2, text[:300]  # the header's banner and the watermark
    for page in PdfReader(io.BytesIO(_pdf(font, None))).pages:
        assert "NOT RELEASED" not in page.extract_text()


def test_the_banner_is_dark_in_the_header_of_every_page(font):
    marked, plain = _pdf(font, "NOT RELEASED"), _pdf(font, None)
    for page in range(len(PdfReader(io.BytesIO(marked)).pages)):
        a, b = _gray(marked, page), _gray(plain, page)
        w, h = a.size
        pa, pb = a.load(), b.load()
        header = [pa[x, y] for y in range(0, int(h * 0.17)) for x in range(w) if pa[x, y] < pb[x, y] - 8]
        assert header and min(header) <= 120, page


def test_a_narrow_cell_with_chinese_keeps_every_id_on_one_extracted_line(font):
    meta = doc.ReportMeta(
        title="t",
        record="r",
        subtitle="s",
        qr_payload=None,
        doc_version="v",
        generated_by="g",
        generated_at="t",
        footer_note="f",
        page_label="%(x)s/%(y)s",
    )
    cells = [["剂量单位FMT-20261116-01-09已发放", "回溯调查LB-2026-0001暂停", "有效期至2026-11-16 23:59 CST止", ""]] * 3
    pdf = doc.render(meta, [doc.table(["a", "b", "c", "d"], cells, [30, 30, 30, 90])])  # 30 mm columns
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    for ident in IDS[:2] + IDS[4:]:
        assert text.count(ident) == 3, (ident, text)
