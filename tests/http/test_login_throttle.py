"""The sign-in throttle over HTTP: growing delays per account name and per address, never a lock.

compliance.md "login rate-limited"; OWASP ASVS 2.2.1 (anti-automation without
letting a stranger lock an account). Defaults: 5 free failures per name, 20
per address, then 30 s doubled per further failure up to 15 min, counted
from the login_attempt table (so every worker and server agrees).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import func, select

from config import TestConfig
from lims import create_app
from lims.audit.models import AuditEntry
from lims.auth.models import LoginAttempt, UserSession
from lims.db import Actor, transaction
from tests.conftest import PASSWORD, Browser, audit_rows, user_row
from tests.conftest import page_text as text

NEUTRAL = "Invalid user name or password, or the account is locked or deactivated."
WRONG = "wrong-password-123"


def login(b: Browser, username, password=PASSWORD, addr="127.0.0.1", **kw):
    return b.post(
        "/login",
        {"username": username, "password": password},
        token_from="/login",
        environ_base={"REMOTE_ADDR": addr},
        **kw,
    )


def alert(resp) -> str:
    return text(resp).split('role="alert">')[1].split("</div>")[0].strip()


def attempts() -> int:
    with transaction(Actor(None, "test"), write=False) as s:
        return s.exec(select(func.count()).select_from(LoginAttempt)).one()


def audit_count() -> int:
    with transaction(Actor(None, "test"), write=False) as s:
        return s.exec(select(func.count()).select_from(AuditEntry)).one()


def sessions_of(uid) -> int:
    with transaction(Actor(None, "test"), write=False) as s:
        return s.exec(select(func.count()).select_from(UserSession).where(UserSession.user_id == uid)).one()


def throttled(resp, wait: str) -> bool:
    return (
        resp.status_code == 200
        and alert(resp) == f"{NEUTRAL} Too many failed sign-ins: wait {wait} before trying again."
    )


def fail(b, username, n, addr="127.0.0.1"):
    for i in range(n):
        r = login(b, username, WRONG, addr=addr)
        assert alert(r) == NEUTRAL, (i, alert(r))


# --- per account name -------------------------------------------------------------------


def test_five_failures_are_free_and_the_right_password_still_works(app, make_user, browser):
    uid = make_user("alice")
    fail(browser, "alice", 5)
    r = login(browser, "alice")
    assert r.status_code == 302
    assert sessions_of(uid) == 1 and user_row(uid).locked_at is None


def test_the_sixth_failure_makes_the_next_try_wait_30_seconds(app, make_user, browser, clock):
    uid = make_user("alice")
    fail(browser, "alice", 6)
    r = login(browser, "alice")  # the right password, but the name must wait: it is not even checked
    assert throttled(r, "30 seconds"), alert(r)
    assert sessions_of(uid) == 0
    clock.advance(seconds=29)
    assert throttled(login(browser, "alice"), "1 seconds")
    clock.advance(seconds=1)
    assert login(browser, "alice").status_code == 302
    assert user_row(uid).locked_at is None and user_row(uid).failed_attempts == 0


def test_each_further_failure_doubles_the_wait_up_to_the_cap(app, make_user, browser, clock):
    make_user("alice")
    fail(browser, "alice", 6)
    waits = []
    for _ in range(6):  # failures 7..12, each tried as soon as allowed
        r = login(browser, "alice", WRONG)
        seconds = int(alert(r).split("wait ")[1].split(" ")[0]) if "wait" in alert(r) else None
        assert seconds is not None
        unit = alert(r).split("wait ")[1].split(" ")[1]
        waits.append(seconds * (60 if unit == "minutes" else 1))
        clock.advance(seconds=waits[-1])
        r = login(browser, "alice", WRONG)
        assert alert(r) == NEUTRAL
    assert waits == [30, 60, 120, 240, 480, 900]
    assert throttled(login(browser, "alice"), "15 minutes")  # 960 s would follow: capped at 900


def test_an_unknown_name_is_throttled_exactly_like_an_existing_one(app, make_user, clock):
    make_user("alice")
    real, ghost = Browser(app.test_client()), Browser(app.test_client())
    seen = {}
    for b, name, addr in ((real, "alice", "10.0.0.1"), (ghost, "nobody", "10.0.0.2")):
        answers = [alert(login(b, name, WRONG, addr=addr)) for _ in range(7)]
        clock.advance(seconds=59)
        answers.append(alert(login(b, name, WRONG, addr=addr)))
        clock.advance(seconds=1)
        answers.append(alert(login(b, name, WRONG, addr=addr)))
        seen[name] = answers
        clock.advance(hours=25)  # the window forgets these failures before the next name is tried
    assert seen["alice"] == seen["nobody"]
    assert seen["alice"][:6] == [NEUTRAL] * 6 and "wait 30 seconds" in seen["alice"][6]


def test_the_name_is_counted_as_typed_case_and_spaces_aside(app, make_user, browser):
    make_user("alice")
    for name in ("alice", "ALICE", " Alice ", "aLiCe", "alice ", "Alice"):
        login(browser, name, WRONG)
    assert throttled(login(browser, "alice"), "30 seconds")


def test_a_throttled_name_does_not_delay_another_name_from_the_same_desk(app, make_user, browser):
    make_user("alice")
    bob = make_user("bob")
    fail(browser, "alice", 6)
    assert throttled(login(browser, "alice"), "30 seconds")
    assert login(browser, "bob").status_code == 302
    assert sessions_of(bob) == 1


def test_the_owner_is_delayed_not_locked_when_a_stranger_guesses(app, make_user, clock):
    """From another desk the owner waits like the stranger, at most the cap; nothing for an admin to unlock."""
    uid = make_user("alice")
    stranger, owner = Browser(app.test_client()), Browser(app.test_client())
    fail(stranger, "alice", 6, addr="10.6.6.6")
    assert throttled(login(owner, "alice", addr="10.1.1.1"), "30 seconds")
    clock.advance(seconds=30)
    assert login(owner, "alice", addr="10.1.1.1").status_code == 302
    assert user_row(uid).locked_at is None


def test_a_successful_sign_in_starts_the_names_count_again(app, make_user, browser, clock):
    make_user("alice")
    fail(browser, "alice", 5)
    assert login(browser, "alice").status_code == 302
    browser.logout()
    clock.advance(seconds=1)
    fail(browser, "alice", 5)  # five more free ones: the failures before the success no longer count
    assert login(browser, "alice").status_code == 302


def test_failures_older_than_the_window_are_forgotten(app, make_user, browser, clock):
    app.config.update(LOGIN_FIRST_DELAY_SECONDS=10**6, LOGIN_MAX_DELAY_SECONDS=10**6)  # a wait longer than the window
    make_user("alice")
    fail(browser, "alice", 6)
    clock.advance(hours=24, seconds=-1)
    assert "Too many failed sign-ins" in alert(login(browser, "alice"))
    clock.advance(seconds=1)
    assert login(browser, "alice").status_code == 302


def test_a_throttled_attempt_is_audited_but_stores_no_failure(app, make_user, browser):
    uid = make_user("alice")
    fail(browser, "alice", 6)
    before_attempts, before_audit = attempts(), audit_count()
    r = login(browser, "alice", WRONG)
    assert throttled(r, "30 seconds")
    assert attempts() == before_attempts  # retrying while told to wait does not make the wait longer
    assert audit_count() == before_audit + 1
    row = audit_rows(app, action="login_failed")[-1]
    assert row.reason == "throttled: 30 s to wait (account alice)" and row.record_id == str(uid)
    assert user_row(uid).failed_attempts == 0 and user_row(uid).version == 1


def test_throttle_settings_come_from_the_environment(monkeypatch, database_url, tmp_path):
    for name, value in (
        ("LOGIN_FREE_FAILURES_PER_ACCOUNT", "3"),
        ("LOGIN_FREE_FAILURES_PER_ADDRESS", "9"),
        ("LOGIN_FIRST_DELAY_SECONDS", "5"),
        ("LOGIN_MAX_DELAY_SECONDS", "60"),
        ("LOGIN_THROTTLE_WINDOW_HOURS", "2"),
    ):
        monkeypatch.setenv(f"LIMS_{name}", value)
    a = create_app(TestConfig, DATABASE_URL=database_url, BACKUP_DIR=str(tmp_path / "t"))
    try:
        assert (
            a.config["LOGIN_FREE_FAILURES_PER_ACCOUNT"],
            a.config["LOGIN_FREE_FAILURES_PER_ADDRESS"],
            a.config["LOGIN_FIRST_DELAY_SECONDS"],
            a.config["LOGIN_MAX_DELAY_SECONDS"],
            a.config["LOGIN_THROTTLE_WINDOW_HOURS"],
        ) == (3, 9, 5, 60, 2)
    finally:
        a.extensions["lims_db"].dispose()


def test_app_config_changes_the_free_failures_and_the_first_delay(app, make_user, browser):
    app.config.update(LOGIN_FREE_FAILURES_PER_ACCOUNT=2, LOGIN_FIRST_DELAY_SECONDS=300)
    make_user("alice")
    fail(browser, "alice", 2)
    assert login(browser, "nobody-else", WRONG).status_code == 200  # other names unaffected
    fail(browser, "alice", 1)
    assert throttled(login(browser, "alice"), "5 minutes")


# --- per source address -----------------------------------------------------------------------


def test_twenty_failures_from_one_address_are_free_the_21st_makes_it_wait(app, make_user, browser, clock):
    uid = make_user("alice")
    for i in range(20):  # a different name each time: the per-name count never triggers
        assert alert(login(browser, f"ghost{i}", WRONG)) == NEUTRAL
    assert login(browser, "alice").status_code == 302  # 20 failures: still free
    browser.logout()
    assert alert(login(browser, "ghost20", WRONG)) == NEUTRAL  # the 21st
    r = login(browser, "alice")
    assert throttled(r, "30 seconds")
    assert sessions_of(uid) == 1  # only the first sign-in
    row = audit_rows(app, action="login_failed")[-1]
    assert row.reason == "throttled: 30 s to wait (address 127.0.0.1)"
    # another workstation is not affected
    assert login(Browser(app.test_client()), "alice", addr="10.0.0.7").status_code == 302
    clock.advance(seconds=30)
    assert login(browser, "alice").status_code == 302


def test_a_success_from_the_address_does_not_reset_its_count(app, make_user, browser):
    make_user("mine")
    for i in range(21):
        login(browser, f"ghost{i}", WRONG)
        if i == 10:
            assert login(browser, "mine").status_code == 302  # one's own account does not buy more guesses
            browser.logout()
    assert throttled(login(browser, "ghost99", WRONG), "30 seconds")


def test_spoofed_forwarded_for_does_not_escape_the_address_throttle(app, make_user, browser):
    """Without PROXY_FIX the client address is the socket's, so X-Forwarded-For cannot reset the count."""
    app.config["LOGIN_FREE_FAILURES_PER_ADDRESS"] = 2
    uid = make_user("alice")
    for i in range(3):
        login(browser, f"ghost{i}", WRONG, headers={"X-Forwarded-For": f"203.0.113.{i}"})
    r = login(browser, "alice", headers={"X-Forwarded-For": "203.0.113.99"})
    assert throttled(r, "30 seconds")
    assert sessions_of(uid) == 0
    with transaction(Actor(None, "test"), write=False) as s:
        assert {a.client for a in s.exec(select(LoginAttempt)).all()} == {"127.0.0.1"}


