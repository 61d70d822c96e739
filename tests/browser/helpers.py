"""Steps a person does in the browser: sign in, sign out, take a screenshot."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import SCREENSHOTS, Account


def login(page: Page, username: str, password: str) -> None:
    """Sign in through the form; the caller asserts where it lands."""
    page.goto("/login")
    page.get_by_label("User name", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def login_as(page: Page, acc: Account) -> None:
    login(page, acc.username, acc.password)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {acc.full_name}")


def logout(page: Page) -> None:
    page.locator("header").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("status")).to_contain_text("You are signed out.")


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def active_id(page: Page) -> str | None:
    return page.evaluate("document.activeElement ? document.activeElement.id : null")


def open_equipment(page: Page, code: str) -> None:
    """Equipment list -> the record's page."""
    page.locator("nav.mainnav").get_by_role("link", name="Equipment").click()
    expect(page).to_have_url(re.compile(r"/equipment/$"))
    page.get_by_role("link", name=code, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(code)
