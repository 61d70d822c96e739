"""Labels as PDF at their exact physical size: one label per page, or an A4 sheet layout.

The code (QR or Data Matrix, as the layout says) is drawn as vector squares so
it stays sharp at any printer resolution. Chinese text prints in the embedded
report font (lims/reports/fonts.py), subset into the file like the reports,
so a label prints the same on a machine without Chinese fonts. Fitting (shrink
to 4 pt, then cut or refuse) follows lims/labels/fit.py, shared with ZPL.
"""

from __future__ import annotations

import io

from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from . import codes
from .fit import MIN_FONT_PT, NEVER_CUT, DoesNotFit, fit_field, fit_text, pdf_runs
from .layouts import Layout

__all__ = ["MIN_FONT_PT", "NEVER_CUT", "DoesNotFit", "fit_text", "render"]


def _draw_label(c: canvas.Canvas, layout: Layout, content, left: float, top: float) -> None:
    """Draw one label with its top-left corner at (left, top) in points from the page's bottom-left."""
    codes.check(content.payload, layout.symbology, layout.qr_size_mm, layout.name)
    rows = codes.matrix(content.payload, layout.symbology)
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
        shown, size = fit_field(f, text, layout.name)
        x = left + f.x_mm * mm
        for font, part in pdf_runs(shown, f.bold):
            c.setFont(font, size)
            c.drawString(x, top - f.y_mm * mm, part)
            x += pdfmetrics.stringWidth(part, font, size)


def render(layout: Layout, contents: list, title: str = "labels") -> bytes:
    """One PDF: a page per label at the layout's size, or sheets of labels when the layout is a sheet."""
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