# --- bad input never gives a 500 and stores nothing but the failure ---------------------------


@pytest.mark.parametrize("name", ["x" * 64, "名字", "a'; DROP TABLE app_user; --", "%", "_"])
def test_odd_names_are_throttled_like_any_other(app, browser, name):
    for _ in range(6):
        r = login(browser, name, WRONG)
        assert r.status_code == 200 and alert(r) == NEUTRAL
    assert throttled(login(browser, name, WRONG), "30 seconds")
    assert attempts() == 6


def test_a_too_long_name_is_refused_by_the_form_and_stores_nothing(app, browser):
    before = audit_count()
    r = login(browser, "x" * 65, WRONG)
    assert r.status_code == 400
    assert attempts() == 0 and audit_count() == before


def test_like_wildcards_in_a_name_do_not_match_other_names(app, make_user, browser):
    make_user("alice")
    fail(browser, "%", 6)
    fail(browser, "_lice", 6)
    assert login(browser, "alice", addr="10.0.0.3").status_code == 302


def test_clock_before_the_latest_failure_still_waits(app, make_user, browser, clock):
    """A failure stamped after 'now' (clock stepped back) must not give a negative or free wait."""
    make_user("alice")
    fail(browser, "alice", 6)
    clock.set(clock.now() - timedelta(seconds=10))
    r = login(browser, "alice")
    assert throttled(r, "40 seconds")
