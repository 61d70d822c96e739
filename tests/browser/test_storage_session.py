"""A technician stores a batch's six units into a box by scanning them one after another and signing once
(issue 16, item 7): the scanner's Enter ends each line, the plan is reviewed, one password stores all."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from lims.clock import utcnow
from lims.timefmt import to_lab
from tests.manufacturing.conftest import act

from .conftest import ACCOUNTS
from .helpers import login_as, shot
from .lots import filled_lot
from .test_manufacturing import _ensure_staff_spec_device_storage

pytestmark = pytest.mark.browser
BOX = "BOX-SESSION"


@pytest.fixture(scope="module")
def lot(live_server) -> str:
    from lims.manufacturing import storage
    from lims.manufacturing.models import StorageLocation

    with live_server.app.app_context():
        today = to_lab(utcnow()).date()
        _ensure_staff_spec_device_storage(today)
        _donor, lot = filled_lot(
            today, sex="female", years=28, name="Qian Lei", id_prefix="STORE", run="GFM-RUN-STORE", mass_g="160.0"
        )
        rack = act(
            "tech", lambda s, u: s.exec(select(StorageLocation).where(StorageLocation.kind == "rack")).first().code
        )
        act(
            "tech",
            lambda s, u: storage.create_location(
                s, {"code": BOX, "name": "session box", "kind": "box", "parent": rack, "rows": 3, "cols": 3}
            ),
        )
    return lot


def test_scan_six_units_review_and_store_them_with_one_signature(page: Page, lot: str):
    login_as(page, ACCOUNTS["tech"])
    page.goto(f"/storage/{BOX}")
    page.locator("#store-session summary").click()
    page.get_by_label("Batch (scan or type the lot)").fill(f"LIMS:LOT:{lot}")
    scans = page.get_by_label("Dose units (scan one after another)")
    scans.click()
    for n in range(1, 7):  # a keyboard-wedge scanner: the payload, then Enter
        page.keyboard.type(f"LIMS:DU:{lot}-{n:02d}")
        page.keyboard.press("Enter")
    page.get_by_role("button", name="Review the plan").click()
    plan = page.locator("#session-plan")
    expect(plan).to_contain_text(f"{lot}-06")
    expect(plan).to_contain_text(f"{BOX} / B3")
    expect(page.get_by_role("button", name="Sign and store all")).to_be_visible()
    shot(page, "storage_session_review")
    page.get_by_label("Your password").fill(ACCOUNTS["tech"].password)
    page.get_by_role("button", name="Sign and store all").click()
    expect(page.get_by_role("status")).to_contain_text(f"6 units of batch {lot} stored in {BOX}")
    grid = page.locator("#box-grid")
    for n, pos in zip(range(1, 7), ("A1", "A2", "A3", "B1", "B2", "B3")):
        expect(grid.locator(f'td[title="{pos}"]')).to_contain_text(f"{lot}-{n:02d}"[4:])
    shot(page, "storage_session_stored")

    # Scanning the same units again into occupied positions is refused with the reason, the scans kept.
    page.locator("#store-session summary").click()
    page.get_by_label("Batch (scan or type the lot)").fill(lot)
    page.get_by_label("Dose units (scan one after another)").fill(f"{lot}-01 A2")
    page.get_by_role("button", name="Review the plan").click()
    expect(page.get_by_role("alert")).to_contain_text(re.compile(rf"Position A2 is occupied by {re.escape(lot)}-02"))
    expect(page.get_by_label("Dose units (scan one after another)")).to_have_value(f"{lot}-01 A2")
    expect(page.get_by_role("button", name="Sign and store all")).to_have_count(0)
