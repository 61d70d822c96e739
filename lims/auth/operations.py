"""Every change to accounts and sessions, with its audit and its checks.

Failures that must be remembered even though the action is refused (wrong
password at login or at signature, lockout) are queued with ``defer_write``
so they survive the rollback of the refused request.

Sign-in failures are throttled, never locked: whoever can type a user name
could otherwise lock its owner out. The Part 11 lockout stays for passwords
re-entered by a signed-in user (signatures, password change), where only the
holder of the session can trigger it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from functools import lru_cache

from flask import current_app
from flask_babel import gettext as _
from sqlmodel import func, select

from ..audit.concurrency import check_version
from ..audit.trail import audit_event, change_reason
from ..clock import utcnow
from ..db import Actor, defer_write
from ..errors import LimsError, NotFound, PermissionDenied, ReasonRequired, RuleViolation
from .models import LoginAttempt, User, UserSession
from .passwords import hash_password, needs_rehash, policy_messages, verify_password
from .rules import (
    ADMIN,
    locks_account,
    normalise_roles,
    role_change_problems,
    role_problems,
    session_idle_expired,
    session_lifetime_expired,
    throttle_wait,
)

ENTITY = "app_user"


class LoginRefused(LimsError):
    status_code = 200  # the login form is shown again; deferred writes still run


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("timing-equaliser")


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def get_user(session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such user."))
    return user


def find_user(session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username.strip().lower())).first()


# --- failures that survive the request ------------------------------------


def _record_failure(session, user_id: int, username: str, action: str, client: str | None) -> None:
    """Queue: count a failed password re-entered by a signed-in user, lock the account at the limit."""
    limit = current_app.config["LOCKOUT_ATTEMPTS"]

    def write(s):
        now = utcnow()
        user = s.get(User, user_id)
        audit_event(s, action, ENTITY, user_id, new=username[:64], reason="wrong password")
        if user is None or user.locked_at is not None:
            return
        with change_reason(s, f"{action}: failed password attempt"):
            user.failed_attempts += 1
            if locks_account(user.failed_attempts, limit):
                user.locked_at = now
        if user.locked_at is not None:
            audit_event(s, "lockout", ENTITY, user.id, reason=f"{user.failed_attempts} failed password attempts")
            _end_sessions(s, user.id, "lockout")

    defer_write(session, write)


def _end_sessions(session, user_id: int, reason: str, keep: str | None = None) -> int:
    rows = session.exec(select(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))).all()
    now = utcnow()
    for row in rows:
        if row.id != keep:
            row.ended_at, row.end_reason = now, reason
            session.add(row)
    return len(rows)


# --- login, logout, sessions ----------------------------------------------


def _login_failed_message() -> str:
    """One text for every refused sign-in: it must not tell whether the name exists or why it failed."""
    return _("Invalid user name or password, or the account is locked or deactivated.")


def _wait_text(seconds: int) -> str:
    if seconds < 120:
        return _("%(n)s seconds", n=seconds)
    return _("%(n)s minutes", n=-(-seconds // 60))


def throttle(session, username: str, user: User | None, client: str | None, now) -> tuple[int, str | None]:
    """(seconds to wait, which key) for a sign-in of this name from this address; (0, None) when it may go ahead.

    Counted from the ``login_attempt`` rows, so every worker and app server
    sees the same count without extra infrastructure. The name is counted
    as typed (normalised), so a name that does not exist is throttled exactly
    like one that does; an account's count restarts at its last successful
    sign-in (its newest session), an address's does not (a valid login of
    one's own must not buy more guesses at other accounts).
    """
    cfg = current_app.config
    since = now - timedelta(hours=cfg["LOGIN_THROTTLE_WINDOW_HOURS"])
    first, cap = cfg["LOGIN_FIRST_DELAY_SECONDS"], cfg["LOGIN_MAX_DELAY_SECONDS"]
    account_since = since
    # The same query for an unknown name (no user has id -1): the work done must not tell which names exist.
    last_ok = session.exec(
        select(func.max(UserSession.created_at)).where(UserSession.user_id == (user.id if user is not None else -1))
    ).one()
    if last_ok is not None and last_ok > account_since:
        account_since = last_ok
    keys = [("account", LoginAttempt.username == username, account_since, cfg["LOGIN_FREE_FAILURES_PER_ACCOUNT"])]
    if client:
        keys.append(("address", LoginAttempt.client == client, since, cfg["LOGIN_FREE_FAILURES_PER_ADDRESS"]))
    worst, which = 0, None
    for name, where, after, free in keys:
        count, last = session.exec(
            select(func.count(), func.max(LoginAttempt.ts)).where(where, LoginAttempt.ts > after)
        ).one()
        wait = throttle_wait(count, last, now, free, first, cap)
        if wait > worst:
            worst, which = wait, name
    return worst, which


def _record_login_failure(session, user_id: int | None, username: str, client: str | None, reason: str) -> None:
    """Queue: the failure row the throttle counts, and its audit row. The account itself is not touched."""

    def write(s):
        s.add(LoginAttempt(ts=utcnow(), username=username, client=client))
        audit_event(s, "login_failed", ENTITY, user_id, new=username, reason=reason)

    defer_write(session, write)


def login(session, username: str, password: str, client: str | None) -> tuple[User, str]:
    """Check the credentials and open a server-side session; returns (user, token)."""
    username = (username or "").strip().lower()[:64]
    now = utcnow()
    user = find_user(session, username)
    wait, key = throttle(session, username, user, client, now)
    if wait:
        # The password is not checked, so the refusal is no new failure (the wait does not grow by retrying).
        uid = user.id if user else None
        defer_write(
            session,
            lambda s: audit_event(
                s,
                "login_failed",
                ENTITY,
                uid,
                new=username,
                reason=f"throttled: {wait} s to wait ({key} {client if key == 'address' else username})",
            ),
        )
        raise LoginRefused(
            _login_failed_message()
            + " "
            + _("Too many failed sign-ins: wait %(wait)s before trying again.", wait=_wait_text(wait))
        )
    # Exactly one Argon2 verification whatever the outcome: timing must not tell which names exist.
    correct = verify_password(user.password_hash if user else _dummy_hash(), password or "")
    if user is None or not user.active or user.locked_at is not None or not correct:
        reason = (
            "unknown user name"
            if user is None
            else "account deactivated"
            if not user.active
            else "account locked"
            if user.locked_at is not None
            else "wrong password"
        )
        _record_login_failure(session, user.id if user else None, username, client, reason)
        raise LoginRefused(_login_failed_message())
    # From here the audit rows (login, counter reset) belong to the user who signed in, not "anonymous".
    session.info["actor"] = Actor(user.id, user.full_name, client)
    with change_reason(session, "successful login"):
        if user.failed_attempts:
            user.failed_attempts = 0
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
    token = secrets.token_urlsafe(32)
    session.add(UserSession(id=_token_id(token), user_id=user.id, created_at=now, last_seen_at=now, client=client))
    audit_event(session, "login", ENTITY, user.id)
    return user, token


def load_session(session, token: str | None):
    """The live session and its user for a cookie token, or (None, reason)."""
    if not token:
        return None, None
    row = session.get(UserSession, _token_id(token))
    if row is None or row.ended_at is not None:
        return None, row.end_reason if row else None
    user = session.get(User, row.user_id)
    now = utcnow()
    if user is None or not user.active or user.locked_at is not None:
        return None, "account"
    cfg = current_app.config
    ended = None
    if session_lifetime_expired(row.created_at, now, cfg["SESSION_MAX_HOURS"]):
        ended = ("session lifetime", f"maximum session length {cfg['SESSION_MAX_HOURS']} h")
    elif session_idle_expired(row.last_seen_at, now, cfg["IDLE_TIMEOUT_MINUTES"]):
        ended = ("idle timeout", f"idle {cfg['IDLE_TIMEOUT_MINUTES']} min")
    if ended is not None:
        sid, uid = row.id, user.id
        end_reason, audit_reason = ended

        def expire(s):
            r = s.get(UserSession, sid)
            if r is not None and r.ended_at is None:
                r.ended_at, r.end_reason = utcnow(), end_reason
                audit_event(s, "session_timeout", ENTITY, uid, reason=audit_reason)

        defer_write(session, expire)
        return None, end_reason
    if now - row.last_seen_at >= timedelta(seconds=30):
        sid = row.id

        def touch(s):
            r = s.get(UserSession, sid)
            if r is not None and r.ended_at is None:
                r.last_seen_at = utcnow()

        defer_write(session, touch)
    return row, user


def logout(session, token: str, user: User) -> None:
    row = session.get(UserSession, _token_id(token))
    if row is not None and row.ended_at is None:
        row.ended_at, row.end_reason = utcnow(), "logout"
        audit_event(session, "logout", ENTITY, user.id)


def check_signature_password(session, user: User, password: str, client: str | None) -> bool:
    """Re-authentication for an e-signature; a failure counts toward lockout.

    An account holding the admin role never signs GMP records, whatever
    other roles an older account may still carry (segregation of duties);
    it is refused before the password is looked at, so nothing is counted.
    """
    if ADMIN in user.role_set:
        raise PermissionDenied(
            _(
                "Administrator accounts cannot sign GMP records: administration and GMP work are "
                "done with separate accounts."
            )
        )
    if user.locked_at is not None or not user.active:
        return False
    if verify_password(user.password_hash, password or ""):
        if user.failed_attempts:
            with change_reason(session, "successful signature authentication"):
                user.failed_attempts = 0
        return True
    _record_failure(session, user.id, user.username, "signature_failed", client)
    return False


# --- passwords ---------------------------------------------------------------


def _check_policy(password: str, confirm: str, username: str, full_name: str = "") -> None:
    problems = policy_messages(password, username, full_name)
    if password != confirm:
        problems.append(_("The two passwords do not match."))
    if problems:
        raise RuleViolation(" ".join(problems))


def change_own_password(session, user: User, current: str, new: str, confirm: str, keep_session: str | None) -> None:
    if not verify_password(user.password_hash, current or ""):
        _record_failure(session, user.id, user.username, "password_change_failed", None)
        raise RuleViolation(_("The current password is not correct."))
    _check_policy(new, confirm, user.username, user.full_name)
    if verify_password(user.password_hash, new):
        raise RuleViolation(_("The new password must differ from the current one."))
    with change_reason(session, "password changed by the user"):
        user.password_hash = hash_password(new)
        user.must_change_password = False
        user.password_changed_at = utcnow()
    _end_sessions(session, user.id, "password changed", keep=keep_session)


# --- administration -----------------------------------------------------------


def create_user(
    session, username: str, full_name: str, roles, password: str, language: str = "en", must_change: bool = True
) -> User:
    username = (username or "").strip().lower()
    if not username or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise RuleViolation(_("User names use letters, digits, dots, dashes and underscores only."))
    if find_user(session, username) is not None:
        raise RuleViolation(_("The user name %(u)s is taken (accounts are never deleted or reused).", u=username))
    if not (full_name or "").strip():
        raise RuleViolation(_("The full name is required: it is printed on signatures."))
    _check_roles(role_problems(roles))
    _check_policy(password, password, username, full_name)
    user = User(
        username=username,
        full_name=full_name.strip(),
        roles=normalise_roles(roles),
        password_hash=hash_password(password),
        must_change_password=must_change,
        language=language,
        password_changed_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return user


def update_user(
    session,
    actor: User,
    user: User,
    expected_version,
    full_name: str,
    roles,
    language: str,
    reason: str,
    labels: dict | None = None,
) -> None:
    check_version(
        session,
        user,
        expected_version,
        {"full_name": full_name, "roles": normalise_roles(roles), "language": language},
        labels,
    )
    _check_roles(role_change_problems(actor.id, user.id, user.role_set, set(roles), reason))
    with change_reason(session, reason):
        user.full_name = full_name.strip()
        user.roles = normalise_roles(roles)
        user.language = language


def _check_roles(problems: list[str]) -> None:
    """Turn role-rule codes into the refusal the person reads (the first one that applies)."""
    if "no_role" in problems:
        raise RuleViolation(_("Choose at least one role."))
    if "own_roles" in problems:
        raise RuleViolation(_("You cannot change your own roles; ask another administrator."))
    if "admin_with_gmp" in problems:
        raise RuleViolation(
            _(
                "The administrator role cannot be combined with technician, QA or clinician: "
                "account administration and GMP work are done by separate accounts. Give this "
                "person two accounts, or remove one of the roles."
            )
        )
    if "no_reason" in problems:
        raise ReasonRequired(_("A reason is required to change an existing record."))


def set_active(session, actor: User, user: User, expected_version, active: bool, reason: str) -> None:
    check_version(session, user, expected_version)
    if actor.id == user.id and not active:
        raise RuleViolation(_("You cannot deactivate your own account."))
    with change_reason(session, reason):
        user.active = active
    if not active:
        _end_sessions(session, user.id, "deactivated")


def unlock(session, user: User, expected_version, reason: str) -> None:
    check_version(session, user, expected_version)
    if user.locked_at is None and not user.failed_attempts:
        raise RuleViolation(_("This account is not locked."))
    with change_reason(session, reason):
        user.locked_at = None
        user.failed_attempts = 0
    audit_event(session, "unlock", ENTITY, user.id, reason=reason)


def reset_password(session, user: User, expected_version, password: str, reason: str) -> None:
    check_version(session, user, expected_version)
    _check_policy(password, password, user.username, user.full_name)
    with change_reason(session, reason):
        user.password_hash = hash_password(password)
        user.must_change_password = True
        user.password_changed_at = utcnow()
    _end_sessions(session, user.id, "password reset")


def set_own_language(session, user: User, language: str) -> None:
    from .rules import LANGUAGES

    if language not in LANGUAGES:
        raise RuleViolation(_("Unknown language."))
    if user.language != language:
        with change_reason(session, "language preference changed by the user"):
            user.language = language
