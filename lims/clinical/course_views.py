"""Course pages: plan, the dose page (reserve, issue, bedside record, postpone, return), today's doses, co-therapy."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlmodel import select

from ..audit.models import AuditEntry
from ..auth.permissions import authenticated, require_role, roles
from ..clock import utcnow
from ..core.scan import Resolver, register
from ..db import db_session
from ..manufacturing.forms import as_local
from ..manufacturing.models import DoseUnit
from ..manufacturing.queries import unit_state
from ..manufacturing.storage import path_text
from ..timefmt import lab_today
from ..web import form_action
from . import administrations as bedside
from . import courses as ops
from . import dispensing
from . import recipients as recipient_ops
from .course_forms import (
    AdministerForm,
    CoTherapyForm,
    ObservationForm,
    PlanCourseForm,
    PostponeForm,
    ReasonForm,
    ReturnUnitForm,
    ScanUnitForm,
)
from .explain import localised, texts

bp = Blueprint("courses", __name__, url_prefix="/courses")
CLINICAL = ("clinician", "qa")
DISPENSERS = ("technician", "qa")
RESERVERS = ("technician", "clinician", "qa")


def _find_course(session, ident):
    c = session.exec(select(ops.Course).where(ops.Course.code == ident.upper())).first()
    return url_for("courses.detail", code=c.code) if c else None


register(Resolver("CO", "course", _find_course, lambda s: False))


def _done(message, endpoint, **kw):
    flash(message, "success")
    return redirect(url_for(endpoint, **kw))


# --- plan ------------------------------------------------------------------------------------------


@bp.route("/plan/<recipient>", methods=["POST"])
@roles(*CLINICAL)
def plan(recipient):
    from .views import render_detail

    s = db_session()
    r = recipient_ops.get(s, recipient)
    form = PlanCourseForm(prefix="plan")
    form.template.choices = ops.template_choices(s)
    if not form.validate_on_submit():
        return render_detail(r, plan_form=form, error=_("Correct the marked fields."), status=400)
    return form_action(
        lambda: ops.plan(s, r, int(form.template.data), form.day1.data, form.same_donor.data, lab_today()),
        lambda **kw: render_detail(r, plan_form=form, **kw),
        lambda c: _done(_("Course %(code)s planned.", code=c.code), "courses.detail", code=c.code),
        once=form.once.data,
    )


# --- course and dose pages -------------------------------------------------------------------------


@bp.route("/<code>")
@authenticated
def detail(code):
    s = db_session()
    c = ops.course(s, code)
    r = s.get(ops.Recipient, c.recipient_id)
    t = ops.template_of(s, c)
    return render_template(
        "clinical/course.html",
        c=c,
        r=r,
        t=t,
        rows=ops.timeline(s, c),
        localised=localised,
        co=ops.co_therapies(s, r),
        today=lab_today(),
    )


def _dose_context(s, a):
    c = s.get(ops.Course, a.course_id)
    r = s.get(ops.Recipient, a.recipient_id)
    t = ops.template_of(s, c)
    u = s.get(DoseUnit, a.unit_id) if a.unit_id else None
    now = utcnow()
    own = (AuditEntry.record_id == a.code) | AuditEntry.record_id.like(f"{a.code}/%")
    history = s.exec(select(AuditEntry).where(own).order_by(AuditEntry.id.desc()).limit(200)).all()
    unit_check = (
        texts(bedside.check_unit(s, a, u.code, now)) if u and a.status == "planned" and u.status == "issued" else None
    )
    candidates = dispensing.candidates(s, a, now) if a.status == "planned" and u is None else []
    from ..auth.models import User

    given_by = s.get(User, a.given_by_id).full_name if a.given_by_id else ""
    return {
        "a": a,
        "c": c,
        "r": r,
        "t": t,
        "u": u,
        "given_by": given_by,
        "today": lab_today(),
        "history": history,
        "localised": localised,
        "unit_place": path_text(s, u.box_id, u.position) if u and u.box_id else None,
        "use_by": unit_state(s, u, now).use_by_minute if u else None,
        "unit_check": unit_check,
        "candidates": candidates,
        "observations": bedside.observations(s, a),
        "postponements": ops.postponements(s, [a.id]),
        "can_clinical": require_role(*CLINICAL),
        "can_dispense": require_role(*DISPENSERS),
        "can_reserve": require_role(*RESERVERS),
    }


def _forms(a, t, **given):
    forms = {
        "reserve_form": ScanUnitForm(prefix="reserve"),
        "administer_form": AdministerForm(
            prefix="give", version=a.version, volume_ml=t.volume_ml, given_at=as_local(utcnow()), tube_date=None
        ),
        "postpone_form": PostponeForm(prefix="pp", version=a.version),
        "reason_form": ReasonForm(prefix="why"),
        "return_form": ReturnUnitForm(prefix="ret"),
        "observation_form": ObservationForm(prefix="obs", observed_at=as_local(utcnow())),
    }
    forms.update(given)
    forms["administer_form"].instructions.choices = [(p.code, localised(p)) for p in t.post_instructions]
    forms["observation_form"].minutes_after.choices = [(m, str(m)) for m in t.observation_minutes]
    return forms


def render_dose(a, error=None, conflict=None, status=200, **forms):
    s = db_session()
    ctx = _dose_context(s, a)
    ctx.update(_forms(a, ctx["t"], **forms))
    return render_template("clinical/dose.html", error=error, conflict=conflict, **ctx), status


@bp.route("/doses/<code>")
@authenticated
def dose(code):
    return render_dose(ops.administration(db_session(), code))


def _dose_post(code, form_key, form, run, message, allowed_roles):
    s = db_session()
    a = ops.administration(s, code)
    t = ops.template_of(s, s.get(ops.Course, a.course_id))
    _forms(a, t, **{form_key: form})  # fills choices before validation
    if not form.validate_on_submit():
        return render_dose(a, error=_("Correct the marked fields."), status=400, **{form_key: form})
    return form_action(
        lambda: run(s, a),
        lambda **kw: render_dose(a, **kw, **{form_key: form}),
        lambda _res: _done(message(a), "courses.dose", code=a.code),
        once=form.once.data if "once" in form else None,
    )


@bp.route("/doses/<code>/reserve", methods=["POST"])
@roles(*RESERVERS)
def reserve(code):
    form = ScanUnitForm(prefix="reserve")
    return _dose_post(
        code,
        "reserve_form",
        form,
        lambda s, a: dispensing.reserve(s, a, form.unit.data, utcnow()),
        lambda a: _("Unit reserved for %(code)s.", code=a.code),
        RESERVERS,
    )


@bp.route("/doses/<code>/cancel-reservation", methods=["POST"])
@roles(*RESERVERS)
def cancel_reservation(code):
    form = ReasonForm(prefix="why")
    return _dose_post(
        code,
        "reason_form",
        form,
        lambda s, a: dispensing.cancel_reservation(s, a, form.reason.data),
        lambda a: _("Reservation cancelled; the unit is available again."),
        RESERVERS,
    )


@bp.route("/doses/<code>/discard", methods=["POST"])
@roles(*RESERVERS)
def discard(code):
    form = ReasonForm(prefix="why")
    return _dose_post(
        code,
        "reason_form",
        form,
        lambda s, a: dispensing.discard_unit(s, a, form.reason.data),
        lambda a: _("Unit discarded."),
        RESERVERS,
    )


@bp.route("/doses/<code>/return", methods=["POST"])
@roles(*DISPENSERS)
def return_unit(code):
    form = ReturnUnitForm(prefix="ret")
    return _dose_post(
        code,
        "return_form",
        form,
        lambda s, a: dispensing.return_unit(
            s, a, _box_code(form.box.data), form.position.data, form.reason.data, utcnow()
        ),
        lambda a: _("Unit returned to stock."),
        DISPENSERS,
    )


def _box_code(scanned):
    from ..core.scan import expect

    ident, problem, _found = expect(scanned or "", "LOC")
    return ident if not problem else scanned


@bp.route("/doses/<code>/postpone", methods=["POST"])
@roles(*CLINICAL)
def postpone(code):
    form = PostponeForm(prefix="pp")
    return _dose_post(
        code,
        "postpone_form",
        form,
        lambda s, a: ops.postpone(
            s, a, form.version.data, form.new_date.data, form.reason_code.data, form.reason.data, lab_today()
        ),
        lambda a: _("Dose %(code)s postponed to %(date)s.", code=a.code, date=a.scheduled_date),
        CLINICAL,
    )


@bp.route("/doses/<code>/administer", methods=["POST"])
@roles(*CLINICAL)
def administer(code):
    form = AdministerForm(prefix="give")
    return _dose_post(
        code,
        "administer_form",
        form,
        lambda s, a: bedside.administer(s, a, form.version.data, form.data_dict(), g.user, utcnow(), lab_today()),
        lambda a: _("Dose %(code)s recorded as given.", code=a.code),
        CLINICAL,
    )


@bp.route("/doses/<code>/observations", methods=["POST"])
@roles(*CLINICAL)
def observe(code):
    form = ObservationForm(prefix="obs")
    return _dose_post(
        code,
        "observation_form",
        form,
        lambda s, a: bedside.record_observation(s, a, form.data_dict(), utcnow()),
        lambda a: _("Observation recorded."),
        CLINICAL,
    )


# --- today: the issue desk and the ward's list -----------------------------------------------------


@bp.route("/today")
@authenticated
def today():
    return _render_today(ScanUnitForm(prefix="issue"))


@bp.route("/today/issue", methods=["POST"])
@roles(*DISPENSERS)
def issue():
    form = ScanUnitForm(prefix="issue")
    if not form.validate_on_submit():
        return _render_today(form, _("Scan or type the dose unit code."), 400)
    return form_action(
        lambda: dispensing.issue(db_session(), form.unit.data, g.user, utcnow(), lab_today()),
        lambda **kw: _render_today(form, kw.get("error"), kw.get("status", 422)),
        lambda a: _done(_("Unit issued for %(code)s.", code=a.code), "courses.today"),
    )


def _render_today(form, error=None, status=200):
    """The issue desk and the ward's list: every dose scheduled today with its unit."""
    s = db_session()
    day = lab_today()
    doses = bedside.due_today(s, day)
    units = {d.id: s.get(DoseUnit, d.unit_id) for d in doses if d.unit_id}
    return render_template(
        "clinical/today.html",
        doses=doses,
        units=units,
        form=form,
        error=error,
        day=day,
        can_dispense=require_role(*DISPENSERS),
    ), status


