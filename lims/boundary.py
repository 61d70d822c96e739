"""The request boundary: text no record may hold is refused before any view reads it.

A NUL byte is refused by PostgreSQL (a 500 deep inside a query), other
control characters and invalid UTF-8 would be stored as text nobody can read
or print, and Werkzeug silently turns invalid UTF-8 into U+FFFD. So the raw
bytes of the path, the query string and a form body are checked here, once,
for every route: a refusal is a 400 with a message and nothing is stored.
Tab, CR and LF stay allowed in form values (free text has lines); nothing
else below U+0020, DEL or the C1 range is allowed anywhere.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from flask import request
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from .errors import LimsError

_FORM_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_STRICT_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_FORM_TYPES = ("application/x-www-form-urlencoded",)


class BadInput(LimsError):
    status_code = 400


def _refuse(where: str) -> BadInput:
    return BadInput(
        _(
            "The request held a control character or bytes that are not valid UTF-8 text (in %(where)s), "
            "so nothing was saved. Remove the character (it may come from a copied text or a misconfigured "
            "scanner) and try again.",
            where=where,
        )
    )


def _text(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _pairs(raw: bytes):
    """(name, value) texts of an urlencoded string, None for one that is not UTF-8."""
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _sep, value = part.partition(b"=")
        yield _text(unquote_to_bytes(name.replace(b"+", b" "))), _text(unquote_to_bytes(value.replace(b"+", b" ")))


def problem() -> str | None:
    """Where the current request holds text it may not, or None."""
    path = request.environ.get("PATH_INFO", "")
    try:
        path_text = _text(path.encode("latin-1"))
    except UnicodeEncodeError:  # a server that already decoded it
        path_text = path
    if path_text is None or _STRICT_CONTROL.search(path_text):
        return _("the address")
    for name, value in _pairs(request.query_string):
        if name is None or value is None or _STRICT_CONTROL.search(name) or _STRICT_CONTROL.search(value):
            return _("the address parameter %(name)s", name=(name or "?")[:40])
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in _FORM_TYPES:
        for name, value in _pairs(request.get_data(cache=True)):
            if name is None or _STRICT_CONTROL.search(name):
                return _("a field name")
            if value is None or _FORM_CONTROL.search(value):
                return _("the field %(name)s", name=name[:40])
    elif request.method in ("POST", "PUT", "PATCH"):  # multipart: Werkzeug decoded it; check what it made of it
        for name, value in request.form.items(multi=True):
            if _STRICT_CONTROL.search(name) or "\ufffd" in value or _FORM_CONTROL.search(value):
                return _("the field %(name)s", name=name[:40])
    return None


class BoundedInt(IntegerConverter):
    """``<int:...>`` limited to what an INTEGER id holds: a longer number is no record (404), never an overflow."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def init_app(app) -> None:
    """Read the raw bytes first (before CSRF parses the form; Werkzeug would have replaced invalid UTF-8 by then);
    the refusal itself comes from ``refuse_bad_input``, registered after the user is loaded, so the error page
    still shows a signed-in user their navigation."""
    from flask import g

    @app.before_request
    def _check_boundary():
        g.lims_bad_input = problem()


def refuse_bad_input():
    from flask import g

    where = g.pop("lims_bad_input", None)
    if where is not None:
        raise _refuse(where)
