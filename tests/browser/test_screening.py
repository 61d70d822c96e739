"""Donor screening in the browser: register, enter a full panel from the keyboard, verify, sign the decision.

The result entry uses no mouse at all: the sample date is typed into the date
field, Tab moves value -> next value (the comment inputs are out of the tab
order), a letter picks an option in a list (n = negative / no, p = positive),
and Enter saves. The signatures are the password typed and Enter.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from lims.clock import utcnow
from lims.donors.protocols import DEFAULT_FILE, PANEL_KINDS
from lims.timefmt import to_lab

from .conftest import ACCOUNTS
from .helpers import active_id, login_as, logout, shot

pytestmark = pytest.mark.browser

# The screening panel (the donation-day questions of the protocol are asked at donations, not here).
ITEMS = [i for i in json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))["items"] if i["kind"] in PANEL_KINDS]
POSITIVE = "S_ESBL"


def _lab_today(live_server) -> date:
    """The server's "today" (lab time zone), which bounds sample and measurement dates."""
    with live_server.app.app_context():
        return to_lab(utcnow()).date()


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _date_keys(day: date) -> str:
    """What a user types into Chromium's en-US date field: mm, dd, yyyy (each segment advances)."""
    return day.strftime("%m%d%Y")


def _keys_for(item: dict) -> str:
    """A normal value for the item, as typed: a letter for a list, a mid-range number otherwise."""
    if item["result_type"] == "qualitative":
        return "p" if item["code"] == POSITIVE else "n"
    if item["result_type"] == "yes_no":
        return "n"
    lo = float(item["normal_min"] or 0)
    hi = float(item["normal_max"])
    return f"{(lo + hi) / 2:.1f}"


def _expected_value(item: dict) -> str:
    keys = _keys_for(item)
    return {"n": "negative" if item["result_type"] == "qualitative" else "no", "p": "positive"}.get(keys, keys)


def _press_tab(page: Page, expected_id: str) -> None:
    page.keyboard.press("Tab")
    assert active_id(page) == expected_id, f"Tab went to {active_id(page)!r}, expected {expected_id!r}"


def _tab_out_of_date(page: Page, date_id: str, expected_id: str) -> None:
    """Tab from a typed date to the next field. Chromium's date field has one more tab stop after the
    year: the calendar button (still the date input as document.activeElement), so it takes two Tabs."""
    page.keyboard.press("Tab")
    if active_id(page) == date_id:
        page.keyboard.press("Tab")
    assert active_id(page) == expected_id, f"Tab went to {active_id(page)!r}, expected {expected_id!r}"


def _register_donor_from_keyboard(page: Page, today: date, national_id: str, full_name: str) -> None:
    """Donors -> Register donor, the form filled from the keyboard (focus ends in the last field)."""
    page.locator("nav.mainnav").get_by_role("link", name="Donors").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Donors")
    page.locator("main").get_by_role("link", name="Register donor").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Register donor")

    assert active_id(page) == "sex", "the first field of the form has the focus"
    page.keyboard.type("m")
    expect(page.locator("#sex")).to_have_value("male")
    _press_tab(page, "date_of_birth")
    dob = _years_before(today, 22) - timedelta(days=40)  # 22 years old: within 18-30
    page.keyboard.type(_date_keys(dob))
    _tab_out_of_date(page, "date_of_birth", "height_cm")
    page.keyboard.type("178")
    _press_tab(page, "weight_kg")
    page.keyboard.type("68.5")
    _press_tab(page, "measured_on")
    page.keyboard.type(_date_keys(today - timedelta(days=3)))
    _tab_out_of_date(page, "measured_on", "notes")
    page.keyboard.type("university student")
    _press_tab(page, "full_name")
    page.keyboard.type(full_name)
    _press_tab(page, "national_id")
    page.keyboard.type(national_id)
    _press_tab(page, "phone")
    page.keyboard.type("138 0000 0000")
    expect(page.locator("#date_of_birth")).to_have_value(dob.isoformat())
    expect(page.locator("#measured_on")).to_have_value((today - timedelta(days=3)).isoformat())


