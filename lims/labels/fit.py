"""The fitting rules every label renderer shares: measure, shrink to a floor, then cut or refuse.

A field is measured in every font it can print in (the PDF's Helvetica and
embedded report font, and ZPL's built-in font 0 plus Chinese as a bitmap or in
a printer-resident TrueType font, at 203 and 300 dpi) and the widest reading
decides. PDF and ZPL therefore shrink to the same size, cut at the same
character and refuse the same IDs, whatever printer or mode is configured.
A field in NEVER_CUT (ID, expiry, donor, status) that does not fit whole at
MIN_FONT_PT is refused: a shortened one would make a wrong label.
"""

from __future__ import annotations

import math
from functools import lru_cache

from reportlab.pdfbase import pdfmetrics

from ..reports import fonts
from .codes import PRINTER_DOTS_PER_MM

PT_MM = 25.4 / 72
MIN_FONT_PT = 4.0
NEVER_CUT = ("id", "expiry", "donor", "status")
ELLIPSIS = "…"
# Advance widths of Zebra font 0 (CG Triumvirate Bold Condensed) per em of the ^A0 height, measured with zplkit's
# captured printer strikes (its hyphen is a minus sign nearly one em wide). A rendered line runs up to 5.3 % (and a
# dot or two) wider than the sum of these at heights of 11 dots and more, so the width model adds 6 % and 2 dots.
FONT0_ADVANCE = {
    " ": 0.2812,
    "!": 0.2812,
    '"': 0.4688,
    "#": 0.4688,
    "$": 0.4688,
    "%": 0.9062,
    "&": 0.625,
    "'": 0.2812,
    "(": 0.2812,
    ")": 0.2812,
    "*": 0.4688,
    "+": 0.9062,
    ",": 0.2812,
    "-": 0.9062,
    ".": 0.2812,
    "/": 0.2812,
    "0": 0.4688,
    "1": 0.4688,
    "2": 0.4688,
    "3": 0.4688,
    "4": 0.4688,
    "5": 0.4688,
    "6": 0.4688,
    "7": 0.4688,
    "8": 0.4688,
    "9": 0.4688,
    ":": 0.2812,
    ";": 0.2812,
    "<": 0.9797,
    "=": 0.9062,
    ">": 0.9781,
    "?": 0.4375,
    "@": 0.9062,
    "A": 0.5625,
    "B": 0.5625,
    "C": 0.5312,
    "D": 0.5938,
    "E": 0.5,
    "F": 0.5,
    "G": 0.5938,
    "H": 0.625,
    "I": 0.2812,
    "J": 0.4375,
    "K": 0.5625,
    "L": 0.4688,
    "M": 0.75,
    "N": 0.625,
    "O": 0.5625,
    "P": 0.5625,
    "Q": 0.5625,
    "R": 0.5938,
    "S": 0.5312,
    "T": 0.5,
    "U": 0.625,
    "V": 0.5312,
    "W": 0.8125,
    "X": 0.5625,
    "Y": 0.5625,
    "Z": 0.5,
    "[": 0.2812,
    "\\": 0.4688,
    "]": 0.2812,
    "^": 0.5,
    "_": 0.5,
    "`": 0.2812,
    "a": 0.4688,
    "b": 0.5,
    "c": 0.4375,
    "d": 0.5,
    "e": 0.4688,
    "f": 0.2812,
    "g": 0.5,
    "h": 0.5,
    "i": 0.25,
    "j": 0.25,
    "k": 0.4375,
    "l": 0.25,
    "m": 0.75,
    "n": 0.5,
    "o": 0.4688,
    "p": 0.5,
    "q": 0.5,
    "r": 0.3438,
    "s": 0.4375,
    "t": 0.2812,
    "u": 0.5,
    "v": 0.4375,
    "w": 0.6562,
    "x": 0.4375,
    "y": 0.4375,
    "z": 0.375,
    "{": 0.5,
    "|": 0.5,
    "}": 0.5,
    "~": 0.9781,
    "·": 0.0938,
    "é": 0.4688,
}
FONT0_SLACK, FONT0_EXTRA_DOTS = 1.06, 2


class DoesNotFit(ValueError):
    """A field that must print whole does not fit the layout, even at the smallest font."""

    def __init__(self, field: str, text: str, layout: str):
        super().__init__(f"{field} '{text}' does not fit the {layout} layout")
        self.field, self.text, self.layout = field, text, layout


def cjk_font() -> str:
    """The embedded report font registered with ReportLab (FontMissing when the setup has not installed it)."""
    return fonts.register()


def is_cjk(ch: str) -> bool:
    """Characters beyond Helvetica's Latin-1 set print in the report font."""
    return ord(ch) > 0x2FF


