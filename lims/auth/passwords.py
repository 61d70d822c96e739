"""Argon2id password hashing and the policy messages."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _

from .rules import password_problems

_hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def policy_messages(password: str, username: str, full_name: str = "") -> list[str]:
    texts = {
        "too_short": lambda p: _("The password must have at least %(n)s characters.", n=p["n"]),
        "too_long": lambda p: _("The password must have at most %(n)s characters.", n=p["n"]),
        "blank": lambda p: _("The password cannot be only spaces."),
        "contains_username": lambda p: _("The password must not contain the user name."),
        "common": lambda p: _("This password is on a list of common or breached passwords; choose another."),
        "guessable": lambda p: _(
            "This password is too easy to guess (a common word, name, date, keyboard pattern, "
            "sequence or repetition). A few unrelated words with a number or sign work well."
        ),
    }
    cfg = current_app.config
    problems = password_problems(
        password, username, cfg["PASSWORD_MIN_LENGTH"], cfg["PASSWORD_MIN_SCORE"], user_inputs=(full_name or "").split()
    )
    return [texts[code](params) for code, params in problems]
