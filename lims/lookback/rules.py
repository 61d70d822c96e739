"""The lookback scope, as a pure rule: which donations a donor's positive finding reaches back to.

From the later of (the last fully negative screening's sample date) and (the
positive sample date minus the window, default 28 days: FDA's SARS-CoV-2 rule),
up to now. A donor with no negative screening before the finding has every
donation in scope. Donations on the start day itself are in scope: a sample
taken that day does not prove the stool given that day negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

DEFAULT_WINDOW_DAYS = 28
DEFAULT_TARGET_DAYS = 3


@dataclass(frozen=True)
class Scope:
    start: date | None  # None: every donation of the donor
    basis: str  # "negative_screening", "window", "no_negative"
    last_negative: date | None
    window_start: date


def scope(finding: date, last_negative: date | None, window_days: int = DEFAULT_WINDOW_DAYS) -> Scope:
    window_start = finding - timedelta(days=window_days)
    if last_negative is None:
        return Scope(None, "no_negative", None, window_start)
    if last_negative >= window_start:
        return Scope(last_negative, "negative_screening", last_negative, window_start)
    return Scope(window_start, "window", last_negative, window_start)


def in_scope(s: Scope, donation_day: date) -> bool:
    return s.start is None or donation_day >= s.start


def last_negative_before(negative_sample_days: list[date], finding: date) -> date | None:
    """The latest fully negative screening sampled before the finding (not the screening that found it)."""
    earlier = [d for d in negative_sample_days if d < finding]
    return max(earlier) if earlier else None


def overdue(opened_at: datetime, now: datetime, target_days: int = DEFAULT_TARGET_DAYS) -> bool:
    """Past the target for completing the record review (calendar days from the trigger)."""
    return now > opened_at + timedelta(days=target_days)


# --- acting on a case ------------------------------------------------------------------------------

HOLDABLE_BATCH = ("in_process", "awaiting_qc", "quarantine")  # held in place: cannot be released while held
RECALLABLE_UNIT = ("available", "reserved", "issued")  # taken out of use: status recalled
OUTCOMES = ("confirmed", "unfounded")
RETEST_RESULTS = ("negative", "positive", "inconclusive")
NOTIFY_METHODS = ("in_person", "phone", "letter", "email", "other")


def unit_after_unfounded(
    prior_status: str, now: datetime, expires_at: datetime, thawed_at: datetime | None, thaw_hours: int
) -> str:
    """What a unit recalled by a case becomes when the case closes unfounded.

    A unit that had been issued left the lab's control (on the ward, possibly
    thawed): it stays recalled, to be returned and discarded. Any other goes
    back to stock, unless it expired or its thaw window closed meanwhile
    (expiry at the stored instant: a unit expiring exactly now is expired)."""
    if prior_status == "issued":
        return "recalled"
    if now >= expires_at:
        return "expired"
    if thawed_at is not None and now > thawed_at + timedelta(hours=thaw_hours):
        return "expired"
    return "available"


def close_problems(
    outcome: str | None, conclusion: str | None, uninformed: list[str], live_not_held: int
) -> list[tuple[str, dict]]:
    """Why the case cannot close yet; every reason at once.

    Every recipient who received a unit in scope must have been reached; a
    confirmed case must first have held everything in scope that could still
    be used (an unfounded one releases what is held, so nothing need be held)."""
    out = []
    if outcome not in OUTCOMES:
        out.append(("outcome", {}))
    if not (conclusion or "").strip():
        out.append(("conclusion", {}))
    if uninformed:
        out.append(("uninformed", {"items": ", ".join(uninformed)}))
    if outcome == "confirmed" and live_not_held:
        out.append(("not_held", {"n": live_not_held}))
    return out


# --- the scope of a case, donation by donation ---------------------------------------------------


@dataclass(frozen=True)
class DonationFacts:
    """What the scope rule needs of one donation of the donor."""

    id: int
    day: date  # lab-zone collection day
    status: str  # received, processing, rejected
    has_batch: bool


@dataclass(frozen=True)
class ScopeDecision:
    """One donation: in scope or excluded, and why (a reason code with its facts, worded by the caller)."""

    donation_id: int
    in_scope: bool
    reason: str
    params: dict


# Reasons. In scope: "added" (widened by QA), "named_batch" (the case was opened for its batch),
# "no_negative", "same_day_as_negative", "after_negative", "in_window".
# Excluded: "other_batch" (a case opened for another batch), "before_negative", "before_window",
# "no_batch" (rejected before a batch was made: nothing to follow).
IN_REASONS = ("added", "named_batch", "no_negative", "same_day_as_negative", "after_negative", "in_window")
OUT_REASONS = ("other_batch", "before_negative", "before_window", "no_batch")


def classify(
    s: Scope, donations: list[DonationFacts], named_donation_id: int | None = None, added: dict[int, str] | None = None
) -> list[ScopeDecision]:
    """Every donation of the donor, in scope or excluded, with the reason.

    ``s`` is the case's stored scope (start and basis); ``named_donation_id`` the donation of the batch a case
    was opened for (such a case covers only that batch unless QA widens it); ``added`` maps the donations QA
    added to the scope to their signed reason. An addition wins over every exclusion. A donation rejected before
    any batch was made reached no product and is excluded even inside the dates (QA may still add it, e.g. to
    re-test its retained sample); one received and not yet processed is in scope (it is held)."""
    added = added or {}
    out = []
    for d in donations:
        if d.id in added:
            out.append(ScopeDecision(d.id, True, "added", {"reason": added[d.id]}))
            continue
        if named_donation_id is not None:
            if d.id == named_donation_id:
                out.append(ScopeDecision(d.id, True, "named_batch", {}))
            else:
                out.append(ScopeDecision(d.id, False, "other_batch", {}))
            continue
        if not in_scope(s, d.day):
            if s.basis == "negative_screening":
                out.append(ScopeDecision(d.id, False, "before_negative", {"date": s.last_negative}))
            else:
                out.append(ScopeDecision(d.id, False, "before_window", {"date": s.start, "negative": s.last_negative}))
            continue
        if not d.has_batch and d.status == "rejected":
            out.append(ScopeDecision(d.id, False, "no_batch", {}))
        elif s.basis == "no_negative":
            out.append(ScopeDecision(d.id, True, "no_negative", {}))
        elif s.basis == "negative_screening":
            code = "same_day_as_negative" if d.day == s.last_negative else "after_negative"
            out.append(ScopeDecision(d.id, True, code, {"date": s.last_negative}))
        else:
            out.append(ScopeDecision(d.id, True, "in_window", {"date": s.start}))
    return out
