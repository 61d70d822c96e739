"""Scanning dose-unit labels and printing them, in the browser.

A batch with six dose units is made on the live server's database through the
same operations the screens use (donor, screenings, donation-day check,
receipt, batch start and the seven steps of the batch record), as in
test_manufacturing.py but without clicking through every step: the fill
creates the units in quarantine.

In the browser a technician

- scans a unit's QR payload (``LIMS:DU:<code>``) and then its bare ID into the
  header scan box, typed key by key like a keyboard-wedge scanner, and lands
  on the unit's page;
- scans a garbled payload, a payload of an unknown type and the payload of a
  unit that does not exist: each time the page says why and the user stays
  where they were;
- prints the unit's tube label as PDF from the unit page (the form opens the
  document in a new tab), whose QR code decodes back to the payload, and is
  refused a reprint without a reason.

Screenshots: scan_unit_page.png (unit page with its print form) and
scan_error.png (a refused scan).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from lims.clock import utcnow
from lims.timefmt import to_lab
from tests.labels.test_render import decoded
from tests.manufacturing.conftest import act

from .conftest import ACCOUNTS
from .helpers import active_id, login_as, shot
from .lots import filled_lot
from .test_manufacturing import _ensure_staff_spec_device_storage

pytestmark = pytest.mark.browser

UNKNOWN_UNIT = "FMT-20990101-01-01"
REPRINT_REFUSED = "These labels were printed before: give a reason for the reprint."


@dataclass(frozen=True)
class UnitLot:
    lot: str
    units: tuple[str, ...]


@pytest.fixture(scope="module")
def unit_lot(live_server) -> UnitLot:
    """A donation received two days ago and processed through the 7 steps: six dose units in quarantine.

    The donor gets a national ID of its own (the register refuses a duplicate), so this module runs
    before or after test_manufacturing.py on the same live server.
    """
    from lims.manufacturing.models import DoseUnit

    with live_server.app.app_context():
        today = to_lab(utcnow()).date()
        _ensure_staff_spec_device_storage(today)
        _donor, lot = filled_lot(
            today, sex="female", years=30, name="Sun Hui", id_prefix="SCAN", run="GFM-RUN-SCAN", mass_g="150.0"
        )
        units = act(
            "tech",
            lambda s, u: tuple(
                x.code for x in s.exec(select(DoseUnit).where(DoseUnit.lot == lot).order_by(DoseUnit.seq)).all()
            ),
        )
    assert units == tuple(f"{lot}-{n:02d}" for n in range(1, 7))
    return UnitLot(lot=lot, units=units)


def _scan(page: Page, code: str) -> None:
    """F2 to the header scan box, then what a keyboard-wedge scanner does: the characters, then Enter.

    lims.js (deferred) installs the F2 key handler: wait for the page's load event before pressing it.
    """
    page.wait_for_load_state("load")
    page.keyboard.press("F2")
    expect(page.locator("#scan-code")).to_be_focused()
    assert active_id(page) == "scan-code", f"scan box not focused on {page.url}"
    expect(page.locator("#scan-code")).to_have_value("")
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def _unit_heading(page: Page, code: str) -> None:
    expect(page).to_have_url(re.compile(rf"/units/{re.escape(code)}$"))
    # The heading is "Dose unit <code>" followed by the status badge.
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(rf"^Dose unit {re.escape(code)}\s"))
    expect(page.locator("#unit-status")).to_have_text("quarantine")


def test_scan_unit_payload_and_bare_id_open_the_unit(page: Page, unit_lot: UnitLot):
    first, second, third = unit_lot.units[:3]
    login_as(page, ACCOUNTS["tech"])
    # The home page gives the scan box the focus: the scanner types straight into it.
    expect(page.locator("#scan-code")).to_be_focused()
    page.keyboard.type(f"LIMS:DU:{first}")
    page.keyboard.press("Enter")
    _unit_heading(page, first)
    expect(page.locator(".flash-error")).to_have_count(0)

    # The unit page leaves the focus in the header scan box, so the next scanned label opens its record.
    page.wait_for_load_state("load")
    expect(page.locator("#scan-code")).to_be_focused()
    _scan(page, second)  # a bare unit ID typed by hand
    _unit_heading(page, second)

    # Lower case from the batch page.
    page.goto(f"/batches/{unit_lot.lot}")
    _scan(page, third.lower())
    _unit_heading(page, third)


@pytest.mark.parametrize("start", ["home", "batch", "unit"])
def test_bad_scans_explain_and_stay_on_the_page(page: Page, unit_lot: UnitLot, start: str):
    login_as(page, ACCOUNTS["tech"])
    url = {"home": "/", "batch": f"/batches/{unit_lot.lot}", "unit": f"/units/{unit_lot.units[0]}"}[start]
    page.goto(url)
    here = page.url
    heading = page.get_by_role("heading", level=1).inner_text()
    cases = [
        ("LIMS:DU:FMT-2026@@", "The code LIMS:DU:FMT-2026@@ is not a valid LIMS code."),
        ("LIMS:ZZ:123", "The code LIMS:ZZ:123 is of a type this system does not know."),
        (f"LIMS:DU:{UNKNOWN_UNIT}", f"Unknown code: LIMS:DU:{UNKNOWN_UNIT}. No record has this ID."),
    ]
    for code, message in cases:
        _scan(page, code)
        expect(page.get_by_role("alert")).to_have_text(message)
        expect(page).to_have_url(here)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.locator(".flash-error")).to_have_count(1)
    if start == "unit":
        shot(page, "scan_error")


class _PrintCapture:
    """The answers to the browser's own POST /labels/print, kept while the browser still gets them.

    Debian's headless Chromium opens an inline PDF in its PDF viewer: the new tab's navigation response
    then only hands Playwright the viewer's HTML wrapper, not the document. Routing the request through
    Playwright (route.fetch, then fulfil with the same response) keeps the exact bytes the server sent.
    """

    def __init__(self, context):
        self.answers: list[dict] = []
        self.context = context
        context.route("**/labels/print", self._handle)

    def _handle(self, route):
        response = route.fetch(max_redirects=0)
        self.answers.append(
            {
                "status": response.status,
                "headers": response.headers,
                "body": response.body(),
                "form": route.request.post_data,
            }
        )
        route.fulfill(response=response)

    def close(self):
        self.context.unroute("**/labels/print", self._handle)


def _print(page: Page, capture: _PrintCapture, reason: str = "") -> Page:
    """Click Print in the unit page's print form; returns the new tab the form (target=_blank) opens."""
    form = page.locator("form.print-form")
    form.get_by_label("Reason for a reprint").fill(reason)
    before = len(capture.answers)
    with page.context.expect_page() as new_tab:
        form.get_by_role("button", name="Print").click()
    tab = new_tab.value
    tab.wait_for_load_state()
    assert len(capture.answers) == before + 1, "the print form's POST did not reach the server"
    return tab


