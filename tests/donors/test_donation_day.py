"""Donation-day check: pure rules at their boundaries, and the workflow through HTTP."""

from datetime import date, timedelta

import pytest
from sqlmodel import func, select

from lims.db import Actor, transaction
from lims.donors import donation_day
from lims.donors.models import Donor
from lims.donors.rules import ItemSpec, donation_day_check, eligible_on
from lims.donors.screening_models import DonationDayCheck
from tests.conftest import PASSWORD, audit_rows
from tests.donors.test_screening_http import _register_and_start, full_panel

DAY = date(2026, 11, 23)
QUESTIONS = (
    ItemSpec("DD_FEVER", "Fever", "donation_day", "yes_no", 1, "defer", 14),
    ItemSpec("DD_TRAVEL", "Travel", "donation_day", "yes_no", 1, "defer", 28),
)


def test_all_no_passes():
    assert donation_day_check(QUESTIONS, {"DD_FEVER": "no", "DD_TRAVEL": "No "}, DAY).passed


def test_one_yes_defers_for_its_days_and_the_longest_wins():
    one = donation_day_check(QUESTIONS, {"DD_FEVER": "yes", "DD_TRAVEL": "no"}, DAY)
    assert not one.passed and one.until == DAY + timedelta(days=14)
    assert [r.rule for r in one.reasons] == ["item:DD_FEVER"]
    both = donation_day_check(QUESTIONS, {"DD_FEVER": "yes", "DD_TRAVEL": "yes"}, DAY)
    assert both.until == DAY + timedelta(days=28) and len(both.reasons) == 2


@pytest.mark.parametrize(
    "answers", [{"DD_FEVER": "no"}, {"DD_FEVER": "no", "DD_TRAVEL": ""}, {"DD_FEVER": "no", "DD_TRAVEL": "maybe"}]
)
def test_every_question_must_be_answered(answers):
    with pytest.raises(ValueError) as err:
        donation_day_check(QUESTIONS, answers, DAY)
    assert err.value.args[0] == ["DD_TRAVEL"]


def test_eligible_on_its_last_day_and_not_after():
    assert eligible_on("eligible", DAY, DAY)
    assert not eligible_on("eligible", DAY, DAY + timedelta(days=1))
    assert not eligible_on("deferred", DAY + timedelta(days=5), DAY)
    assert not eligible_on("eligible", None, DAY)


def _eligible_donor(staff):
    url = _register_and_start(staff)
    staff["tech"].post(f"{url}/results", {"panel-sample_date": "2026-11-20", **full_panel()}, token_from=url)
    staff["tech2"].post(f"{url}/verify", {"verify-password": PASSWORD}, token_from=url)
    assert staff["nurse"].post(f"{url}/decision", {"decide-password": PASSWORD}, token_from=url).status_code == 302


ALL_NO = {f"dd_{c}": "no" for c in ("DD_GI_SYMPTOMS", "DD_FEVER", "DD_ANTIBIOTICS", "DD_TRAVEL", "DD_NEW_RISK")}


def _can_donate(app):
    with transaction(Actor(None, "t"), write=False) as s:
        donor = s.exec(select(Donor).where(Donor.code == "D-0001")).one()
        return donation_day.can_donate(s, donor, DAY)


def test_eligible_donor_passes_the_check_and_may_donate(app, staff, protocol):
    _eligible_donor(staff)
    ok, reason = _can_donate(app)
    assert not ok and "no donation-day check" in reason
    page = staff["tech"].get("/donors/D-0001").get_data(as_text=True)
    assert "not yet allowed" in page and "Diarrhoea, vomiting" in page
    r = staff["tech"].post("/donors/D-0001/donation-day", ALL_NO, token_from="/donors/D-0001")
    assert r.status_code == 302
    ok, reason = _can_donate(app)
    assert ok and "donation-day check passed" in reason


def test_a_yes_defers_the_donor_and_blocks_the_donation(app, staff, protocol):
    _eligible_donor(staff)
    r = staff["tech"].post("/donors/D-0001/donation-day", dict(ALL_NO, dd_DD_FEVER="yes"), token_from="/donors/D-0001")
    assert r.status_code == 302
    with transaction(Actor(None, "t"), write=False) as s:
        d = s.exec(select(Donor).where(Donor.code == "D-0001")).one()
        assert (d.status, d.status_until) == ("deferred", DAY + timedelta(days=14))
    ok, reason = _can_donate(app)
    assert not ok and "not eligible" in reason
    (row,) = audit_rows(app, entity="donor", field="status", new_value="deferred")
    assert "DD_FEVER" in row.reason
    page = staff["tech"].get("/donors/D-0001").get_data(as_text=True)
    assert "Donation-day check: deferred until 2026-12-07" in page


def test_unanswered_question_is_refused_and_nothing_stored(app, staff, protocol):
    _eligible_donor(staff)
    answers = dict(ALL_NO)
    answers.pop("dd_DD_TRAVEL")
    r = staff["tech"].post("/donors/D-0001/donation-day", answers, token_from="/donors/D-0001")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "Answer every question" in html and "Travel outside the region" in html
    assert '<option value="no" selected>' in html  # the other answers are kept
    with transaction(Actor(None, "t"), write=False) as s:
        assert s.exec(select(func.count()).select_from(DonationDayCheck)).one() == 0


def test_a_donor_who_is_not_eligible_cannot_be_checked(app, staff, protocol):
    _register_and_start(staff)
    r = staff["tech"].post("/donors/D-0001/donation-day", ALL_NO, token_from="/donors/D-0001")
    assert r.status_code == 422 and "is not eligible today" in r.get_data(as_text=True)
