"""Sign-in, lockout, sessions, idle timeout, logout and passwords over HTTP.

compliance.md "Accounts and sessions" and "Electronic signatures" (failures
count toward lockout). Each refused action checks the message shown AND that
the stored data (user row, sessions, audit rows) did not change.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlmodel import select

from config import TestConfig
from lims import create_app
from lims.auth.models import LoginAttempt, User, UserSession
from lims.auth.passwords import verify_password
from lims.db import Actor, transaction
from tests.conftest import PASSWORD, Browser, audit_rows, user_row
from tests.conftest import page_text as text

COOKIE = "lims_session"
NEW_PASSWORD = "Another-Long-Secret-42"
GENERIC = "Invalid user name or password."


# --- helpers ------------------------------------------------------------------

def session_rows(uid) -> list[UserSession]:
    with transaction(Actor(None, "test"), write=False) as s:
        return s.exec(select(UserSession).where(UserSession.user_id == uid).order_by(UserSession.created_at)).all()


def live_sessions(uid) -> list[UserSession]:
    return [r for r in session_rows(uid) if r.ended_at is None]


def login_attempts() -> list[LoginAttempt]:
    with transaction(Actor(None, "test"), write=False) as s:
        return s.exec(select(LoginAttempt)).all()


def user_audit(app, uid, **filters):
    return audit_rows(app, entity="app_user", record_id=str(uid), **filters)


def login(b: Browser, username, password=PASSWORD, next_=None, **kw):
    data = {"username": username, "password": password}
    if next_ is not None:
        data["next"] = next_
    return b.post("/login", data, token_from="/login", **kw)


def is_login_redirect(resp) -> bool:
    return resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/login"


def cookie_of(b: Browser) -> str:
    c = b.client.get_cookie(COOKIE)
    assert c is not None, "no session cookie"
    return c.value


def browser_with_cookie(app, value) -> Browser:
    b = Browser(app.test_client())
    b.client.set_cookie(COOKIE, value)
    return b


def signed_in(b: Browser) -> bool:
    r = b.get("/")
    if r.status_code == 200:
        return True
    assert is_login_redirect(r) or r.headers["Location"].endswith("/password"), r.status_code
    return False


def lock(b: Browser, username, n):
    for _ in range(n):
        r = login(b, username, "wrong-password-123")
        assert r.status_code == 200


# --- login ----------------------------------------------------------------------

def test_login_success_opens_a_server_side_session_and_is_audited(app, make_user, browser):
    uid = make_user("alice", ["technician"], name="Alice Example")
    r = login(browser, "alice")
    assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/"
    assert "Welcome, Alice Example" in text(browser.get("/"))
    rows = live_sessions(uid)
    assert len(rows) == 1
    # only the SHA-256 of the token is stored; the cookie is signed, not the session id itself
    assert len(rows[0].id) == 64 and rows[0].id not in cookie_of(browser)
    (entry,) = user_audit(app, uid, action="login")
    assert entry.user_id == uid and entry.user_name == "Alice Example"
    assert entry.client == "127.0.0.1"


def test_login_user_name_is_case_insensitive(app, make_user, browser):
    uid = make_user("alice")
    assert login(browser, "  ALICE ").status_code == 302
    assert len(live_sessions(uid)) == 1


def test_wrong_password_gives_generic_message_and_audit_row(app, make_user, browser):
    uid = make_user("alice")
    r = login(browser, "alice", "not-the-password-1")
    assert r.status_code == 200
    assert GENERIC in text(r)
    assert "locked" not in text(r)
    assert session_rows(uid) == []
    assert not signed_in(browser)
    (entry,) = user_audit(app, uid, action="login_failed")
    assert entry.new_value == "alice" and entry.reason == "wrong password"
    assert user_audit(app, uid, action="login") == []
    assert user_row(uid).failed_attempts == 1


def test_unknown_user_gets_the_same_generic_message(app, make_user, browser):
    make_user("alice")
    r_unknown = login(browser, "mallory", PASSWORD)
    r_wrong = login(browser, "alice", "not-the-password-1")
    assert GENERIC in text(r_unknown)
    # same error box for both: the page does not tell which of the two was wrong
    box = lambda r: text(r).split('role="alert">')[1].split("<")[0]  # noqa: E731
    assert box(r_unknown) == box(r_wrong) == GENERIC
    (entry,) = audit_rows(app, action="login_failed", new_value="mallory")
    assert entry.record_id is None and entry.reason == "unknown user name"
    with transaction(Actor(None, "test"), write=False) as s:
        assert s.exec(select(User).where(User.username == "mallory")).first() is None


def test_every_refused_login_costs_one_argon2_verification(app, make_user, browser, monkeypatch):
    """Unknown, deactivated and wrong-password logins do the same hashing work (no timing oracle for names)."""
    import lims.auth.operations as ops

    uid = make_user("alice")
    make_user("gone")
    with transaction(Actor(None, "test")) as s:
        from lims.audit.trail import change_reason

        u = s.exec(select(User).where(User.username == "gone")).one()
        with change_reason(s, "test: deactivated"):
            u.active = False
    login(browser, "warmup-unknown", "whatever-password")  # the dummy hash is built once per process
    calls = {"hash": 0, "verify": 0}
    real_hash, real_verify = ops.hash_password, ops.verify_password

    def counting_hash(p):
        calls["hash"] += 1
        return real_hash(p)

    def counting_verify(h, p):
        calls["verify"] += 1
        return real_verify(h, p)

    monkeypatch.setattr(ops, "hash_password", counting_hash)
    monkeypatch.setattr(ops, "verify_password", counting_verify)
    for name, pw in (("nobody", "whatever-password"), ("alice", "wrong-password-1"), ("gone", PASSWORD)):
        calls.update(hash=0, verify=0)
        r = login(browser, name, pw)
        assert GENERIC in text(r), name
        assert calls == {"hash": 0, "verify": 1}, (name, calls)
    assert session_rows(uid) == []


def test_login_form_without_fields_is_refused(app, make_user, browser):
    uid = make_user("alice")
    r = browser.post("/login", {"username": "", "password": ""}, token_from="/login")
    assert r.status_code == 400
    assert "This field is required." in text(r)
    assert session_rows(uid) == [] and user_row(uid).failed_attempts == 0


def test_password_hash_is_argon2id(app, make_user):
    uid = make_user("alice")
    stored = user_row(uid).password_hash
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + "x")
    assert not verify_password(PASSWORD, PASSWORD)  # a plain-text "hash" never verifies


# --- lockout --------------------------------------------------------------------

def test_four_failures_do_not_lock_and_the_right_password_still_works(app, make_user, browser):
    uid = make_user("alice")
    lock(browser, "alice", 4)
    u = user_row(uid)
    assert u.failed_attempts == 4 and u.locked_at is None
    assert user_audit(app, uid, action="lockout") == []
    assert login(browser, "alice").status_code == 302
    assert user_row(uid).failed_attempts == 0  # a success resets the counter


def test_fifth_failure_locks_the_account_and_is_audited(app, make_user, browser, clock):
    uid = make_user("alice")
    lock(browser, "alice", 4)
    r = login(browser, "alice", "wrong-password-123")
    assert "The account is now locked" in text(r)
    u = user_row(uid)
    assert u.failed_attempts == 5 and u.locked_at == clock.now()
    (entry,) = user_audit(app, uid, action="lockout")
    assert "5 failed" in entry.reason
    assert len(user_audit(app, uid, action="login_failed")) == 5


def test_locked_user_cannot_log_in_even_with_the_right_password(app, make_user, browser):
    uid = make_user("alice")
    lock(browser, "alice", 5)
    before = user_row(uid)
    r = login(browser, "alice", PASSWORD)
    assert r.status_code == 200
    assert "This account is locked" in text(r)
    assert session_rows(uid) == []
    assert not signed_in(browser)
    after = user_row(uid)
    assert after.locked_at == before.locked_at and after.failed_attempts == before.failed_attempts
    assert user_audit(app, uid, action="login") == []


def test_lockout_limit_comes_from_app_config(app, make_user, browser):
    app.config["LOCKOUT_ATTEMPTS"] = 3
    uid = make_user("alice")
    lock(browser, "alice", 2)
    assert user_row(uid).locked_at is None
    lock(browser, "alice", 1)
    assert user_row(uid).locked_at is not None
    assert len(user_audit(app, uid, action="lockout")) == 1


def test_lockout_limit_from_create_app_override(app, make_user, clock, database_url, tmp_path):
    app3 = create_app(TestConfig, DATABASE_URL=database_url, BACKUP_DIR=str(tmp_path / "b3"), LOCKOUT_ATTEMPTS=3)
    app3.extensions["clock"] = clock
    try:
        assert app3.config["LOCKOUT_ATTEMPTS"] == 3
        uid = make_user("alice")
        b = Browser(app3.test_client())
        lock(b, "alice", 2)
        assert user_row(uid).locked_at is None
        lock(b, "alice", 1)
        assert user_row(uid).locked_at is not None
        assert "This account is locked" in text(login(b, "alice"))
        assert app.config["LOCKOUT_ATTEMPTS"] == 5  # the override belongs to app3 only
    finally:
        app3.extensions["lims_db"].dispose()


def test_lockout_limit_from_environment(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("LIMS_LOCKOUT_ATTEMPTS", "4")
    a = create_app(TestConfig, DATABASE_URL=database_url, BACKUP_DIR=str(tmp_path / "b4"))
    assert a.config["LOCKOUT_ATTEMPTS"] == 4
    a.extensions["lims_db"].dispose()


def test_lockout_ends_existing_sessions_server_side(app, make_user, as_user):
    uid = make_user("alice")
    first = Browser(app.test_client())
    assert login(first, "alice").status_code == 302
    assert signed_in(first)
    attacker = Browser(app.test_client())
    lock(attacker, "alice", 5)
    r = first.get("/")
    assert is_login_redirect(r)
    page = text(first.get(r.headers["Location"]))
    assert "Your session was ended because the account was locked." in page
    assert live_sessions(uid) == []
    assert {s.end_reason for s in session_rows(uid)} == {"lockout"}


def test_admin_unlock_restores_login(app, make_user, as_user, browser):
    uid = make_user("alice")
    lock(browser, "alice", 5)
    admin = as_user("root", roles=["admin"])
    version = user_row(uid).version
    r = admin.post(f"/admin/users/{uid}/unlock", {"act-version": version, "act-reason": "identity confirmed by phone"},
                   token_from=f"/admin/users/{uid}")
    assert r.status_code == 302
    u = user_row(uid)
    assert u.locked_at is None and u.failed_attempts == 0
    (entry,) = user_audit(app, uid, action="unlock")
    assert entry.reason == "identity confirmed by phone" and entry.user_name == "Root"
    assert login(browser, "alice").status_code == 302
    assert signed_in(browser)


def test_unlock_without_reason_is_refused_and_account_stays_locked(app, make_user, as_user, browser):
    uid = make_user("alice")
    lock(browser, "alice", 5)
    admin = as_user("root", roles=["admin"])
    before = user_row(uid)
    r = admin.post(f"/admin/users/{uid}/unlock", {"act-version": before.version, "act-reason": ""},
                   token_from=f"/admin/users/{uid}")
    assert r.status_code == 400
    assert "A reason is required" in text(r)
    after = user_row(uid)
    assert after.locked_at is not None and after.version == before.version
    assert user_audit(app, uid, action="unlock") == []
    assert "This account is locked" in text(login(browser, "alice"))


def test_unlock_of_an_account_that_is_not_locked_is_refused(app, make_user, as_user):
    uid = make_user("alice")
    admin = as_user("root", roles=["admin"])
    r = admin.post(f"/admin/users/{uid}/unlock", {"act-version": user_row(uid).version, "act-reason": "x"},
                   token_from=f"/admin/users/{uid}")
    assert r.status_code == 422 and "This account is not locked." in text(r)
    assert user_audit(app, uid, action="unlock") == []


# --- idle timeout -------------------------------------------------------------------

def test_idle_29_minutes_59_seconds_keeps_the_session(app, as_user, clock):
    b = as_user("alice")
    clock.advance(minutes=29, seconds=59)
    assert signed_in(b)
    # activity slides the window: another 29:59 is still fine
    clock.advance(minutes=29, seconds=59)
    assert signed_in(b)
    assert audit_rows(app, action="session_timeout") == []


def test_idle_30_minutes_signs_out_and_the_cookie_is_dead(app, as_user, clock):
    b = as_user("alice")
    uid = user_row_by_name("alice").id
    saved = cookie_of(b)
    clock.advance(minutes=30)
    r = b.get("/equipment/")
    assert is_login_redirect(r)
    page = text(b.get(r.headers["Location"]))
    assert "You were signed out after 30 minutes without activity" in page
    (row,) = session_rows(uid)
    assert row.ended_at == clock.now() and row.end_reason == "idle timeout"
    assert len(user_audit(app, uid, action="session_timeout")) == 1
    # replaying the cookie later (even right after, with the clock barely moved) does not revive it
    clock.advance(seconds=1)
    replay = browser_with_cookie(app, saved)
    assert is_login_redirect(replay.get("/"))
    assert len(user_audit(app, uid, action="session_timeout")) == 1


def test_idle_timeout_is_configurable(app, as_user, clock):
    app.config["IDLE_TIMEOUT_MINUTES"] = 5
    b = as_user("alice")
    clock.advance(minutes=4, seconds=59)
    assert signed_in(b)
    clock.advance(minutes=5)
    assert not signed_in(b)


def user_row_by_name(username) -> User:
    with transaction(Actor(None, "test"), write=False) as s:
        return s.exec(select(User).where(User.username == username)).one()


# --- logout ---------------------------------------------------------------------------

def test_copied_cookie_works_while_the_session_is_live(app, as_user):
    """Control for the replay tests: the copied cookie is a valid session before logout."""
    b = as_user("alice")
    assert signed_in(browser_with_cookie(app, cookie_of(b)))


def test_logout_invalidates_the_session_on_the_server(app, as_user):
    b = as_user("alice")
    uid = user_row_by_name("alice").id
    saved = cookie_of(b)
    r = b.logout()
    assert is_login_redirect(r)
    assert "You are signed out." in text(b.get("/login"))
    assert not signed_in(b)
    (row,) = session_rows(uid)
    assert row.ended_at is not None and row.end_reason == "logout"
    (entry,) = user_audit(app, uid, action="logout")
    assert entry.user_id == uid
    replay = browser_with_cookie(app, saved)
    assert is_login_redirect(replay.get("/"))
    assert is_login_redirect(replay.get("/profile"))


def test_logout_ends_only_that_session(app, make_user):
    uid = make_user("alice")
    one, two = Browser(app.test_client()), Browser(app.test_client())
    login(one, "alice")
    login(two, "alice")
    one.logout()
    assert not signed_in(one)
    assert signed_in(two)
    assert len(live_sessions(uid)) == 1


def test_logout_by_get_is_not_allowed(app, as_user):
    b = as_user("alice")
    r = b.get("/logout")
    assert r.status_code == 405
    assert signed_in(b)


# --- must change password -----------------------------------------------------------------

def _admin_created_user(admin: Browser, username="newbie", roles=("technician", "qa", "clinician", "admin")):
    r = admin.post("/admin/users/new", {"username": username, "full_name": "New Person", "roles": list(roles),
                                        "language": "en", "password": "Temporary-Pass-2026"})
    assert r.status_code == 302, text(r)
    return user_row_by_name(username).id


AUTH_PAGES = ["/", "/equipment/", "/equipment/new", "/profile", "/audit/", "/audit/export.csv", "/admin/users",
              "/admin/users/new", "/scan?code=EQ-1"]


def test_admin_created_user_must_change_password_on_every_page(app, as_user):
    admin = as_user("root", roles=["admin"])
    uid = _admin_created_user(admin)
    assert user_row(uid).must_change_password is True
    b = Browser(app.test_client())
    r = login(b, "newbie", "Temporary-Pass-2026")
    assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/password"
    assert "Choose your own password" in text(b.get("/password"))
    for url in AUTH_PAGES + [f"/admin/users/{uid}"]:
        r = b.get(url)
        assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/password", url
    # a POST is redirected too and stores nothing
    r = b.post("/equipment/new", {"code": "EQ-NEW-01", "name": "x", "kind": "other", "status": "in_service"},
               token_from="/password")
    assert urlsplit(r.headers["Location"]).path == "/password"
    assert audit_rows(app, entity="equipment") == []
    # change it: every page opens
    r = b.post("/password", {"current": "Temporary-Pass-2026", "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/"
    assert user_row(uid).must_change_password is False
    for url in AUTH_PAGES[:-1]:
        r = b.get(url)
        r.get_data()  # drain streamed responses (CSV) so their context closes here
        assert r.status_code == 200, url


def test_user_created_without_must_change_is_not_redirected(app, as_user):
    b = as_user("alice")
    assert b.get("/equipment/").status_code == 200


def test_must_change_user_may_still_log_out(app, make_user):
    uid = make_user("alice", must_change=True)
    b = Browser(app.test_client())
    login(b, "alice")
    r = b.post("/logout", token_from="/password")
    assert is_login_redirect(r)
    assert live_sessions(uid) == []


# --- change password -----------------------------------------------------------------

BAD_CHANGES = [
    pytest.param({"current": "not-my-password-9", "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                 "The current password is not correct.", id="wrong-current"),
    pytest.param({"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"},
                 "The two passwords do not match.", id="mismatch"),
    pytest.param({"current": PASSWORD, "new": "Short-pw-11", "confirm": "Short-pw-11"},
                 "The password must have at least 12 characters.", id="too-short"),
    pytest.param({"current": PASSWORD, "new": PASSWORD, "confirm": PASSWORD},
                 "The new password must differ from the current one.", id="same-as-old"),
    pytest.param({"current": PASSWORD, "new": "my-alice-password", "confirm": "my-alice-password"},
                 "The password must not contain the user name.", id="contains-username"),
    pytest.param({"current": PASSWORD, "new": "x" * 129, "confirm": "x" * 129},
                 "The password must have at most 128 characters.", id="too-long"),
]


@pytest.mark.parametrize("data, message", BAD_CHANGES)
def test_bad_password_change_is_refused_and_hash_unchanged(app, make_user, data, message):
    uid = make_user("alice", must_change=True)
    b = Browser(app.test_client())
    login(b, "alice")
    before = user_row(uid)
    r = b.post("/password", data)
    assert r.status_code == 422
    assert message in text(r)
    after = user_row(uid)
    assert after.password_hash == before.password_hash
    assert after.must_change_password is True
    # only a wrong current password touches the row: its failure counter (toward lockout)
    wrong_current = "not correct" in message
    assert after.failed_attempts == (1 if wrong_current else 0)
    assert after.version == before.version + (1 if wrong_current else 0)
    assert user_audit(app, uid, action="update", field="password_hash") == []
    assert len(live_sessions(uid)) == 1  # still signed in, still forced to change
    assert urlsplit(b.get("/").headers["Location"]).path == "/password"


def test_wrong_current_password_is_audited_and_counts(app, as_user):
    b = as_user("alice")
    uid = user_row_by_name("alice").id
    b.post("/password", {"current": "not-my-password-9", "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert len(user_audit(app, uid, action="password_change_failed")) == 1
    assert user_row(uid).failed_attempts == 1


def test_password_change_succeeds_and_ends_the_other_sessions(app, make_user):
    uid = make_user("alice")
    b, other = Browser(app.test_client()), Browser(app.test_client())
    login(b, "alice")
    login(other, "alice")
    before = user_row(uid)
    r = b.post("/password", {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 302
    after = user_row(uid)
    assert after.password_hash != before.password_hash and after.password_hash.startswith("$argon2id$")
    (entry,) = user_audit(app, uid, action="update", field="password_hash")
    assert entry.old_value == entry.new_value == "********"
    assert entry.reason == "password changed by the user"
    assert signed_in(b)
    assert not signed_in(other)
    assert [s.end_reason for s in session_rows(uid) if s.ended_at] == ["password changed"]
    assert GENERIC in text(login(Browser(app.test_client()), "alice", PASSWORD))
    assert login(Browser(app.test_client()), "alice", NEW_PASSWORD).status_code == 302


# --- rate limiting -----------------------------------------------------------------

def test_login_rate_limit_blocks_the_client_at_the_limit(app, make_user, clock):
    app.config["LOGIN_RATE_LIMIT"] = 3
    uid = make_user("alice")
    b = Browser(app.test_client())
    for name in ("ghost1", "ghost2", "ghost3"):
        assert GENERIC in text(login(b, name, "whatever-password"))
    r = login(b, "alice", PASSWORD)  # right password, but this workstation is throttled
    assert r.status_code == 200
    assert "Too many failed sign-in attempts from this workstation" in text(r)
    assert session_rows(uid) == []
    assert user_audit(app, uid, action="login") == []
    assert len(login_attempts()) == 3  # the refused attempt itself is not counted again
    assert user_row(uid).failed_attempts == 0  # the throttle does not touch the account
    # another workstation is not affected
    other = Browser(app.test_client())
    assert login(other, "alice", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 302
    # still throttled just before the window ends; free once the failures are older than the window
    clock.advance(seconds=app.config["LOGIN_RATE_WINDOW_SECONDS"] - 1)
    assert "Too many failed sign-in attempts" in text(login(b, "alice", PASSWORD))
    clock.advance(seconds=2)
    assert login(b, "alice", PASSWORD).status_code == 302


def test_spoofed_forwarded_for_does_not_escape_the_rate_limit(app, make_user):
    """Without PROXY_FIX the client address is the socket's, so X-Forwarded-For cannot reset the count."""
    app.config["LOGIN_RATE_LIMIT"] = 2
    uid = make_user("alice")
    b = Browser(app.test_client())
    for i, name in enumerate(("ghost1", "ghost2")):
        login(b, name, "whatever-password", headers={"X-Forwarded-For": f"203.0.113.{i}"})
    r = login(b, "alice", headers={"X-Forwarded-For": "203.0.113.99"})
    assert "Too many failed sign-in attempts" in text(r)
    assert session_rows(uid) == []
    assert {a.client for a in login_attempts()} == {"127.0.0.1"}


