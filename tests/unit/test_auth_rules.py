"""Account rules (lims/auth/rules.py): pure functions, tested at their boundaries."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from lims.auth.rules import (
    PASSWORD_MAX_LENGTH,
    ROLES,
    locks_account,
    normalise_roles,
    password_problems,
    rate_limited,
    session_idle_expired,
)

MIN = 12
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


def codes(password, username="alice", min_length=MIN):
    return [code for code, _params in password_problems(password, username, min_length)]


# --- password policy -----------------------------------------------------------

def test_password_of_exactly_min_length_is_accepted():
    assert codes("x" * 12) == []


def test_password_one_below_min_length_is_refused_with_the_minimum():
    problems = password_problems("x" * 11, "alice", MIN)
    assert problems == [("too_short", {"n": 12})]


def test_min_length_is_a_parameter_not_a_constant():
    assert codes("x" * 15, min_length=16) == ["too_short"]
    assert codes("x" * 16, min_length=16) == []


def test_password_at_max_length_is_accepted():
    assert codes("x" * PASSWORD_MAX_LENGTH) == []


def test_password_above_max_length_is_refused():
    assert password_problems("x" * (PASSWORD_MAX_LENGTH + 1), "alice", MIN) == [("too_long", {"n": PASSWORD_MAX_LENGTH})]


def test_password_containing_the_username_is_refused_case_insensitively():
    assert codes("my-ALICE-password-9") == ["contains_username"]
    assert codes("Alice12345678") == ["contains_username"]


def test_password_not_containing_the_username_is_accepted():
    assert codes("my-alic-password-9") == []


def test_blank_password_of_spaces_is_refused():
    assert "blank" in codes(" " * 12)


def test_empty_password_is_too_short_and_blank():
    assert set(codes("")) == {"too_short", "blank"}


def test_no_username_means_no_username_check():
    assert codes("anything-long-enough", username="") == []


# --- lockout ---------------------------------------------------------------------

def test_four_failures_do_not_lock_with_limit_five():
    assert locks_account(4, 5) is False


def test_five_failures_lock_with_limit_five():
    assert locks_account(5, 5) is True
    assert locks_account(6, 5) is True


def test_lockout_limit_is_configurable():
    assert locks_account(2, 3) is False
    assert locks_account(3, 3) is True


# --- idle timeout ----------------------------------------------------------------

def test_session_idle_29_min_59_s_is_still_live():
    assert session_idle_expired(T0, T0 + timedelta(minutes=29, seconds=59), 30) is False


def test_session_idle_exactly_30_min_is_expired():
    assert session_idle_expired(T0, T0 + timedelta(minutes=30), 30) is True


def test_session_idle_longer_than_timeout_is_expired():
    assert session_idle_expired(T0, T0 + timedelta(hours=5), 30) is True


def test_idle_timeout_is_configurable():
    assert session_idle_expired(T0, T0 + timedelta(minutes=9, seconds=59), 10) is False
    assert session_idle_expired(T0, T0 + timedelta(minutes=10), 10) is True


# --- roles -----------------------------------------------------------------------

def test_roles_are_the_four_of_the_checklist():
    assert set(ROLES) == {"technician", "qa", "clinician", "admin"}


def test_normalise_roles_sorts_and_deduplicates():
    assert normalise_roles(["qa", "admin", "qa"]) == "admin,qa"
    assert normalise_roles(ROLES) == "admin,clinician,qa,technician"


def test_normalise_roles_rejects_an_unknown_role():
    with pytest.raises(ValueError, match="superuser"):
        normalise_roles(["qa", "superuser"])


def test_normalise_roles_rejects_case_variants():
    with pytest.raises(ValueError):
        normalise_roles(["Admin"])


# --- login rate limit ------------------------------------------------------------

def test_rate_limit_allows_one_below_the_limit():
    assert rate_limited(19, 20) is False
    assert rate_limited(0, 20) is False


def test_rate_limit_refuses_at_the_limit():
    assert rate_limited(20, 20) is True
    assert rate_limited(21, 20) is True
