"""Boundaries of the small pure rules: scan payloads, equipment usability, lab time."""

from datetime import UTC, date, datetime

import pytest

from lims.core.scan import parse
from lims.equipment.rules import calibration_overdue, normalise_code, usable_for_gmp, valid_code


@pytest.mark.parametrize(
    "code,expected",
    [
        ("LIMS:EQ:EQ-GFM-01", ("EQ", "EQ-GFM-01", "")),
        ("lims:EQ:EQ-GFM-01", ("EQ", "EQ-GFM-01", "")),
        ("  LIMS:DU:FMT-20261123-01-03 ", ("DU", "FMT-20261123-01-03", "")),
        ("EQ-GFM-01", (None, "EQ-GFM-01", "")),
        ("", (None, None, "empty")),
        ("LIMS:EQ:", (None, None, "malformed")),
        ("LIMS:EQ:a b", (None, None, "malformed")),
        ("LIMS:TOOLONG:x", (None, None, "malformed")),
        ("LIMS:EQ:" + "A" * 61, (None, None, "malformed")),
    ],
)
def test_scan_parse(code, expected):
    assert parse(code) == expected


def test_equipment_codes():
    assert normalise_code(" eq-gfm-01 ") == "EQ-GFM-01"
    assert valid_code("EQ-GFM-01") and valid_code("ABC")
    assert not valid_code("AB") and not valid_code("-EQ") and not valid_code("EQ-") and not valid_code("EQ 1")
    assert valid_code("A" * 40) and not valid_code("A" * 41)


def test_calibration_due_day_is_still_usable_the_next_day_is_not():
    due = date(2026, 11, 30)
    assert not calibration_overdue(due, date(2026, 11, 30))
    assert calibration_overdue(due, date(2026, 12, 1))
    assert not calibration_overdue(None, date(2030, 1, 1))


def test_usable_for_gmp_needs_service_approval_and_calibration():
    today = date(2026, 11, 23)
    assert usable_for_gmp("in_service", True, today, today)
    assert not usable_for_gmp("out_of_service", True, today, today)
    assert not usable_for_gmp("in_service", False, today, today)
    assert not usable_for_gmp("in_service", True, date(2026, 11, 22), today)


def test_lab_day_bounds_follow_the_lab_zone():
    from lims.timefmt import format_dt, lab_day_bounds_utc

    start, end = lab_day_bounds_utc(date(2026, 11, 23))  # outside an app: Asia/Shanghai
    assert start == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    assert format_dt(datetime(2026, 11, 22, 16, 0, tzinfo=UTC)) == "2026-11-23 00:00 CST"
    assert format_dt(datetime(2026, 11, 22, 15, 59, 59)) == "2026-11-22 23:59 CST"  # naive means UTC
