"""A finding suspends the donor at once; only a signed eligibility decision lifts it (issue 16, item 1).

The donor D-0001 of the manufacturing lab is eligible (screening sampled 2026-11-10, approved 2026-11-12) and
passed today's donation-day check. Before this rule, a positive re-screen result or an open lookback case left the
donor eligible until someone signed a new decision, so the next donation was received.
"""

from __future__ import annotations

from datetime import date

from lims.donors import donation_day, screening
from lims.donors import operations as donor_ops
from lims.donors.models import Donor, ProtocolItem
from lims.manufacturing.models import Donation
from tests.conftest import PASSWORD, audit_rows, page_text
from tests.manufacturing.conftest import DONATION_DAY, act, fast_password_hashing, mfg  # noqa: F401 - fixtures
from tests.manufacturing.flow import RECEIPT, receive, row, rows

TODAY = DONATION_DAY


def _rescreen_with(value_of: dict[str, str], sample_day=TODAY):
    """A re-screening started today with some results typed (item code -> value), not verified."""

    def run(s, user):
        donor = donor_ops.get(s, "D-0001")
        sc = screening.start(s, donor, TODAY)
        entries = {code: (value, "") for code, value in value_of.items()}
        screening.record_results(s, sc, entries, sample_day, "central lab", None, TODAY)
        return sc.id

    return act("tech1", run)


def _donor():
    return row(Donor, code="D-0001")


def test_a_positive_result_suspends_the_donor_and_the_donation_is_refused(mfg):
    assert _donor().status == "eligible"
    _rescreen_with({"S_ESBL": "positive"})
    donor = _donor()
    assert donor.status == "suspended" and donor.status_until is None
    assert "ESBL" in donor.status_reason and "positive" in donor.status_reason
    resp = receive(mfg)
    assert resp.status_code == 422
    text = page_text(resp)
    assert "suspended" in text and "ESBL" in text
    assert rows(Donation) == []
    changes = [
        r for r in audit_rows(None, entity="donor", record_id="D-0001", field="status") if r.new_value == "suspended"
    ]
    assert len(changes) == 1 and changes[0].old_value == "eligible" and "ESBL" in changes[0].reason


def test_the_donor_page_shows_the_suspension_and_its_cause(mfg):
    _rescreen_with({"B_HIV": "positive"})
    text = page_text(mfg.nurse.get("/donors/D-0001"))
    assert "Suspended: no donation is accepted." in text and "HIV" in text
    assert "Record the donation-day check" not in text


def test_a_negative_result_does_not_suspend(mfg):
    _rescreen_with({"S_ESBL": "negative", "B_HIV": "negative"})
    assert _donor().status == "eligible"
    assert receive(mfg).status_code == 302


def test_an_out_of_range_number_or_a_yes_answer_suspends_too(app, mfg):
    from sqlmodel import select

    from lims.db import Actor, transaction

    with transaction(Actor(None, "t"), write=False) as s:
        numeric = s.exec(
            select(ProtocolItem).where(ProtocolItem.result_type == "numeric", ProtocolItem.normal_max.is_not(None))
        ).first()
        question = s.exec(
            select(ProtocolItem).where(ProtocolItem.result_type == "yes_no", ProtocolItem.kind == "questionnaire")
        ).first()
    _rescreen_with({numeric.code: str(numeric.normal_max + 1)})
    assert _donor().status == "suspended"
    assert numeric.name in _donor().status_reason
    # a second finding is added to the cause, not lost
    act(
        "tech1",
        lambda s, u: screening.record_results(
            s,
            screening.open_screening(s, donor_ops.get(s, "D-0001")),
            {question.code: ("yes", "")},
            TODAY,
            "",
            None,
            TODAY,
        ),
    )
    reason = _donor().status_reason
    assert numeric.name in reason and question.name in reason


def test_only_a_signed_decision_lifts_the_suspension(mfg):
    """A typo corrected to negative keeps the donor suspended until the new screening's decision is signed."""
    from lims.demo import _normal_panel

    sc_id = _rescreen_with({"S_ESBL": "positive"})

    def correct(s, user):
        sc = screening.get(s, sc_id)
        screening.record_results(s, sc, {"S_ESBL": ("negative", "")}, TODAY, "central lab", "typing error", TODAY)
        panel = {k: v for k, v in _normal_panel(s, sc).items() if k != "S_ESBL"}
        screening.record_results(s, sc, panel, TODAY, "central lab", None, TODAY)

    act("tech1", correct)
    assert _donor().status == "suspended"
    assert act("tech1", lambda s, u: donation_day.can_donate(s, donor_ops.get(s, "D-0001"), TODAY))[0] is False
    act("tech2", lambda s, u: screening.verify(s, screening.get(s, sc_id), u, PASSWORD, None, "test"))
    assert _donor().status == "suspended"
    act("nurse1", lambda s, u: screening.approve(s, screening.get(s, sc_id), u, PASSWORD, None, TODAY, "test"))
    donor = _donor()
    assert donor.status == "eligible" and donor.status_reason is None
    assert receive(mfg).status_code == 302


def test_opening_a_lookback_case_for_the_donor_suspends_it(mfg):
    from lims.lookback import cases

    act(
        "qa1",
        lambda s, u: cases.open_manual(s, "D-0001", "", date(2026, 11, 22), "recipient infection traced back", TODAY),
    )
    donor = _donor()
    assert donor.status == "suspended" and "LB-2026-0001" in donor.status_reason
    resp = receive(mfg)
    assert resp.status_code == 422 and "LB-2026-0001" in page_text(resp)


def test_an_excluded_or_retired_donor_keeps_its_status(mfg):
    act(
        "nurse1",
        lambda s, u: donor_ops.retire(s, donor_ops.get(s, "D-0001"), donor_ops.get(s, "D-0001").version, "moved away"),
    )
    assert act("tech1", lambda s, u: donor_ops.suspend(s, donor_ops.get(s, "D-0001"), "a finding")) is False
    assert _donor().status == "retired"


def test_the_receipt_form_keeps_the_typed_input_when_refused(mfg):
    _rescreen_with({"S_ESBL": "positive"})
    text = page_text(receive(mfg, appearance="brown, soft, typed by hand"))
    assert "brown, soft, typed by hand" in text and RECEIPT["retained_location"] in text


def test_a_suspended_donor_is_listed_as_due_for_re_screening(mfg):
    from tests.jobs.test_jobs import section

    _rescreen_with({"S_ESBL": "positive"})
    listed = section(mfg.nurse.get("/"), "due-rescreen")
    assert "D-0001" in listed and "suspended:" in listed
