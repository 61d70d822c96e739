"""The header scan box: focused for the barcode scanner, Enter opens the record or explains why not."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import ACCOUNTS
from .helpers import active_id, login_as

pytestmark = pytest.mark.browser

SCAN_CODE = "EQ-CEN-11"


def _scan(page: Page, code: str) -> None:
    """What a keyboard-wedge scanner does: type into the focused box, then Enter."""
    expect(page.locator("#scan-code")).to_be_focused()  # auto-waits for the deferred lims.js
    assert active_id(page) == "scan-code", f"scan box not focused on {page.url}"
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def test_scan_box_focus_unknown_and_known_codes(page: Page, live_server):
    eq_id = live_server.ensure_equipment(SCAN_CODE, "Scan test centrifuge")
    detail = re.compile(rf"/equipment/{eq_id}$")

    login_as(page, ACCOUNTS["tech"])
    expect(page.locator("#scan-code")).to_be_focused()  # auto-waits: lims.js is deferred
    assert active_id(page) == "scan-code"

    # Unknown code on the home page: stay there, say why.
    _scan(page, "EQ-NOPE-99")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {ACCOUNTS['tech'].full_name}")
    expect(page.get_by_role("alert")).to_have_text("Unknown code: EQ-NOPE-99. No record has this ID.")

    # Unknown code on another page: the user stays on that page.
    page.locator("nav.mainnav").get_by_role("link", name="Equipment").click()
    expect(page).to_have_url(re.compile(r"/equipment/$"))
    _scan(page, "LIMS:EQ:EQ-NOPE-98")
    expect(page).to_have_url(re.compile(r"/equipment/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Equipment")
    expect(page.get_by_role("alert")).to_have_text("Unknown code: LIMS:EQ:EQ-NOPE-98. No record has this ID.")
    _scan(page, "LIMS:??")
    expect(page).to_have_url(re.compile(r"/equipment/$"))
    expect(page.get_by_role("alert")).to_have_text("The code LIMS:?? is not a valid LIMS code.")

    # A QR payload opens the equipment page ...
    _scan(page, f"LIMS:EQ:{SCAN_CODE}")
    expect(page).to_have_url(detail)
    expect(page.get_by_role("heading", level=1)).to_contain_text(SCAN_CODE)

    # ... and so does the bare ID typed by hand (any case), from any page.
    page.goto("/")
    _scan(page, SCAN_CODE)
    expect(page).to_have_url(detail)
    page.goto("/equipment/")
    _scan(page, SCAN_CODE.lower())
    expect(page).to_have_url(detail)


def test_f2_returns_to_scan_box(page: Page, live_server):
    login_as(page, ACCOUNTS["tech"])
    page.goto("/profile")
    page.get_by_label("Language").focus()
    assert active_id(page) == "language"
    page.keyboard.press("F2")
    assert active_id(page) == "scan-code"


def test_form_page_autofocus_field_keeps_focus(page: Page):
    """A form page gives focus to its first field; F2 still reaches the scan box."""
    login_as(page, ACCOUNTS["tech"])
    page.goto("/equipment/new")
    assert active_id(page) == "code"
    page.keyboard.press("F2")
    assert active_id(page) == "scan-code"
