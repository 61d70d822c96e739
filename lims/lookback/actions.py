"""What QA does on a lookback case: hold what is in scope, record notifications and re-tests, close it.

Holding and closing are signed acts (one password, one signature per record
they create). They go through the same status changes the batch and unit pages
use, so every change is in the audit trail and the bedside scan refuses a
held unit as recalled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func
from sqlmodel import select

from ..audit.concurrency import check_version
from ..audit.signatures import sign_many
from ..audit.trail import change_reason
from ..clock import utcnow
from ..errors import RuleViolation
from ..manufacturing.batches import limits_for, set_status
from ..manufacturing.models import Batch, BatchDisposition, Donation, DoseUnit
from . import cases, rules
from .models import (
    LookbackAction,
    LookbackCase,
    LookbackHold,
    LookbackNotification,
    LookbackRetest,
    LookbackScopeAddition,
)

CLOSE_TEXTS = {
    "outcome": lambda p: _("Choose the outcome: confirmed or unfounded."),
    "conclusion": lambda p: _("A conclusion is required to close the case."),
    "uninformed": lambda p: _("Recipients not yet informed: %(items)s.", **p),
    "not_held": lambda p: _(
        "%(n)s items in scope can still be used: hold them before closing the case as confirmed.", **p
    ),
}


@dataclass
class HoldPlan:
    """What a hold would take out of use now."""

    donations: list[Donation] = field(default_factory=list)  # received, not processed
    batches: list[Batch] = field(default_factory=list)  # in process / awaiting QC / quarantine: held in place
    released: list[Batch] = field(default_factory=list)  # released: put on hold
    units: list[DoseUnit] = field(default_factory=list)  # available, reserved, issued: recalled

    @property
    def size(self) -> int:
        return len(self.donations) + len(self.batches) + len(self.released) + len(self.units)


def _active_holds(session, case: LookbackCase) -> list[LookbackHold]:
    return list(
        session.exec(
            select(LookbackHold)
            .where(LookbackHold.case_id == case.id, LookbackHold.active.is_(True))
            .order_by(LookbackHold.id)
        ).all()
    )


def hold_plan(session, case: LookbackCase, lines=None) -> HoldPlan:
    held = {(h.kind, h.ref_id) for h in _active_holds(session, case)}
    plan = HoldPlan()
    for line in lines if lines is not None else cases.reach(session, case):
        b = line.batch
        if b is None:
            if line.donation.status == "received" and ("donation", line.donation.id) not in held:
                plan.donations.append(line.donation)
            continue
        if b.status in rules.HOLDABLE_BATCH and ("batch", b.id) not in held:
            plan.batches.append(b)
        elif b.status == "released":
            plan.released.append(b)
        plan.units += [u.unit for u in line.units if u.unit.status in rules.RECALLABLE_UNIT]
    return plan


def _require_open(case: LookbackCase) -> None:
    if case.status != "open":
        raise RuleViolation(_("Lookback case %(code)s is closed.", code=case.code))


def _next_seq(session, model, case: LookbackCase) -> int:
    """The case's next number for its actions (-A1), notifications (-N1) or re-tests (-R1)."""
    return (session.exec(select(func.count()).select_from(model).where(model.case_id == case.id)).one() or 0) + 1


def _action(session, case: LookbackCase, kind: str, text: str, summary: dict, outcome=None) -> LookbackAction:
    seq = _next_seq(session, LookbackAction, case)
    a = LookbackAction(
        case_id=case.id,
        case_code=case.code,
        seq=seq,
        kind=kind,
        outcome=outcome,
        text=text.strip(),
        summary=json.dumps(summary, sort_keys=True),
        acted_at=utcnow(),
    )
    session.add(a)
    session.flush()
    return a


def _disposition(session, batch: Batch, decision: str, reason: str) -> BatchDisposition:
    row = BatchDisposition(batch_id=batch.id, lot=batch.lot, decision=decision, reason=reason)
    session.add(row)
    return row


def lock_donor_batches(session, donor_id: int) -> None:
    """Row locks on every batch of the donor, in id order (no deadlock with another holder), before the plan is
    read: release, deviations and holds of a batch serialise on its row (manufacturing.batches.lock)."""
    session.exec(select(Batch.id).where(Batch.donor_id == donor_id).order_by(Batch.id).with_for_update()).all()


