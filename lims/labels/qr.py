"""QR matrices: error correction Q (25 %), a 4-module quiet zone (domain.md section 5)."""

from __future__ import annotations

import qrcode
from qrcode.constants import ERROR_CORRECT_Q

QUIET_ZONE = 4


def modules(payload: str) -> int:
    """Modules per side without the quiet zone, from the version alone (no mask search: ZPL printers draw the code)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=0)
    code.add_data(payload)
    return code.best_fit() * 4 + 17


def matrix(payload: str) -> list[list[bool]]:
    """Rows of modules, the quiet zone included (True = dark)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=QUIET_ZONE)
    code.add_data(payload)
    code.make(fit=True)
    return code.get_matrix()
