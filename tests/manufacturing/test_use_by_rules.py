"""The use-by rule (issue 17, item 1): one last usable instant for pages, labels and the issue desk.

Expired from ``expires_at`` on, thaw window inclusive at thaw + N h: the printed minute is the minute of the
last usable instant, and at every boundary ``unit_use_by`` agrees with ``effective_unit_status``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from lims.manufacturing import rules as r

EXPIRES = datetime(2027, 5, 23, 16, 0, tzinfo=UTC)  # 2027-05-24 00:00 in Shanghai
THAWED = datetime(2026, 11, 25, 2, 0, 30, tzinfo=UTC)  # 10:00:30 lab time
US = timedelta(microseconds=1)


def usable(now, thawed=None, expires=EXPIRES):
    return r.effective_unit_status("available", now, expires, thawed, 6)[0] == "available"


def test_a_frozen_unit_is_usable_to_the_microsecond_before_expiry_and_prints_the_minute_before():
    last, rule = r.unit_use_by(EXPIRES, None, 6)
    assert (last, rule) == (EXPIRES - US, "expiry")
    assert usable(last) and not usable(EXPIRES)
    assert r.printed_minute(last) == EXPIRES - timedelta(minutes=1)  # 23:59, never 00:00 of the expired day


def test_a_thawed_unit_is_usable_through_the_sixth_hour_and_not_a_microsecond_later():
    last, rule = r.unit_use_by(EXPIRES, THAWED, 6)
    assert (last, rule) == (THAWED + timedelta(hours=6), "thaw")
    assert usable(last, THAWED) and not usable(last + US, THAWED)
    assert r.printed_minute(last) == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 16:00, seconds cut


@pytest.mark.parametrize(
    "window_end, rule", [(-timedelta(minutes=1), "thaw"), (timedelta(0), "expiry"), (timedelta(minutes=1), "expiry")]
)
def test_thawed_near_expiry_the_earlier_end_decides(window_end, rule):
    thawed = EXPIRES - timedelta(hours=6) + window_end  # the thaw window ends a minute before, at, or after expiry
    last, got = r.unit_use_by(EXPIRES, thawed, 6)
    assert got == rule
    assert last == min(EXPIRES - US, thawed + timedelta(hours=6))
    assert usable(last, thawed) and not usable(last + US, thawed)


def test_the_clinical_use_by_is_the_same_rule():
    from lims.clinical.course_rules import UnitFacts, use_by

    facts = UnitFacts(
        code="U",
        status="issued",
        storage="frozen",
        expires_at=EXPIRES,
        expiry_date=EXPIRES.date(),
        thawed_at=THAWED,
        donor_code="D-001",
        batch_status="released",
        reserved_for=None,
        reserved_recipient=None,
        production_day=EXPIRES.date(),
    )
    assert use_by(facts, 6) == r.unit_use_by(EXPIRES, THAWED, 6)[0]
    assert use_by(replace(facts, thawed_at=None), 6) == EXPIRES - US
