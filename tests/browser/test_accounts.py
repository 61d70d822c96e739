"""A new technician's first day: created by the admin, forced to choose a password, audited."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import ACCOUNTS
from .helpers import login, login_as, logout, shot

pytestmark = pytest.mark.browser

NEW_USER = "tech.sun"
NEW_NAME = "Sun Li"
TEMP_PASSWORD = "Temporary-Pass-0417"
OWN_PASSWORD = "Sun-Chosen-Pass-9321"


def _audit_rows(page: Page, action: str, record: str):
    """Rows of the audit table with this action and record (entity + id)."""
    rows = page.locator("table.grid tbody tr")
    return rows.filter(has=page.locator("td:nth-child(4)", has_text=re.compile(rf"^{action}$"))).filter(
        has=page.locator("td:nth-child(5)", has_text=re.compile(rf"^{re.escape(record)}$"))
    )


def test_admin_creates_technician_who_must_change_password(page: Page):
    admin = ACCOUNTS["admin"]

    # The sign-in page (no header navigation or scan box before sign-in).
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#scan-code")).to_have_count(0)
    expect(page.get_by_label("User name", exact=True)).to_be_focused()
    shot(page, "01-login")

    login_as(page, admin)

    # Users -> New user
    page.locator("nav.mainnav").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")
    page.get_by_role("link", name="New user").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New user")
    page.get_by_label("User name", exact=True).fill(NEW_USER)
    page.get_by_label("Full name (printed on signatures)").fill(NEW_NAME)
    page.get_by_label("Technician", exact=True).check()
    page.get_by_label("Language").select_option("en")
    page.get_by_label("Temporary password (must be changed at first login)").fill(TEMP_PASSWORD)
    page.get_by_role("button", name="Create user").click()

    # The new user's page.
    expect(page).to_have_url(re.compile(r"/admin/users/\d+$"))
    user_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_role("status")).to_contain_text(f"User {NEW_USER} created")
    expect(page.get_by_role("heading", level=1)).to_contain_text(NEW_NAME)
    expect(page.locator("dl.facts")).to_contain_text("must change password")
    shot(page, "05-admin-user-detail")

    page.get_by_role("link", name="All users").click()
    row = page.locator("table.grid tbody tr", has=page.get_by_role("link", name=NEW_USER, exact=True))
    expect(row).to_contain_text(NEW_NAME)
    expect(row).to_contain_text("Technician")
    expect(row.locator(".badge")).to_have_text("must change password")
    shot(page, "04-admin-users")

    logout(page)

    # First sign-in with the temporary password: forced to /password.
    login(page, NEW_USER, TEMP_PASSWORD)
    expect(page).to_have_url(re.compile(r"/password$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Change password")
    expect(page.get_by_text("Choose your own password to continue")).to_be_visible()
    # Nothing else is reachable until the password is changed.
    page.goto("/equipment/")
    expect(page).to_have_url(re.compile(r"/password$"))
    shot(page, "03-change-password")

    page.get_by_label("Current password").fill(TEMP_PASSWORD)
    page.get_by_label("New password", exact=True).fill(OWN_PASSWORD)
    page.get_by_label("Repeat the new password").fill(OWN_PASSWORD)
    page.get_by_role("button", name="Change password").click()

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {NEW_NAME}")
    expect(page.get_by_role("status")).to_contain_text("Your password was changed.")
    # A technician sees no admin or audit navigation.
    nav = page.locator("nav.mainnav")
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    expect(nav.get_by_role("link", name="Audit trail")).to_have_count(0)
    shot(page, "02-home")
    logout(page)

    # The new password works, the temporary one no longer does.
    login(page, NEW_USER, TEMP_PASSWORD)
    expect(page.get_by_role("alert")).to_have_text(
        "Invalid user name or password, or the account is locked or deactivated."
    )
    login(page, NEW_USER, OWN_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {NEW_NAME}")
    logout(page)

    # The audit trail, as admin.
    login_as(page, admin)
    page.locator("nav.mainnav").get_by_role("link", name="Audit trail").click()
    expect(page).to_have_url(re.compile(r"/audit/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit trail")
    record = f"User account {NEW_NAME}"  # the trail names the account, not its database ID
    created = _audit_rows(page, "created", record)
    expect(created.first).to_be_visible()
    expect(created.filter(has_text="username")).to_contain_text(NEW_USER)
    expect(created.filter(has_text="username").locator("td:nth-child(3)")).to_have_text(admin.full_name)
    # The password hash is never shown.
    password = created.filter(has=page.locator("td:nth-child(7)", has_text=re.compile(r"^password$")))
    expect(password.locator("td:nth-child(9)")).to_have_text("********")
    # Logins of the new user (temporary and own password) and the admin's own sign-ins.
    expect(_audit_rows(page, "signed in", record)).to_have_count(2)
    expect(_audit_rows(page, "failed sign-in", record)).to_have_count(1)
    expect(_audit_rows(page, "signed out", record)).to_have_count(2)
    expect(_audit_rows(page, "changed", record).filter(has_text="must change password")).to_contain_text("no")
    expect(_audit_rows(page, "signed in", f"User account {admin.full_name}")).to_have_count(2)
    shot(page, "06-audit-trail")

    # The filter narrows the trail to this user's record.
    page.get_by_label("Record type").select_option("app_user")
    page.get_by_label("Record id").fill(str(user_id))
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.grid tbody tr")
    expect(rows.first).to_be_visible()
    for text in rows.locator("td:nth-child(5)").all_text_contents():
        assert text.strip() == record

    # The error page keeps the layout and a way back.
    page.goto("/equipment/99999")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Not found")
    expect(page.locator("main .message")).to_have_text("No such equipment.")
    expect(page.get_by_role("link", name="Back", exact=True)).to_be_visible()
    expect(page.locator("main").get_by_role("link", name="Home")).to_be_visible()
    shot(page, "09-error-page")


def test_admin_changes_roles_with_a_reason_and_sees_the_history(page: Page):
    """Segregation of duties on screen: admin + GMP role refused, a change with its reason listed under Role changes."""
    admin = ACCOUNTS["admin"]
    login_as(page, admin)
    page.goto("/admin/users/new")
    page.get_by_label("User name", exact=True).fill("zhou.min")
    page.get_by_label("Full name (printed on signatures)").fill("Zhou Min")
    page.get_by_label("Technician", exact=True).check()
    page.get_by_label("Temporary password (must be changed at first login)").fill("Temporary-Pass-0418")
    page.get_by_role("button", name="Create user").click()
    expect(page).to_have_url(re.compile(r"/admin/users/\d+$"))

    # Administrator next to Technician is refused with the reason, nothing saved.
    page.get_by_label("Administrator", exact=True).check()
    page.locator("#edit-reason").fill("also helps with accounts")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "The administrator role cannot be combined with technician, QA or clinician"
    )
    expect(page.locator("dl.facts")).to_contain_text("Technician")

    # QA officer added with a reason: listed under Role changes with who, old and new roles and the reason.
    page.get_by_label("Administrator", exact=True).uncheck()
    page.get_by_label("QA officer", exact=True).check()
    page.locator("#edit-reason").fill("trained as second-person verifier (training record TR-2026-031)")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("User zhou.min saved.")
    rows = page.locator("table.role-history tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td")).to_have_text(
        [
            re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"),
            admin.full_name,
            "Technician",
            "QA officer, Technician",
            "trained as second-person verifier (training record TR-2026-031)",
        ]
    )
    expect(rows.nth(1).locator("td")).to_have_text(
        [re.compile(r"^\d{4}"), admin.full_name, "(account created)", "Technician", ""]
    )
    page.locator("table.role-history").scroll_into_view_if_needed()
    shot(page, "10-admin-role-history")

    # On the admin's own page the roles are not for oneself.
    page.goto("/admin/users")
    page.get_by_role("link", name="admin", exact=True).click()
    expect(page.get_by_text("You cannot change your own roles; another administrator must.")).to_be_visible()
