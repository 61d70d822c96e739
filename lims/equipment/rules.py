"""Equipment rules (pure)."""

from __future__ import annotations

import re
from datetime import date

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,38}[A-Z0-9]$")


def normalise_code(code: str) -> str:
    return (code or "").strip().upper()


def valid_code(code: str) -> bool:
    return bool(CODE_RE.match(code))


def calibration_overdue(due: date | None, today: date) -> bool:
    """Overdue from the day after the due date: the due day itself is still usable."""
    return due is not None and today > due


def usable_for_gmp(status: str, approved: bool, due: date | None, today: date) -> bool:
    return status == "in_service" and approved and not calibration_overdue(due, today)
