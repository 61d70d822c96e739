"""Sign in, sign out and change password."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ..db import Actor, db_session, set_actor
from ..errors import LimsError
from ..web import safe_next
from . import operations as ops
from .forms import ChangePasswordForm, LoginForm
from .permissions import authenticated, public

bp = Blueprint("auth", __name__)


def load_user():
    """before_request: the user of the server-side session, if it is still live."""
    g.user = None
    if request.endpoint == "static":
        return
    set_actor(Actor(None, "anonymous", request.remote_addr))
    token = session.get("sid")
    if not token:
        return
    row, result = ops.load_session(db_session(), token)
    if row is None:
        session.pop("sid", None)
        if result == "idle timeout":
            flash(_("You were signed out after %(n)s minutes without activity. Sign in again.", n=_idle()), "warning")
        elif result == "session lifetime":
            flash(
                _("You were signed out because a session lasts at most %(n)s hours. Sign in again.", n=_max_hours()),
                "warning",
            )
        elif result in _ENDED:
            flash(_ENDED[result](), "warning")
        return
    g.user = result
    g.session_token = token
    set_actor(Actor(result.id, result.full_name, request.remote_addr))


_ENDED = {
    "lockout": lambda: _("Your session was ended because the account was locked. Ask an administrator to unlock it."),
    "deactivated": lambda: _("Your session was ended because the account was deactivated."),
    "account": lambda: _("Your session was ended because the account is locked or deactivated."),
    "password reset": lambda: _("Your session was ended because an administrator set a new password. Sign in with it."),
    "password changed": lambda: _("Your session was ended because your password was changed. Sign in again."),
}


def _idle():
    from flask import current_app

    return current_app.config["IDLE_TIMEOUT_MINUTES"]


def _max_hours():
    from flask import current_app

    return current_app.config["SESSION_MAX_HOURS"]


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if g.get("user"):
        return redirect(url_for("core.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user, token = ops.login(db_session(), form.username.data, form.password.data, request.remote_addr)
        except ops.LoginRefused as err:
            return render_template("auth/login.html", form=form, error=err.message)
        session.clear()
        session["sid"] = token
        session["lang"] = user.language
        if user.must_change_password:
            flash(_("Your password was set by an administrator. Choose your own password to continue."), "info")
            return redirect(url_for("auth.change_password"))
        return redirect(safe_next(form.next.data) or url_for("core.home"))
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    return render_template("auth/login.html", form=form, error=None), (400 if request.method == "POST" else 200)


@bp.route("/logout", methods=["POST"])
@authenticated
def logout():
    ops.logout(db_session(), g.session_token, g.user)
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@authenticated
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            ops.change_own_password(
                db_session(),
                g.user,
                form.current.data,
                form.new.data,
                form.confirm.data,
                keep_session=ops._token_id(g.session_token),
            )
        except LimsError as err:
            return render_template("auth/change_password.html", form=form, error=err.message), err.status_code
        flash(_("Your password was changed."), "success")
        return redirect(url_for("core.home"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/change_password.html", form=form, error=None), status
