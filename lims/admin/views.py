"""User administration: create, edit roles, deactivate/reactivate, unlock, reset password."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import select

from ..audit.models import AuditEntry
from ..auth import operations as ops
from ..auth.models import User
from ..auth.permissions import roles
from ..auth.queries import role_history
from ..auth.rules import combines_admin_with_gmp
from ..db import db_session
from ..errors import LimsError
from ..forms import field_labels
from ..web import form_action
from .forms import AccountActionForm, CreateUserForm, EditUserForm, ResetPasswordForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
@roles("admin")
def users():
    rows = db_session().exec(select(User).order_by(User.active.desc(), User.username)).all()
    return render_template(
        "admin/users.html", users=rows, combined={u.id for u in rows if combines_admin_with_gmp(u.role_set)}
    )


@bp.route("/users/new", methods=["GET", "POST"])
@roles("admin")
def create_user():
    form = CreateUserForm()
    if form.validate_on_submit():
        try:
            user = ops.create_user(
                db_session(),
                form.username.data,
                form.full_name.data,
                form.roles.data,
                form.password.data,
                form.language.data,
            )
        except LimsError as err:
            return render_template("admin/user_new.html", form=form, error=err.message), err.status_code
        flash(
            _(
                "User %(u)s created. Give the temporary password to the person; it must be changed at first login.",
                u=user.username,
            ),
            "success",
        )
        return redirect(url_for("admin.user_detail", user_id=user.id))
    return render_template("admin/user_new.html", form=form, error=None), (400 if request.method == "POST" else 200)


def _forms(user: User):
    return {
        "edit": EditUserForm(
            prefix="edit",
            version=user.version,
            full_name=user.full_name,
            roles=sorted(user.role_set),
            language=user.language,
        ),
        "action": AccountActionForm(prefix="act", version=user.version),
        "reset": ResetPasswordForm(prefix="reset", version=user.version),
    }


def _render(user, forms, error=None, conflict=None, status=200):
    s = db_session()
    history = s.exec(
        select(AuditEntry)
        .where(AuditEntry.entity == "app_user", AuditEntry.record_id == str(user.id))
        .order_by(AuditEntry.id.desc())
        .limit(200)
    ).all()
    return render_template(
        "admin/user_detail.html",
        u=user,
        forms=forms,
        error=error,
        conflict=conflict,
        history=history,
        role_changes=role_history(s, user.id),
        own=(user.id == g.user.id),
        combined=combines_admin_with_gmp(user.role_set),
    ), status


@bp.route("/users/<int:user_id>")
@roles("admin")
def user_detail(user_id):
    user = ops.get_user(db_session(), user_id)
    return _render(user, _forms(user))


@bp.route("/users/<int:user_id>/edit", methods=["POST"])
@roles("admin")
def edit_user(user_id):
    s = db_session()
    user = ops.get_user(s, user_id)
    forms = _forms(user)
    form = forms["edit"] = EditUserForm(prefix="edit")
    if not form.validate_on_submit():
        return _render(user, forms, error=_("Correct the marked fields."), status=400)
    return form_action(
        lambda: ops.update_user(
            s,
            g.user,
            user,
            form.version.data,
            form.full_name.data,
            form.roles.data,
            form.language.data,
            form.reason.data,
            labels=field_labels(form),
        ),
        lambda **kw: _render(user, forms, **kw),
        lambda _r: _saved(_("User %(u)s saved.", u=user.username), user),
    )


@bp.route("/users/<int:user_id>/<any(deactivate,reactivate,unlock):action>", methods=["POST"])
@roles("admin")
def account_action(user_id, action):
    s = db_session()
    user = ops.get_user(s, user_id)
    forms = _forms(user)
    form = forms["action"] = AccountActionForm(prefix="act")
    if not form.validate_on_submit():
        return _render(user, forms, error=_("A reason is required to change an existing record."), status=400)

    def run():
        if action == "unlock":
            return ops.unlock(s, user, form.version.data, form.reason.data)
        return ops.set_active(s, g.user, user, form.version.data, action == "reactivate", form.reason.data)

    messages = {
        "unlock": _("Account %(u)s unlocked."),
        "deactivate": _("Account %(u)s deactivated."),
        "reactivate": _("Account %(u)s reactivated."),
    }
    return form_action(
        run, lambda **kw: _render(user, forms, **kw), lambda _r: _saved(messages[action] % {"u": user.username}, user)
    )


@bp.route("/users/<int:user_id>/reset-password", methods=["POST"])
@roles("admin")
def reset_password(user_id):
    s = db_session()
    user = ops.get_user(s, user_id)
    forms = _forms(user)
    form = forms["reset"] = ResetPasswordForm(prefix="reset")
    if not form.validate_on_submit():
        return _render(user, forms, error=_("Correct the marked fields."), status=400)
    return form_action(
        lambda: ops.reset_password(s, user, form.version.data, form.password.data, form.reason.data),
        lambda **kw: _render(user, forms, **kw),
        lambda _r: _saved(
            _("Temporary password set for %(u)s; it must be changed at the next login.", u=user.username), user
        ),
    )


def _saved(message, user):
    flash(message, "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))
