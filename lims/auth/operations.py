"""Every change to accounts and sessions, with its audit and its checks.

Failures that must be remembered even though the action is refused (wrong
password at login or at signature, lockout) are queued with ``defer_write``
so they survive the rollback of the refused request.
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
from ..errors import LimsError, NotFound, RuleViolation
from .models import LoginAttempt, User, UserSession
from .passwords import hash_password, needs_rehash, policy_messages, verify_password
from .rules import locks_account, normalise_roles, rate_limited, session_idle_expired

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

def _record_failure(session, user_id: int | None, username: str, action: str, client: str | None) -> None:
    """Queue: count a failed password for the account, lock it at the limit."""
    limit = current_app.config["LOCKOUT_ATTEMPTS"]

    def write(s):
        now = utcnow()
        if action == "login_failed":
            s.add(LoginAttempt(ts=now, username=username[:64], client=client))
        user = s.get(User, user_id) if user_id else None
        audit_event(s, action, ENTITY, user_id, new=username[:64], reason="wrong password" if user else "unknown user name")
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

def login(session, username: str, password: str, client: str | None) -> tuple[User, str]:
    """Check the credentials and open a server-side session; returns (user, token)."""
    cfg = current_app.config
    username = (username or "").strip().lower()
    since = utcnow() - timedelta(seconds=cfg["LOGIN_RATE_WINDOW_SECONDS"])
    recent = session.exec(select(func.count()).select_from(LoginAttempt)
                          .where(LoginAttempt.client == client, LoginAttempt.ts >= since)).one()
    if rate_limited(recent, cfg["LOGIN_RATE_LIMIT"]):
        attempted = username[:64]
        defer_write(session, lambda s: audit_event(s, "login_failed", ENTITY, None, new=attempted,
                                                   reason=f"rate limited: {recent} failed sign-ins from {client}"))
        raise LoginRefused(_("Too many failed sign-in attempts from this workstation. Wait a few minutes and try again."))
    user = find_user(session, username)
    if user is None or not user.active:
        # Exactly one Argon2 verification, as for a wrong password: timing must not tell which names exist.
        verify_password(user.password_hash if user else _dummy_hash(), password or "")
        _record_failure(session, user.id if user else None, username, "login_failed", client)
        raise LoginRefused(_("Invalid user name or password."))
    if user.locked_at is not None:
        _record_failure(session, user.id, username, "login_failed", client)
        raise LoginRefused(_("This account is locked after too many failed attempts. Ask an administrator to unlock it."))
    if not verify_password(user.password_hash, password or ""):
        _record_failure(session, user.id, username, "login_failed", client)
        if locks_account(user.failed_attempts + 1, cfg["LOCKOUT_ATTEMPTS"]):
            raise LoginRefused(_("Invalid user name or password. The account is now locked; ask an administrator to unlock it."))
        raise LoginRefused(_("Invalid user name or password."))
    # From here the audit rows (login, counter reset) belong to the user who signed in, not "anonymous".
    session.info["actor"] = Actor(user.id, user.full_name, client)
    with change_reason(session, "successful login"):
        if user.failed_attempts:
            user.failed_attempts = 0
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
    token = secrets.token_urlsafe(32)
    now = utcnow()
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
    if session_idle_expired(row.last_seen_at, now, current_app.config["IDLE_TIMEOUT_MINUTES"]):
        sid, uid = row.id, user.id

        def expire(s):
            r = s.get(UserSession, sid)
            if r is not None and r.ended_at is None:
                r.ended_at, r.end_reason = utcnow(), "idle timeout"
                audit_event(s, "session_timeout", ENTITY, uid)

        defer_write(session, expire)
        return None, "idle timeout"
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
    """Re-authentication for an e-signature; a failure counts toward lockout."""
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

def _check_policy(password: str, confirm: str, username: str) -> None:
    problems = policy_messages(password, username)
    if password != confirm:
        problems.append(_("The two passwords do not match."))
    if problems:
        raise RuleViolation(" ".join(problems))


def change_own_password(session, user: User, current: str, new: str, confirm: str, keep_session: str | None) -> None:
    if not verify_password(user.password_hash, current or ""):
        _record_failure(session, user.id, user.username, "password_change_failed", None)
        raise RuleViolation(_("The current password is not correct."))
    _check_policy(new, confirm, user.username)
    if verify_password(user.password_hash, new):
        raise RuleViolation(_("The new password must differ from the current one."))
    with change_reason(session, "password changed by the user"):
        user.password_hash = hash_password(new)
        user.must_change_password = False
        user.password_changed_at = utcnow()
    _end_sessions(session, user.id, "password changed", keep=keep_session)


# --- administration -----------------------------------------------------------

def create_user(session, username: str, full_name: str, roles, password: str, language: str = "en",
                must_change: bool = True) -> User:
    username = (username or "").strip().lower()
    if not username or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise RuleViolation(_("User names use letters, digits, dots, dashes and underscores only."))
    if find_user(session, username) is not None:
        raise RuleViolation(_("The user name %(u)s is taken (accounts are never deleted or reused).", u=username))
    if not (full_name or "").strip():
        raise RuleViolation(_("The full name is required: it is printed on signatures."))
    if not roles:
        raise RuleViolation(_("Choose at least one role."))
    _check_policy(password, password, username)
    user = User(username=username, full_name=full_name.strip(), roles=normalise_roles(roles),
                password_hash=hash_password(password), must_change_password=must_change,
                language=language, password_changed_at=utcnow())
    session.add(user)
    session.flush()
    return user


def update_user(session, actor: User, user: User, expected_version, full_name: str, roles, language: str, reason: str,
                labels: dict | None = None) -> None:
    check_version(session, user, expected_version,
                  {"full_name": full_name, "roles": normalise_roles(roles), "language": language}, labels)
    if not roles:
        raise RuleViolation(_("Choose at least one role."))
    if actor.id == user.id and "admin" in user.role_set and "admin" not in roles:
        raise RuleViolation(_("You cannot remove your own admin role; ask another administrator."))
    with change_reason(session, reason):
        user.full_name = full_name.strip()
        user.roles = normalise_roles(roles)
        user.language = language


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
    _check_policy(password, password, user.username)
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
