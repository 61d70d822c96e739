"""Error pages that keep the user's context: the layout, the message and a way back."""

from __future__ import annotations

from flask import g, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .errors import LimsError
from .web import back_url


def _titles():
    return {
        400: _("The request could not be used"),
        403: _("You do not have permission for this page"),
        404: _("Not found"),
        405: _("This action is not available here"),
        409: _("The record changed meanwhile"),
        422: _("The action was refused"),
        429: _("Too many requests"),
        500: _("Something went wrong on the server"),
    }


def _page(code: int, message: str):
    _rollback()
    title = _titles().get(code, _("Error"))
    return render_template("errors/error.html", code=code, title=title, message=message, back=back_url()), code


def _rollback() -> None:
    """Undo the request's unfinished work before the layout reads the user's roles: after a failed statement
    the session refuses every query (PendingRollbackError) until it is rolled back. Security events queued
    with ``defer_write`` are kept; they are written in their own transaction."""
    s = g.get("_lims_session")
    if s is not None:
        try:
            s.rollback()
        except Exception:  # pragma: no cover - the connection itself is gone; the page must still render
            pass
    g.lims_rollback = True


def init_app(app):
    @app.errorhandler(CSRFError)
    def _csrf(err):
        return _page(
            400,
            _(
                "The form had expired or did not come from this application, so nothing was saved. "
                "Go back, reload the page and enter it again."
            ),
        )

    @app.errorhandler(LimsError)
    def _lims(err):
        return _page(err.status_code, err.message)

    @app.errorhandler(HTTPException)
    def _http(err):
        messages = {
            403: _("Your roles do not allow this. Ask an administrator if you need access."),
            404: _("The page or record does not exist. Check the address or the scanned code."),
            400: _("The request was incomplete or malformed; nothing was saved."),
            405: _("This address does not accept that kind of request; nothing was saved."),
            429: _("Too many requests in a short time. Wait a moment and try again."),
        }
        return _page(err.code or 500, messages.get(err.code, err.description or ""))

    @app.errorhandler(Exception)
    def _unexpected(err):
        app.logger.exception("unhandled error")
        return _page(
            500,
            _(
                "The error was logged and nothing of this request was saved. Try again; "
                "if it happens again, tell the administrator the time it happened."
            ),
        )
