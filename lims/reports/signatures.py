"""The signature block every report prints: printed name, role, meaning, date-time with zone, valid or not."""

from __future__ import annotations

from flask_babel import gettext as _
from reportlab.platypus import Spacer

from ..audit.signatures import MEANINGS, signatures_for
from ..auth.models import User
from ..timefmt import format_dt
from . import document as doc


def who(session, user_id) -> str:
    u = session.get(User, user_id) if user_id else None
    return u.full_name if u else ""


def roles(session, user_id) -> str:
    from ..admin.forms import ROLE_CHOICES

    u = session.get(User, user_id)
    labels = dict(ROLE_CHOICES)
    return ", ".join(str(labels.get(r, r)) for r in sorted(u.role_set)) if u else ""


def signature_rows(session, records) -> list[list[str]]:
    """Printed name, role, meaning, date-time with zone, and whether the record changed after signing."""
    rows = []
    for record in records:
        for view in signatures_for(session, record):
            sig = view.signature
            state = _("valid") if view.valid else _("INVALID: %(why)s", why=view.problem)
            rows.append(
                [
                    record.audit_record_id,
                    sig.user_name,
                    roles(session, sig.user_id),
                    str(MEANINGS[sig.meaning]),
                    format_dt(sig.signed_at, seconds=True),
                    state,
                    sig.comment or "",
                ]
            )
    return rows


def sig_table(rows, title=None, empty=None) -> list:
    t = doc.table(
        [_("Record"), _("Signed by"), _("Role"), _("Meaning"), _("Date and time"), _("State"), _("Comment")],
        rows,
        [30, 24, 28, 16, 32, 26, 24],
        empty=empty or _("No signatures."),
    )
    return [Spacer(1, 4), doc.para(title, doc.styles()["small"]), t] if title else [t]
