"""Sign-in, lockout, sessions, idle timeout and lifetime, logout and passwords over HTTP.

compliance.md "Accounts and sessions" and "Electronic signatures" (failures
count toward lockout). The lockout is for passwords re-entered by a signed-in
user (signatures, password change); sign-in failures are throttled instead
(tests/http/test_login_throttle.py) and every refused sign-in reads the same. Each refused action checks the message shown AND that
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
GENERIC = "Invalid user name or password, or the account is locked or deactivated."


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


def lock_directly(uid):
    """Lock an account as the signature lockout does (test setup; the HTTP path is tested below)."""
    from lims.audit.trail import change_reason
    from lims.clock import utcnow

    with transaction(Actor(None, "test setup")) as s:
        u = s.get(User, uid)
        with change_reason(s, "test: locked"):
            u.failed_attempts, u.locked_at = 5, utcnow()


def deactivate_directly(uid):
    from lims.audit.trail import change_reason

    with transaction(Actor(None, "test setup")) as s:
        u = s.get(User, uid)
        with change_reason(s, "test: deactivated"):
            u.active = False


def alert(resp) -> str:
    return text(resp).split('role="alert">')[1].split("<")[0]


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
    assert alert(r) == GENERIC
    assert session_rows(uid) == []
    assert not signed_in(browser)
    (entry,) = user_audit(app, uid, action="login_failed")
    assert entry.new_value == "alice" and entry.reason == "wrong password"
    assert user_audit(app, uid, action="login") == []
    assert user_row(uid).failed_attempts == 0  # sign-in failures are throttled, they do not count toward the lockout
    assert [(a.username, a.client) for a in login_attempts()] == [("alice", "127.0.0.1")]


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


def test_unknown_wrong_locked_and_deactivated_get_one_and_the_same_message(app, make_user, browser):
    """The sign-in page must not tell whether an account exists, is locked or is deactivated."""
    make_user("alice")
    lock_directly(make_user("locked"))
    deactivate_directly(make_user("gone"))
    answers = {
        "unknown": login(browser, "mallory", PASSWORD),
        "wrong password": login(browser, "alice", "not-the-password-1"),
        "locked, right password": login(browser, "locked", PASSWORD),
        "locked, wrong password": login(browser, "locked", "not-the-password-1"),
        "deactivated, right password": login(browser, "gone", PASSWORD),
    }
    for case, r in answers.items():
        assert r.status_code == 200, case
        assert alert(r) == GENERIC, case
    assert "locked after" not in text(answers["locked, right password"])
    reasons = [a.reason for a in audit_rows(app, action="login_failed")]
    assert reasons == ["unknown user name", "wrong password", "account locked", "account locked", "account deactivated"]
    assert not signed_in(browser)


def test_every_refused_login_costs_one_argon2_verification(app, make_user, browser, monkeypatch):
    """Unknown, deactivated, locked and wrong-password logins do the same hashing work (no timing oracle)."""
    import lims.auth.operations as ops

    uid = make_user("alice")
    deactivate_directly(make_user("gone"))
    lock_directly(make_user("locked"))
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
    for name, pw in (
        ("nobody", "whatever-password"),
        ("alice", "wrong-password-1"),
        ("gone", PASSWORD),
        ("locked", PASSWORD),
    ):
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


# --- lockout: only for passwords re-entered by a signed-in user (signature, password change) ----


def _lock_by_signatures(app, as_user, username="qa1", n=None):
    """A QA officer signs with a wrong password until the account locks; returns (browser, user id, equipment id)."""
    eq_id = _equipment(app, as_user)
    qa = as_user(username, roles=["qa"])
    uid = user_row_by_name(username).id
    for _ in range(n or app.config["LOCKOUT_ATTEMPTS"]):
        _approve(qa, eq_id, "wrong-password-123")
    return qa, uid, eq_id


def test_four_signature_failures_do_not_lock_and_a_right_password_still_signs(app, as_user):
    eq_id = _equipment(app, as_user)
    qa = as_user("qa1", roles=["qa"])
    uid = user_row_by_name("qa1").id
    for _ in range(4):
        assert _approve(qa, eq_id, "wrong-password-123").status_code == 422
    u = user_row(uid)
    assert u.failed_attempts == 4 and u.locked_at is None
    assert user_audit(app, uid, action="lockout") == []
    assert _approve(qa, eq_id, PASSWORD).status_code == 302
    assert user_row(uid).failed_attempts == 0


def test_fifth_signature_failure_locks_the_account_and_is_audited(app, as_user, clock):
    qa, uid, _eq = _lock_by_signatures(app, as_user)
    u = user_row(uid)
    assert u.failed_attempts == 5 and u.locked_at == clock.now()
    (entry,) = user_audit(app, uid, action="lockout")
    assert "5 failed" in entry.reason
    assert len(user_audit(app, uid, action="signature_failed")) == 5
    assert not signed_in(qa)  # the lockout ended the signer's session


def test_locked_user_cannot_log_in_even_with_the_right_password(app, as_user, browser):
    _qa, uid, _eq = _lock_by_signatures(app, as_user)
    before, logins = user_row(uid), len(user_audit(app, uid, action="login"))
    r = login(browser, "qa1", PASSWORD)
    assert r.status_code == 200
    assert alert(r) == GENERIC  # the same words as a wrong password: the page does not say "locked"
    assert not signed_in(browser)
    after = user_row(uid)
    assert after.locked_at == before.locked_at and after.failed_attempts == before.failed_attempts
    assert len(user_audit(app, uid, action="login")) == logins
    (row,) = user_audit(app, uid, action="login_failed")
    assert row.reason == "account locked"


def test_lockout_limit_comes_from_app_config(app, as_user):
    app.config["LOCKOUT_ATTEMPTS"] = 3
    qa, uid, eq_id = _lock_by_signatures(app, as_user, n=2)
    assert user_row(uid).locked_at is None
    _approve(qa, eq_id, "wrong-password-123")
    assert user_row(uid).locked_at is not None
    assert len(user_audit(app, uid, action="lockout")) == 1


def test_lockout_limit_from_create_app_override(app, make_user, clock, database_url, tmp_path):
    app3 = create_app(TestConfig, DATABASE_URL=database_url, BACKUP_DIR=str(tmp_path / "b3"), LOCKOUT_ATTEMPTS=3)
    app3.extensions["clock"] = clock
    try:
        assert app3.config["LOCKOUT_ATTEMPTS"] == 3
        assert app.config["LOCKOUT_ATTEMPTS"] == 5  # the override belongs to app3 only
    finally:
        app3.extensions["lims_db"].dispose()


def test_lockout_limit_from_environment(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("LIMS_LOCKOUT_ATTEMPTS", "4")
    a = create_app(TestConfig, DATABASE_URL=database_url, BACKUP_DIR=str(tmp_path / "b4"))
    assert a.config["LOCKOUT_ATTEMPTS"] == 4
    a.extensions["lims_db"].dispose()


def test_lockout_ends_every_session_of_the_account_server_side(app, make_user, as_user):
    eq_id = _equipment(app, as_user)
    uid = make_user("qa1", ["qa"])
    other_desk, signing_desk = Browser(app.test_client()), Browser(app.test_client())
    assert login(other_desk, "qa1").status_code == 302 and login(signing_desk, "qa1").status_code == 302
    for _ in range(5):
        _approve(signing_desk, eq_id, "wrong-password-123")
    r = other_desk.get("/")
    assert is_login_redirect(r)
    page = text(other_desk.get(r.headers["Location"]))
    assert "Your session was ended because the account was locked." in page
    assert live_sessions(uid) == []
    assert {s.end_reason for s in session_rows(uid)} == {"lockout"}


def test_a_stranger_guessing_at_sign_in_never_locks_the_account(app, make_user, clock):
    """Login failures are throttled, not counted toward the lockout: 40 wrong guesses, then the owner signs in."""
    uid = make_user("alice")
    stranger = Browser(app.test_client())
    for _ in range(40):
        login(stranger, "alice", "wrong-password-123", environ_base={"REMOTE_ADDR": "10.9.9.9"})
        clock.advance(seconds=app.config["LOGIN_MAX_DELAY_SECONDS"])  # as patient as the throttle requires
    u = user_row(uid)
    assert u.locked_at is None and u.failed_attempts == 0
    assert user_audit(app, uid, action="lockout") == []
    assert len(user_audit(app, uid, action="login_failed")) >= 40
    assert login(Browser(app.test_client()), "alice").status_code == 302


def test_admin_unlock_restores_login(app, as_user, browser):
    _qa, uid, _eq = _lock_by_signatures(app, as_user)
    admin = as_user("root", roles=["admin"])
    version = user_row(uid).version
    r = admin.post(
        f"/admin/users/{uid}/unlock",
        {"act-version": version, "act-reason": "identity confirmed by phone"},
        token_from=f"/admin/users/{uid}",
    )
    assert r.status_code == 302
    u = user_row(uid)
    assert u.locked_at is None and u.failed_attempts == 0
    (entry,) = user_audit(app, uid, action="unlock")
    assert entry.reason == "identity confirmed by phone" and entry.user_name == "Root"
    assert login(browser, "qa1").status_code == 302
    assert signed_in(browser)


def test_unlock_without_reason_is_refused_and_account_stays_locked(app, as_user, browser):
    _qa, uid, _eq = _lock_by_signatures(app, as_user)
    admin = as_user("root", roles=["admin"])
    before = user_row(uid)
    r = admin.post(
        f"/admin/users/{uid}/unlock",
        {"act-version": before.version, "act-reason": ""},
        token_from=f"/admin/users/{uid}",
    )
    assert r.status_code == 400
    assert "A reason is required" in text(r)
    after = user_row(uid)
    assert after.locked_at is not None and after.version == before.version
    assert user_audit(app, uid, action="unlock") == []
    assert alert(login(browser, "qa1")) == GENERIC


def test_unlock_of_an_account_that_is_not_locked_is_refused(app, make_user, as_user):
    uid = make_user("alice")
    admin = as_user("root", roles=["admin"])
    r = admin.post(
        f"/admin/users/{uid}/unlock",
        {"act-version": user_row(uid).version, "act-reason": "x"},
        token_from=f"/admin/users/{uid}",
    )
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


# --- absolute session lifetime ---------------------------------------------------------


def _stay_active(b: Browser, clock, until):
    """Use the session every 20 minutes (well inside the idle timeout) until ``until``."""
    from datetime import timedelta

    while clock.now() + timedelta(minutes=20) < until:
        clock.advance(minutes=20)
        assert signed_in(b), clock.now()


def test_an_active_session_lives_until_12_hours_minus_a_second(app, as_user, clock):
    from datetime import timedelta

    start = clock.now()
    b = as_user("alice")
    _stay_active(b, clock, start + timedelta(hours=12))
    clock.set(start + timedelta(hours=12) - timedelta(seconds=1))
    assert signed_in(b)
    assert audit_rows(app, action="session_timeout") == []


def test_an_active_session_ends_at_12_hours_and_is_audited(app, as_user, clock):
    from datetime import timedelta

    start = clock.now()
    b = as_user("alice")
    uid = user_row_by_name("alice").id
    saved = cookie_of(b)
    _stay_active(b, clock, start + timedelta(hours=12))
    clock.set(start + timedelta(hours=12))
    r = b.get("/equipment/")
    assert is_login_redirect(r)
    assert "You were signed out because a session lasts at most 12 hours." in text(b.get(r.headers["Location"]))
    (row,) = session_rows(uid)
    assert row.ended_at == clock.now() and row.end_reason == "session lifetime"
    (entry,) = user_audit(app, uid, action="session_timeout")
    assert entry.reason == "maximum session length 12 h" and entry.record_id == str(uid)
    assert is_login_redirect(browser_with_cookie(app, saved).get("/"))  # the cookie is dead on the server
    assert login(Browser(app.test_client()), "alice").status_code == 302  # a new sign-in starts a new session


def test_session_lifetime_is_configurable(app, as_user, clock):
    from datetime import timedelta

    app.config["SESSION_MAX_HOURS"] = 1
    start = clock.now()
    b = as_user("alice")
    _stay_active(b, clock, start + timedelta(hours=1))
    clock.set(start + timedelta(minutes=59, seconds=59))
    assert signed_in(b)
    clock.set(start + timedelta(hours=1))
    assert not signed_in(b)


def test_session_lifetime_from_environment(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("LIMS_SESSION_MAX_HOURS", "8")
    a = create_app(TestConfig, DATABASE_URL=database_url, BACKUP_DIR=str(tmp_path / "b8"))
    assert a.config["SESSION_MAX_HOURS"] == 8
    a.extensions["lims_db"].dispose()


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


def _admin_created_user(admin: Browser, username="newbie", roles=("technician", "qa", "clinician")):
    r = admin.post(
        "/admin/users/new",
        {
            "username": username,
            "full_name": "New Person",
            "roles": list(roles),
            "language": "en",
            "password": "Temporary-Pass-2026",
        },
    )
    assert r.status_code == 302, text(r)
    return user_row_by_name(username).id


AUTH_PAGES = ["/", "/equipment/", "/equipment/new", "/profile", "/audit/", "/audit/export.csv", "/scan?code=EQ-1"]
ADMIN_PAGES = ["/admin/users", "/admin/users/new"]


def test_admin_created_user_must_change_password_on_every_page(app, as_user):
    admin = as_user("root", roles=["admin"])
    uid = _admin_created_user(admin)
    assert user_row(uid).must_change_password is True
    b = Browser(app.test_client())
    r = login(b, "newbie", "Temporary-Pass-2026")
    assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/password"
    assert "Choose your own password" in text(b.get("/password"))
    for url in AUTH_PAGES + ADMIN_PAGES + [f"/admin/users/{uid}"]:
        r = b.get(url)
        assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/password", url
    # a POST is redirected too and stores nothing
    r = b.post(
        "/equipment/new",
        {"code": "EQ-NEW-01", "name": "x", "kind": "other", "status": "in_service"},
        token_from="/password",
    )
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
    for url in ADMIN_PAGES:  # roles apply once the password is changed: the new QA officer is no administrator
        assert b.get(url).status_code == 403, url


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
    pytest.param(
        {"current": "not-my-password-9", "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        "The current password is not correct.",
        id="wrong-current",
    ),
    pytest.param(
        {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"},
        "The two passwords do not match.",
        id="mismatch",
    ),
    pytest.param(
        {"current": PASSWORD, "new": "Short-pw-11", "confirm": "Short-pw-11"},
        "The password must have at least 12 characters.",
        id="too-short",
    ),
    pytest.param(
        {"current": PASSWORD, "new": PASSWORD, "confirm": PASSWORD},
        "The new password must differ from the current one.",
        id="same-as-old",
    ),
    pytest.param(
        {"current": PASSWORD, "new": "my-alice-password", "confirm": "my-alice-password"},
        "The password must not contain the user name.",
        id="contains-username",
    ),
    pytest.param(
        {"current": PASSWORD, "new": "x" * 129, "confirm": "x" * 129},
        "The password must have at most 128 characters.",
        id="too-long",
    ),
    pytest.param(
        {"current": PASSWORD, "new": "qwerty123456", "confirm": "qwerty123456"},
        "This password is on a list of common or breached passwords; choose another.",
        id="common",
    ),
    pytest.param(
        {"current": PASSWORD, "new": "QwErTy123456", "confirm": "QwErTy123456"},
        "This password is on a list of common or breached passwords; choose another.",
        id="common-any-case",
    ),
    pytest.param(
        {"current": PASSWORD, "new": "zzzzzzzzzzzzzz", "confirm": "zzzzzzzzzzzzzz"},
        "This password is too easy to guess",
        id="repeats",
    ),
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


# --- open redirect -------------------------------------------------------------------


def test_login_follows_a_local_next(app, make_user, browser):
    make_user("alice")
    r = browser.get("/equipment/")
    assert r.headers["Location"].endswith("/login?next=/equipment/")
    r = login(browser, "alice", next_="/equipment/")
    assert r.headers["Location"] == "/equipment/"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example/x",
        "//evil.example/login",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
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
    r = tech.post(
        "/equipment/new",
        {
            "code": "EQ-CEN-01",
            "name": "Centrifuge",
            "kind": "centrifuge",
            "location": "Lab 1",
            "serial_number": "SN1",
            "status": "in_service",
            "calibration_due": "",
            "notes": "",
        },
    )
    assert r.status_code == 302, text(r)
    return int(urlsplit(r.headers["Location"]).path.rstrip("/").split("/")[-1])


def _approve(b, eq_id, password):
    from lims.equipment.models import Equipment

    with transaction(Actor(None, "test"), write=False) as s:
        version = s.get(Equipment, eq_id).version
    return b.post(
        f"/equipment/{eq_id}/approve",
        {"sign-version": f"{eq_id}@{version}", "sign-password": password},
        token_from=f"/equipment/{eq_id}",
    )


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
    assert alert(login(Browser(app.test_client()), "qa1")) == GENERIC


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
        b.post(
            "/password",
            {"current": "not-my-password-9", "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
            token_from="/profile",
        )
        if not signed_in(b):
            break
    u = user_row(uid)
    assert u.locked_at is not None and u.failed_attempts == 3
    assert u.password_hash == before
    assert len(user_audit(app, uid, action="password_change_failed")) == 3
    assert len(user_audit(app, uid, action="lockout")) == 1
    assert live_sessions(uid) == []