def test_login_rate_limit_one_below_the_limit_still_allows_login(app, make_user):
    app.config["LOGIN_RATE_LIMIT"] = 3
    uid = make_user("alice")
    b = Browser(app.test_client())
    for name in ("ghost1", "ghost2"):
        login(b, name, "whatever-password")
    assert login(b, "alice").status_code == 302
    assert len(live_sessions(uid)) == 1


# --- open redirect -------------------------------------------------------------------

def test_login_follows_a_local_next(app, make_user, browser):
    make_user("alice")
    r = browser.get("/equipment/")
    assert r.headers["Location"].endswith("/login?next=/equipment/")
    r = login(browser, "alice", next_="/equipment/")
    assert r.headers["Location"] == "/equipment/"


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/x", "//evil.example/login",
                                    "/\\evil.example", "javascript:alert(1)", "evil.example"])
def test_login_does_not_follow_an_offsite_next(app, make_user, browser, target):
    make_user("alice")
    r = login(browser, "alice", next_=target)
    assert r.status_code == 302
    loc = r.headers["Location"]
    parts = urlsplit(loc)
    assert parts.netloc in ("", "localhost") and not loc.startswith("//"), loc
    assert "evil.example" not in parts.netloc
    assert not loc.startswith("/\\")
    assert parts.path == "/" or parts.path.startswith("/%5C"), loc


