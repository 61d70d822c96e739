"""Account rules as pure functions (no database, no request)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import lru_cache

ROLES = ("technician", "qa", "clinician", "admin")
ADMIN = "admin"
# Roles that create, change or sign GMP records. The administrator holds none of them (segregation of duties).
GMP_ROLES = ("technician", "qa", "clinician")
LANGUAGES = ("en", "zh_CN")
PASSWORD_MAX_LENGTH = 128  # bounds the cost of hashing hostile input
PASSWORD_MIN_SCORE = 3  # zxcvbn score 0-4; 3 = about 10^8 guesses or more


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of a leaked-password corpus, as shipped (lower case) in zxcvbn.

    Loaded on first use: building zxcvbn's dictionaries takes a moment and
    only password changes need them.
    """
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def guessability_score(password: str, user_inputs=()) -> int:
    """zxcvbn's 0-4 estimate, with the account's own words (user name, full name) as a dictionary."""
    from zxcvbn import zxcvbn

    return zxcvbn(password, user_inputs=[w for w in user_inputs if w], max_length=PASSWORD_MAX_LENGTH)["score"]


def password_problems(
    password: str, username: str, min_length: int, min_score: int = PASSWORD_MIN_SCORE, user_inputs=()
) -> list[tuple[str, dict]]:
    """Codes (with parameters) for each way the password breaks the policy.

    Length alone lets "password1234" through; the offline checks refuse a
    password found on the common-password list (in any letter case) and one
    zxcvbn scores below ``min_score`` (repeats, sequences, keyboard walks,
    dates, dictionary words and their l33t variants). ``min_score`` 0 turns
    the estimate off; the list check always runs.
    """
    problems: list[tuple[str, dict]] = []
    if len(password) < min_length:
        problems.append(("too_short", {"n": min_length}))
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append(("too_long", {"n": PASSWORD_MAX_LENGTH}))
        return problems  # not estimated: the cost of the estimate grows with the length
    if not password.strip():
        problems.append(("blank", {}))
    if username and username.lower() in password.lower():
        problems.append(("contains_username", {}))
    if password.lower() in common_passwords() or password.strip().lower() in common_passwords():
        problems.append(("common", {}))
    elif password and min_score > 0 and guessability_score(password, (username, *user_inputs)) < min_score:
        problems.append(("guessable", {}))
    return problems


def locks_account(failed_attempts: int, limit: int) -> bool:
    """True when this many consecutive failures must lock the account."""
    return failed_attempts >= limit


def session_idle_expired(last_seen: datetime, now: datetime, idle_minutes: int) -> bool:
    """A session idle for the whole timeout (or longer) is over."""
    return now - last_seen >= timedelta(minutes=idle_minutes)


def session_lifetime_expired(created: datetime, now: datetime, max_hours: int) -> bool:
    """A session is over once it is ``max_hours`` old, however active: a stolen cookie cannot live for ever."""
    return now - created >= timedelta(hours=max_hours)


def normalise_roles(roles) -> str:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    return ",".join(sorted(set(roles)))


def combines_admin_with_gmp(roles) -> bool:
    """True for a role set that would let one person administer accounts and do GMP work."""
    roles = set(roles)
    return ADMIN in roles and bool(roles & set(GMP_ROLES))


def role_problems(roles) -> list[str]:
    """Codes for a role set no account may hold (at create and at every update)."""
    if not roles:
        return ["no_role"]
    return ["admin_with_gmp"] if combines_admin_with_gmp(roles) else []


def role_change_problems(actor_id, user_id, old_roles, new_roles, reason: str | None) -> list[str]:
    """Codes that refuse a role change; an unchanged role set is no change (only the set rule applies).

    Nobody changes their own roles, administrators included: granting
    oneself QA (or taking one's own admin away) needs a second administrator.
    """
    problems = role_problems(new_roles)
    if set(old_roles) == set(new_roles):
        return problems
    if actor_id is not None and actor_id == user_id:
        problems.append("own_roles")
    if not (reason or "").strip():
        problems.append("no_reason")
    return problems


def throttle_delay(failures: int, free: int, first_delay_seconds: int, max_delay_seconds: int) -> int:
    """Seconds the next sign-in under one key (an account name, an address) waits after its latest failure.

    The first ``free`` failures cost nothing; the next one imposes
    ``first_delay_seconds``, and each further failure doubles it up to
    ``max_delay_seconds``. A wait slows guessing without ever locking the
    account, so a stranger cannot shut its owner out.
    """
    if failures <= free:
        return 0
    doublings = min(failures - free - 1, 62)  # 2**62 seconds is past any cap; bounds the arithmetic
    return min(first_delay_seconds * 2**doublings, max_delay_seconds)


def throttle_wait(
    failures: int,
    last_failure: datetime | None,
    now: datetime,
    free: int,
    first_delay_seconds: int,
    max_delay_seconds: int,
) -> int:
    """Whole seconds still to wait before the next sign-in under one key (0: may try now)."""
    delay = throttle_delay(failures, free, first_delay_seconds, max_delay_seconds)
    if not delay or last_failure is None:
        return 0
    remaining = (last_failure + timedelta(seconds=delay) - now).total_seconds()
    return max(0, math.ceil(remaining))
