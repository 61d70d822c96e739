"""Recipient registry pages."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import select

from ..audit.concurrency import version_token
from ..audit.models import AuditEntry
from ..auth.permissions import authenticated, require_role, roles
from ..core.scan import Resolver, register
from ..db import db_session
from ..forms import field_labels
from ..params import arg_int
from ..timefmt import lab_today
from ..web import form_action
from . import recipients as ops
from .forms import SEX_CHOICES, EditIdentityForm, EditRecipientForm, RegisterRecipientForm
from .rules import age_on

bp = Blueprint("recipients", __name__, url_prefix="/recipients")
REGISTRARS = ("clinician", "qa")


def _find(session, ident):
    r = ops.by_code(session, ident)
    return url_for("recipients.detail", code=r.code) if r else None


register(Resolver("PT", "recipient", _find, lambda s: bool(ops.CODE_RE.match(s.strip().upper()))))


@bp.route("/")
@authenticated
def index():
    rows = ops.listing(db_session(), arg_int("after"))
    more = len(rows) > 50
    rows = rows[:50]
    return render_template(
        "clinical/recipients.html",
        rows=rows,
        next_after=rows[-1].id if more else None,
        sexes=dict(SEX_CHOICES),
        age_on=age_on,
        today=lab_today(),
        can_register=require_role(*REGISTRARS),
    )


@bp.route("/new", methods=["GET", "POST"])
@roles(*REGISTRARS)
def create():
    form = RegisterRecipientForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template(
            "clinical/recipient_new.html", form=form, error=_("Correct the marked fields.") if status == 400 else None
        ), status
    return form_action(
        lambda: ops.register(db_session(), form.facts(), form.identity(), lab_today()),
        lambda **kw: (
            render_template("clinical/recipient_new.html", form=form, error=kw.get("error")),
            kw.get("status", 422),
        ),
        lambda r: _saved(_("Recipient %(code)s registered.", code=r.code), r),
        once=form.once.data,
    )


def render_detail(
    r, form=None, error=None, conflict=None, status=200, plan_form=None, co_form=None, identity_form=None
):
    """The recipient page: facts, identity (restricted), courses with their timeline, co-therapy, adverse events."""
    from . import adverse_events as ae_ops
    from . import courses as course_ops
    from .course_forms import CoTherapyForm, PlanCourseForm

    s = db_session()
    identity = ops.identity_of(s, r) if require_role(*REGISTRARS) else None
    own = (AuditEntry.entity == "recipient") & (AuditEntry.record_id == r.code)
    history = s.exec(select(AuditEntry).where(own).order_by(AuditEntry.id.desc()).limit(200)).all()
    if form is None:  # obj= fills "version" from the record itself: the token is set after
        form = EditRecipientForm(prefix="facts", obj=r)
        form.version.data = version_token(r)
    if identity is not None and identity_form is None:
        identity_form = EditIdentityForm(prefix="identity", obj=identity)
        identity_form.version.data = version_token(identity)
    if plan_form is None:
        plan_form = PlanCourseForm(prefix="plan", same_donor=current_app.config.get("SAME_DONOR_PREFERENCE", True))
    plan_form.template.choices = course_ops.template_choices(s)
    co_form = co_form or CoTherapyForm(prefix="co", data=course_ops.default_co_therapy(s, r))
    courses = [(c, course_ops.timeline(s, c)) for c in course_ops.courses_of(s, r)]
    return render_template(
        "clinical/recipient.html",
        r=r,
        identity=identity,
        history=history,
        form=form,
        error=error,
        conflict=conflict,
        sexes=dict(SEX_CHOICES),
        age=age_on(r.date_of_birth, lab_today()),
        can_edit=require_role(*REGISTRARS),
        identity_form=identity_form,
        plan_form=plan_form,
        co_form=co_form,
        courses=courses,
        co=course_ops.co_therapies(s, r),
        aes=ae_ops.listing(s, recipient=r),
        can_plan=require_role(*REGISTRARS) and not any(c.status in course_ops.OPEN_STATUSES for c, _rows in courses),
    ), status


@bp.route("/<code>")
@authenticated
def detail(code):
    return render_detail(ops.get(db_session(), code))


@bp.route("/<code>/facts", methods=["POST"])
@roles(*REGISTRARS)
def edit_facts(code):
    s = db_session()
    r = ops.get(s, code)
    form = EditRecipientForm(prefix="facts")
    if not form.validate_on_submit():
        return render_detail(r, form, _("Correct the marked fields."), status=400)
    return form_action(
        lambda: ops.update_facts(
            s, r, form.version.data, form.facts(), form.reason.data, lab_today(), labels=field_labels(form)
        ),
        lambda **kw: render_detail(r, form, **kw),
        lambda _r: _saved(_("Recipient %(code)s saved.", code=r.code), r),
    )


def _saved(message, r):
    flash(message, "success")
    return redirect(url_for("recipients.detail", code=r.code))


@bp.route("/<code>/identity", methods=["POST"])
@roles(*REGISTRARS)
def edit_identity(code):
    s = db_session()
    r = ops.get(s, code)
    form = EditIdentityForm(prefix="identity")
    if not form.validate_on_submit():
        return render_detail(r, error=_("Correct the marked fields."), status=400, identity_form=form)
    return form_action(
        lambda: ops.update_identity(
            s, r, form.version.data, form.identity(), form.reason.data, labels=field_labels(form)
        ),
        lambda **kw: render_detail(r, identity_form=form, **kw),
        lambda _r: _saved(_("Identity of %(code)s corrected.", code=r.code), r),
    )