# --- signature and password-change failures count toward lockout ---------------------

def _equipment(app, as_user):
    tech = as_user("tech", roles=["technician"])
    r = tech.post("/equipment/new", {"code": "EQ-CEN-01", "name": "Centrifuge", "kind": "centrifuge",
                                     "location": "Lab 1", "serial_number": "SN1", "status": "in_service",
                                     "calibration_due": "", "notes": ""})
    assert r.status_code == 302, text(r)
    return int(urlsplit(r.headers["Location"]).path.rstrip("/").split("/")[-1])


def _approve(b, eq_id, password):
    from lims.equipment.models import Equipment

    with transaction(Actor(None, "test"), write=False) as s:
        version = s.get(Equipment, eq_id).version
    return b.post(f"/equipment/{eq_id}/approve", {"sign-version": version, "sign-password": password},
                  token_from=f"/equipment/{eq_id}")


def _signatures():
    from lims.audit.models import Signature

    with transaction(Actor(None, "test"), write=False) as s:
        return s.exec(select(Signature)).all()


def test_failed_signatures_count_toward_lockout(app, as_user):
    app.config["LOCKOUT_ATTEMPTS"] = 3
    eq_id = _equipment(app, as_user)
    qa = as_user("qa1", roles=["qa"])
    uid = user_row_by_name("qa1").id
    for i in range(2):
        r = _approve(qa, eq_id, "wrong-password-123")
        assert r.status_code == 422
        assert "Signature refused: the password is not correct" in text(r)
    assert user_row(uid).failed_attempts == 2 and user_row(uid).locked_at is None
    _approve(qa, eq_id, "wrong-password-123")
    u = user_row(uid)
    assert u.failed_attempts == 3 and u.locked_at is not None
    assert len(user_audit(app, uid, action="signature_failed")) == 3
    assert len(user_audit(app, uid, action="lockout")) == 1
    assert _signatures() == []
    assert not signed_in(qa)  # the lockout ended the signer's session
    assert "This account is locked" in text(login(Browser(app.test_client()), "qa1"))


