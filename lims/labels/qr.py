"""QR matrices: error correction Q (25 %), a 4-module quiet zone (domain.md section 5)."""
from __future__ import annotations

import qrcode
from qrcode.constants import ERROR_CORRECT_Q

QUIET_ZONE = 4


def matrix(payload: str) -> list[list[bool]]:
    """Rows of modules, the quiet zone included (True = dark)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=QUIET_ZONE)
    code.add_data(payload)
    code.make(fit=True)
    return code.get_matrix()
