"""Playwright fixtures: a live LIMS on a temp SQLite file and Debian's Chromium.

The server is the real app (CSRF on, CSP on) migrated with Alembic and served
by werkzeug in a daemon thread on 127.0.0.1. No browser is ever downloaded:
the tests drive /usr/bin/chromium. When it is missing the tests skip, or fail
when CI=true.

Every test gets a fresh browser context (own cookies) and a ``page`` whose
console errors, uncaught exceptions and CSP violations are collected and
asserted empty when the test ends.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from config import TestConfig
from lims import create_app
from lims.db import Actor, Database, transaction
from lims.migrate import upgrade

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CI = os.environ.get("CI", "").lower() == "true"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

PASSWORD = "Browser-Test-Pass-2026"


@dataclass(frozen=True)
class Account:
    username: str
    full_name: str
    roles: tuple[str, ...]
    password: str = PASSWORD


ACCOUNTS = {
    "admin": Account("admin", "Wang Jun", ("admin",)),
    "qa": Account("qa", "Li Na", ("qa",)),
    "tech": Account("tech", "Zhang Wei", ("technician",)),
    "tech2": Account("tech2", "Chen Jing", ("technician",)),
    "clin": Account("clin", "Dr. Liu Yang", ("clinician",)),
}


@dataclass
class LiveServer:
    url: str
    app: object
    accounts: dict = field(default_factory=dict)

    def ensure_equipment(self, code: str, name: str, by: str = "tech") -> int:
        """Register equipment directly (as ``by``) unless it exists; returns its id."""
        from lims.auth.operations import find_user
        from lims.equipment import operations as eq_ops

        with self.app.app_context():
            with transaction(Actor(None, "test setup"), write=False) as s:
                user = find_user(s, by)
                actor = Actor(user.id, user.full_name, "test setup")
            with transaction(actor) as s:
                eq = eq_ops.by_code(s, code)
                if eq is None:
                    eq = eq_ops.create(
                        s,
                        code,
                        {
                            "name": name,
                            "kind": "centrifuge",
                            "location": "GMP suite A",
                            "serial_number": "SN-" + code,
                            "status": "in_service",
                            "calibration_due": None,
                            "notes": None,
                        },
                    )
                return eq.id


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    from werkzeug.serving import make_server

    from lims.auth.operations import create_user
    from lims.donors.protocols import seed_default_protocol

    tmp = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{tmp / 'lims.sqlite'}"
    db = Database(url)
    upgrade(db)
    db.dispose()
    app = create_app(TestConfig, DATABASE_URL=url, BACKUP_DIR=str(tmp / "backups"))
    with app.app_context():
        with transaction(Actor(None, "test setup")) as s:
            for acc in ACCOUNTS.values():
                create_user(s, acc.username, acc.full_name, list(acc.roles), acc.password, "en", must_change=False)
            seed_default_protocol(s)  # the donor screening tests need an active protocol
    server = make_server("127.0.0.1", _free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="lims-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app, accounts=ACCOUNTS)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["lims_db"].dispose()


@pytest.fixture(scope="session")
def chromium_browser():
    if not os.path.exists(CHROMIUM):
        message = (
            f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium); browser tests cannot run"
        )
        if CI:
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class ConsoleLog:
    """Console errors, page errors and CSP violations seen by one page."""

    errors: list[str] = field(default_factory=list)
    # Document URLs that answered 4xx/5xx on purpose (error pages): Chromium logs
    # "Failed to load resource" for them, which is not a page fault.
    error_documents: set[str] = field(default_factory=set)
    failed_loads: list[tuple[str, str]] = field(default_factory=list)

    def problems(self) -> list[str]:
        out = list(self.errors)
        out += [f"{text} ({url})" for text, url in self.failed_loads if url not in self.error_documents]
        return out


CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', function (e) {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') +
                ' at ' + e.sourceFile + ':' + e.lineNumber);
});
"""


@pytest.fixture
def console_log():
    return ConsoleLog()


@pytest.fixture
def page(chromium_browser, live_server, console_log):
    context = chromium_browser.new_context(
        base_url=live_server.url, locale="en-US", viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(10_000)
    context.add_init_script(CSP_LISTENER)
    pg = context.new_page()

    def on_console(msg):
        if msg.type != "error":
            return
        if msg.text.startswith("Failed to load resource"):
            console_log.failed_loads.append((msg.text, (msg.location or {}).get("url", "")))
        else:
            console_log.errors.append(f"{msg.text} @ {(msg.location or {}).get('url', '')}")

    def on_response(resp):
        if resp.request.resource_type == "document" and resp.status >= 400:
            console_log.error_documents.add(resp.url)

    pg.on("console", on_console)
    pg.on("pageerror", lambda exc: console_log.errors.append(f"uncaught: {exc}"))
    pg.on("response", on_response)
    yield pg
    context.close()
    problems = console_log.problems()
    assert not problems, "console errors / CSP violations:\n" + "\n".join(problems)


@pytest.fixture(scope="session")
def screenshot_dir():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
