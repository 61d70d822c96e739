"""Equipment in the browser: register, QA e-signature, four-eyes, invalidation by an edit, form errors."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import ACCOUNTS
from .helpers import login_as, logout, open_equipment, shot

pytestmark = pytest.mark.browser

CODE = "EQ-CEN-09"
QA_OWN_CODE = "EQ-CEN-10"


def _register(
    page: Page,
    code: str,
    name: str,
    *,
    kind="centrifuge",
    location="GMP suite A, room 2",
    serial="CF-09-2231",
    due="2030-06-30",
) -> None:
    page.locator("nav.mainnav").get_by_role("link", name="Equipment").click()
    page.locator("main").get_by_role("link", name="Register equipment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Register equipment")
    page.locator("main").get_by_label("Equipment code").fill(code)
    page.locator("main").get_by_label("Name", exact=True).fill(name)
    page.locator("main").get_by_label("Type").select_option(kind)
    page.locator("main").get_by_label("Location").fill(location)
    page.locator("main").get_by_label("Serial number").fill(serial)
    page.locator("main").get_by_label("Status").select_option("in_service")
    page.locator("main").get_by_label("Calibration due").fill(due)
    page.get_by_role("button", name="Register").click()


def _sign(page: Page, password: str, comment: str = "") -> None:
    form = page.locator("form.signature")
    form.get_by_label("Your password").fill(password)
    if comment:
        form.get_by_label("Comment").fill(comment)
    form.get_by_role("button", name="Sign").click()


def test_qa_signature_four_eyes_and_invalidation(page: Page):
    tech, qa, tech2 = ACCOUNTS["tech"], ACCOUNTS["qa"], ACCOUNTS["tech2"]

    # A technician registers the centrifuge; it is not usable until QA approves.
    login_as(page, tech)
    _register(page, CODE, "Benchtop refrigerated centrifuge")
    expect(page).to_have_url(re.compile(r"/equipment/\d+$"))
    expect(page.get_by_role("status")).to_have_text(f"Equipment {CODE} registered.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(CODE)
    expect(page.locator(".status-line")).to_contain_text("Not usable for GMP work")
    expect(page.locator(".status-line")).to_contain_text("Not approved by QA")
    expect(page.locator("form.signature")).to_have_count(0)  # only QA signs
    logout(page)

    # QA opens it. A wrong password is refused and nothing is signed.
    login_as(page, qa)
    open_equipment(page, CODE)
    detail_url = page.url
    sig_form = page.locator("form.signature")
    expect(sig_form.locator("legend")).to_have_text("Electronic signature: approved")
    expect(sig_form).to_contain_text(f"Signer: {qa.full_name} ({qa.username})")
    expect(sig_form.locator(".statement")).to_contain_text("version 1")
    _sign(page, "Not-My-Password-77", "should not be stored")
    expect(page.get_by_role("alert")).to_contain_text("Signature refused: the password is not correct.")
    expect(page.get_by_text("No signatures yet.")).to_be_visible()
    expect(page.locator(".status-line")).to_contain_text("Not approved by QA")
    shot(page, "10-equipment-signature-refused")
    page.goto(detail_url)
    expect(page.get_by_text("No signatures yet.")).to_be_visible()

    # The right password signs; the signature is valid and the device usable.
    _sign(page, qa.password, "IQ/OQ documents reviewed")
    expect(page).to_have_url(detail_url)
    expect(page.get_by_role("status")).to_contain_text(f"Equipment {CODE} approved for GMP use")
    sig_rows = page.locator("table.grid tr.sig-valid, table.grid tr.sig-invalid")
    expect(sig_rows).to_have_count(1)
    expect(sig_rows.first).to_have_class(re.compile(r"\bsig-valid\b"))
    expect(sig_rows.first).to_contain_text("approved")
    expect(sig_rows.first).to_contain_text(qa.full_name)
    expect(sig_rows.first).to_contain_text("IQ/OQ documents reviewed")
    expect(sig_rows.first.locator(".badge")).to_have_text("valid")
    expect(page.locator(".status-line")).to_contain_text("Usable for GMP work")

    # The failed attempt is on the audit trail (QA can read it).
    page.goto("/audit/?action=signature_failed")
    expect(page.locator("table.grid tbody tr").filter(has_text=qa.username).first).to_be_visible()

    # Four-eyes: QA registers a device and may not approve it.
    _register(page, QA_OWN_CODE, "Second centrifuge", serial="CF-10-0001")
    expect(page.get_by_role("status")).to_have_text(f"Equipment {QA_OWN_CODE} registered.")
    _sign(page, qa.password)
    expect(page.get_by_role("alert")).to_contain_text("Four-eyes rule")
    expect(page.get_by_role("alert")).to_contain_text("another person must sign it as approved")
    expect(page.get_by_text("No signatures yet.")).to_be_visible()
    logout(page)

    # Another technician moves the centrifuge: a reason is required, then the approval reads as invalid.
    login_as(page, tech2)
    open_equipment(page, CODE)
    edit = page.locator("form", has=page.get_by_role("button", name="Save changes"))
    edit.get_by_label("Location").fill("GMP suite A, room 3")
    reason = edit.get_by_label("Reason for change")
    expect(reason).to_have_attribute("required", "")
    edit.get_by_role("button", name="Save changes").click()  # the browser refuses the empty reason
    assert reason.evaluate("el => el.validity.valueMissing")
    expect(page).to_have_url(detail_url)
    expect(page.locator(".flash")).to_have_count(0)
    # Without the browser check the server refuses it too, and keeps what was typed.
    reason.evaluate("el => el.removeAttribute('required')")
    edit.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("alert")).to_have_text("Correct the marked fields.")
    expect(page.locator(".field-error")).to_have_text("A reason is required to change an existing record.")
    edit = page.locator("form", has=page.get_by_role("button", name="Save changes"))
    expect(edit.get_by_label("Location")).to_have_value("GMP suite A, room 3")
    edit.get_by_label("Reason for change").fill("Moved to room 3 after the suite A renovation")
    edit.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(detail_url)
    expect(page.get_by_role("status")).to_have_text(f"Equipment {CODE} saved.")
    sig_row = page.locator("table.grid tr.sig-invalid")
    expect(sig_row).to_have_count(1)
    expect(sig_row.locator(".badge")).to_have_text("invalid")
    expect(sig_row).to_contain_text("record changed after signing (signed version 1, now 2)")
    expect(page.locator(".status-line")).to_contain_text("Not usable for GMP work")
    expect(page.locator(".status-line")).to_contain_text("QA approval invalid")
    history = page.locator("table.grid").last
    expect(history.locator("tr", has_text="location").first).to_contain_text("Moved to room 3")
    shot(page, "08-equipment-detail")

    page.get_by_role("link", name="All equipment").click()
    row = page.locator("table.grid tbody tr", has=page.get_by_role("link", name=CODE, exact=True))
    expect(row.locator(".badge")).to_have_text("approval invalid: changed after signing")
    own = page.locator("table.grid tbody tr", has=page.get_by_role("link", name=QA_OWN_CODE, exact=True))
    expect(own.locator(".badge")).to_have_text("not approved")
    shot(page, "07-equipment-list")


def test_validation_error_keeps_typed_input(page: Page):
    login_as(page, ACCOUNTS["tech"])
    page.goto("/equipment/new")
    page.locator("main").get_by_label("Equipment code").fill("x")
    page.locator("main").get_by_label("Name", exact=True).fill("Typed name must survive")
    page.locator("main").get_by_label("Type").select_option("freezer")
    page.locator("main").get_by_label("Location").fill("Storage room B")
    page.locator("main").get_by_label("Serial number").fill("ULT-80-4411")
    page.locator("main").get_by_label("Calibration due").fill("2031-01-15")
    page.locator("main").get_by_label("Notes").fill("Line one\nLine two")
    page.get_by_role("button", name="Register").click()

    expect(page.get_by_role("alert")).to_contain_text("Equipment codes are 3-40 capital letters, digits and dashes")
    expect(page.get_by_role("heading", level=1)).to_have_text("Register equipment")
    expect(page.locator("main").get_by_label("Equipment code")).to_have_value("x")
    expect(page.locator("main").get_by_label("Name", exact=True)).to_have_value("Typed name must survive")
    expect(page.locator("main").get_by_label("Type")).to_have_value("freezer")
    expect(page.locator("main").get_by_label("Location")).to_have_value("Storage room B")
    expect(page.locator("main").get_by_label("Serial number")).to_have_value("ULT-80-4411")
    expect(page.locator("main").get_by_label("Calibration due")).to_have_value("2031-01-15")
    expect(page.locator("main").get_by_label("Notes")).to_have_value("Line one\nLine two")
    shot(page, "11-register-validation-error")

    # Correcting only the code is enough; nothing was stored by the refused attempt.
    page.locator("main").get_by_label("Equipment code").fill("EQ-FRZ-07")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("status")).to_have_text("Equipment EQ-FRZ-07 registered.")
    expect(page.locator("dl.facts")).to_contain_text("Storage room B")
    page.goto("/equipment/")
    expect(page.get_by_role("link", name="X", exact=True)).to_have_count(0)
