"""The frame every PDF report shares: header with the record's QR code, page X of Y, who generated it, a watermark.

Reports build a list of flowables from plain data (no database here) and hand
them to ``render``; tables repeat their header row on every page and every
cell wraps, so long free text never runs off the page.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import lru_cache
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as pdfcanvas
from reportlab.platypus import (BaseDocTemplate, CondPageBreak, Frame, PageTemplate, Paragraph, Spacer, Table,
                                TableStyle)

from ..labels.qr import matrix
from .fonts import register

PAGE_W, PAGE_H = A4
MARGIN = 15 * mm
HEADER_H = 30 * mm
FOOTER_H = 12 * mm


@dataclass(frozen=True)
class ReportMeta:
    """What the header and footer print on every page."""

    title: str               # e.g. "Batch record report"
    record: str              # e.g. the lot number
    subtitle: str            # e.g. the product
    qr_payload: str | None   # LIMS:LOT:... (scans back to the record)
    doc_version: str         # form revision + record version + last audit row covered
    generated_by: str
    generated_at: str        # formatted in the lab's zone, with the zone
    footer_note: str         # e.g. "Printed copy of an electronic record"
    page_label: str          # "Page %(x)s of %(y)s" already translated, with %(x)s / %(y)s
    watermark: str | None = None


def styles() -> dict[str, ParagraphStyle]:
    font = register()
    base = ParagraphStyle("base", fontName=font, fontSize=8.5, leading=11, alignment=TA_LEFT)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9.5),
        "head": ParagraphStyle("head", parent=base, fontSize=7.5, leading=9.5, textColor=colors.white),
        "h1": ParagraphStyle("h1", parent=base, fontSize=13, leading=16, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontSize=10.5, leading=13, spaceBefore=8, spaceAfter=3,
                             textColor=colors.HexColor("#12355b")),
        "alert": ParagraphStyle("alert", parent=base, textColor=colors.HexColor("#a61b1b")),
        "alert_cell": ParagraphStyle("alert_cell", parent=base, fontSize=7.5, leading=9.5, textColor=colors.HexColor("#a61b1b")),
    }


CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
_CJK_STYLES: dict[str, ParagraphStyle] = {}


def para(text, style: ParagraphStyle) -> Paragraph:
    """Plain text (escaped, newlines kept) as a wrapping paragraph.

    Chinese wraps between any two characters (ReportLab's CJK line breaking); that
    breaker is several times slower, so text without Chinese keeps word wrapping."""
    raw = "" if text is None else str(text)
    if CJK.search(raw):
        style = _CJK_STYLES.get(style.name) or _CJK_STYLES.setdefault(
            style.name, ParagraphStyle(style.name + "-cjk", parent=style, wordWrap="CJK"))
    return Paragraph(escape(raw).replace("\n", "<br/>"), style)


def heading(text: str) -> Paragraph:
    return para(text, styles()["h2"])


def table(header: list[str], rows: list[list], widths_mm: list[float], empty: str | None = None) -> Table:
    """A grid whose header repeats on each page; cells wrap. ``empty`` is one row shown when there are no rows."""
    st = styles()
    data = [[para(h, st["head"]) for h in header]]
    spans = []
    if not rows and empty:
        rows = [[empty] + [""] * (len(header) - 1)]
        spans = [("SPAN", (0, 1), (-1, 1))]
    for row in rows:
        data.append([cell if isinstance(cell, Paragraph) else para(cell, st["cell"]) for cell in row])
    total = PAGE_W - 2 * MARGIN
    scale = total / (sum(widths_mm) * mm)
    t = Table(data, colWidths=[w * mm * scale for w in widths_mm], repeatRows=1, splitByRow=1)
    t.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#12355b")),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa5b1")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f3f5f7")]),
        *spans,
    ]))
    return t


def facts(pairs: list[tuple[str, object]]) -> Table:
    """Label: value lines, two columns, wrapping."""
    st = styles()
    t = Table([[para(k, st["small"]), para(v, st["base"])] for k, v in pairs],  # para() makes lazy texts str
              colWidths=[45 * mm, PAGE_W - 2 * MARGIN - 45 * mm])
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                           ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                           ("TEXTCOLOR", (0, 0), (0, -1), colors.HexColor("#555f6b"))]))
    return t


def section(title: str, *flowables) -> list:
    """A heading that never sits alone at the foot of a page; what follows may split across pages."""
    return [CondPageBreak(35 * mm), heading(title), *flowables]


@lru_cache(maxsize=64)
def _qr(payload: str) -> tuple:
    """The header QR is the same on every page: encode it once."""
    return tuple(tuple(row) for row in matrix(payload))


def _draw_qr(c, payload: str, x: float, y: float, size: float) -> None:
    rows = _qr(payload)
    module = size / len(rows)
    c.setFillColor(colors.black)
    for r, row in enumerate(rows):
        for col, dark in enumerate(row):
            if dark:
                c.rect(x + col * module, y + size - (r + 1) * module, module, module, stroke=0, fill=1)


def _numbered_canvas(meta: ReportMeta):
    font = register()

    class NumberedCanvas(pdfcanvas.Canvas):
        """Draws header and footer once the page count is known (page X of Y)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self):  # noqa: N802 - ReportLab API
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            super().save()

        def _decorate(self, total: int) -> None:
            top = PAGE_H - MARGIN
            qr = 24 * mm
            if meta.qr_payload:
                _draw_qr(self, meta.qr_payload, PAGE_W - MARGIN - qr, top - qr, qr)
            self.setFillColor(colors.black)
            self.setFont(font, 13)
            self.drawString(MARGIN, top - 5 * mm, f"{meta.title} · {meta.record}")  # f-strings: lazy texts become str
            self.setFont(font, 8.5)
            self.drawString(MARGIN, top - 10 * mm, str(meta.subtitle))
            self.drawString(MARGIN, top - 14.5 * mm, str(meta.doc_version))
            self.drawString(MARGIN, top - 19 * mm, str(meta.page_label) % {"x": self._pageNumber, "y": total})
            self.setStrokeColor(colors.HexColor("#12355b"))
            self.setLineWidth(0.8)
            self.line(MARGIN, top - HEADER_H + 3 * mm, PAGE_W - MARGIN, top - HEADER_H + 3 * mm)
            self.setFont(font, 7)
            self.setFillColor(colors.HexColor("#555f6b"))
            self.drawString(MARGIN, MARGIN - 2 * mm, f"{meta.generated_by} · {meta.generated_at}")
            self.drawRightString(PAGE_W - MARGIN, MARGIN - 2 * mm, str(meta.footer_note))

    return NumberedCanvas


def _watermark(text: str):
    font = register()

    def draw(c, _doc):
        c.saveState()
        c.setFont(font, 64)
        c.setFillColor(colors.Color(0.75, 0.1, 0.1, alpha=0.16))
        c.translate(PAGE_W / 2, PAGE_H / 2)
        c.rotate(45)
        c.drawCentredString(0, 0, str(text))
        c.restoreState()

    return draw


def _blank(_canvas, _doc) -> None:
    return None


def render(meta: ReportMeta, story: list) -> bytes:
    buf = io.BytesIO()
    doc = BaseDocTemplate(buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + HEADER_H,
                          bottomMargin=MARGIN + FOOTER_H, title=f"{meta.title} {meta.record}", author=meta.generated_by,
                          subject=meta.doc_version, creator="FMT LIMS")
    frame = Frame(MARGIN, MARGIN + FOOTER_H / 2, PAGE_W - 2 * MARGIN, PAGE_H - 2 * MARGIN - HEADER_H - FOOTER_H / 2,
                  id="body", leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame],
                                       # over the content (translucent): table backgrounds would hide it
                                       onPageEnd=_watermark(meta.watermark) if meta.watermark else _blank)])
    doc.build(list(story) or [Spacer(1, 1)], canvasmaker=_numbered_canvas(meta))
    return buf.getvalue()
