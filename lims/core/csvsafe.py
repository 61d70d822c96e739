"""CSV exports that a spreadsheet never runs as formulas.

Any text cell may hold what a user typed (a name, a reason, a location), and a
spreadsheet treats a cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR
as a formula (CSV injection, OWASP). Every export writes through
``safe_writer`` so no column can be forgotten; numbers stay numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """Text starting like a formula gets a leading apostrophe; other values pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` whose every text cell goes through ``csv_safe``."""

    def __init__(self, stream, **kwargs):
        self._w = csv.writer(stream, **kwargs)

    def writerow(self, row: Iterable[Any]):
        return self._w.writerow([csv_safe(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]):
        for row in rows:
            self.writerow(row)


def safe_writer(stream, **kwargs) -> SafeWriter:
    return SafeWriter(stream, **kwargs)
