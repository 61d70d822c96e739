"""Label reconciliation: a printed dose-unit label is scanned back and checked against the record.

Every dose-unit print is kept (``LabelPrint``) with the state the label said: effective status, the use-by
minute and the thaw time. The technician scans the printed label into "Verify label" on the unit page; the
scan must be that unit's payload, and the label printed last must say what the unit is now. A unit is issued
only under a verified label of its current state, so a thaw, a hold or its release (each changes what the label
must say) makes a new label due before the unit leaves the lab.

The QR payload names the unit, not the print (``LIMS:DU:<code>``): the scan proves the label in hand belongs to
this unit; which print it is comes from the print record, the last one printed for the unit.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlmodel import select

from ..core.scan import parse
from ..errors import RuleViolation
from ..manufacturing.models import DoseUnit
from ..timefmt import format_dt
from .models import LabelPrint

# Statuses whose labels say the same thing (RELEASED): a reservation or an issue needs no new label.
SAME_LABEL = {"available": "released", "reserved": "released", "issued": "released"}


def _label_state(code: str) -> str:
    return SAME_LABEL.get(code, code)


def record_prints(session, labels, layout_code: str, fmt: str, now: datetime, user_id: int | None) -> None:
    """One print row per dose-unit label in the document, with the state the label says."""
    units = [lab for lab in labels if lab.kind == "DU" and lab.unit_state is not None]
    if not units:
        return
    by_code = {
        u.code: u
        for u in session.exec(select(DoseUnit).where(DoseUnit.code.in_([lab.record_id for lab in units]))).all()
    }  # one query for a whole lot's labels
    for lab in units:
        u, st = by_code[lab.record_id], lab.unit_state
        session.add(
            LabelPrint(
                unit_id=u.id,
                unit_code=u.code,
                payload=lab.payload,
                layout=layout_code,
                format=fmt,
                state=st.code,
                use_by=st.use_by_minute,
                thawed_at=st.thawed_at,
                printed_at=now,
                printed_by_id=user_id,
            )
        )
    session.flush()


def last_print(session, u: DoseUnit) -> LabelPrint | None:
    return session.exec(select(LabelPrint).where(LabelPrint.unit_id == u.id).order_by(LabelPrint.id.desc())).first()


def is_current(p: LabelPrint, state) -> bool:
    """The print says what the unit is now: the same status wording, use-by minute and thaw time."""
    return (
        _label_state(p.state) == _label_state(state.code)
        and p.use_by == state.use_by_minute
        and p.thawed_at == state.thawed_at
    )


def describe(state_code: str, use_by: datetime, thawed_at: datetime | None) -> str:
    """A label's state in a sentence: "Available, use by 2027-05-23 23:59 CST" (thawed: with the thaw time)."""
    from ..manufacturing.explain import UNIT_STATUS_LABELS

    status = UNIT_STATUS_LABELS.get(state_code, state_code)
    if thawed_at is not None:
        return _(
            "%(status)s, thawed %(thawed)s, use by %(t)s",
            status=status,
            thawed=format_dt(thawed_at),
            t=format_dt(use_by),
        )
    return _("%(status)s, use by %(t)s", status=status, t=format_dt(use_by))


def _now_text(state) -> str:
    return describe(state.code, state.use_by_minute, state.thawed_at)


def verify(session, u: DoseUnit, scanned: str, user, now: datetime) -> LabelPrint:
    """Record "label verified" on the last print of ``u``: refused, nothing stored, for a scan that is not this
    unit's label payload or a label that no longer says the unit's state."""
    from ..manufacturing.queries import unit_state

    kind, ident, problem = parse(scanned or "")
    text = (scanned or "").strip()
    if problem == "empty":
        raise RuleViolation(_("Scan the printed label of unit %(code)s.", code=u.code))
    if problem or kind is None:
        raise RuleViolation(
            _(
                "%(scan)s is not a label scan: scan the QR code printed on the label of unit %(code)s.",
                scan=text[:60],
                code=u.code,
            )
        )
    if kind != "DU":
        raise RuleViolation(
            _("%(scan)s is not a dose unit label: scan the label of unit %(code)s.", scan=text[:60], code=u.code)
        )
    if ident.strip().upper() != u.code:
        raise RuleViolation(
            _(
                "This label belongs to unit %(other)s, not to %(code)s: take it off and label the unit "
                "with its own label.",
                other=ident.strip().upper(),
                code=u.code,
            )
        )
    p = last_print(session, u)
    if p is None:
        raise RuleViolation(
            _("No label was printed for unit %(code)s: print its label first, then scan it.", code=u.code)
        )
    state = unit_state(session, u, now)
    if not is_current(p, state):
        raise RuleViolation(
            _(
                "The last label of unit %(code)s says %(printed)s; the unit is now %(now)s. "
                "Print a new label and scan that one.",
                code=u.code,
                printed=describe(p.state, p.use_by, p.thawed_at),
                now=_now_text(state),
            )
        )
    if p.verified_at is not None:
        raise RuleViolation(
            _(
                "The label of unit %(code)s printed %(at)s was already verified.",
                code=u.code,
                at=format_dt(p.printed_at),
            )
        )
    from ..audit.trail import change_reason

    with change_reason(session, "label verified by scan"):
        p.verified_at, p.verified_by_id = now, user.id
    session.flush()
    return p


def issue_problem(session, u: DoseUnit, now: datetime) -> str | None:
    """Why ``u`` may not leave the lab under its label: none printed, the last one not verified, or it says a
    state the unit is no longer in. None when a verified label of the current state is on the unit."""
    from ..manufacturing.queries import unit_state

    p = last_print(session, u)
    if p is None:
        return _(
            "Unit %(code)s has no printed label: print its label on the unit page and scan it into "
            '"Verify label" before issuing.',
            code=u.code,
        )
    state = unit_state(session, u, now)
    if not is_current(p, state):
        return _(
            "The label of unit %(code)s says %(printed)s, but the unit is now %(now)s: print a new label, "
            'scan it into "Verify label" on the unit page, then issue.',
            code=u.code,
            printed=describe(p.state, p.use_by, p.thawed_at),
            now=_now_text(state),
        )
    if p.verified_at is None:
        return _(
            'The label of unit %(code)s was printed but not verified: scan it into "Verify label" on the '
            "unit page before issuing.",
            code=u.code,
        )
    return None
