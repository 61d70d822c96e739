"""One-time tokens of creating forms: a double click or a resent form creates one record, not two.

A creating form carries a random token (``OnceField``). The request that creates the record spends it in its
own transaction; a replay of the same form finds it spent and is shown the record created the first time. A
refused request rolls back, so its token is not spent and the corrected form can be sent again. Two copies
sent at the same moment meet at the token's primary key: on PostgreSQL the second waits for the first to
commit, on SQLite writers are serialised.
"""

from __future__ import annotations

import re
import secrets

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from wtforms import HiddenField

from ..clock import utcnow
from ..errors import LimsError
from .models import FormToken

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def new_token() -> str:
    return secrets.token_urlsafe(24)


def OnceField():
    """The hidden token; a new one each time a blank form is built, the posted one kept on a re-render."""
    return HiddenField(default=new_token)


class IncompleteForm(LimsError):
    status_code = 400


def spend(session, token: str | None, endpoint: str, user_id: int | None) -> FormToken | None:
    """Spend ``token`` for this request; the earlier spending when it was spent before (a replay), else None."""
    token = (token or "").strip()
    if not TOKEN_RE.match(token):
        raise IncompleteForm(
            _(
                "This form is incomplete (its one-time token is missing); nothing was saved. "
                "Reload the page and enter it again."
            )
        )
    found = session.get(FormToken, token)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(FormToken(token=token, user_id=user_id, endpoint=endpoint[:80], used_at=utcnow()))
            session.flush()
    except IntegrityError:  # sent twice at the same moment: the other copy committed first
        return session.get(FormToken, token, populate_existing=True)
    return None


def record(session, token: str, url: str | None, label: str | None = None) -> None:
    row = session.get(FormToken, token)
    if row is not None:
        row.result_url, row.result_label = (url or "")[:300] or None, (label or "")[:200] or None
        session.flush()