def pdf_runs(text: str, bold: bool) -> list[tuple[str, str]]:
    """(font, text) runs: Latin in Helvetica, Chinese in the embedded report font."""
    out: list[tuple[str, str]] = []
    for ch in text:
        font = cjk_font() if is_cjk(ch) else ("Helvetica-Bold" if bold else "Helvetica")
        if out and out[-1][0] == font:
            out[-1] = (font, out[-1][1] + ch)
        else:
            out.append((font, ch))
    return out


def is_ideographic(ch: str) -> bool:
    """CJK ideographs, punctuation and full-width forms: what a printer-resident CJK face draws one em wide."""
    return ord(ch) >= 0x2E80


def zpl_runs(text: str) -> list[tuple[str, str]]:
    """(kind, text) runs for ZPL: "font0" where the built-in font has the glyph, "cjk" for Chinese, "other" else.

    "other" (°, …) is always drawn as a bitmap; "cjk" is a bitmap or the resident font (LIMS_ZPL_CJK)."""
    out: list[tuple[str, str]] = []
    for ch in text:
        kind = "font0" if ch in FONT0_ADVANCE else ("cjk" if is_ideographic(ch) else "other")
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + ch)
        else:
            out.append((kind, ch))
    return out


def zpl_height(size_pt: float, dots_per_mm: int) -> int:
    """The ^A0 height (about one em) in dots; rounded down so the text is never larger than measured."""
    return max(1, int(size_pt * PT_MM * dots_per_mm + 1e-9))


@lru_cache(maxsize=64)
def pil_font(path: str, px: int):
    """The TrueType face at ``path`` loaded by Pillow at ``px`` pixels (loading it is slow: cached)."""
    from PIL import ImageFont

    return ImageFont.truetype(path, size=px, index=0)


def bitmap_font(px: int):
    """The report font at ``px`` pixels for Chinese drawn as a ZPL graphic."""
    cjk_font()  # the same FontMissing as the PDF when the face is not installed
    return pil_font(str(fonts.font_path()), px)


def font0_width(text: str, h: int) -> int:
    """Dots a run of font 0 text at ^A0N,h,h takes, never less than the printer draws."""
    return math.ceil(sum(FONT0_ADVANCE[ch] for ch in text) * h * FONT0_SLACK) + FONT0_EXTRA_DOTS


def graphic_width(text: str, h: int) -> int:
    """Dots a run drawn as a bitmap with the report font at ``h`` pixels takes (the bitmap is cut to this)."""
    return math.ceil(bitmap_font(h).getlength(text))


def resident_width(text: str, h: int) -> int:
    """A printer-resident CJK TrueType face (LIMS_ZPL_CJK=font): one em per character, as CJK faces draw them."""
    return h * len(text)


def zpl_width_dots(text: str, size_pt: float, dots_per_mm: int, cjk: str) -> int:
    """Dots the ZPL renderer advances over ``text``: its runs side by side, each as wide as measured here."""
    h = zpl_height(size_pt, dots_per_mm)
    measure = {
        "font0": font0_width,
        "other": graphic_width,
        "cjk": graphic_width if cjk == "graphic" else resident_width,
    }
    return sum(measure[kind](part, h) for kind, part in zpl_runs(text))


def width_pt(text: str, bold: bool, size: float) -> float:
    """The widest reading of the text over every renderer, resolution and Chinese mode, in points."""
    return _width_pt(text, bold, size, str(fonts.font_path()))


@lru_cache(maxsize=4096)
def _width_pt(text: str, bold: bool, size: float, _font_path: str) -> float:
    """Cached by report font file (a lot's labels repeat most of their texts)."""
    widths = [sum(pdfmetrics.stringWidth(part, font, size) for font, part in pdf_runs(text, bold))]
    for d in PRINTER_DOTS_PER_MM:
        for mode in ("graphic", "font"):
            widths.append(zpl_width_dots(text, size, d, mode) / d / PT_MM)
    return max(widths)


def fit_text(text: str, bold: bool, size: float, max_width_pt: float) -> tuple[str, float]:
    """Shrink to fit, down to MIN_FONT_PT; beyond that cut with an ellipsis."""
    while size > MIN_FONT_PT and width_pt(text, bold, size) > max_width_pt:
        size = max(MIN_FONT_PT, size - 0.25)
    if width_pt(text, bold, size) <= max_width_pt:
        return text, size
    while text and width_pt(text + ELLIPSIS, bold, size) > max_width_pt:
        text = text[:-1]
    return text + ELLIPSIS, size


def fit_field(field, text: str, layout_name: str) -> tuple[str, float]:
    """The text and size a layout field prints; DoesNotFit when a never-cut field would have to be shortened."""
    shown, size = fit_text(text, field.bold, field.font_pt, field.max_width_mm / PT_MM)
    if shown != text and field.field in NEVER_CUT:
        raise DoesNotFit(field.field, text, layout_name)
    return shown, size
