"""The machine-readable code of a label: QR or Data Matrix, never with modules below 0.5 mm.

A module of 0.5 mm is 4 dots at 203 dpi and 6 at 300 dpi; smaller modules blur
away on a frosted vial. The layout validator checks a stock's code for the
longest payload it declares, and every print checks the payload it draws, so
a code is refused rather than printed too small to scan.
"""

from __future__ import annotations

import math

from . import datamatrix, qr

MIN_MODULE_MM = 0.5
PRINTER_DOTS_PER_MM = (8, 12)  # the Zebra resolutions the LIMS prints for (LIMS_ZPL_DOTS_PER_MM)
SYMBOLOGIES = ("qr", "datamatrix")


class CodeTooSmall(ValueError):
    """The payload's code would have modules below MIN_MODULE_MM in the layout's code square."""

    def __init__(self, payload: str, layout: str):
        super().__init__(f"the code of {payload} would be too small to scan on the {layout} layout")
        self.payload, self.layout = payload, layout


def quiet_zone(symbology: str) -> int:
    return qr.QUIET_ZONE if symbology == "qr" else datamatrix.QUIET_ZONE


def modules(payload: str, symbology: str) -> int:
    """Modules per side, quiet zone excluded."""
    return qr.modules(payload) if symbology == "qr" else datamatrix.modules(payload)


def matrix(payload: str, symbology: str) -> list[list[bool]]:
    """Rows of modules with the quiet zone (True = dark)."""
    return qr.matrix(payload) if symbology == "qr" else datamatrix.matrix(payload)


def worst_case_modules(chars: int, symbology: str) -> int:
    """Modules per side for the least compressible payload of ``chars`` ASCII characters."""
    if symbology == "qr":
        return qr.modules("a" * chars)  # lower case forces byte mode, the largest QR for the length
    return datamatrix.worst_case_size(chars)


def module_dots(size_mm: float, total_modules: int, dots_per_mm: int) -> int:
    """Whole printer dots per module when ``total_modules`` (quiet zone included) fill ``size_mm``."""
    return int(size_mm * dots_per_mm / total_modules + 1e-9)


def min_dots(dots_per_mm: int) -> int:
    return math.ceil(MIN_MODULE_MM * dots_per_mm - 1e-9)


def large_enough(size_mm: float, total_modules: int) -> bool:
    """0.5 mm modules or more, in the PDF (exact) and in ZPL at every supported printer resolution (whole dots)."""
    return size_mm / total_modules >= MIN_MODULE_MM - 1e-9 and all(
        module_dots(size_mm, total_modules, d) >= min_dots(d) for d in PRINTER_DOTS_PER_MM
    )


def check(payload: str, symbology: str, size_mm: float, layout: str) -> int:
    """Modules per side (quiet zone excluded) of the payload's code; CodeTooSmall when it would print too small."""
    try:
        side = modules(payload, symbology)
    except (datamatrix.TooLong, ValueError):
        raise CodeTooSmall(payload, layout) from None
    if not large_enough(size_mm, side + 2 * quiet_zone(symbology)):
        raise CodeTooSmall(payload, layout)
    return side
