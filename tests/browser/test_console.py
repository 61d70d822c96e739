"""The console check itself: it must see a CSP violation, or its silence proves nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from .conftest import ACCOUNTS
from .helpers import login_as, logout

pytestmark = pytest.mark.browser


def test_csp_header_and_violation_is_detected(page: Page, console_log):
    response = page.goto("/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp

    # An injected inline script and inline style are blocked and reported.
    page.evaluate("""() => {
        const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; document.body.appendChild(s);
        const st = document.createElement('style'); st.textContent = 'body { color: red }'; document.head.appendChild(st);
    }""")
    for _ in range(50):  # the violation events arrive asynchronously
        if sum("CSP violation" in e for e in console_log.errors) >= 2:
            break
        page.wait_for_timeout(100)
    assert page.evaluate("window.__inline === undefined")
    seen = list(console_log.errors)
    assert any("CSP violation: script-src" in e for e in seen), seen
    assert any("CSP violation: style-src" in e for e in seen), seen
    console_log.errors.clear()  # expected here; every other test must end with none


def test_pages_have_no_console_errors(page: Page, console_log):
    """Every main page as admin and as a technician, clean of console errors (checked by the page fixture too)."""
    login_as(page, ACCOUNTS["admin"])
    for path in ("/", "/equipment/", "/audit/", "/admin/users", "/admin/users/new", "/profile", "/password"):
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("load")
        # The stylesheet and script loaded (they would be blocked by a wrong CSP or a bad path).
        assert page.evaluate("getComputedStyle(document.querySelector('header.topbar')).display") == "flex", path
        assert not console_log.problems(), (path, console_log.problems())
    logout(page)
    login_as(page, ACCOUNTS["tech"])  # the registering forms are GMP work: the administrator has none
    for path in ("/", "/equipment/new"):
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("load")
        assert not console_log.problems(), (path, console_log.problems())