def test_screening_entered_from_the_keyboard(page: Page, live_server):
    clin, tech2 = ACCOUNTS["clin"], ACCOUNTS["tech2"]
    today = _lab_today(live_server)
    sample = today - timedelta(days=3)
    esbl = next(i for i in ITEMS if i["code"] == POSITIVE)
    until = sample + timedelta(days=esbl["defer_days"])
    assert len(ITEMS) == 49

    # A clinician registers the candidate from the keyboard; Enter in the last field registers.
    login_as(page, clin)
    _register_donor_from_keyboard(page, today, "11010520040314123X", "Wang Xiaoming")
    shot(page, "20-donor-new")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/donors/D-\d{4,}$"))
    code = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("status")).to_have_text(f"Donor {code} registered as a candidate.")
    expect(page.locator("h1 .badge")).to_have_text("candidate")
    expect(page.locator("dl.facts").first).to_contain_text("21.6 kg/m²")
    expect(page.locator("section.restricted dl.facts")).to_contain_text("Wang Xiaoming")
    expect(page.locator("main")).to_contain_text("49 items of the screening panel have no valid result yet")

    page.get_by_role("button", name="Start screening").click()
    expect(page).to_have_url(re.compile(r"/screenings/\d+$"))
    screening_url = page.url
    expect(page.get_by_role("status")).to_contain_text(f"started for {code}")
    expect(page.locator(".decision-card .outcome")).to_have_text("incomplete")

    # Result entry, keyboard only. The tab order is proved field by field before the loop ...
    page.locator("#panel-sample_date").focus()
    assert active_id(page) == "panel-sample_date"
    page.keyboard.type(_date_keys(sample))
    expect(page.locator("#panel-sample_date")).to_have_value(sample.isoformat())
    _tab_out_of_date(page, "panel-sample_date", "panel-method")
    page.keyboard.type("hospital laboratory")
    _press_tab(page, "panel-reason")  # only for corrections: left empty
    first = ITEMS[:3]
    for item in first:
        _press_tab(page, f"v_{item['code']}")  # value -> next value: the comment input is skipped
        page.keyboard.type(_keys_for(item))
        expect(page.locator(f"#v_{item['code']}")).to_have_value(_expected_value(item))
    # ... then the rest of the panel goes in the same way.
    for item in ITEMS[3:]:
        page.keyboard.press("Tab")
        assert active_id(page) == f"v_{item['code']}", f"Tab went to {active_id(page)!r} instead of {item['code']}"
        page.keyboard.type(_keys_for(item))
    typed = page.evaluate("""() => Object.fromEntries(
        [...document.querySelectorAll('[name^="v_"]')].map(el => [el.name.slice(2), el.value]))""")
    assert typed == {i["code"]: _expected_value(i) for i in ITEMS}
    assert page.evaluate("""() => [...document.querySelectorAll('[name^="c_"]')].every(
        el => el.tabIndex === -1 && el.value === '')""")
    shot(page, "21-screening-entry")
    page.keyboard.press("Enter")  # focus is on the last list (S_MRSA): Enter saves

    expect(page).to_have_url(screening_url)
    expect(page.get_by_role("status")).to_have_text("49 results saved; a second person must verify them.")
    expect(page.get_by_role("heading", name="49 results wait for verification by a second person")).to_be_visible()
    expect(page.locator(".decision-card .outcome")).to_have_text("incomplete")
    esbl_row = page.locator("table.entry-table tr", has=page.locator(f"label[for='v_{POSITIVE}']"))
    expect(esbl_row).to_contain_text(f"positive {sample.isoformat()}")
    expect(esbl_row.locator(".badge")).to_have_text("not verified")
    logout(page)

    # A second person verifies: the password and Enter.
    login_as(page, tech2)
    page.goto(screening_url)
    verify_form = page.locator("form.signature")
    expect(verify_form).to_have_count(1)  # a technician does not approve decisions
    expect(verify_form.locator("legend")).to_have_text("Electronic signature: verified")
    expect(verify_form).to_contain_text(f"Signer: {tech2.full_name} ({tech2.username})")
    page.locator("#verify-password").focus()
    page.keyboard.type(tech2.password)
    page.keyboard.press("Enter")
    expect(page).to_have_url(screening_url)
    expect(page.get_by_role("status")).to_have_text("49 results verified; your signature is recorded.")
    expect(page.locator("table.entry-table .badge.ok")).to_have_count(49)
    logout(page)

    # The clinician reads the decision and its reasons, then signs it.
    login_as(page, clin)
    page.goto(screening_url)
    outcome = page.locator(".decision-card .outcome")
    expect(outcome).to_have_text(f"temporarily deferred · until {until.isoformat()}")
    esbl_reason = f"{esbl['name']}: positive on {sample.isoformat()} defers the donor until {until.isoformat()}."
    reasons = page.locator("#decision-reasons")
    esbl_li = reasons.locator(f"li[data-rule='item:{POSITIVE}']")
    expect(esbl_li).to_have_text(esbl_reason)
    expect(esbl_li).to_have_class("effect-deferred")
    expect(reasons.locator("li.effect-deferred, li.effect-excluded, li.effect-missing")).to_have_count(1)
    decide_form = page.locator(".decision-card form.signature")
    expect(decide_form.locator("legend")).to_have_text("Electronic signature: approved")
    expect(decide_form.locator(".statement")).to_contain_text(
        f'I approve the eligibility decision "temporarily deferred" for donor {code} under protocol CN-WMT v1'
    )
    shot(page, "22-screening-decision")
    page.locator("#decide-password").focus()
    page.keyboard.type(clin.password)
    page.keyboard.press("Enter")

    # The donor page: the status badge, the signed decision with its reasons on the timeline.
    expect(page).to_have_url(re.compile(rf"/donors/{code}$"))
    expect(page.get_by_role("status")).to_have_text(f"Decision approved: {code} is temporarily deferred.")
    expect(page.locator("h1 .badge.status-deferred")).to_have_text(f"temporarily deferred · until {until.isoformat()}")
    decision_row = page.locator("table.timeline tr.decision-row")
    expect(decision_row).to_have_count(1)
    expect(decision_row).to_contain_text(f"Decision: temporarily deferred · until {until.isoformat()}")
    expect(decision_row).to_contain_text("CN-WMT v1")
    expect(decision_row.locator("li.effect-deferred")).to_have_text(esbl_reason)
    expect(decision_row).to_contain_text(f"Approved by {clin.full_name} at")
    expect(decision_row.locator(".badge")).to_have_text("valid")
    timeline = page.locator("table.timeline")
    sc_id = screening_url.rsplit("/", 1)[1]
    sc_row = timeline.locator("tr", has=page.get_by_role("link", name=f"Screening #{sc_id}", exact=True))
    expect(sc_row).to_contain_text("decided")
    expect(decision_row).to_contain_text(f"screening #{sc_id}")
    expect(timeline).to_contain_text("Registered as a candidate")
    expect(page.get_by_role("button", name="Start screening")).to_be_visible()  # a deferred donor may be re-screened
    shot(page, "23-donor-page")


def test_scan_box_opens_a_donor(page: Page, live_server):
    today = _lab_today(live_server)
    login_as(page, ACCOUNTS["clin"])
    _register_donor_from_keyboard(page, today, "11010520040521002X", "Zhao Lei")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/donors/D-\d{4,}$"))
    code = page.url.rsplit("/", 1)[1]

    page.goto("/")
    assert active_id(page) == "scan-code"
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/donors/{code}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Donor {code}")
    expect(page.get_by_role("heading", level=1).locator(".badge")).to_have_text("candidate")

    # A typed lower-case code and a label's QR payload open it too, from any page.
    page.goto("/equipment/")
    assert active_id(page) == "scan-code"
    page.keyboard.type(code.lower())
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/donors/{code}$"))
    page.goto("/donors/")
    assert active_id(page) == "scan-code"
    page.keyboard.type(f"LIMS:DO:{code}")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/donors/{code}$"))
