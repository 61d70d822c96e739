"""Donor registry pages."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlmodel import or_, select

from ..audit.models import AuditEntry
from ..audit.signatures import current_signature
from ..auth.permissions import authenticated, require_role, roles
from ..core.scan import Resolver, register
from ..db import db_session
from ..errors import LimsError
from ..forms import field_labels
from ..params import arg_int
from ..timefmt import lab_today
from ..web import form_action
from . import donation_day, screening
from . import operations as ops
from .explain import outcome_label, reason_text
from .forms import STATUS_LABELS, DonorFilterForm, EditFactsForm, EditIdentityForm, RegisterDonorForm
from .protocols import active_protocol, item_names, spec_of
from .rules import DonorFacts, age_on, bmi, decide

bp = Blueprint("donors", __name__, url_prefix="/donors")

REGISTRARS = ("clinician", "qa")
IDENTITY_ROLES = ("clinician", "qa")


def _find(session, ident):
    donor = ops.by_code(session, ident)
    return url_for("donors.detail", code=donor.code) if donor else None


register(Resolver("DO", "donor", _find, lambda s: bool(ops.CODE_RE.match(s.strip().upper()))))


@bp.route("/")
@authenticated
def index():
    form = DonorFilterForm(request.args)
    form.validate()
    rows = ops.search(db_session(), form.status.data, form.code.data, after_id=arg_int("after"))
    more = len(rows) > 50
    rows = rows[:50]
    args = {k: v for k, v in request.args.items() if k != "after" and v}
    return render_template(
        "donors/index.html",
        form=form,
        rows=rows,
        more=more,
        args=args,
        next_after=rows[-1].id if more else None,
        statuses=STATUS_LABELS,
        today=lab_today(),
        age_on=age_on,
        bmi=bmi,
    )


@bp.route("/new", methods=["GET", "POST"])
@roles(*REGISTRARS)
def create():
    form = RegisterDonorForm()
    if form.validate_on_submit():

        def run():
            try:
                return ops.register(db_session(), form.facts(), form.identity(), lab_today())
            except ops.DuplicateDonor as err:
                g.duplicate_donor = err.existing_code
                raise

        def refused(error=None, status=422, **_kw):
            code = g.pop("duplicate_donor", None)
            link = Markup('<a href="{}">{}</a>').format(url_for("donors.detail", code=code), code) if code else None
            return render_template("donors/new.html", form=form, error=error, duplicate=link), status

        def registered(donor):
            flash(_("Donor %(code)s registered as a candidate.", code=donor.code), "success")
            return redirect(url_for("donors.detail", code=donor.code))

        return form_action(run, refused, registered, once=form.once.data)
    return render_template("donors/new.html", form=form, error=None), (400 if request.method == "POST" else 200)


def _render_detail(donor, facts_form=None, identity_form=None, error=None, conflict=None, status=200, dd_answers=None):
    s = db_session()
    identity = ops.identity_of(s, donor) if require_role(*IDENTITY_ROLES) else None
    own = (AuditEntry.entity == "donor") & (AuditEntry.record_id == donor.code)
    if identity is not None:  # identity changes only for roles that may see the identity
        own = or_(own, (AuditEntry.entity == "donor_identity") & (AuditEntry.record_id == str(donor.id)))
    q = select(AuditEntry).where(own)
    history = s.exec(q.order_by(AuditEntry.id.desc()).limit(200)).all()
    today = lab_today()
    protocol = active_protocol(s)
    open_sc = screening.open_screening(s, donor)
    check = None
    if open_sc is not None:
        check = screening.evaluate(s, open_sc, today)
    elif protocol is not None and donor.status in ("candidate", "in_screening"):
        facts = DonorFacts(donor.date_of_birth, donor.height_cm, donor.weight_kg, donor.measured_on)
        check = decide(spec_of(s, protocol), facts, [], today)
    decisions = [
        (d, screening.stored_reasons(d), current_signature(s, d, "approved")) for d in screening.decisions_of(s, donor)
    ]
    _dd_protocol, dd_questions = donation_day.questions(s, donor)
    may_donate = donation_day.can_donate(s, donor, today)
    if facts_form is None:
        facts_form = EditFactsForm(prefix="facts", obj=donor, version=donor.version)
    if identity is not None and identity_form is None:
        identity_form = EditIdentityForm(prefix="identity", obj=identity, version=identity.version)
    return render_template(
        "donors/detail.html",
        donor=donor,
        identity=identity,
        history=history,
        statuses=STATUS_LABELS,
        age=age_on(donor.date_of_birth, today),
        bmi=bmi(donor.height_cm, donor.weight_kg),
        today=today,
        protocol=protocol,
        check=check,
        reason_text=partial(reason_text, names=item_names(s)),
        outcome_label=outcome_label,
        open_sc=open_sc,
        screenings=screening.screenings_of(s, donor),
        decisions=decisions,
        dd_questions=dd_questions,
        dd_checks=donation_day.checks_of(s, donor),
        may_donate=may_donate,
        dd_answers=dd_answers or {},
        can_check=require_role("technician", "clinician", "qa"),
        next_day=(donor.status_until + timedelta(days=1)) if donor.status_until else None,
        can_screen=require_role("technician", "clinician", "qa") and donor.status not in ("excluded", "retired"),
        facts_form=facts_form,
        identity_form=identity_form,
        error=error,
        conflict=conflict,
        can_edit=require_role(*REGISTRARS),
    ), status


@bp.route("/<code>")
@authenticated
def detail(code):
    return _render_detail(ops.get(db_session(), code))


@bp.route("/<code>/facts", methods=["POST"])
@roles(*REGISTRARS)
def edit_facts(code):
    s = db_session()
    donor = ops.get(s, code)
    form = EditFactsForm(prefix="facts")
    if not form.validate_on_submit():
        return _render_detail(donor, facts_form=form, error=_("Correct the marked fields."), status=400)
    return form_action(
        lambda: ops.update_facts(
            s, donor, form.version.data, form.facts(), form.reason.data, lab_today(), labels=field_labels(form)
        ),
        lambda **kw: _render_detail(donor, facts_form=form, **kw),
        lambda _r: _saved(_("Donor %(code)s saved.", code=donor.code), donor),
    )


@bp.route("/<code>/identity", methods=["POST"])
@roles(*IDENTITY_ROLES)
def edit_identity(code):
    s = db_session()
    donor = ops.get(s, code)
    form = EditIdentityForm(prefix="identity")
    if not form.validate_on_submit():
        return _render_detail(donor, identity_form=form, error=_("Correct the marked fields."), status=400)
    return form_action(
        lambda: ops.update_identity(
            s, donor, form.version.data, form.identity(), form.reason.data, labels=field_labels(form)
        ),
        lambda **kw: _render_detail(donor, identity_form=form, **kw),
        lambda _r: _saved(_("Identity of donor %(code)s saved.", code=donor.code), donor),
    )


@bp.route("/<code>/donation-day", methods=["POST"])
@roles("technician", "clinician", "qa")
def donation_day_check(code):
    from flask_wtf import FlaskForm

    s = db_session()
    donor = ops.get(s, code)
    answers = {k[3:]: v for k, v in request.form.items() if k.startswith("dd_")}
    if not FlaskForm().validate_on_submit():
        return _render_detail(
            donor, error=_("The form had expired; nothing was saved."), status=400, dd_answers=answers
        )
    try:
        check = donation_day.record(s, donor, answers, lab_today())
    except LimsError as err:
        return _render_detail(donor, error=err.message, status=err.status_code, dd_answers=answers)
    if check.passed:
        flash(_("Donation-day check passed: %(code)s may donate today.", code=donor.code), "success")
    else:
        flash(
            _(
                "Donation-day check: %(code)s is deferred until %(d)s and may not donate.",
                code=donor.code,
                d=check.deferred_until,
            ),
            "warning",
        )
    return redirect(url_for("donors.detail", code=donor.code))


@bp.route("/<code>/retire", methods=["POST"])
@roles("clinician", "qa")
def retire(code):
    from flask_wtf import FlaskForm

    s = db_session()
    donor = ops.get(s, code)
    if not FlaskForm().validate_on_submit():
        return _render_detail(donor, error=_("The form had expired; nothing was saved."), status=400)
    return form_action(
        lambda: ops.retire(s, donor, request.form.get("version"), request.form.get("reason", "")),
        lambda **kw: _render_detail(donor, **kw),
        lambda _r: _saved(_("Donor %(code)s retired.", code=donor.code), donor),
    )


def _saved(message, donor, category="success"):
    flash(message, category)
    return redirect(url_for("donors.detail", code=donor.code))
