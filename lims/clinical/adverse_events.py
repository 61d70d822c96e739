"""Recording adverse events, correcting their grade with a reason, SAE reporting clocks, listings and the summary."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlmodel import select

from ..audit.concurrency import check_version
from ..audit.trail import change_reason
from ..core.counters import next_number
from ..ctcae import catalogue as ctcae
from ..errors import NotFound, RuleViolation
from ..manufacturing.models import Batch, DoseUnit
from ..timefmt import to_lab
from . import ae_rules as rules
from .ae_models import AdverseEvent
from .course_models import Administration
from .explain import texts
from .models import Recipient

FIELDS = (
    "term_code",
    "grade",
    "description",
    "onset_date",
    "resolved_date",
    "seriousness",
    "expected",
    "attribution_fmt",
    "attribution_cotherapy",
    "action_taken",
    "outcome",
    "administration_id",
    "aware_at",
)


def limits() -> rules.SaeLimits:
    cfg = current_app.config
    return rules.SaeLimits(
        int(cfg.get("SAE_ETHICS_HOURS", 24)), int(cfg.get("SAE_FATAL_DAYS", 7)), int(cfg.get("SAE_OTHER_DAYS", 15))
    )


def get(session, code: str) -> AdverseEvent:
    ae = session.exec(select(AdverseEvent).where(AdverseEvent.code == (code or "").strip().upper())).first()
    if ae is None:
        raise NotFound(_("No adverse event has the code %(code)s.", code=code))
    return ae


def _check(session, r: Recipient, data: dict, now: datetime, today) -> tuple:
    cat = ctcae.default()
    admin = None
    if data.get("administration_id"):
        admin = session.get(Administration, int(data["administration_id"]))
        if admin is None or admin.recipient_id != r.id:
            raise RuleViolation(_("The chosen administration is not one of this recipient's."))
    criteria = tuple(data.get("seriousness") or ())
    facts = rules.AeFacts(
        term_code=(data.get("term_code") or "").strip(),
        grade=data.get("grade"),
        onset=data.get("onset_date"),
        resolved=data.get("resolved_date"),
        criteria=criteria,
        expected=data.get("expected"),
        attribution_fmt=data.get("attribution_fmt") or "",
        attribution_cotherapy=data.get("attribution_cotherapy") or "",
        action=data.get("action_taken") or "",
        outcome=data.get("outcome") or "",
        administration_given_on=to_lab(admin.given_at).date() if admin and admin.given_at else None,
        has_administration=admin is not None,
        aware_at=data.get("aware_at"),
        today=today,
        now=now,
        aware_on=to_lab(data["aware_at"]).date() if data.get("aware_at") else None,
    )
    problems = rules.ae_problems(facts, cat.grade_problem)
    if problems:
        raise RuleViolation(texts(problems))
    related = facts.attribution_fmt in rules.RELATED or facts.attribution_cotherapy in rules.RELATED
    deadlines = rules.sae_deadlines(criteria, facts.expected, related, data.get("aware_at") or now, limits())
    return cat, cat.by_code(facts.term_code), criteria, deadlines


def record(session, r: Recipient, data: dict, now: datetime, today) -> AdverseEvent:
    cat, term, criteria, deadlines = _check(session, r, data, now, today)
    ae = AdverseEvent(
        code=f"AE-{next_number(session, 'adverse_event'):04d}",
        recipient_id=r.id,
        recipient_code=r.code,
        administration_id=data.get("administration_id") or None,
        ctcae_version=cat.version,
        term_code=term.code,
        term=term.term,
        soc=term.soc,
        grade=int(data["grade"]),
        description=(data.get("description") or "").strip() or None,
        onset_date=data["onset_date"],
        resolved_date=data.get("resolved_date"),
        seriousness=",".join(criteria),
        expected=data.get("expected") if criteria else None,
        attribution_fmt=data["attribution_fmt"],
        attribution_cotherapy=data["attribution_cotherapy"],
        action_taken=data["action_taken"],
        outcome=data["outcome"],
        aware_at=data.get("aware_at") or now,
        ethics_due_at=deadlines.ethics,
        regulatory_due_at=deadlines.regulatory,
    )
    session.add(ae)
    session.flush()
    return ae


def update(
    session, ae: AdverseEvent, expected_version, data: dict, reason: str, now: datetime, today, labels=None
) -> None:
    """A correction (grade, dates, outcome, ...) needs a reason; the audit trail keeps every earlier value.

    The CTCAE version stays the one the event was graded with."""
    check_version(session, ae, expected_version, None, labels)
    r = session.get(Recipient, ae.recipient_id)
    _cat, term, criteria, deadlines = _check(session, r, data, now, today)
    values = {
        "term_code": term.code,
        "term": term.term,
        "soc": term.soc,
        "grade": int(data["grade"]),
        "description": (data.get("description") or "").strip() or None,
        "onset_date": data["onset_date"],
        "resolved_date": data.get("resolved_date"),
        "seriousness": ",".join(criteria),
        "expected": data.get("expected") if criteria else None,
        "attribution_fmt": data["attribution_fmt"],
        "attribution_cotherapy": data["attribution_cotherapy"],
        "action_taken": data["action_taken"],
        "outcome": data["outcome"],
        "administration_id": data.get("administration_id") or None,
        "aware_at": data.get("aware_at") or ae.aware_at,
        "ethics_due_at": deadlines.ethics,
        "regulatory_due_at": deadlines.regulatory,
    }
    if all(getattr(ae, k) == v for k, v in values.items()):
        raise RuleViolation(_("Nothing was changed."))
    with change_reason(session, reason):
        for k, v in values.items():
            if getattr(ae, k) != v:
                setattr(ae, k, v)


def mark_reported(
    session, ae: AdverseEvent, expected_version, to: str, reported_at: datetime | None, now: datetime
) -> None:
    check_version(session, ae, expected_version)
    attr = {"ethics": "ethics_reported_at", "regulatory": "regulatory_reported_at"}.get(to)
    due = {"ethics": ae.ethics_due_at, "regulatory": ae.regulatory_due_at}.get(to)
    if attr is None or due is None:
        raise RuleViolation(_("No report of this kind is due for this event."))
    if getattr(ae, attr) is not None:
        raise RuleViolation(_("This report was already recorded."))
    if reported_at is None:
        raise RuleViolation(_("Enter when the report was sent."))
    if reported_at > now:
        raise RuleViolation(_("The time is in the future."))
    if reported_at < ae.aware_at:
        raise RuleViolation(_("The report cannot be before the site became aware of the event."))
    with change_reason(session, f"{to} report sent"):
        setattr(ae, attr, reported_at)


def open_reports(session) -> list[tuple[AdverseEvent, str, datetime]]:
    """SAE reports still owed, soonest deadline first: (event, "ethics"|"regulatory", due)."""
    rows = session.exec(
        select(AdverseEvent).where(
            AdverseEvent.seriousness != "",
            (
                (AdverseEvent.ethics_due_at.is_not(None) & AdverseEvent.ethics_reported_at.is_(None))
                | (AdverseEvent.regulatory_due_at.is_not(None) & AdverseEvent.regulatory_reported_at.is_(None))
            ),
        )
    ).all()
    out = []
    for ae in rows:
        if ae.ethics_due_at and ae.ethics_reported_at is None:
            out.append((ae, "ethics", ae.ethics_due_at))
        if ae.regulatory_due_at and ae.regulatory_reported_at is None:
            out.append((ae, "regulatory", ae.regulatory_due_at))
    return sorted(out, key=lambda x: x[2])


def listing(
    session,
    recipient: Recipient | None = None,
    batch: Batch | None = None,
    donor=None,
    limit: int = 500,
    after_id: int | None = None,
) -> list[AdverseEvent]:
    """AEs of a recipient, or those linked (through their administration's unit) to a batch or a donor.

    Newest recorded first; ``after_id`` continues a page (keyset, so page 50 costs what page 1 does)."""
    q = select(AdverseEvent)
    if after_id:
        q = q.where(AdverseEvent.id < after_id)
    if recipient is not None:
        q = q.where(AdverseEvent.recipient_id == recipient.id)
    if batch is not None or donor is not None:
        q = q.join(Administration, Administration.id == AdverseEvent.administration_id).join(
            DoseUnit, DoseUnit.id == Administration.unit_id
        )
        if batch is not None:
            q = q.where(DoseUnit.batch_id == batch.id)
        if donor is not None:
            q = q.join(Batch, Batch.id == DoseUnit.batch_id).where(Batch.donor_id == donor.id)
    return list(session.exec(q.order_by(AdverseEvent.id.desc()).limit(limit)).all())


def trace(session, ae: AdverseEvent) -> dict | None:
    """Administration -> unit -> batch -> donor of an event linked to a dose."""
    return traces(session, [ae]).get(ae.id)


def traces(session, aes) -> dict[int, dict]:
    """The dose chain of many events in one query (a listing must not look each one up)."""
    from ..donors.models import Donor

    ids = {ae.administration_id for ae in aes if ae.administration_id is not None}
    if not ids:
        return {}
    rows = session.exec(
        select(Administration, DoseUnit, Batch, Donor)
        .join(DoseUnit, DoseUnit.id == Administration.unit_id, isouter=True)
        .join(Batch, Batch.id == DoseUnit.batch_id, isouter=True)
        .join(Donor, Donor.id == Batch.donor_id, isouter=True)
        .where(Administration.id.in_(ids))
    ).all()
    chain = {a.id: {"administration": a, "unit": u, "batch": b, "donor": d} for a, u, b, d in rows}
    return {ae.id: chain[ae.administration_id] for ae in aes if ae.administration_id in chain}


def summary(session) -> tuple[list[tuple[str, str, dict[int, int], int]], int]:
    """By term: recipients by worst grade, and the total of recipients with the term; plus recipients in the study."""
    rows = session.exec(
        select(AdverseEvent.recipient_code, AdverseEvent.term, AdverseEvent.soc, AdverseEvent.grade)
    ).all()
    socs = {term: soc for _r, term, soc, _g in rows}
    table = rules.worst_grades([(r, t, g) for r, t, _s, g in rows])
    out = [(socs[term], term, counts, sum(counts.values())) for term, counts in table.items()]
    out.sort(key=lambda x: (x[0], x[1]))
    from sqlalchemy import func

    n = session.exec(select(func.count()).select_from(Recipient)).one()
    return out, n
