"""Opening lookback cases (automatically from a positive result, or by QA) and reading what they reach."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlmodel import select

from ..clock import utcnow
from ..core.counters import next_number
from ..errors import NotFound, RuleViolation
from ..manufacturing.models import Batch, Donation, DoseUnit
from . import rules
from .models import LookbackCase


def window_days() -> int:
    return int(current_app.config.get("LOOKBACK_WINDOW_DAYS", rules.DEFAULT_WINDOW_DAYS))


def target_days() -> int:
    return int(current_app.config.get("LOOKBACK_TARGET_DAYS", rules.DEFAULT_TARGET_DAYS))


def get(session, code: str) -> LookbackCase:
    c = session.exec(select(LookbackCase).where(LookbackCase.code == (code or "").strip().upper())).first()
    if c is None:
        raise NotFound(_("No lookback case has the code %(code)s.", code=code))
    return c


def open_cases(session) -> list[LookbackCase]:
    return list(
        session.exec(select(LookbackCase).where(LookbackCase.status == "open").order_by(LookbackCase.opened_at)).all()
    )


def negative_sample_days(session, donor_id: int) -> list[date]:
    """The latest sample date of each screening whose signed decision found the donor eligible."""
    from sqlalchemy import func

    from ..audit.signatures import current_signature
    from ..donors.screening_models import EligibilityDecision, ScreeningResult

    out = []
    for d in session.exec(
        select(EligibilityDecision).where(
            EligibilityDecision.donor_id == donor_id, EligibilityDecision.outcome == "eligible"
        )
    ).all():
        sig = current_signature(session, d, "approved")
        if sig and sig.valid:
            last = session.exec(
                select(func.max(ScreeningResult.sample_date)).where(ScreeningResult.screening_id == d.screening_id)
            ).one()
            if last is not None:
                out.append(last)
    return out


def _open(
    session, donor_id: int, trigger: str, text: str, finding: date, result_id=None, batch_id=None
) -> LookbackCase:
    days = window_days()
    s = rules.scope(finding, rules.last_negative_before(negative_sample_days(session, donor_id), finding), days)
    case = LookbackCase(
        code=f"LB-{finding.year}-{next_number(session, 'lookback'):04d}",
        donor_id=donor_id,
        batch_id=batch_id,
        trigger=trigger,
        trigger_text=text,
        result_id=result_id,
        finding_date=finding,
        window_days=days,
        scope_start=s.start,
        scope_basis=s.basis,
        last_negative=s.last_negative,
        opened_at=utcnow(),
    )
    session.add(case)
    session.flush()
    from ..donors.models import Donor
    from ..donors.operations import suspend

    suspend(session, session.get(Donor, donor_id), f"lookback case {case.code} opened ({text})")
    return case


def trigger_for_results(session, donor, screening_results) -> list[LookbackCase]:
    """A positive or excluding result for a donor who has donated opens a case (one open case per donor)."""
    from ..donors.models import ProtocolItem
    from ..donors.protocols import display_name, item_spec
    from ..donors.rules import item_fails

    has_donated = session.exec(select(Donation.id).where(Donation.donor_id == donor.id)).first() is not None
    if not has_donated:
        return []
    findings = []
    for r in screening_results:
        item = session.get(ProtocolItem, r.item_id)
        spec = item_spec(item)
        fails = item_fails(spec, r.value)
        if fails and (spec.result_type == "qualitative" or spec.on_fail == "exclude"):
            findings.append((r, item))
    if not findings:
        return []
    existing = session.exec(
        select(LookbackCase).where(
            LookbackCase.donor_id == donor.id, LookbackCase.status == "open", LookbackCase.batch_id.is_(None)
        )
    ).first()
    if existing is not None:
        return []
    r, item = min(findings, key=lambda f: f[0].sample_date)
    text = "; ".join(f"{display_name(i)}: {x.value} (sample {x.sample_date})" for x, i in findings)
    return [_open(session, donor.id, "result", text, r.sample_date, result_id=r.id)]


def open_manual(session, donor_code: str, lot: str, finding: date | None, reason: str, today: date) -> LookbackCase:
    """QA opens a case by hand (e.g. an infection found in a recipient and traced back), for a donor or a batch."""
    from ..donors.models import Donor

    problems = []
    if not (reason or "").strip():
        problems.append(_("A reason is required to open a lookback case."))
    if finding is None:
        problems.append(_("Enter the date of the finding."))
    elif finding > today:
        problems.append(_("The date of the finding is in the future."))
    donor = batch = None
    lot, donor_code = scanned(lot, "LOT", problems), scanned(donor_code, "DO", problems)
    if lot:
        batch = session.exec(select(Batch).where(Batch.lot == lot)).first()
        if batch is None:
            problems.append(_("No batch has the lot %(lot)s.", lot=lot))
        else:
            donor = session.get(Donor, batch.donor_id)
    elif donor_code:
        donor = session.exec(select(Donor).where(Donor.code == donor_code)).first()
        if donor is None:
            problems.append(_("No donor has the code %(code)s.", code=donor_code))
    elif lot is not None and donor_code is not None:  # both empty (a refused scan is named already)
        problems.append(_("Name the donor or the batch."))
    if problems:
        raise RuleViolation(" ".join(problems))
    return _open(session, donor.id, "manual", reason.strip(), finding, batch_id=batch.id if batch else None)


def scanned(value: str | None, type_code: str, problems: list[str]) -> str | None:
    """A typed or scanned ID (lims.core.scan.scanned_id); a refused one is added to the problems (None)."""
    from ..core.scan import scanned_id

    try:
        return scanned_id(value, type_code)
    except RuleViolation as err:
        problems.append(err.message)
        return None


@dataclass
class UnitLine:
    unit: DoseUnit
    location: str
    administration: object | None
    recipient: str | None


@dataclass
class DonationLine:
    donation: Donation
    batch: Batch | None
    units: list[UnitLine]
    disposed: object | None


@dataclass
class ScopeEntry:
    """One donation of the donor as the case sees it: in scope or excluded, and why."""

    donation: Donation
    batch: Batch | None
    in_scope: bool
    reason: str
    params: dict
    addition: object | None  # the LookbackScopeAddition that put it in scope


def additions_of(session, case: LookbackCase) -> list:
    from .models import LookbackScopeAddition

    return list(
        session.exec(
            select(LookbackScopeAddition)
            .where(LookbackScopeAddition.case_id == case.id)
            .order_by(LookbackScopeAddition.seq)
        ).all()
    )


def case_scope(case: LookbackCase) -> rules.Scope:
    return rules.Scope(case.scope_start, case.scope_basis, case.last_negative, case.finding_date)


def scope_of(session, case: LookbackCase) -> list[ScopeEntry]:
    """Every donation of the donor, oldest first, with its batch, in scope or excluded and why (rules.classify)."""
    donations = list(
        session.exec(
            select(Donation).where(Donation.donor_id == case.donor_id).order_by(Donation.collection_day, Donation.code)
        ).all()
    )
    batches = {b.donation_id: b for b in session.exec(select(Batch).where(Batch.donor_id == case.donor_id)).all()}
    added = {}
    for a in additions_of(session, case):
        added.setdefault(a.donation_id, a)
    named = session.get(Batch, case.batch_id).donation_id if case.batch_id is not None else None
    facts = [rules.DonationFacts(d.id, d.collection_day, d.status, d.id in batches) for d in donations]
    decisions = rules.classify(case_scope(case), facts, named, {k: a.reason for k, a in added.items()})
    return [
        ScopeEntry(d, batches.get(d.id), x.in_scope, x.reason, x.params, added.get(d.id))
        for d, x in zip(donations, decisions)
    ]


def scope_reason(entry: ScopeEntry) -> str:
    """Why a donation is in scope or excluded, as the case page and the PDF say it."""
    p = entry.params
    if entry.reason == "added":
        return _(
            "added by QA (%(ref)s): %(reason)s",
            ref=entry.addition.audit_record_id if entry.addition else "-",
            reason=p["reason"],
        )
    if entry.reason == "named_batch":
        return _("the batch named when the case was opened")
    if entry.reason == "other_batch":
        return _("the case was opened for another batch of the donor only")
    if entry.reason == "no_negative":
        return _("no fully negative screening before the finding: every donation is in scope")
    if entry.reason == "same_day_as_negative":
        return _(
            "given on the day the last negative screening was sampled (%(d)s): that sample does not clear "
            "the stool given that day",
            d=p["date"],
        )
    if entry.reason == "after_negative":
        return _("after the last negative screening, sampled %(d)s", d=p["date"])
    if entry.reason == "in_window":
        return _("within the window before the finding, from %(d)s", d=p["date"])
    if entry.reason == "before_negative":
        return _("before the last negative screening, sampled %(d)s", d=p["date"])
    if entry.reason == "before_window":
        if p.get("negative"):
            return _(
                "before the window start %(d)s (the last negative screening, sampled %(neg)s, is earlier)",
                d=p["date"],
                neg=p["negative"],
            )
        return _("before the window start %(d)s", d=p["date"])
    if entry.reason == "no_batch":
        return _("no batch was made (donation rejected): no product to follow")
    return entry.reason


def reach(session, case: LookbackCase, entries: list[ScopeEntry] | None = None) -> list[DonationLine]:
    """Every donation in scope with its retained sample, batch, units (where and in what state) and recipients."""
    from ..clinical.course_models import Administration
    from ..clinical.models import Recipient
    from ..jobs.disposal import disposal_of
    from ..manufacturing.storage import path_text

    lines = []
    for entry in entries if entries is not None else scope_of(session, case):
        if not entry.in_scope:
            continue
        dn, batch = entry.donation, entry.batch
        units = []
        if batch is not None:
            for u in session.exec(select(DoseUnit).where(DoseUnit.batch_id == batch.id).order_by(DoseUnit.seq)).all():
                a = session.exec(select(Administration).where(Administration.unit_id == u.id)).first()
                units.append(
                    UnitLine(
                        u,
                        path_text(session, u.box_id, u.position) if u.box_id else "",
                        a,
                        session.get(Recipient, a.recipient_id).code if a else None,
                    )
                )
        lines.append(DonationLine(dn, batch, units, disposal_of(session, dn)))
    return lines


def recipients_of(lines: list[DonationLine]) -> list[tuple[str, list]]:
    """Each recipient reached, with the doses (given or planned) from units in scope."""
    out: dict[str, list] = {}
    for line in lines:
        for u in line.units:
            if u.recipient:
                out.setdefault(u.recipient, []).append(u)
    return sorted(out.items())


def is_overdue(case: LookbackCase, now: datetime) -> bool:
    return case.status == "open" and rules.overdue(case.opened_at, now, target_days())


def audit_clause(case: LookbackCase):
    """The audit rows of the case and its records: actions (-A), notifications (-N), re-tests (-R), holds (:)."""
    from ..audit.models import AuditEntry

    code = case.code
    return AuditEntry.entity.startswith("lookback_") & (
        (AuditEntry.record_id == code)
        | AuditEntry.record_id.startswith(f"{code}-", autoescape=True)
        | AuditEntry.record_id.startswith(f"{code}:", autoescape=True)
    )


def scope_sentence(c: LookbackCase, added: int = 0) -> str:
    """Which rule set the scope and why, as the case page and the PDF say it; ``added``: donations QA added."""
    more = " " + _("Widened by QA with a signed reason: %(n)s donation(s) added.", n=added) if added else ""
    if c.batch_id:
        return _("the batch named when the case was opened") + ("." if more else "") + more
    if c.scope_basis == "no_negative":
        text = _("every donation: no fully negative screening before the finding")
    elif c.scope_basis == "negative_screening":
        text = _(
            "donations from %(d)s on: the last fully negative screening (sampled %(d)s) is later than the "
            "%(n)s-day window before the finding (%(w)s)",
            d=c.scope_start,
            n=c.window_days,
            w=c.finding_date - timedelta(days=c.window_days),
        )
    else:
        text = _(
            "donations from %(d)s on: %(n)s days before the finding; the last fully negative screening "
            "(%(neg)s) is earlier",
            d=c.scope_start,
            n=c.window_days,
            neg=c.last_negative,
        )
    return _("%(scope)s up to now.", scope=text) + more
