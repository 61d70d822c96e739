"""Small helpers shared by the request handlers."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import request, url_for


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after login (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def back_url(default_endpoint: str = "core.home") -> str:
    """Where "Back" goes: the page the user came from on this site, else home."""
    ref = request.referrer
    if ref:
        parts = urlsplit(ref)
        if parts.netloc == request.host and parts.path != request.path:
            return parts.path + (("?" + parts.query) if parts.query else "")
    return url_for(default_endpoint)


def form_action(run, rerender, done):
    """Run an operation for a posted form.

    A refusal re-renders the page with the message and the typed input (the
    4xx status rolls the request back); a stale form also shows who changed
    the record and both values. ``done(result)`` answers a success.
    """
    from .errors import LimsError, StaleRecord

    try:
        result = run()
    except StaleRecord as err:
        return rerender(error=err.message, conflict=err, status=409)
    except LimsError as err:
        return rerender(error=err.message, status=err.status_code)
    return done(result)


def csv_safe(value):
    """Neutralise spreadsheet formulas (CSV injection) in free text."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def audited_download(body: bytes | str, mimetype: str, file_name: str, entity: str, record_id: str, version: str,
                     what: str, inline: bool = True):
    """A generated document (report, export) and, after the request's read transaction, the audit row
    saying who took which document version."""
    from flask import Response

    from .audit.trail import audit_event
    from .db import db_session, defer_write

    defer_write(db_session(), lambda s: audit_event(s, "report", entity, record_id, new=version, reason=what))
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'{"inline" if inline else "attachment"}; filename="{file_name}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp
