"""Screening episodes: start, record results, verify (four-eyes), approve the decision.

Only the results of the episode count toward its decision: a re-screening
is a full new panel under the protocol version in force when it started.
"""

from __future__ import annotations

import json
from datetime import date

from flask_babel import gettext as _
from sqlmodel import select

from ..audit.signatures import sign, sign_pending, valid_signatures
from ..audit.trail import change_reason
from ..errors import NotFound, RuleViolation
from .models import Donor, ProtocolItem, ScreeningProtocol
from .protocols import active_protocol, display_name, item_spec, items_of, spec_of
from .rules import DonorFacts, Result, decide, value_problem
from .screening_models import EligibilityDecision, Screening, ScreeningResult


def get(session, screening_id: int) -> Screening:
    sc = session.get(Screening, screening_id)
    if sc is None:
        raise NotFound(_("No such screening."))
    return sc


def open_screening(session, donor: Donor) -> Screening | None:
    return session.exec(select(Screening).where(Screening.donor_id == donor.id, Screening.status == "open")).first()


def start(session, donor: Donor, today: date) -> Screening:
    if donor.status == "excluded":
        raise RuleViolation(_("Donor %(code)s is permanently excluded and cannot be screened.", code=donor.code))
    if donor.status == "retired":
        raise RuleViolation(_("Donor %(code)s is retired and cannot be screened.", code=donor.code))
    existing = open_screening(session, donor)
    if existing is not None:
        raise RuleViolation(
            _("Donor %(code)s already has an open screening (#%(id)s).", code=donor.code, id=existing.id)
        )
    protocol = active_protocol(session)
    if protocol is None:
        raise RuleViolation(_("There is no active screening protocol."))
    sc = Screening(donor_id=donor.id, protocol_id=protocol.id, started_on=today)
    session.add(sc)
    if donor.status == "candidate":
        with change_reason(session, f"screening started under {protocol.code} v{protocol.protocol_version}"):
            donor.status = "in_screening"
    session.flush()
    return sc


def results_of(session, sc: Screening) -> list[ScreeningResult]:
    return list(
        session.exec(
            select(ScreeningResult).where(ScreeningResult.screening_id == sc.id).order_by(ScreeningResult.id)
        ).all()
    )


def record_results(
    session,
    sc: Screening,
    entries: dict[str, tuple[str, str]],
    sample_date,
    method: str,
    reason: str | None,
    today: date,
) -> int:
    """Store the entered values (item code -> (value, comment)); all or nothing."""
    if sc.status != "open":
        raise RuleViolation(_("This screening is closed; start a new screening to record results."))
    if not isinstance(sample_date, date):
        raise RuleViolation(_("Enter the sample date."))
    if sample_date > today:
        raise RuleViolation(_("The sample date %(d)s is in the future.", d=sample_date))
    donor = session.get(Donor, sc.donor_id)
    if sample_date < donor.date_of_birth:
        raise RuleViolation(_("The sample date is before the donor's date of birth."))
    entries = {code: (v.strip(), (c or "").strip()) for code, (v, c) in entries.items() if (v or "").strip()}
    if not entries:
        raise RuleViolation(_("Enter at least one result."))
    items = {i.code: i for i in items_of(session, session.get(ScreeningProtocol, sc.protocol_id))}
    existing = {r.item_id: r for r in results_of(session, sc)}
    problems = []
    for code, (value, _comment) in entries.items():
        item = items.get(code)
        if item is None:
            problems.append(_("%(code)s is not an item of this protocol.", code=code))
            continue
        problem = value_problem(item_spec(item), value)
        if problem:
            problems.append(
                _(
                    '%(item)s: "%(value)s" is not a valid result (%(allowed)s).',
                    item=display_name(item),
                    value=value,
                    allowed=allowed_values(item),
                )
            )
    if problems:
        raise RuleViolation(" ".join(problems))
    corrections = [code for code in entries if items[code].id in existing]
    if corrections and not (reason or "").strip():
        raise RuleViolation(
            _(
                "%(items)s already have a result: give a reason for the correction.",
                items=", ".join(display_name(items[c]) for c in corrections),
            )
        )
    saved = []
    with change_reason(session, reason):
        for code, (value, comment) in entries.items():
            item = items[code]
            value = value.lower() if item.result_type != "numeric" else value.replace(",", ".")
            row = existing.get(item.id)
            if row is None:
                row = ScreeningResult(
                    screening_id=sc.id,
                    item_id=item.id,
                    value=value,
                    sample_date=sample_date,
                    method=(method or "").strip(),
                    comment=comment or None,
                )
                session.add(row)
            else:
                row.value, row.sample_date, row.method, row.comment = (
                    value,
                    sample_date,
                    (method or "").strip(),
                    comment or None,
                )
            saved.append(row)
    session.flush()
    _suspend_on_failing(session, donor, sc, [(items[code], row) for code, row in zip(entries, saved)])
    # A positive or excluding result of a donor who has donated reaches back to the products (lookback).
    from ..lookback.cases import trigger_for_results

    trigger_for_results(session, donor, saved)
    return len(entries)


