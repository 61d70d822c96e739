"""Equipment register pages."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import select

from ..audit.concurrency import version_token
from ..audit.fingerprint import expect_content, fingerprint
from ..audit.models import AuditEntry
from ..audit.signatures import current_signature, signatures_for
from ..auth.permissions import authenticated, require_role, roles
from ..core.scan import Resolver, register
from ..db import db_session
from ..forms import SignatureForm, field_labels
from ..timefmt import lab_today
from ..web import form_action
from . import operations as ops
from .forms import KIND_LABELS, STATUS_LABELS, CreateEquipmentForm, EditEquipmentForm
from .models import Equipment
from .rules import calibration_overdue, normalise_code, usable_for_gmp

bp = Blueprint("equipment", __name__, url_prefix="/equipment")

EDITORS = ("technician", "qa")


def _find_by_code(session, ident):
    eq = ops.by_code(session, ident)
    return url_for("equipment.detail", equipment_id=eq.id) if eq else None


register(Resolver("EQ", "equipment", _find_by_code, lambda s: normalise_code(s).startswith("EQ-")))


@bp.route("/")
@authenticated
def index():
    rows = db_session().exec(select(Equipment).order_by(Equipment.code)).all()
    s = db_session()
    approvals = {e.id: current_signature(s, e, "approved") for e in rows}
    return render_template(
        "equipment/index.html",
        rows=rows,
        approvals=approvals,
        kinds=KIND_LABELS,
        statuses=STATUS_LABELS,
        today=lab_today(),
        overdue=calibration_overdue,
    )


@bp.route("/new", methods=["GET", "POST"])
@roles(*EDITORS)
def create():
    form = CreateEquipmentForm()
    if form.validate_on_submit():

        def registered(eq):
            flash(_("Equipment %(code)s registered.", code=eq.code), "success")
            return redirect(url_for("equipment.detail", equipment_id=eq.id))

        return form_action(
            lambda: ops.create(db_session(), form.code.data, form.data_dict()),
            lambda **kw: (
                render_template("equipment/new.html", form=form, error=kw.get("error")),
                kw.get("status", 422),
            ),
            registered,
            once=form.once.data,
        )
    return render_template("equipment/new.html", form=form, error=None), (400 if request.method == "POST" else 200)


def _render_detail(eq, edit_form=None, sign_form=None, error=None, conflict=None, status=200):
    s = db_session()
    sigs = signatures_for(s, eq)
    approval = next((v for v in reversed(sigs) if v.signature.meaning == "approved"), None)
    history = s.exec(
        select(AuditEntry)
        .where(AuditEntry.entity == "equipment", AuditEntry.record_id == str(eq.id))
        .order_by(AuditEntry.id.desc())
        .limit(200)
    ).all()
    if edit_form is None:  # obj= fills "version" from the record itself: the token is set after
        edit_form = EditEquipmentForm(prefix="edit", obj=eq)
        edit_form.version.data = version_token(eq)
    sign_form = sign_form or SignatureForm(prefix="sign", version=version_token(eq))
    sign_form.content.data = fingerprint([eq])
    today = lab_today()
    return render_template(
        "equipment/detail.html",
        eq=eq,
        sigs=sigs,
        approval=approval,
        history=history,
        edit_form=edit_form,
        sign_form=sign_form,
        error=error,
        conflict=conflict,
        kinds=KIND_LABELS,
        statuses=STATUS_LABELS,
        overdue=calibration_overdue(eq.calibration_due, today),
        usable=usable_for_gmp(eq.status, bool(approval and approval.valid), eq.calibration_due, today),
        can_edit=require_role(*EDITORS),
        can_approve=require_role("qa"),
    ), status


@bp.route("/<int:equipment_id>")
@authenticated
def detail(equipment_id):
    return _render_detail(ops.get(db_session(), equipment_id))


@bp.route("/<int:equipment_id>/edit", methods=["POST"])
@roles(*EDITORS)
def edit(equipment_id):
    s = db_session()
    eq = ops.get(s, equipment_id)
    form = EditEquipmentForm(prefix="edit")
    if not form.validate_on_submit():
        return _render_detail(eq, edit_form=form, error=_("Correct the marked fields."), status=400)
    return form_action(
        lambda: ops.update(s, eq, form.version.data, form.data_dict(), form.reason.data, labels=field_labels(form)),
        lambda **kw: _render_detail(eq, edit_form=form, **kw),
        lambda _r: _saved(_("Equipment %(code)s saved.", code=eq.code), eq),
    )


@bp.route("/<int:equipment_id>/approve", methods=["POST"])
@roles("qa")
def approve(equipment_id):
    s = db_session()
    eq = ops.get(s, equipment_id)
    form = SignatureForm(prefix="sign")
    if not form.validate_on_submit():
        return _render_detail(eq, sign_form=form, error=_("Enter your password to sign."), status=400)
    return form_action(
        lambda: (
            expect_content(s, form.content.data, [eq]),
            ops.approve(s, eq, form.version.data, g.user, form.password.data, form.comment.data, request.remote_addr),
        )[1],
        lambda **kw: _render_detail(eq, sign_form=form, **kw),
        lambda _r: _saved(_("Equipment %(code)s approved for GMP use; your signature is recorded.", code=eq.code), eq),
    )


def _saved(message, eq):
    flash(message, "success")
    return redirect(url_for("equipment.detail", equipment_id=eq.id))
