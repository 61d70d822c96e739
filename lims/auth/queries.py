"""Reads about accounts that the admin pages need (views never query the audit tables themselves)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select

from ..audit.models import AuditEntry

ENTITY = "app_user"


@dataclass(frozen=True)
class RoleChange:
    ts: datetime
    by: str
    old: tuple[str, ...]
    new: tuple[str, ...]
    reason: str | None
    created: bool  # the roles the account was created with


def _roles(value: str | None) -> tuple[str, ...]:
    return tuple(r for r in (value or "").split(",") if r)


def role_history(session, user_id: int, limit: int = 200) -> list[RoleChange]:
    """Every role change of an account, newest first, read from the audit trail.

    The trail is the record of who granted what: it is written by the audit
    layer on every change and cannot be edited, so the page shows it rather
    than a copy kept elsewhere.
    """
    rows = session.exec(
        select(AuditEntry)
        .where(
            AuditEntry.entity == ENTITY,
            AuditEntry.record_id == str(user_id),
            AuditEntry.field == "roles",
            AuditEntry.action.in_(("create", "update")),
        )
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    ).all()
    return [
        RoleChange(r.ts, r.user_name, _roles(r.old_value), _roles(r.new_value), r.reason, r.action == "create")
        for r in rows
    ]
