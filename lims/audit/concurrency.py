"""Optimistic concurrency: a form carries the version it was built from."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlmodel import select

from ..errors import StaleRecord
from ..timefmt import format_dt


def check_version(session, record, expected_version, submitted: dict | None = None, labels: dict | None = None) -> None:
    """Refuse the change when the record moved on since the form was opened.

    ``submitted`` maps field -> value the user typed; the error lists each
    field whose stored value now differs, so both can be shown.
    """
    try:
        expected = int(expected_version)
    except (TypeError, ValueError):
        expected = -1
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
        _("This record was changed by %(who)s at %(when)s after you opened it (version %(mine)s, now %(now)s). "
          "Nothing was saved; review the current values and enter your change again.",
          who=who, when=format_dt(record.updated_at), mine=expected, now=record.version),
        changed_by=who, changed_at=record.updated_at, changes=changes,
    )
