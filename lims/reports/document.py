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
from reportlab.platypus import BaseDocTemplate, CondPageBreak, Frame, PageTemplate, Paragraph, Spacer, Table, TableStyle

from ..labels.qr import matrix
from .fonts import register

PAGE_W, PAGE_H = A4
MARGIN = 15 * mm
HEADER_H = 30 * mm
FOOTER_H = 12 * mm


@dataclass(frozen=True)
class ReportMeta:
    """What the header and footer print on every page."""

    title: str  # e.g. "Batch record report"
    record: str  # e.g. the lot number
    subtitle: str  # e.g. the product
    qr_payload: str | None  # LIMS:LOT:... (scans back to the record)
    doc_version: str  # form revision + record version + last audit row covered
    generated_by: str
    generated_at: str  # formatted in the lab's zone, with the zone
    footer_note: str  # e.g. "Printed copy of an electronic record"
    page_label: str  # "Page %(x)s of %(y)s" already translated, with %(x)s / %(y)s
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
        "h2": ParagraphStyle(
            "h2",
            parent=base,
            fontSize=10.5,
            leading=13,
            spaceBefore=8,
            spaceAfter=3,
            textColor=colors.HexColor("#12355b"),
        ),
        "alert": ParagraphStyle("alert", parent=base, textColor=colors.HexColor("#a61b1b")),
        "alert_cell": ParagraphStyle(
            "alert_cell", parent=base, fontSize=7.5, leading=9.5, textColor=colors.HexColor("#a61b1b")
        ),
    }


CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
# A date with its time and zone ("2026-11-23 14:05 CST") is one token: it never breaks between its parts.
_ATOMIC = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})?(?: [A-Z]{2,5}\b)?")
# Chinese punctuation that may not start a line, and that may not end one (the usual kinsoku rules).
_NO_START = set("，。、；：！？）」』】》〉”’…·%")
_NO_END = set("（「『【《〈“‘")
_FUZZ = 0.5  # points kept free: ReportLab must never find a pre-broken line a hair too long and break it again


def _tokens(line: str) -> list[tuple[str, bool]]:
    """(piece, a space precedes it): every Chinese character is its own piece, every other run
    without a space (an ID, a lot, a case code, a date, a word) stays whole; a slash between two IDs
    ends a piece."""
    out: list[tuple[str, bool]] = []
    pos, space = 0, False
    atomics = [(m.start(), m.end()) for m in _ATOMIC.finditer(line)]
    while pos < len(line):
        ch = line[pos]
        if ch.isspace():
            space, pos = True, pos + 1
            continue
        span = next(((a, b) for a, b in atomics if a == pos), None)
        if span:
            end = span[1]
        elif CJK.match(ch):
            end = pos + 1
        else:
            end = pos
            while end < len(line) and not line[end].isspace() and not CJK.match(line[end]):
                end += 1
                if line[end - 1] == "/" and end < len(line) and not line[end].isspace():
                    break  # "FMT-20261123-02/DEV-2026-0001": two IDs, a line may end after the slash
        out.append((line[pos:end], space))
        space, pos = False, end
    return out