def test_successful_signature_resets_the_failure_count(app, as_user):
    app.config["LOCKOUT_ATTEMPTS"] = 3
    eq_id = _equipment(app, as_user)
    qa = as_user("qa1", roles=["qa"])
    uid = user_row_by_name("qa1").id
    _approve(qa, eq_id, "wrong-password-123")
    _approve(qa, eq_id, "wrong-password-123")
    r = _approve(qa, eq_id, PASSWORD)
    assert r.status_code == 302, text(r)
    assert user_row(uid).failed_attempts == 0 and user_row(uid).locked_at is None
    assert len(_signatures()) == 1


def test_failed_password_changes_count_toward_lockout(app, as_user):
    app.config["LOCKOUT_ATTEMPTS"] = 3
    b = as_user("alice")
    uid = user_row_by_name("alice").id
    before = user_row(uid).password_hash
    for _ in range(3):
        b.post("/password", {"current": "not-my-password-9", "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
               token_from="/profile")
        if not signed_in(b):
            break
    u = user_row(uid)
    assert u.locked_at is not None and u.failed_attempts == 3
    assert u.password_hash == before
    assert len(user_audit(app, uid, action="password_change_failed")) == 3
    assert len(user_audit(app, uid, action="lockout")) == 1
    assert live_sessions(uid) == []


def test_rate_limited_login_is_audited_without_counting_toward_lockout(app, make_user):
    from tests.conftest import Browser, audit_rows

    make_user("carol")
    app.config["LOGIN_RATE_LIMIT"] = 2
    b = Browser(app.test_client())
    b.login("carol", "wrong-password-xx")
    b.login("carol", "wrong-password-xx")
    r = b.login("carol", "Correct-Horse-Battery-9")
    assert "Too many failed sign-in attempts" in r.get_data(as_text=True)
    rows = [x for x in audit_rows(app, action="login_failed") if (x.reason or "").startswith("rate limited")]
    assert len(rows) == 1 and rows[0].new_value == "carol"
