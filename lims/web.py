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


def form_action(run, rerender, done, once: str | None = None):
    """Run an operation for a posted form, and commit it before the page says it was saved.

    A refusal re-renders the page with the message and the typed input (the
    4xx status rolls the request back); a stale form also shows who changed
    the record and both values. ``done(result)`` answers a success. ``once`` is a creating form's one-time
    token (lims.core.once): a replay shows what the first post created. Two writers meeting at the same row
    (PostgreSQL) and a commit that fails (full disk, lost database) are refused like a stale form: nothing
    saved, the typed input kept, never a success message over an error page.
    """
    from flask import g, request
    from flask_babel import gettext as _
    from sqlalchemy.exc import DBAPIError, IntegrityError
    from sqlalchemy.orm.exc import StaleDataError

    from .core import once as once_tokens
    from .db import db_session
    from .errors import LimsError, StaleRecord

    s = db_session()
    if once is not None:
        try:
            replay = once_tokens.spend(s, once, request.endpoint or "", getattr(g.get("user"), "id", None))
        except LimsError as err:
            return rerender(error=err.message, status=err.status_code)
        if replay is not None:
            return _replayed(replay)
    try:
        result = run()
        s.flush()
    except StaleRecord as err:
        return rerender(error=err.message, conflict=err, status=409)
    except LimsError as err:
        return rerender(error=err.message, status=err.status_code)
    except StaleDataError:
        err = _concurrent_change(s)
        return rerender(error=err.message, conflict=err, status=409)
    except IntegrityError:
        s.rollback()
        return rerender(
            error=_(
                "Someone saved a conflicting record at the same moment (for example the same code "
                "or position); nothing of yours was saved. Check the page and enter it again."
            ),
            status=409,
        )
    response = done(result)
    if once is not None and response.status_code in (301, 302, 303):
        once_tokens.record(s, once, response.headers.get("Location"))
    try:
        s.commit()
    except DBAPIError as exc:
        s.rollback()
        _unflash()
        from flask import current_app

        current_app.logger.exception("commit failed")
        return rerender(
            error=_(
                "Nothing was saved: the database did not store the change (%(error)s). Your input "
                "is kept on this page; try again, and tell the administrator if it happens again.",
                error=type(getattr(exc, "orig", exc)).__name__,
            ),
            status=503,
        )
    return response


def _unflash() -> None:
    """Take back the success message ``done`` flashed for a change that was not stored after all."""
    from flask import session

    flashes = session.get("_flashes")
    if flashes:
        session["_flashes"] = flashes[:-1]


def _replayed(token_row):
    from flask import flash, redirect
    from flask_babel import gettext as _

    from .timefmt import format_dt

    flash(
        _(
            "This form was already sent at %(t)s and saved then; this is what it created. Nothing was saved twice.",
            t=format_dt(token_row.used_at),
        ),
        "success",
    )
    return redirect(token_row.result_url or back_url())


def _concurrent_change(session):
    """An UPDATE found its row at another version than it read (a writer committed in between, PostgreSQL):
    roll back and say who changed which record, as a stale form does."""
    from flask_babel import gettext as _

    from .audit.records import AuditedRecord
    from .auth.models import User
    from .errors import StaleRecord
    from .timefmt import format_dt

    touched = [(type(o), o.id) for o in list(session.dirty) if isinstance(o, AuditedRecord)]
    session.rollback()
    fresh = [r for r in (session.get(cls, rid) for cls, rid in touched) if r is not None]
    latest = max(fresh, key=lambda r: r.updated_at, default=None)
    editor = session.get(User, latest.updated_by_id) if latest is not None and latest.updated_by_id else None
    who = editor.full_name if editor else _("another user")
    when = latest.updated_at if latest is not None else None
    return StaleRecord(
        _(
            "%(record)s was changed by %(who)s at %(when)s while you were saving. Nothing of yours was "
            "saved; review the current values and enter your change again.",
            record=latest.audit_record_id if latest is not None else "-",
            who=who,
            when=format_dt(when) if when else "-",
        ),
        changed_by=who,
        changed_at=when,
    )


def audited_download(
    body: bytes | str,
    mimetype: str,
    file_name: str,
    entity: str,
    record_id: str,
    version: str,
    what: str,
    inline: bool = True,
):
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