def hold(
    session,
    case: LookbackCase,
    expected_version,
    reason: str,
    user,
    password: str,
    client=None,
    expected_content: str | None = None,
) -> LookbackAction:
    """One signed act: unprocessed donations and unreleased batches held in place, released batches on hold, every
    unit not yet administered recalled and taken off its reservation (the dose is kept, without a unit)."""
    from ..clinical.course_models import Administration

    _require_open(case)
    check_version(session, case, expected_version)
    if not (reason or "").strip():
        raise RuleViolation(_("A reason is required to hold the products in scope."))
    lock_donor_batches(session, case.donor_id)  # a release of the same batch waits, then sees the hold
    expect_case_content(session, case, expected_content)
    plan = hold_plan(session, case)
    if plan.size == 0:
        raise RuleViolation(_("Nothing in scope can still be used: there is nothing left to hold."))
    why = f"lookback {case.code}: {reason.strip()}"
    unit_ids = [u.id for u in plan.units]
    doses = (
        list(
            session.exec(
                select(Administration).where(Administration.unit_id.in_(unit_ids), Administration.status == "planned")
            ).all()
        )
        if unit_ids
        else []
    )
    summary = {
        "donations": [d.code for d in plan.donations],
        "batches_held": [b.lot for b in plan.batches],
        "batches_on_hold": [b.lot for b in plan.released],
        "units": [u.code for u in plan.units],
        "doses_freed": [a.code for a in doses],
    }
    action = _action(session, case, "hold", reason, summary)
    holds, dispositions = [], []
    for d in plan.donations:
        holds.append(("donation", d.id, d.code, d.status))
    for b in plan.batches:
        holds.append(("batch", b.id, b.lot, b.status))
    for b in plan.released:
        holds.append(("batch", b.id, b.lot, b.status))
        set_status(session, b, "on_hold", why)
        dispositions.append(_disposition(session, b, "on_hold", why))
    with change_reason(session, why):
        for b in plan.released:
            b.status_reason = why
        for a in doses:  # the dose stays planned; another unit is reserved for it later
            a.unit_id, a.issued_at, a.issued_by_id = None, None, None
        session.flush()
        for u in plan.units:
            holds.append(("unit", u.id, u.code, u.status))
            u.status, u.status_reason = "recalled", why
        case.held_at = action.acted_at
    for kind, ref_id, code, prior in holds:
        session.add(
            LookbackHold(
                case_id=case.id,
                case_code=case.code,
                action_id=action.id,
                kind=kind,
                ref_id=ref_id,
                ref_code=code,
                prior_status=prior,
            )
        )
    session.flush()
    sign_many(session, [action, *dispositions], "approved", user, password, comment=reason, client=client)
    return action


# --- what the page showed -------------------------------------------------------------------------


def case_records(session, case: LookbackCase) -> list:
    """Every record the case page shows and a signer judges: the case, each donation of the donor with its batch
    (the scope table), the units and doses in scope, the additions, holds, notifications and re-tests."""
    entries = cases.scope_of(session, case)
    out = [case]
    for e in entries:
        out.append(e.donation)
        if e.batch is not None:
            out.append(e.batch)
    for line in cases.reach(session, case, entries):
        for u in line.units:
            out.append(u.unit)
            if u.administration is not None:
                out.append(u.administration)
    out += cases.additions_of(session, case) + holds_of(session, case)
    out += notifications_of(session, case) + retests_of(session, case)
    return out


def case_fingerprint(session, case: LookbackCase) -> str:
    """The fingerprint every signature form of the case page carries (lims.audit.fingerprint)."""
    from ..audit.fingerprint import fingerprint

    return fingerprint(case_records(session, case))


def expect_case_content(session, case: LookbackCase, expected: str | None) -> None:
    """The signature about to be made is over the case page the signer saw: refused (409) if anything changed."""
    from ..audit.fingerprint import expect_content

    expect_content(session, expected, case_records(session, case))


# --- widening the scope ----------------------------------------------------------------------------


def _scope_targets(session, case: LookbackCase, text: str) -> tuple[list[tuple[str, Donation, str]], list[str]]:
    """The donations named in ``text`` (donation codes or lots, typed or scanned, separated by spaces, commas or
    lines): [(kind, donation, code named)] and every problem at once."""
    import re

    from ..core import scan

    entries = {e.donation.id: e for e in cases.scope_of(session, case)}
    found, problems, seen = [], [], set()
    for raw in [t for t in re.split(r"[\s,;]+", text or "") if t]:
        kind_code, ident, problem = scan.parse(raw)
        if problem:
            problems.append(_("The code %(code)s is not a valid LIMS code.", code=raw))
            continue
        ident = ident.strip().upper()
        if kind_code in ("DN", "RS") or (kind_code is None and ident.startswith("DN-")):
            kind = "donation"
            donation = session.exec(select(Donation).where(Donation.code == ident)).first()
            if donation is None:
                problems.append(_("No donation has the code %(code)s.", code=ident))
                continue
        elif kind_code == "LOT" or (kind_code is None and ident.startswith("FMT-") and ident.count("-") == 2):
            kind = "batch"
            batch = session.exec(select(Batch).where(Batch.lot == ident)).first()
            if batch is None:
                problems.append(_("No batch has the lot %(lot)s.", lot=ident))
                continue
            donation = session.get(Donation, batch.donation_id)
        else:
            label = scan.RESOLVERS[kind_code].label if kind_code in scan.RESOLVERS else kind_code
            problems.append(
                _(
                    "%(code)s is not a donation or a batch (%(label)s); name a donation (DN-...) or a "
                    "batch lot (FMT-...).",
                    code=raw,
                    label=label or _("unknown code"),
                )
            )
            continue
        entry = entries.get(donation.id)
        if entry is None:
            problems.append(_("%(code)s is not a donation or batch of this case's donor.", code=ident))
        elif donation.id in seen:
            problems.append(_("%(code)s is named twice.", code=ident))
        elif entry.in_scope:
            problems.append(_("%(code)s is already in scope (%(why)s).", code=ident, why=cases.scope_reason(entry)))
        else:
            seen.add(donation.id)
            found.append((kind, donation, ident))
    return found, problems


def widen(
    session,
    case: LookbackCase,
    expected_content: str | None,
    targets: str,
    reason: str,
    user,
    password: str,
    client=None,
) -> LookbackAction:
    """One signed QA act: further donations or batches of the donor added to the case's scope with a reason. From
    then on the case covers them as its rule's own (a hold takes them out of use, recipients reached, re-tests)."""
    _require_open(case)
    lock_donor_batches(session, case.donor_id)
    expect_case_content(session, case, expected_content)
    found, problems = _scope_targets(session, case, targets)
    if not (targets or "").strip():
        problems.insert(0, _("Name the donations or batches to add to the scope (scan or type their codes)."))
    if not (reason or "").strip():
        problems.append(_("A reason is required to widen the scope."))
    if problems:
        raise RuleViolation(" ".join(problems))
    summary = {
        "donations": [d.code for k, d, _c in found if k == "donation"],
        "batches": [c for k, _d, c in found if k == "batch"],
    }
    action = _action(session, case, "widen", reason, summary)
    seq = _next_seq(session, LookbackScopeAddition, case)
    rows = []
    for i, (kind, donation, code) in enumerate(found):
        row = LookbackScopeAddition(
            case_id=case.id,
            case_code=case.code,
            action_id=action.id,
            seq=seq + i,
            kind=kind,
            donation_id=donation.id,
            ref_code=code,
            reason=reason.strip(),
        )
        session.add(row)
        rows.append(row)
    session.flush()
    sign_many(session, [action, *rows], "approved", user, password, comment=reason, client=client)
    return action


# --- recipients ------------------------------------------------------------------------------------


def freed_doses(session, case: LookbackCase) -> list[str]:
    out = []
    for a in session.exec(
        select(LookbackAction)
        .where(LookbackAction.case_id == case.id, LookbackAction.kind == "hold")
        .order_by(LookbackAction.seq)
    ).all():
        out += json.loads(a.summary).get("doses_freed", [])
    return out


def recipients_to_inform(session, case: LookbackCase, lines=None) -> list[str]:
    """Every recipient given a unit in scope: each must be informed before the case closes."""
    lines = lines if lines is not None else cases.reach(session, case)
    return sorted(
        {
            u.recipient
            for line in lines
            for u in line.units
            if u.recipient and u.administration is not None and u.administration.given_at is not None
        }
    )


def recipients_reached(session, case: LookbackCase, lines=None) -> list[str]:
    """Those to inform, and those who held a reservation of a unit in scope (now or before the hold freed it)."""
    from ..clinical.course_models import Administration
    from ..clinical.models import Recipient

    lines = lines if lines is not None else cases.reach(session, case)
    codes = {u.recipient for line in lines for u in line.units if u.recipient}
    freed = freed_doses(session, case)
    if freed:
        ids = session.exec(select(Administration.recipient_id).where(Administration.code.in_(freed))).all()
        codes |= set(session.exec(select(Recipient.code).where(Recipient.id.in_(set(ids)))).all())
    return sorted(codes)


def notifications_of(session, case: LookbackCase) -> list[LookbackNotification]:
    return list(
        session.exec(
            select(LookbackNotification)
            .where(LookbackNotification.case_id == case.id)
            .order_by(LookbackNotification.informed_at, LookbackNotification.id)
        ).all()
    )


def informed(session, case: LookbackCase) -> set[str]:
    return {n.recipient_code for n in notifications_of(session, case) if n.reached}


def notify(
    session,
    case: LookbackCase,
    recipient_code: str,
    person: str,
    informed_at: datetime | None,
    method: str,
    reached: bool,
    note: str | None,
    now: datetime,
) -> LookbackNotification:
    from ..clinical.models import Recipient

    _require_open(case)
    problems = []
    code = cases.scanned(recipient_code, "PT", problems) or ""
    if not problems and code not in recipients_reached(session, case):
        problems.append(_("%(code)s is not a recipient reached by this case.", code=code or "-"))
    if not (person or "").strip():
        problems.append(_("Enter who was informed (or whom you tried to reach)."))
    if method not in rules.NOTIFY_METHODS:
        problems.append(_("Choose how they were informed."))
    if informed_at is None:
        problems.append(_("Enter when they were informed."))
    elif informed_at > now:
        problems.append(_("The time of the notification is in the future."))
    elif informed_at < case.opened_at.replace(second=0, microsecond=0):
        problems.append(_("The time of the notification is before the case was opened."))
    if problems:
        raise RuleViolation(" ".join(problems))
    recipient = session.exec(select(Recipient).where(Recipient.code == code)).one()
    seq = _next_seq(session, LookbackNotification, case)
    n = LookbackNotification(
        case_id=case.id,
        case_code=case.code,
        seq=seq,
        recipient_id=recipient.id,
        recipient_code=code,
        informed_person=person.strip(),
        informed_at=informed_at,
        method=method,
        reached=bool(reached),
        note=(note or "").strip() or None,
    )
    session.add(n)
    session.flush()
    return n


# --- re-tests --------------------------------------------------------------------------------------


def retests_of(session, case: LookbackCase) -> list[LookbackRetest]:
    return list(
        session.exec(
            select(LookbackRetest)
            .where(LookbackRetest.case_id == case.id)
            .order_by(LookbackRetest.tested_on, LookbackRetest.id)
        ).all()
    )


def _donation_code(value: str | None, problems: list[str]) -> str | None:
    """A donation typed or scanned: its own label (DN) or its retained sample's (RS, which names the donation)."""
    from ..core.scan import parse

    kind, _ident, _problem = parse(value or "")
    return cases.scanned(value, "RS" if kind == "RS" else "DN", problems)


