"""Labels as PDF at their exact physical size: one label per page, or an A4 sheet layout.

The QR code is drawn as vector squares so it stays sharp at any printer
resolution. Text that contains Chinese uses ReportLab's built-in CID font
STSong-Light (no font file needed); text that is too wide shrinks to 4 pt and
is then cut with an ellipsis rather than running off the label.
"""
from __future__ import annotations

import io

from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from .layouts import Layout
from .qr import matrix

CJK_FONT = "STSong-Light"
# A cut ID, expiry, donor or status would make a wrong label: refuse to print instead of shortening them.
NEVER_CUT = ("id", "expiry", "donor", "status")


class DoesNotFit(ValueError):
    """A field that must print whole does not fit the layout, even at the smallest font."""

    def __init__(self, field: str, text: str, layout: str):
        super().__init__(f"{field} '{text}' does not fit the {layout} layout")
        self.field, self.text, self.layout = field, text, layout
MIN_FONT_PT = 4.0
_registered = False


def _fonts():
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
        _registered = True


def _is_cjk(ch: str) -> bool:
    return ord(ch) > 0x2FF


def runs(text: str, bold: bool) -> list[tuple[str, str]]:
    """(font, text) runs: Latin in Helvetica, Chinese in the CID font, so each script renders in a font made for it."""
    out: list[tuple[str, str]] = []
    for ch in text:
        font = CJK_FONT if _is_cjk(ch) else ("Helvetica-Bold" if bold else "Helvetica")
        if out and out[-1][0] == font:
            out[-1] = (font, out[-1][1] + ch)
        else:
            out.append((font, ch))
    return out


def _width(text: str, bold: bool, size: float) -> float:
    return sum(pdfmetrics.stringWidth(part, font, size) for font, part in runs(text, bold))


def fit_text(text: str, bold: bool, size: float, max_width_pt: float) -> tuple[str, float]:
    """Shrink to fit, down to MIN_FONT_PT; beyond that cut with an ellipsis."""
    while size > MIN_FONT_PT and _width(text, bold, size) > max_width_pt:
        size = max(MIN_FONT_PT, size - 0.25)
    if _width(text, bold, size) <= max_width_pt:
        return text, size
    while text and _width(text + "…", bold, size) > max_width_pt:
        text = text[:-1]
    return text + "…", size


def _draw_label(c: canvas.Canvas, layout: Layout, content, left: float, top: float) -> None:
    """Draw one label with its top-left corner at (left, top) in points from the page's bottom-left."""
    rows = matrix(content.payload)
    module = layout.qr_size_mm * mm / len(rows)
    qx, qy = left + layout.qr_x_mm * mm, top - layout.qr_y_mm * mm
    c.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(rows):
        for col, dark in enumerate(row):
            if dark:
                c.rect(qx + col * module, qy - (r + 1) * module, module, module, stroke=0, fill=1)
    for f in layout.fields:
        text = content.texts.get(f.field) or ""
        if not text:
            continue
        shown, size = fit_text(text, f.bold, f.font_pt, f.max_width_mm * mm)
        if shown != text and f.field in NEVER_CUT:
            raise DoesNotFit(f.field, text, layout.name)
        x = left + f.x_mm * mm
        for font, part in runs(shown, f.bold):
            c.setFont(font, size)
            c.drawString(x, top - f.y_mm * mm, part)
            x += pdfmetrics.stringWidth(part, font, size)


def render(layout: Layout, contents: list, title: str = "labels") -> bytes:
    """One PDF: a page per label at the layout's size, or sheets of labels when the layout is a sheet."""
    _fonts()
    buf = io.BytesIO()
    if layout.sheet is None:
        c = canvas.Canvas(buf, pagesize=(layout.width_mm * mm, layout.height_mm * mm))
        c.setTitle(title)
        for content in contents:
            _draw_label(c, layout, content, 0, layout.height_mm * mm)
            c.showPage()
    else:
        s = layout.sheet
        c = canvas.Canvas(buf, pagesize=(s.page_width_mm * mm, s.page_height_mm * mm))
        c.setTitle(title)
        per_page = s.columns * s.rows
        for i, content in enumerate(contents):
            slot = i % per_page
            row, col = divmod(slot, s.columns)
            left = (s.left_mm + col * (layout.width_mm + s.gap_x_mm)) * mm
            top = (s.page_height_mm - s.top_mm - row * (layout.height_mm + s.gap_y_mm)) * mm
            _draw_label(c, layout, content, left, top)
            if slot == per_page - 1 or i == len(contents) - 1:
                c.showPage()
    c.save()
    return buf.getvalue()
