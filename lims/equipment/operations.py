"""Changes to equipment records."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlmodel import select

from ..audit.concurrency import check_version
from ..audit.signatures import sign
from ..audit.trail import change_reason
from ..errors import NotFound, RuleViolation
from .models import KINDS, STATUSES, Equipment
from .rules import normalise_code, valid_code

FIELDS = ("name", "kind", "location", "serial_number", "status", "calibration_due", "notes")


def get(session, equipment_id: int) -> Equipment:
    eq = session.get(Equipment, equipment_id)
    if eq is None:
        raise NotFound(_("No such equipment."))
    return eq


def by_code(session, code: str) -> Equipment | None:
    return session.exec(select(Equipment).where(Equipment.code == normalise_code(code))).first()


def _validate(data: dict) -> None:
    if data["kind"] not in KINDS:
        raise RuleViolation(_("Unknown equipment type."))
    if data["status"] not in STATUSES:
        raise RuleViolation(_("Unknown equipment status."))
    if not (data.get("name") or "").strip():
        raise RuleViolation(_("The name is required."))


def create(session, code: str, data: dict) -> Equipment:
    code = normalise_code(code)
    if not valid_code(code):
        raise RuleViolation(_("Equipment codes are 3-40 capital letters, digits and dashes, e.g. EQ-GFM-01."))
    if by_code(session, code) is not None:
        raise RuleViolation(_("Equipment %(code)s already exists.", code=code))
    _validate(data)
    eq = Equipment(code=code, **{k: data.get(k) for k in FIELDS})
    session.add(eq)
    session.flush()
    return eq


def update(session, eq: Equipment, expected_version, data: dict, reason: str, labels: dict | None = None) -> None:
    check_version(session, eq, expected_version, {k: data.get(k) for k in FIELDS}, labels, require_ref=True)
    _validate(data)
    with change_reason(session, reason):
        for k in FIELDS:
            if getattr(eq, k) != data.get(k):
                setattr(eq, k, data.get(k))


def approve(session, eq: Equipment, expected_version, user, password: str, comment: str | None, client=None):
    """QA approves the record for GMP use; the approver is never its author or last editor."""
    check_version(session, eq, expected_version, require_ref=True)
    if eq.status != "in_service":
        raise RuleViolation(_("Only equipment in service can be approved for GMP use."))
    return sign(
        session,
        eq,
        "approved",
        user,
        password,
        comment=comment,
        performers=(eq.created_by_id, eq.updated_by_id),
        client=client,
    )
