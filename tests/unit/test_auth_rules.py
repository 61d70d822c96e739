"""Account rules (lims/auth/rules.py): pure functions, tested at their boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lims.auth.rules import (
    GMP_ROLES,
    PASSWORD_MAX_LENGTH,
    ROLES,
    combines_admin_with_gmp,
    common_passwords,
    locks_account,
    normalise_roles,
    password_problems,
    role_change_problems,
    role_problems,
    session_idle_expired,
    session_lifetime_expired,
    throttle_delay,
    throttle_wait,
)

MIN = 12
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
# A random string (seeded, fixed here) that zxcvbn scores 4 at every length used below.
STRONG = (
    "hvHHS8g9p-PQLB3ML6X22GZ2NDqaQfht5gDa5-UGUvoArx!x4zYHReXwfLKttEj9SWWMub7WyyECfA-NLG8hCH4Z8P9GA_"
    "Jr7BM!FHJ4bMp2i5dWJ9TgWQCFjF9p79hR"
)


def codes(password, username="alice", min_length=MIN, **kw):
    return [code for code, _params in password_problems(password, username, min_length, **kw)]


# --- password policy -----------------------------------------------------------


def test_password_of_exactly_min_length_is_accepted():
    assert codes(STRONG[:12]) == []


def test_password_one_below_min_length_is_refused_with_the_minimum():
    problems = password_problems(STRONG[:11], "alice", MIN)
    assert problems == [("too_short", {"n": 12})]


def test_min_length_is_a_parameter_not_a_constant():
    assert codes(STRONG[:15], min_length=16) == ["too_short"]
    assert codes(STRONG[:16], min_length=16) == []


def test_password_at_max_length_is_accepted():
    assert len(STRONG) == PASSWORD_MAX_LENGTH
    assert codes(STRONG) == []


def test_password_above_max_length_is_refused():
    assert password_problems(STRONG + "x", "alice", MIN) == [("too_long", {"n": PASSWORD_MAX_LENGTH})]


def test_password_containing_the_username_is_refused_case_insensitively():
    assert codes("my-ALICE-password-9") == ["contains_username"]
    assert "contains_username" in codes("Alice12345678")


def test_password_not_containing_the_username_is_accepted():
    assert codes("my-alic-password-9") == []


def test_blank_password_of_spaces_is_refused():
    assert "blank" in codes(" " * 12)


def test_empty_password_is_too_short_and_blank():
    assert set(codes("")) == {"too_short", "blank"}


# --- common and easily guessed passwords (offline: zxcvbn's list and estimate) -----------


@pytest.mark.parametrize(
    "password",
    ["qwerty123456", "QWERTY123456", "Qwerty123456", "qWeRtY123456", "leavemealone", "LeaveMeAlone", "FINALFANTASY"],
)
def test_a_listed_password_is_refused_in_any_letter_case(password):
    assert password.lower() in common_passwords()
    assert "common" in codes(password)


def test_a_listed_password_is_refused_even_when_the_estimate_is_off():
    assert codes("qwerty123456", min_score=0) == ["common"]


def test_the_list_is_the_30000_most_common_passwords_in_lower_case():
    listed = common_passwords()
    assert len(listed) >= 29000 and "password" in listed and "123456" in listed
    assert all(p == p.lower() for p in listed)


def test_a_strong_password_is_accepted():
    for password in ("Correct-Horse-Battery-9", "Demo-Password-2026", "Gravel-Lantern-Oboe-41", STRONG[:12]):
        assert codes(password) == [], password


@pytest.mark.parametrize(
    "password", ["aaaaaaaaaaaa", "xxxxxxxxxxxxxxxx", "123456789012", "PassWord1234", "Liverpool1234", "abcdefghijklmn"]
)
def test_repeats_sequences_and_dictionary_variants_are_refused_as_guessable(password):
    assert codes(password) in (["guessable"], ["common"])


def test_guessability_boundary_score_2_refused_score_3_accepted():
    # zxcvbn 4.5.0: "sunflower2020" scores 2 (about 10^6 guesses), "summer2026!!" scores 3 (about 10^8).
    assert codes("sunflower2020") == ["guessable"]
    assert codes("summer2026!!") == []


def test_minimum_score_is_a_parameter():
    assert codes("sunflower2020", min_score=2) == []
    assert codes("summer2026!!", min_score=4) == ["guessable"]


def test_the_demo_and_test_passwords_stay_acceptable():
    from lims.demo import DEMO_PASSWORD, DEMO_USERS
    from tests.conftest import PASSWORD

    for username, full_name, _roles, _lang in DEMO_USERS:
        assert codes(DEMO_PASSWORD, username=username, user_inputs=full_name.split()) == [], username
    for username in ("alice", "bob", "qa1", "tech", "root", "admin", "clinician"):
        assert codes(PASSWORD, username=username) == [], username


def test_the_full_name_counts_as_a_guessable_word():
    assert codes("Wangjun-2026", username="wj") == []
    assert codes("Wangjun-2026", username="wj", user_inputs=["Wangjun"]) == ["guessable"]


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


# --- absolute session lifetime -------------------------------------------------------


def test_session_12_h_minus_a_second_is_still_live():
    assert session_lifetime_expired(T0, T0 + timedelta(hours=12) - timedelta(seconds=1), 12) is False


def test_session_of_exactly_12_h_is_over():
    assert session_lifetime_expired(T0, T0 + timedelta(hours=12), 12) is True
    assert session_lifetime_expired(T0, T0 + timedelta(days=3), 12) is True


def test_session_lifetime_is_configurable():
    assert session_lifetime_expired(T0, T0 + timedelta(hours=2) - timedelta(seconds=1), 2) is False
    assert session_lifetime_expired(T0, T0 + timedelta(hours=2), 2) is True


# --- sign-in throttle: free failures, then a doubling delay up to a cap ---------------------


def test_the_free_failures_cost_nothing_and_the_next_one_imposes_the_first_delay():
    assert [throttle_delay(n, 5, 30, 900) for n in range(6)] == [0, 0, 0, 0, 0, 0]
    assert throttle_delay(6, 5, 30, 900) == 30  # the 6th failure: first past the 5 free ones


def test_each_further_failure_doubles_the_delay():
    assert [throttle_delay(n, 5, 30, 10**6) for n in range(6, 11)] == [30, 60, 120, 240, 480]


def test_the_delay_stops_at_its_cap():
    assert throttle_delay(10, 5, 30, 900) == 480
    assert throttle_delay(11, 5, 30, 900) == 900  # 960 capped
    assert throttle_delay(12, 5, 30, 900) == 900
    assert throttle_delay(10**6, 5, 30, 900) == 900  # huge counts do not overflow or slow the arithmetic


def test_free_failures_first_delay_and_cap_are_parameters():
    assert throttle_delay(20, 20, 1, 60) == 0
    assert throttle_delay(21, 20, 1, 60) == 1
    assert throttle_delay(27, 20, 1, 60) == 60


def test_wait_counts_from_the_latest_failure():
    # 6 failures with 5 free: 30 s from the last one.
    assert throttle_wait(6, T0, T0, 5, 30, 900) == 30
    assert throttle_wait(6, T0, T0 + timedelta(seconds=29), 5, 30, 900) == 1
    assert throttle_wait(6, T0, T0 + timedelta(seconds=29, microseconds=1), 5, 30, 900) == 1  # rounded up
    assert throttle_wait(6, T0, T0 + timedelta(seconds=30), 5, 30, 900) == 0
    assert throttle_wait(5, T0, T0, 5, 30, 900) == 0
    assert throttle_wait(0, None, T0, 5, 30, 900) == 0


# --- segregation of duties ---------------------------------------------------------------------


def test_gmp_roles_are_every_role_but_admin():
    assert set(GMP_ROLES) == set(ROLES) - {"admin"}


@pytest.mark.parametrize("gmp", ["technician", "qa", "clinician"])
def test_admin_cannot_be_combined_with_a_gmp_role(gmp):
    assert combines_admin_with_gmp({"admin", gmp}) is True
    assert role_problems(["admin", gmp]) == ["admin_with_gmp"]


def test_admin_alone_and_gmp_roles_together_are_allowed():
    assert role_problems(["admin"]) == []
    assert role_problems(["technician", "qa", "clinician"]) == []
    assert combines_admin_with_gmp(set()) is False


def test_no_role_is_refused():
    assert role_problems([]) == ["no_role"]


def test_nobody_changes_their_own_roles():
    assert role_change_problems(1, 1, {"admin"}, {"admin", "qa"}, "also reviewer") == ["admin_with_gmp", "own_roles"]
    assert role_change_problems(1, 1, {"admin"}, {"technician"}, "moving on") == ["own_roles"]
    assert role_change_problems(7, 7, {"qa"}, {"qa", "technician"}, "x") == ["own_roles"]


def test_own_account_with_unchanged_roles_may_be_edited():
    assert role_change_problems(1, 1, {"admin"}, {"admin"}, "") == []


def test_another_administrator_may_change_the_roles_with_a_reason():
    assert role_change_problems(1, 2, {"technician"}, {"technician", "qa"}, "promoted") == []
    assert role_change_problems(1, 2, {"admin"}, {"technician"}, "moved to the lab") == []


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_role_change_needs_a_reason(reason):
    assert role_change_problems(1, 2, {"technician"}, {"qa"}, reason) == ["no_reason"]


def test_an_unchanged_role_set_still_obeys_the_separation():
    assert role_change_problems(1, 2, {"admin", "qa"}, {"admin", "qa"}, "rename") == ["admin_with_gmp"]