def _glue(tokens: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """Punctuation that may not start a line joins the piece before it; one that may not end a line joins the next."""
    out: list[tuple[str, bool]] = []
    carry = ""
    for piece, space in tokens:
        if out and not space and not carry and piece[0] in _NO_START:
            prev, prev_space = out.pop()
            piece, space = prev + piece, prev_space
        piece = carry + piece
        carry = ""
        if piece[-1] in _NO_END and len(piece) == 1:
            carry = piece
            continue
        out.append((piece, space))
    if carry:
        out.append((carry, False))
    return out


def break_lines(text: str, width: float, font: str, size: float) -> list[str]:
    """Greedy line breaking at spaces and between Chinese characters, never inside an ID or a date.

    A piece wider than the whole column is the one case left: it is cut at characters, as the column
    cannot hold it at all (report columns are sized so that the LIMS's IDs fit)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines: list[str] = []
    for raw_line in text.split("\n"):
        current = ""
        for piece, space in _glue(_tokens(raw_line)):
            joined = current + (" " if space and current else "") + piece
            if not current or stringWidth(joined, font, size) <= width - _FUZZ:
                if current or stringWidth(piece, font, size) <= width - _FUZZ:
                    current = joined
                    continue
            if current:
                lines.append(current)
            current = ""
            while stringWidth(piece, font, size) > width - _FUZZ and len(piece) > 1:
                cut = len(piece) - 1
                while cut > 1 and stringWidth(piece[:cut], font, size) > width - _FUZZ:
                    cut -= 1
                lines.append(piece[:cut])
                piece = piece[cut:]
            current = piece
        lines.append(current)
    return lines


class TextParagraph(Paragraph):
    """A paragraph of plain text that breaks its own lines once it knows its width.

    ReportLab's CJK wrapping breaks between any two characters, Latin ones included, so an ID in a cell
    with Chinese in it was cut in the middle (``FMT-202611`` / ``16-01-09``). This one breaks at spaces
    and between Chinese characters only and hands ReportLab lines that already fit."""

    def __init__(self, text, style, *args, plain: str | None = None, **kwargs):
        super().__init__(text, style, *args, **kwargs)
        self._plain, self._broken_for = plain, None

    def wrap(self, availWidth, availHeight):
        if self._plain is not None and self._broken_for != availWidth:
            inner = availWidth - self.style.leftIndent - self.style.rightIndent
            lines = break_lines(self._plain, inner, self.style.fontName, self.style.fontSize)
            plain = self._plain
            if lines != plain.split("\n"):  # no break added (most cells): the text parsed already fits
                Paragraph.__init__(self, "<br/>".join(escape(line) for line in lines), self.style)
            self._plain, self._broken_for = plain, availWidth
        return super().wrap(availWidth, availHeight)


def para(text, style: ParagraphStyle) -> Paragraph:
    """Plain text (escaped, newlines kept) as a wrapping paragraph that breaks its own lines
    (``TextParagraph``): IDs, lots and dates stay whole, next to Chinese or not."""
    raw = "" if text is None else str(text)
    return TextParagraph(escape(raw).replace("\n", "<br/>"), style, plain=raw)


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
    t.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#12355b")),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa5b1")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f3f5f7")]),
                *spans,
            ]
        )
    )
    return t


def facts(pairs: list[tuple[str, object]]) -> Table:
    """Label: value lines, two columns, wrapping."""
    st = styles()
    t = Table(
        [[para(k, st["small"]), para(v, st["base"])] for k, v in pairs],  # para() makes lazy texts str
        colWidths=[45 * mm, PAGE_W - 2 * MARGIN - 45 * mm],
    )
    t.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ("TEXTCOLOR", (0, 0), (0, -1), colors.HexColor("#555f6b")),
            ]
        )
    )
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

        def showPage(self):
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
            if meta.watermark:
                self._banner(str(meta.watermark), PAGE_W - MARGIN - qr - 4 * mm, top - 19 * mm)
            self.setStrokeColor(colors.HexColor("#12355b"))
            self.setLineWidth(0.8)
            self.line(MARGIN, top - HEADER_H + 3 * mm, PAGE_W - MARGIN, top - HEADER_H + 3 * mm)
            self.setFont(font, 7)
            self.setFillColor(colors.HexColor("#555f6b"))
            self.drawString(MARGIN, MARGIN - 2 * mm, f"{meta.generated_by} · {meta.generated_at}")
            self.drawRightString(PAGE_W - MARGIN, MARGIN - 2 * mm, str(meta.footer_note))

        def _banner(self, text: str, right: float, baseline: float) -> None:
            """The watermark's words boxed in the header of every page, readable even where the page is full."""
            width = self.stringWidth(text, font, 10) + 4 * mm
            self.setStrokeColor(WATERMARK_RED)
            self.setFillColor(WATERMARK_RED)
            self.setLineWidth(1.2)
            self.rect(right - width, baseline - 1.8 * mm, width, 6 * mm, stroke=1, fill=0)
            self.setFont(font, 10)
            self.drawRightString(right - 2 * mm, baseline, text)
            self.setFillColor(colors.black)

    return NumberedCanvas


WATERMARK_RED = colors.Color(0.72, 0.08, 0.08)  # gray ~70 once photocopied


def _watermark(text: str):
    """Outlined letters over the content: the opaque outline survives a grayscale copy (a 16 % tint did not),
    while the letters' inside stays a faint tint, so the record under them still reads."""
    font = register()

    def draw(c, _doc):
        c.saveState()
        t = c.beginText()
        t.setFont(font, 64)
        t.setTextRenderMode(2)  # fill and stroke
        c.setFillColor(WATERMARK_RED)
        c.setFillAlpha(0.08)
        c.setStrokeColor(WATERMARK_RED)
        c.setStrokeAlpha(0.9)
        c.setLineWidth(1.2)
        c.translate(PAGE_W / 2, PAGE_H / 2)
        c.rotate(45)
        t.setTextOrigin(-c.stringWidth(str(text), font, 64) / 2, -22)
        t.textLine(str(text))
        c.drawText(t)
        c.restoreState()

    return draw


def _blank(_canvas, _doc) -> None:
    return None


def render(meta: ReportMeta, story: list) -> bytes:
    buf = io.BytesIO()
    doc = BaseDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + HEADER_H,
        bottomMargin=MARGIN + FOOTER_H,
        title=f"{meta.title} {meta.record}",
        author=meta.generated_by,
        subject=meta.doc_version,
        creator="FMT LIMS",
    )
    frame = Frame(
        MARGIN,
        MARGIN + FOOTER_H / 2,
        PAGE_W - 2 * MARGIN,
        PAGE_H - 2 * MARGIN - HEADER_H - FOOTER_H / 2,
        id="body",
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    doc.addPageTemplates(
        [
            PageTemplate(
                id="page",
                frames=[frame],
                # over the content (translucent): table backgrounds would hide it
                onPageEnd=_watermark(meta.watermark) if meta.watermark else _blank,
            )
        ]
    )
    doc.build(list(story) or [Spacer(1, 1)], canvasmaker=_numbered_canvas(meta))
    return buf.getvalue()
