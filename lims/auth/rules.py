"""Account rules as pure functions (no database, no request)."""
from __future__ import annotations

from datetime import datetime, timedelta

ROLES = ("technician", "qa", "clinician", "admin")
LANGUAGES = ("en", "zh_CN")
PASSWORD_MAX_LENGTH = 128  # bounds the cost of hashing hostile input


def password_problems(password: str, username: str, min_length: int) -> list[tuple[str, dict]]:
    """Codes (with parameters) for each way the password breaks the policy."""
    problems: list[tuple[str, dict]] = []
    if len(password) < min_length:
        problems.append(("too_short", {"n": min_length}))
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append(("too_long", {"n": PASSWORD_MAX_LENGTH}))
    if not password.strip():
        problems.append(("blank", {}))
    if username and username.lower() in password.lower():
        problems.append(("contains_username", {}))
    return problems


def locks_account(failed_attempts: int, limit: int) -> bool:
    """True when this many consecutive failures must lock the account."""
    return failed_attempts >= limit


def session_idle_expired(last_seen: datetime, now: datetime, idle_minutes: int) -> bool:
    """A session idle for the whole timeout (or longer) is over."""
    return now - last_seen >= timedelta(minutes=idle_minutes)


def normalise_roles(roles) -> str:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    return ",".join(sorted(set(roles)))


def rate_limited(recent_failures: int, limit: int) -> bool:
    return recent_failures >= limit