def record_retest(
    session,
    case: LookbackCase,
    donation_code: str,
    test: str,
    result: str,
    tested_on: date | None,
    laboratory: str,
    note: str | None,
    today: date,
) -> LookbackRetest:
    _require_open(case)
    problems = []
    code = _donation_code(donation_code, problems)
    line = next((ln for ln in cases.reach(session, case) if ln.donation.code == code), None)
    if line is None and code is not None:
        problems.append(_("Donation %(code)s is not in the scope of this case.", code=code or "-"))
    if not (test or "").strip():
        problems.append(_("Enter the test."))
    if result not in rules.RETEST_RESULTS:
        problems.append(_("Choose the result: negative, positive or inconclusive."))
    if not (laboratory or "").strip():
        problems.append(_("Enter the laboratory."))
    if tested_on is None:
        problems.append(_("Enter the test date."))
    elif tested_on > today:
        problems.append(_("The test date is in the future."))
    elif line is not None and tested_on < line.donation.collection_day:
        problems.append(_("The test date is before the donation (%(day)s).", day=line.donation.collection_day))
    elif line is not None and line.disposed is not None and tested_on > line.disposed.disposed_on:
        problems.append(
            _("The retained sample of %(code)s was disposed of on %(day)s.", code=code, day=line.disposed.disposed_on)
        )
    if problems:
        raise RuleViolation(" ".join(problems))
    seq = _next_seq(session, LookbackRetest, case)
    r = LookbackRetest(
        case_id=case.id,
        case_code=case.code,
        seq=seq,
        donation_id=line.donation.id,
        donation_code=code,
        test=test.strip(),
        result=result,
        tested_on=tested_on,
        laboratory=laboratory.strip(),
        note=(note or "").strip() or None,
    )
    session.add(r)
    session.flush()
    return r


# --- closing ---------------------------------------------------------------------------------------


def close_blockers(session, case: LookbackCase, outcome: str | None, conclusion: str | None) -> list[str]:
    lines = cases.reach(session, case)
    done = informed(session, case)
    uninformed = [c for c in recipients_to_inform(session, case, lines) if c not in done]
    live = hold_plan(session, case, lines).size
    return [CLOSE_TEXTS[code](p) for code, p in rules.close_problems(outcome, conclusion, uninformed, live)]


def close(
    session,
    case: LookbackCase,
    expected_version,
    outcome: str,
    conclusion: str,
    user,
    password: str,
    client=None,
    expected_content: str | None = None,
) -> LookbackAction:
    """Signed close. Confirmed: batches on hold are recalled and every hold stays (the products are never used).
    Unfounded: every hold is released, units back to stock unless they expired or had been issued."""
    _require_open(case)
    check_version(session, case, expected_version)
    lock_donor_batches(session, case.donor_id)
    expect_case_content(session, case, expected_content)
    problems = close_blockers(session, case, outcome, conclusion)
    if problems:
        raise RuleViolation(
            _("Lookback case %(code)s cannot be closed: %(reasons)s", code=case.code, reasons=" ".join(problems))
        )
    why = f"lookback {case.code} closed {outcome}: {conclusion.strip()}"
    now = utcnow()
    holds = _active_holds(session, case)
    summary: dict = {"recalled": [], "released": [], "units_available": [], "units_expired": [], "units_kept": []}
    action = _action(session, case, "close", conclusion, summary, outcome=outcome)
    dispositions = []
    batches = {h.ref_id: session.get(Batch, h.ref_id) for h in holds if h.kind == "batch"}
    if outcome == "confirmed":
        for b in batches.values():
            if b.status == "on_hold":
                set_status(session, b, "recalled", why)
                dispositions.append(_disposition(session, b, "recalled", why))
                summary["recalled"].append(b.lot)
    else:
        for b in batches.values():
            if b.status == "on_hold":
                set_status(session, b, "released", why)
                dispositions.append(_disposition(session, b, "released", why))
                summary["released"].append(b.lot)
        with change_reason(session, why):
            for h in holds:
                h.active, h.released_by_action_id = False, action.id
                if h.kind != "unit":
                    continue
                u = session.get(DoseUnit, h.ref_id)
                if u.status != "recalled":  # discarded meanwhile: stays as it is
                    h.outcome = u.status
                    continue
                batch = session.get(Batch, u.batch_id)
                after = rules.unit_after_unfounded(
                    h.prior_status, now, u.expires_at, u.thawed_at, limits_for(session, batch).thaw_use_hours
                )
                h.outcome = after
                if after != "recalled":
                    u.status, u.status_reason = after, why
                summary[{"available": "units_available", "expired": "units_expired"}.get(after, "units_kept")].append(
                    u.code
                )
    with change_reason(session, why):
        for b in batches.values():
            b.status_reason = why
        case.status, case.outcome, case.conclusion, case.closed_at = "closed", outcome, conclusion.strip(), now
        action.summary = json.dumps(summary, sort_keys=True)
    session.flush()
    sign_many(session, [action, *dispositions], "approved", user, password, comment=conclusion, client=client)
    return action


