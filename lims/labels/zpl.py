"""Labels as ZPL II for Zebra printers (one ^XA...^XZ format per label).

Positions come from the same layout as the PDF, converted at the printer's
dots per mm (8 = 203 dpi, 12 = 300 dpi); each field's baseline is placed with
^FT. Every field goes through lims/labels/fit.py, so ZPL shrinks, cuts and
refuses exactly as the PDF does, and no text is sent in a wider box than was
measured. Latin text prints in the built-in scalable font 0 (^A0, advance
widths in fit.FONT0_ADVANCE) as UTF-8 (^CI28) with field hex escapes (^FH) so
a caret or tilde in data cannot become a command. Characters font 0 has no
glyph for are drawn here with the embedded report font and sent as a ^GFA
bitmap (°, …); Chinese prints one of two ways (LIMS_ZPL_CJK):

- "graphic" (default): as a bitmap too, which every stock Zebra prints;
- "font": sent as text in the TrueType font the site downloaded to the printer
  (LIMS_ZPL_FONT, e.g. E:SIMSUN.TTF), mapped to font letter J with ^CW.

The code is a QR code (^BQ, error correction Q) or a Data Matrix (^BX, the
symbol size the PDF draws), with whole-dot modules of at least 0.5 mm.
"""

from __future__ import annotations

from functools import lru_cache

from . import codes, fit
from .layouts import Layout

CJK_MODES = ("graphic", "font")
RESIDENT_LETTER = "J"  # not a built-in Zebra font letter (A-H, 0, P-V)


class ZplSettingError(ValueError):
    """Settings ZPL cannot print with: a resolution fit.py does not measure for, an unknown LIMS_ZPL_CJK, or "font"
    without LIMS_ZPL_FONT."""


def _escape(text: str) -> str:
    out = []
    for ch in text:
        if ch in "^~_":
            out.append("_%02X" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def send(job: str, address: str, timeout: float = 5.0) -> None:
    """Send a job to a Zebra printer's raw port (host:9100). Raises OSError when the printer does not take it."""
    import socket

    host, _sep, port = address.rpartition(":")
    with socket.create_connection((host or address, int(port or 9100)), timeout=timeout) as conn:
        conn.sendall(job.encode("utf-8"))


def graphic(text: str, h: int) -> tuple[str, int, int]:
    """(^GFA command, width, ascent) of ``text`` drawn with the report font at ``h`` pixels, 1 bit per dot."""
    fit.cjk_font()  # FontMissing before anything is cached
    return _graphic(text, h, str(fit.fonts.font_path()))


@lru_cache(maxsize=512)
def _graphic(text: str, h: int, font_path: str) -> tuple[str, int, int]:
    """Cached by font file: a lot's labels repeat the same status and statement, and drawing them is most of a job."""
    from PIL import Image, ImageDraw

    font = fit.pil_font(font_path, h)
    ascent, descent = font.getmetrics()
    width = max(1, fit.graphic_width(text, h))
    image = Image.new("L", (width, ascent + descent), 255)
    ImageDraw.Draw(image).text((0, ascent), text, font=font, fill=0, anchor="ls")
    row_bytes = (width + 7) // 8
    pixels = image.load()
    rows = []
    for y in range(image.height):
        bits = 0
        for x in range(row_bytes * 8):
            bits = (bits << 1) | (1 if x < width and pixels[x, y] < 160 else 0)
        rows.append(f"{bits:0{row_bytes * 2}X}")
    total = row_bytes * image.height
    return f"^GFA,{total},{total},{row_bytes},{''.join(rows)}", width, ascent


def _field(text: str, x: int, baseline: int, size_pt: float, dots_per_mm: int, cjk: str) -> list[str]:
    """The commands for one fitted field: runs of font 0 text and Chinese side by side on one baseline."""
    h = fit.zpl_height(size_pt, dots_per_mm)
    out = []
    for kind, part in fit.zpl_runs(text):
        if kind == "font0":
            if part.strip():
                out.append(f"^FT{x},{baseline}^A0N,{h},{h}^FH_^FD{_escape(part)}^FS")
            x += fit.font0_width(part, h)
        elif kind == "cjk" and cjk == "font":
            out.append(f"^FT{x},{baseline}^A{RESIDENT_LETTER}N,{h},{h}^FH_^FD{_escape(part)}^FS")
            x += fit.resident_width(part, h)
        else:
            command, width, ascent = graphic(part, h)
            out.append(f"^FO{x},{max(0, baseline - ascent)}{command}^FS")
            x += width
    return out


def _code(layout: Layout, payload: str, dots_per_mm: int) -> str:
    side = codes.check(payload, layout.symbology, layout.qr_size_mm, layout.name)
    quiet_modules = codes.quiet_zone(layout.symbology)
    module = codes.module_dots(layout.qr_size_mm, side + 2 * quiet_modules, dots_per_mm)
    qx = round(layout.qr_x_mm * dots_per_mm) + quiet_modules * module
    qy = round(layout.qr_y_mm * dots_per_mm) + quiet_modules * module
    if layout.symbology == "datamatrix":
        return f"^FO{qx},{qy}^BXN,{module},200,{side},{side},6^FH_^FD{_escape(payload)}^FS"
    # ^BQ's field origin sits ~10 dots above the symbol on Zebra firmware; the quiet zone is left blank
    return f"^FO{qx},{max(0, qy - 10)}^BQN,2,{module}^FDQA,{payload}^FS"


def render(layout: Layout, contents: list, dots_per_mm: int = 8, cjk: str = "graphic", font: str = "") -> str:
    """The job for ``contents``; fit.DoesNotFit or codes.CodeTooSmall as the PDF raises them, nothing half-made."""
    if dots_per_mm not in codes.PRINTER_DOTS_PER_MM:
        raise ZplSettingError(f"LIMS_ZPL_DOTS_PER_MM must be 8 or 12 (is {dots_per_mm!r})")
    if cjk not in CJK_MODES:
        raise ZplSettingError(f"LIMS_ZPL_CJK must be one of {', '.join(CJK_MODES)} (is {cjk!r})")
    if cjk == "font" and not font.strip():
        raise ZplSettingError("LIMS_ZPL_CJK is 'font' but LIMS_ZPL_FONT names no font on the printer")
    labels = []
    for content in contents:
        lines = [
            "^XA",
            "^CI28",
            f"^PW{round(layout.width_mm * dots_per_mm)}",
            f"^LL{round(layout.height_mm * dots_per_mm)}",
        ]
        if cjk == "font":
            lines.append(f"^CW{RESIDENT_LETTER},{font.strip()}")
        lines.append(_code(layout, content.payload, dots_per_mm))
        for f in layout.fields:
            text = content.texts.get(f.field) or ""
            if not text:
                continue
            shown, size = fit.fit_field(f, text, layout.name)
            lines.append(f"^FX{f.field}^FS")  # a comment per field: tests and people reading a job find its parts
            lines += _field(shown, round(f.x_mm * dots_per_mm), round(f.y_mm * dots_per_mm), size, dots_per_mm, cjk)
        lines.append("^XZ")
        labels.append("\n".join(lines))
    return "\n".join(labels) + "\n"