# --- co-therapy ------------------------------------------------------------------------------------


@bp.route("/co-therapy/<recipient>", methods=["POST"])
@roles(*CLINICAL)
def co_therapy(recipient):
    from .views import render_detail

    s = db_session()
    r = recipient_ops.get(s, recipient)
    form = CoTherapyForm(prefix="co")
    if not form.validate_on_submit():
        return render_detail(r, co_form=form, error=_("Correct the marked fields."), status=400)
    return form_action(
        lambda: ops.record_co_therapy(s, r, form.data_dict(), lab_today()),
        lambda **kw: render_detail(r, co_form=form, **kw),
        lambda ct: _done(
            _("%(drug)s %(dose)s on %(date)s recorded.", drug=ct.drug, dose=ct.dose, date=ct.given_on),
            "recipients.detail",
            code=r.code,
        ),
        once=form.once.data,
    )


@bp.app_context_processor
def clinical_labels():
    from ..manufacturing.explain import UNIT_STATUS_LABELS
    from .explain import (
        ACTION_LABELS,
        ADMIN_STATUS_LABELS,
        ATTRIBUTION_LABELS,
        COURSE_STATUS_LABELS,
        OUTCOME_LABELS,
        POSTPONE_LABELS,
        SERIOUSNESS_LABELS,
    )

    return {
        "course_statuses": COURSE_STATUS_LABELS,
        "admin_statuses": ADMIN_STATUS_LABELS,
        "postpone_labels": POSTPONE_LABELS,
        "unit_statuses": UNIT_STATUS_LABELS,
        "seriousness_labels": SERIOUSNESS_LABELS,
        "attribution_labels": ATTRIBUTION_LABELS,
        "action_labels": ACTION_LABELS,
        "outcome_labels": OUTCOME_LABELS,
    }
