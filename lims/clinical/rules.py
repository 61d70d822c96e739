"""Recipient rules (pure): what a recipient record must satisfy, as codes with their numbers."""

from __future__ import annotations

import re
from datetime import date

SEXES = ("male", "female")
STAGES = ("I", "II", "III", "IV")
TNM_RE = re.compile(r"^(c|p|yp)?T(X|is|[0-4][a-d]?)N(X|[0-3][a-c]?)M(X|[01][a-c]?)$")
ECOG_RANGE = (0, 5)
PRIOR_LINES_MAX = 30
ADULT_AGE = 18


def age_on(dob: date, day: date) -> int:
    years = day.year - dob.year
    return years - 1 if (day.month, day.day) < (dob.month, dob.day) else years


def recipient_problems(f: dict, today: date, first_fmt: date | None = None) -> list[tuple[str, dict]]:
    """Every problem with a recipient's facts; ``first_fmt`` is the first administration day once there is one."""
    p = []
    if f.get("sex") not in SEXES:
        p.append(("sex", {}))
    dob, consent = f.get("date_of_birth"), f.get("consent_date")
    if not isinstance(dob, date):
        p.append(("dob_missing", {}))
    elif dob > today:
        p.append(("dob_future", {}))
    if not (f.get("diagnosis") or "").strip():
        p.append(("diagnosis_missing", {}))
    if f.get("stage") not in STAGES:
        p.append(("stage", {"allowed": ", ".join(STAGES)}))
    tnm = (f.get("tnm") or "").strip()
    if tnm and not TNM_RE.match(tnm):
        p.append(("tnm", {"value": tnm}))
    ecog = f.get("ecog")
    if not isinstance(ecog, int) or not ECOG_RANGE[0] <= ecog <= ECOG_RANGE[1]:
        p.append(("ecog", {"value": ecog if ecog is not None else "", "min": ECOG_RANGE[0], "max": ECOG_RANGE[1]}))
    lines = f.get("prior_lines")
    if not isinstance(lines, int) or not 0 <= lines <= PRIOR_LINES_MAX:
        p.append(("prior_lines", {"value": lines if lines is not None else "", "max": PRIOR_LINES_MAX}))
    if not isinstance(consent, date):
        p.append(("consent_missing", {}))
    else:
        if consent > today:
            p.append(("consent_future", {"date": consent}))
        if isinstance(dob, date) and dob <= today and age_on(dob, consent) < ADULT_AGE:
            p.append(("consent_minor", {"age": age_on(dob, consent), "min": ADULT_AGE}))
        if first_fmt is not None and consent > first_fmt:
            p.append(("consent_after_fmt", {"date": consent, "first": first_fmt}))
    return p
