"""Optimistic concurrency: a form carries the version it was built from."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlmodel import select

from ..errors import StaleRecord
from ..timefmt import format_dt


def version_token(record) -> str:
    """The hidden "version" value of a form built from ``record``: which record, at which version."""
    return f"{record.audit_record_id}@{record.version}"


def _parse(expected_version) -> tuple[str | None, int]:
    text = str(expected_version if expected_version is not None else "").strip()
    ref, _sep, number = text.rpartition("@")
    try:
        return (ref if _sep else None), int(number)
    except ValueError:
        return (ref if _sep else None), -1


def lock(session, record) -> None:
    """Re-read the record under its row lock (PostgreSQL): a concurrent writer finishes first, and the version
    compared is the committed one, so the loser is told who changed it instead of failing at the UPDATE."""
    if session.get_bind().dialect.name == "postgresql":
        session.refresh(record, with_for_update=True)


def check_version(
    session,
    record,
    expected_version,
    submitted: dict | None = None,
    labels: dict | None = None,
    require_ref: bool = False,
) -> None:
    """Refuse the change when the record moved on since the form was opened, or the form was opened for another record.

    ``submitted`` maps field -> value the user typed; the error lists each
    field whose stored value now differs, so both can be shown. With ``require_ref`` the form must name its
    record (``version_token``): a form copied from another record's page is refused even at the same version.
    """
    ref, expected = _parse(expected_version)
    if (ref is not None and ref != record.audit_record_id) or (ref is None and require_ref):
        raise StaleRecord(
            _(
                "This form was opened for another record (%(other)s), not for %(this)s. Nothing was saved; open the "
                "record's own page and enter the change again.",
                other=ref or "-",
                this=record.audit_record_id,
            ),
            changed_by=None,
            changed_at=None,
        )
    lock(session, record)
    if record.version == expected:
        return
    from ..auth.models import User

    editor = session.exec(select(User).where(User.id == record.updated_by_id)).first() if record.updated_by_id else None
    who = editor.full_name if editor else _("the system")
    changes = []
    for key, mine in (submitted or {}).items():
        theirs = getattr(record, key, None)
        if str(mine if mine is not None else "") != str(theirs if theirs is not None else ""):
            changes.append(((labels or {}).get(key, key), mine, theirs))
    raise StaleRecord(
        _(
            "This record was changed by %(who)s at %(when)s after you opened it (version %(mine)s, now %(now)s). "
            "Nothing was saved; review the current values and enter your change again.",
            who=who,
            when=format_dt(record.updated_at),
            mine=expected,
            now=record.version,
        ),
        changed_by=who,
        changed_at=record.updated_at,
        changes=changes,
    )