def test_print_unit_label_pdf_qr_and_reprint_needs_reason(page: Page, unit_lot: UnitLot):
    unit = unit_lot.units[3]  # printed by no other test of this module
    login_as(page, ACCOUNTS["tech"])
    page.goto(f"/units/{unit}")
    _unit_heading(page, unit)
    form = page.locator("form.print-form")
    expect(form).to_have_attribute("target", "_blank")
    expect(form.locator(".print-title")).to_have_text("Label")
    stock, fmt = form.get_by_label("Label stock"), form.get_by_label("Format")
    expect(stock).to_have_value("tube_50x30")  # the quarantine default; chosen anyway, as a user would
    stock.select_option("tube_50x30")
    fmt.select_option("pdf")
    expect(stock).to_have_value("tube_50x30")
    expect(fmt).to_have_value("pdf")
    shot(page, "scan_unit_page")

    capture = _PrintCapture(page.context)
    try:
        # First print: the PDF opens in a new tab.
        tab = _print(page, capture)
        answer = capture.answers[-1]
        posted = parse_qs(answer["form"] or "", keep_blank_values=True)
        assert {k: v[0] for k, v in posted.items() if k != "csrf_token"} == {
            "kind": "DU",
            "code": unit,
            "layout": "tube_50x30",
            "format": "pdf",
            "reason": "",
        }
        assert posted["csrf_token"][0]  # the form's own token, from the unit page
        assert answer["status"] == 200, answer
        assert answer["headers"]["content-type"] == "application/pdf"
        assert answer["headers"]["content-disposition"] == f'inline; filename="{unit}-tube_50x30.pdf"'
        assert answer["headers"]["x-label-count"] == "1"
        assert answer["body"].startswith(b"%PDF-")
        assert decoded(answer["body"]) == [f"LIMS:DU:{unit}"]
        expect(tab).to_have_url(re.compile(r"/labels/print$"))
        tab.close()
        expect(page).to_have_url(re.compile(rf"/units/{unit}$"))  # the unit page stays as it was

        # Again without a reason: refused; the new tab lands back on the unit page with the reason.
        tab = _print(page, capture)
        assert capture.answers[-1]["status"] == 302
        expect(tab).to_have_url(re.compile(rf"/units/{unit}$"))
        expect(tab.get_by_role("alert")).to_have_text(REPRINT_REFUSED)
        expect(tab.get_by_role("heading", level=1)).to_have_text(re.compile(rf"^Dose unit {re.escape(unit)}\s"))
        shot(tab, "scan_reprint_refused")
        tab.close()

        # With a reason the reprint is printed, and the unit's history shows both prints.
        tab = _print(page, capture, reason="label smudged by condensation")
        answer = capture.answers[-1]
        assert answer["status"] == 200 and answer["headers"]["content-type"] == "application/pdf"
        assert decoded(answer["body"]) == [f"LIMS:DU:{unit}"]
        tab.close()
    finally:
        capture.close()
    page.reload()
    # The unit's history in words: one print, one reprint with its reason; the refused reprint left no row.
    history = page.locator("table.grid.compact tbody")

    def printed(text: str):
        return history.locator("tr", has=page.locator("td", has_text=re.compile(rf"^{re.escape(text)}$")))

    expect(printed("print on Tube / bag label 50 x 30 mm, PDF, 1 of 1")).to_have_count(1)
    expect(printed("reprint on Tube / bag label 50 x 30 mm, PDF, 1 of 1")).to_have_count(1)
    expect(printed("reprint on Tube / bag label 50 x 30 mm, PDF, 1 of 1")).to_contain_text(
        "label smudged by condensation"
    )
    expect(history.locator("tr", has_text="label printed")).to_have_count(2)
