"""Data Matrix (ECC 200) symbols for labels too small for a QR code with 0.5 mm modules.

A 25 x 13 mm cryovial has room for a 12 mm code: a QR code of its payload
(version 2, 25 modules plus a 4-module quiet zone) gets 0.36 mm modules, too
small for a frosted vial; a Data Matrix of the same payload needs 18-20 modules
plus the 1-module quiet zone ISO/IEC 16022 asks for, 0.5 mm at 203 dpi. ReportLab ships the ECC 200 bit
placement and Reed-Solomon code only for the 44 x 44 size in C40; this module
uses them for every square size up to 44 x 44 with ASCII encodation (digit
pairs packed), which is what Zebra printers pick for these payloads too.
"""

from __future__ import annotations

from reportlab.graphics.barcode.ecc200datamatrix import ECC200DataMatrix

# ISO/IEC 16022 square symbols: modules per side -> (data regions per side, data codewords, error codewords).
SIZES = {
    10: (1, 3, 5),
    12: (1, 5, 7),
    14: (1, 8, 10),
    16: (1, 12, 12),
    18: (1, 18, 14),
    20: (1, 22, 18),
    22: (1, 30, 20),
    24: (1, 36, 24),
    26: (1, 44, 28),
    32: (2, 62, 36),
    36: (2, 86, 42),
    40: (2, 114, 48),
    44: (2, 144, 56),
}
QUIET_ZONE = 1  # modules (ISO/IEC 16022); the label's edge and the text's gap add to it


class TooLong(ValueError):
    """The payload needs a larger symbol than this module draws (more than 144 codewords)."""


def codewords(payload: str) -> list[int]:
    """ASCII encodation: two digits in one codeword, other ASCII characters one each, anything else two."""
    out: list[int] = []
    i = 0
    data = payload.encode("latin-1", errors="replace")
    while i < len(data):
        a = data[i]
        if 48 <= a <= 57 and i + 1 < len(data) and 48 <= data[i + 1] <= 57:
            out.append(130 + (a - 48) * 10 + (data[i + 1] - 48))
            i += 2
            continue
        out.extend([a + 1] if a < 128 else [235, a - 127])  # 235 = upper shift for Latin-1 above 127
        i += 1
    return out


def symbol_size(count: int) -> int:
    """The smallest square symbol (modules per side) that holds ``count`` data codewords."""
    for side, (_regions, data, _ecc) in SIZES.items():
        if count <= data:
            return side
    raise TooLong(f"{count} codewords do not fit a 44 x 44 Data Matrix")


def worst_case_size(chars: int) -> int:
    """Modules per side for any ASCII payload of ``chars`` characters (no digit pairs to pack)."""
    return symbol_size(chars)


class _Symbol(ECC200DataMatrix):
    def __init__(self, payload: str, side: int):
        super().__init__(payload)
        regions, self.cw_data, self.cw_ecc = SIZES[side]
        self.row_modules = self.col_modules = side
        self.row_regions = self.col_regions = regions
        self.row_usable_modules = self.col_usable_modules = side - 2 * regions
        self._payload = payload

    def _encode_c40(self, value):  # ReportLab's hook for the data codewords: ASCII encodation and padding instead
        data = codewords(self._payload)
        if len(data) < self.cw_data:
            data.append(129)  # first pad
            while len(data) < self.cw_data:
                r = ((149 * (len(data) + 1)) % 253) + 1
                data.append((129 + r) % 254 if 129 + r > 254 else 129 + r)
        return data


def matrix(payload: str) -> list[list[bool]]:
    """Rows of modules top to bottom, the quiet zone included (True = dark)."""
    side = symbol_size(len(codewords(payload)))
    code = _Symbol(payload, side)
    code.validate()
    rows = [[bool(v) for v in row] for row in reversed(code.encode())]  # ReportLab keeps them bottom-up
    blank = [False] * (side + 2 * QUIET_ZONE)
    return (
        [blank[:] for _ in range(QUIET_ZONE)]
        + [[False] * QUIET_ZONE + r + [False] * QUIET_ZONE for r in rows]
        + [blank[:] for _ in range(QUIET_ZONE)]
    )


def modules(payload: str) -> int:
    """Modules per side without the quiet zone."""
    return symbol_size(len(codewords(payload)))
