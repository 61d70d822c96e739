"""Screening protocol versions: view, copy to a draft, edit the draft, approve it."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from ..audit.fingerprint import expect_content, fingerprint
from ..audit.signatures import signatures_for
from ..auth.permissions import authenticated, require_role, roles
from ..db import db_session
from ..errors import LimsError
from ..forms import SignatureForm
from ..web import form_action
from . import protocol_ops as ops
from .explain import kind_label, result_type_label
from .protocols import items_of, protocol_text

bp = Blueprint("protocols", __name__, url_prefix="/protocols")


@bp.route("/")
@authenticated
def index():
    return render_template("donors/protocols.html", rows=ops.all_versions(db_session()), protocol_text=protocol_text)


def _render(p, form_data=None, item_data=None, sign_form=None, error=None, conflict=None, status=200):
    s = db_session()
    sign_form = sign_form or SignatureForm(prefix="sign", version=p.version)
    sign_form.content.data = fingerprint([p, *items_of(s, p, kinds=None)])
    return render_template(
        "donors/protocol.html",
        p=p,
        items=items_of(s, p, kinds=None),
        sigs=signatures_for(s, p),
        data=form_data,
        item_data=item_data or {},
        fields=ops.PROTOCOL_FIELDS,
        sign_form=sign_form,
        error=error,
        conflict=conflict,
        can_manage=require_role("qa"),
        blank_form=FlaskForm(),
        protocol_text=protocol_text,
        kind_label=kind_label,
        result_type_label=result_type_label,
    ), status


@bp.route("/<int:protocol_id>")
@authenticated
def detail(protocol_id):
    return _render(ops.get(db_session(), protocol_id))


@bp.route("/<int:protocol_id>/new-version", methods=["POST"])
@roles("qa")
def new_version(protocol_id):
    s = db_session()
    source = ops.get(s, protocol_id)
    if not FlaskForm().validate_on_submit():
        return _render(source, error=_("The form had expired; nothing was saved."), status=400)
    try:
        draft = ops.new_version(s, source)
    except LimsError as err:
        return _render(source, error=err.message, status=err.status_code)
    flash(
        _(
            "Draft version %(v)s created from version %(src)s. Change it, then have another QA officer approve it.",
            v=draft.protocol_version,
            src=source.protocol_version,
        ),
        "success",
    )
    return redirect(url_for("protocols.detail", protocol_id=draft.id))


@bp.route("/<int:protocol_id>/edit", methods=["POST"])
@roles("qa")
def edit(protocol_id):
    s = db_session()
    p = ops.get(s, protocol_id)
    data = {k: request.form.get(k, "") for k in ops.PROTOCOL_FIELDS}
    item_data: dict = {}
    for key, value in request.form.items():
        if key.startswith("i__"):
            _prefix, code, field = key.split("__", 2)
            item_data.setdefault(code, {})[field] = value
    if not FlaskForm().validate_on_submit():
        return _render(p, data, item_data, error=_("The form had expired; nothing was saved."), status=400)
    reason = request.form.get("reason", "").strip()
    if not reason:
        return _render(p, data, item_data, error=_("A reason is required to change an existing record."), status=400)
    return form_action(
        lambda: ops.edit_draft(s, p, request.form.get("version"), data, item_data, reason),
        lambda **kw: _render(p, data, item_data, **kw),
        lambda n: _saved(_("%(n)s values of draft version %(v)s saved.", n=n, v=p.protocol_version), p),
    )


@bp.route("/<int:protocol_id>/approve", methods=["POST"])
@roles("qa")
def approve(protocol_id):
    s = db_session()
    p = ops.get(s, protocol_id)
    form = SignatureForm(prefix="sign")
    if not form.validate_on_submit():
        return _render(p, sign_form=form, error=_("Enter your password to sign."), status=400)
    return form_action(
        lambda: (
            expect_content(s, form.content.data, [p, *items_of(s, p, kinds=None)]),
            ops.activate(s, p, form.version.data, g.user, form.password.data, form.comment.data, request.remote_addr),
        )[1],
        lambda **kw: _render(p, sign_form=form, **kw),
        lambda _r: _saved(
            _("Version %(v)s of %(code)s is now active; new screenings use it.", v=p.protocol_version, code=p.code), p
        ),
    )


def _saved(message, p):
    flash(message, "success")
    return redirect(url_for("protocols.detail", protocol_id=p.id))
