"""What a dose-unit label says in each effective state (issue 17, item 1): the status line, DO NOT USE, and
EXP vs USE BY with the storage line, all from ``UnitState`` (the unit page's answer)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lims.labels.content import storage_text, unit_status_text, use_by_text
from lims.manufacturing.queries import UnitState
from lims.manufacturing.rules import unit_use_by

EXPIRES = datetime(2027, 5, 23, 16, 0, tzinfo=UTC)  # 2027-05-24 00:00 lab time
THAWED = datetime(2026, 11, 25, 2, 0, 30, tzinfo=UTC)  # 10:00:30 lab time


def state(code, thawed=None, storage="frozen"):
    use_by, rule = unit_use_by(EXPIRES, thawed, 6)
    return UnitState(code, "available", None, code == "available", use_by, rule, thawed, 6, storage)


@pytest.mark.parametrize(
    "code, text",
    [
        ("expired", "EXPIRED 已过期 · DO NOT USE 禁止使用"),
        ("on_hold", "ON HOLD 暂停使用 · DO NOT USE 禁止使用"),
        ("recalled", "RECALLED 已召回 · DO NOT USE 禁止使用"),
        ("discarded", "DISCARDED 已销毁 · DO NOT USE 禁止使用"),
        ("quarantine", "QUARANTINE 待放行"),
        ("available", "RELEASED 已放行"),
        ("reserved", "RELEASED 已放行"),
    ],
)
def test_the_status_line_is_the_effective_state(code, text):
    assert unit_status_text(state(code)) == text


def test_a_frozen_label_prints_exp_at_the_last_usable_minute_and_minus_80(app):
    with app.app_context():
        s = state("available")
        assert (use_by_text(s), storage_text(s)) == ("EXP 2027-05-23 23:59 CST", "Store at -80 °C / -80 °C保存")
        fresh = state("available", storage="fresh")
        assert storage_text(fresh) == "Store at 2-8 °C / 2-8 °C保存"


@pytest.mark.parametrize("code", ["available", "expired"])
def test_a_thawed_label_prints_use_by_thaw_plus_six_hours_and_2_8(app, code):
    """Thawed at 10:00:30: usable through 16:00:30, so the label says 16:00 (seconds cut), never EXP or -80 °C."""
    with app.app_context():
        s = state(code, THAWED)
        assert (use_by_text(s), storage_text(s)) == ("USE BY 2026-11-25 16:00 CST", "Thawed 10:00 · 2-8 °C 已解冻")