def failing_results(pairs) -> list:
    """The (item, result) pairs whose value meets the item's failing condition (positive, yes, out of range)."""
    from .rules import item_fails

    return [(item, row) for item, row in pairs if item_fails(item_spec(item), row.value)]


def _suspend_on_failing(session, donor: Donor, sc: Screening, pairs) -> None:
    """A failing result suspends the donor as soon as it is typed, verified or not: the donor may be eligible
    on an earlier decision, and nothing else would stop the next donation until someone signs a new one."""
    from .operations import suspend

    failing = failing_results(pairs)
    if failing:
        text = "; ".join(f"{i.name}: {r.value} (sample {r.sample_date})" for i, r in failing)
        suspend(session, donor, f"screening #{sc.id}: {text}")


def allowed_values(item: ProtocolItem) -> str:
    """The values an item accepts, in the reader's language (the stored codes are QUALITATIVE and YES_NO)."""
    from .explain import value_label
    from .rules import QUALITATIVE, YES_NO

    if item.result_type == "qualitative":
        return " / ".join(value_label(v) for v in QUALITATIVE)
    if item.result_type == "yes_no":
        return " / ".join(value_label(v) for v in YES_NO)
    return _("a number in %(unit)s", unit=item.unit or "-")


def verified_map(session, results: list[ScreeningResult]) -> dict:
    return valid_signatures(session, "screening_result", {r.audit_record_id: r for r in results}, "verified")


def verify(session, sc: Screening, user, password: str, comment: str | None, client=None) -> int:
    return sign_pending(
        session,
        results_of(session, sc),
        "verified",
        user,
        password,
        comment=comment,
        client=client,
        performers_of=lambda r: (r.created_by_id, r.updated_by_id),
        nothing_left=_("Every result of this screening is already verified."),
    )


def evaluate(session, sc: Screening, as_of: date):
    donor = session.get(Donor, sc.donor_id)
    protocol = session.get(ScreeningProtocol, sc.protocol_id)
    items = {i.id: i for i in items_of(session, protocol)}
    results = results_of(session, sc)
    verified = verified_map(session, results)
    facts = DonorFacts(donor.date_of_birth, donor.height_cm, donor.weight_kg, donor.measured_on)
    engine_results = [
        Result(items[r.item_id].code, r.value, r.sample_date, r.audit_record_id in verified) for r in results
    ]
    return decide(spec_of(session, protocol), facts, engine_results, as_of)


def _reasons_json(decision) -> str:
    return json.dumps(
        [{"rule": r.rule, "effect": r.effect, "code": r.code, "params": r.params} for r in decision.reasons],
        default=str,
        ensure_ascii=False,
    )


def approve(session, sc: Screening, user, password: str, comment: str | None, today: date, client=None):
    """Store the engine's decision as of today, signed "approved", and apply it to the donor."""
    if sc.status != "open":
        raise RuleViolation(_("This screening already has a decision."))
    decision = evaluate(session, sc, today)
    if decision.outcome == "incomplete":
        raise RuleViolation(
            _(
                "The decision is incomplete and cannot be approved: %(n)s items have no valid, verified result.",
                n=len(decision.missing),
            )
        )
    donor = session.get(Donor, sc.donor_id)
    row = EligibilityDecision(
        donor_id=donor.id,
        screening_id=sc.id,
        protocol_id=sc.protocol_id,
        protocol_label=decision.protocol,
        as_of=today,
        outcome=decision.outcome,
        until=decision.until,
        reasons=_reasons_json(decision),
    )
    session.add(row)
    session.flush()
    sign(session, row, "approved", user, password, comment=comment, client=client)
    with change_reason(session, f"eligibility decision #{row.id} approved: {decision.outcome}"):
        donor.status = decision.outcome
        donor.status_until = decision.until
        donor.status_reason = None  # a signed decision replaces a suspension (or any earlier finding)
        sc.status = "decided"
    return row


def decisions_of(session, donor: Donor) -> list[EligibilityDecision]:
    return list(
        session.exec(
            select(EligibilityDecision)
            .where(EligibilityDecision.donor_id == donor.id)
            .order_by(EligibilityDecision.id.desc())
        ).all()
    )


def screenings_of(session, donor: Donor) -> list[Screening]:
    return list(
        session.exec(select(Screening).where(Screening.donor_id == donor.id).order_by(Screening.id.desc())).all()
    )


def stored_reasons(row: EligibilityDecision):
    """The stored reasons as Reason objects (for the same sentences as the live check)."""
    from .rules import Reason

    return [Reason(r["rule"], r["effect"], r["code"], r["params"]) for r in json.loads(row.reasons)]