def actions_of(session, case: LookbackCase) -> list[LookbackAction]:
    return list(
        session.exec(select(LookbackAction).where(LookbackAction.case_id == case.id).order_by(LookbackAction.seq)).all()
    )


def holds_of(session, case: LookbackCase) -> list[LookbackHold]:
    return list(
        session.exec(select(LookbackHold).where(LookbackHold.case_id == case.id).order_by(LookbackHold.id)).all()
    )


def covering_open_cases(session, donation: Donation) -> list[str]:
    """The open cases whose scope includes this donation (its retained sample must be kept for re-testing)."""
    out = []
    for c in session.exec(
        select(LookbackCase).where(LookbackCase.donor_id == donation.donor_id, LookbackCase.status == "open")
    ).all():
        if any(e.in_scope and e.donation.id == donation.id for e in cases.scope_of(session, c)):
            out.append(c.code)
    return out


def timeline(session, case: LookbackCase) -> list[tuple[datetime, str, str]]:
    """What happened on the case, in order: (sort instant, when as shown, event). A re-test is dated, not timed:
    it shows its test day and sorts where it was recorded in the case."""
    from ..timefmt import format_dt

    events = [(case.opened_at, _("Case opened: %(text)s", text=case.trigger_text))]
    for a in actions_of(session, case):
        s = json.loads(a.summary)
        if a.kind == "hold":
            events.append(
                (
                    a.acted_at,
                    _(
                        "Hold signed: %(u)s units recalled, %(b)s batches held or on hold, %(d)s doses freed. %(text)s",
                        u=len(s.get("units", [])),
                        d=len(s.get("doses_freed", [])),
                        b=len(s.get("batches_held", [])) + len(s.get("batches_on_hold", [])),
                        text=a.text,
                    ),
                )
            )
        elif a.kind == "widen":
            events.append(
                (
                    a.acted_at,
                    _(
                        "Scope widened to %(items)s: %(text)s",
                        items=", ".join(s.get("donations", []) + s.get("batches", [])),
                        text=a.text,
                    ),
                )
            )
        else:
            events.append(
                (a.acted_at, _("Closed as %(outcome)s: %(text)s", outcome=outcome_label(a.outcome), text=a.text))
            )
    for n in notifications_of(session, case):
        events.append(
            (
                n.informed_at,
                _(
                    "%(code)s: %(person)s %(state)s by %(method)s",
                    code=n.recipient_code,
                    person=n.informed_person,
                    state=_("informed") if n.reached else _("not reached"),
                    method=method_label(n.method),
                ),
            )
        )
    out = [(at, format_dt(at), text) for at, text in events]
    for r in retests_of(session, case):
        out.append(
            (
                r.created_at,
                str(r.tested_on),
                _(
                    "Re-test of %(code)s (%(test)s): %(result)s, %(lab)s",
                    code=r.donation_code,
                    test=r.test,
                    result=retest_label(r.result),
                    lab=r.laboratory,
                ),
            )
        )
    return sorted(out, key=lambda e: e[0])


def outcome_label(outcome: str | None) -> str:
    return {"confirmed": _("confirmed"), "unfounded": _("unfounded")}.get(outcome or "", outcome or "")


def retest_label(result: str) -> str:
    return {"negative": _("negative"), "positive": _("positive"), "inconclusive": _("inconclusive")}.get(result, result)


def method_label(method: str) -> str:
    return {
        "in_person": _("in person"),
        "phone": _("phone"),
        "letter": _("letter"),
        "email": _("email"),
        "other": _("other"),
    }.get(method, method)


def elapsed(case: LookbackCase, now: datetime) -> timedelta:
    return (case.closed_at or now) - case.opened_at
