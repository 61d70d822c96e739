"""Adverse-event pages: term picker, the AE form with each grade's CTCAE text, listings, the study summary."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import select

from ..audit.models import AuditEntry
from ..auth.permissions import authenticated, require_role, roles
from ..clock import utcnow
from ..core.scan import Resolver, register
from ..ctcae import catalogue as ctcae
from ..ctcae.names import search_aliases
from ..db import db_session
from ..errors import NotFound
from ..forms import field_labels
from ..manufacturing.forms import as_local
from ..manufacturing.models import Batch
from ..params import arg_int
from ..timefmt import lab_today, to_lab
from ..web import form_action
from . import adverse_events as ops
from . import recipients as recipient_ops
from .ae_models import AdverseEvent
from .course_forms import AdverseEventForm, EditAdverseEventForm, ReportForm
from .course_models import Administration
from .explain import ACTION_LABELS, ATTRIBUTION_LABELS, GRADE_MEANING, OUTCOME_LABELS, SERIOUSNESS_LABELS

bp = Blueprint("aes", __name__, url_prefix="/aes")
RECORDERS = ("clinician", "qa")
PAGE = 100


def _find(session, ident):
    ae = session.exec(select(AdverseEvent).where(AdverseEvent.code == ident.upper())).first()
    return url_for("aes.detail", code=ae.code) if ae else None


register(Resolver("AE", "adverse event", _find, lambda s: s.strip().upper().startswith("AE-")))

LABELS = {
    "seriousness": SERIOUSNESS_LABELS,
    "attribution": ATTRIBUTION_LABELS,
    "action": ACTION_LABELS,
    "outcome": OUTCOME_LABELS,
    "grade": GRADE_MEANING,
}


def _admin_choices(session, r):
    rows = session.exec(
        select(Administration)
        .where(Administration.recipient_id == r.id, Administration.status == "given")
        .order_by(Administration.code)
    ).all()
    return [("", _("none (not linked to a dose)"))] + [
        (str(a.id), f"{a.code} · {to_lab(a.given_at):%Y-%m-%d %H:%M}") for a in rows
    ]


def _prepare(form, term, session, r):
    form.grade.choices = [(str(g), f"{g}") for g in term.grades] if term else []
    form.grade.validate_choice = False  # a grade the term lacks is refused by the catalogue check, with its sentence
    form.administration_id.choices = _admin_choices(session, r)


def _render_new(r, term, form, q="", error=None, status=200):
    results = ctcae.default().search(q, limit=30, aliases=search_aliases()) if q else []
    return render_template(
        "clinical/ae_new.html",
        r=r,
        term=term,
        form=form,
        q=q,
        results=results,
        error=error,
        socs=ctcae.default().terms_by_soc() if not (q or term) else [],
        labels=LABELS,
        version=ctcae.default().version,
    ), status


@bp.route("/new/<recipient>", methods=["GET", "POST"])
@roles(*RECORDERS)
def create(recipient):
    """Step 1 finds the term (search by name or definition); step 2 records the event with that term's grades."""
    s = db_session()
    r = recipient_ops.get(s, recipient)
    q = (request.args.get("q") or "").strip()[:80]
    code = request.values.get("term") or request.form.get("term_code") or ""
    term = ctcae.default().by_code(code) if code else None
    form = AdverseEventForm()
    if request.method == "GET":
        form = AdverseEventForm(
            formdata=None,
            term_code=term.code if term else "",
            aware_at=as_local(utcnow()),
            onset_date=lab_today(),
            administration_id=request.args.get("administration", ""),
        )
    _prepare(form, term, s, r)
    if request.method == "GET":
        return _render_new(r, term, form, q)
    if term is None:
        return _render_new(r, None, form, q, _("Choose the CTCAE term."), 422)
    if not form.validate_on_submit():
        return _render_new(r, term, form, q, _("Correct the marked fields."), 400)
    return form_action(
        lambda: ops.record(s, r, form.data_dict(), utcnow(), lab_today()),
        lambda **kw: _render_new(r, term, form, q, kw.get("error"), kw.get("status", 422)),
        lambda ae: _done(_("Adverse event %(code)s recorded.", code=ae.code), ae),
        once=form.once.data,
    )


def _done(message, ae):
    flash(message, "success")
    return redirect(url_for("aes.detail", code=ae.code))


def render_detail(ae, form=None, error=None, conflict=None, status=200, report_form=None):
    s = db_session()
    r = s.get(recipient_ops.Recipient, ae.recipient_id)
    term = ctcae.default().by_code(ae.term_code) if ctcae.default().version == ae.ctcae_version else None
    if form is None:
        form = EditAdverseEventForm(
            formdata=None,
            version=ae.version,
            term_code=ae.term_code,
            grade=str(ae.grade),
            description=ae.description,
            onset_date=ae.onset_date,
            resolved_date=ae.resolved_date,
            seriousness=list(ae.criteria),
            expected={True: "yes", False: "no"}.get(ae.expected, ""),
            attribution_fmt=ae.attribution_fmt,
            attribution_cotherapy=ae.attribution_cotherapy,
            action_taken=ae.action_taken,
            outcome=ae.outcome,
            administration_id=str(ae.administration_id or ""),
            aware_at=as_local(ae.aware_at),
        )
    _prepare(form, term, s, r)
    history = s.exec(
        select(AuditEntry)
        .where(AuditEntry.entity == "adverse_event", AuditEntry.record_id == ae.code)
        .order_by(AuditEntry.id.desc())
        .limit(200)
    ).all()
    return render_template(
        "clinical/ae.html",
        ae=ae,
        r=r,
        term=term,
        form=form,
        error=error,
        conflict=conflict,
        history=history,
        trace=ops.trace(s, ae),
        labels=LABELS,
        report_form=report_form or ReportForm(formdata=None, version=ae.version, reported_at=as_local(utcnow())),
        can_edit=require_role(*RECORDERS),
        now=utcnow(),
    ), status


@bp.route("/<code>")
@authenticated
def detail(code):
    return render_detail(ops.get(db_session(), code))


@bp.route("/<code>/edit", methods=["POST"])
@roles(*RECORDERS)
def edit(code):
    s = db_session()
    ae = ops.get(s, code)
    r = s.get(recipient_ops.Recipient, ae.recipient_id)
    form = EditAdverseEventForm()
    _prepare(form, ctcae.default().by_code(ae.term_code), s, r)
    if not form.validate_on_submit():
        return render_detail(ae, form, _("Correct the marked fields."), status=400)
    return form_action(
        lambda: ops.update(
            s,
            ae,
            form.version.data,
            form.data_dict(),
            form.reason.data,
            utcnow(),
            lab_today(),
            labels=field_labels(form),
        ),
        lambda **kw: render_detail(ae, form, **kw),
        lambda _r: _done(_("Adverse event %(code)s saved.", code=ae.code), ae),
    )


@bp.route("/<code>/report", methods=["POST"])
@roles(*RECORDERS)
def report(code):
    from ..manufacturing.forms import as_utc

    s = db_session()
    ae = ops.get(s, code)
    form = ReportForm()
    if not form.validate_on_submit():
        return render_detail(ae, error=_("Enter when the report was sent."), status=400, report_form=form)
    return form_action(
        lambda: ops.mark_reported(s, ae, form.version.data, form.to.data, as_utc(form.reported_at.data), utcnow()),
        lambda **kw: render_detail(ae, report_form=form, **kw),
        lambda _r: _done(_("Report recorded."), ae),
    )


@bp.route("/")
@authenticated
def index():
    """One listing, scoped by recipient, batch or donor (the batch's and donor's AE listings link here)."""
    from ..donors.models import Donor

    s = db_session()
    scope, rows = None, None
    page = {"limit": PAGE + 1, "after_id": arg_int("after")}
    if request.args.get("recipient"):
        r = recipient_ops.get(s, request.args["recipient"])
        scope, rows = (_("recipient"), r.code), ops.listing(s, recipient=r, **page)
    elif request.args.get("batch"):
        b = s.exec(select(Batch).where(Batch.lot == request.args["batch"].strip().upper())).first()
        if b is None:
            raise NotFound(_("No such batch."))
        scope, rows = (_("batch"), b.lot), ops.listing(s, batch=b, **page)
    elif request.args.get("donor"):
        d = s.exec(select(Donor).where(Donor.code == request.args["donor"].strip().upper())).first()
        if d is None:
            raise NotFound(_("No such donor."))
        scope, rows = (_("donor"), d.code), ops.listing(s, donor=d, **page)
    else:
        rows = ops.listing(s, **page)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return render_template(
        "clinical/aes.html",
        rows=rows,
        scope=scope,
        traces=ops.traces(s, rows),
        labels=LABELS,
        next_after=rows[-1].id if more else None,
        args={k: v for k, v in request.args.items() if k in ("recipient", "batch", "donor") and v},
    )


@bp.route("/summary")
@authenticated
def summary():
    rows, n = ops.summary(db_session())
    return render_template("clinical/ae_summary.html", rows=rows, n=n, grades=(1, 2, 3, 4, 5))


@bp.route("/terms")
@authenticated
def terms():
    """The catalogue, browsable: SOC, term, MedDRA code, definition and each grade's text."""
    q = (request.args.get("q") or "").strip()[:80]
    cat = ctcae.default()
    results = cat.search(q, limit=50, aliases=search_aliases()) if q else None
    return render_template("clinical/ctcae.html", q=q, results=results, socs=cat.terms_by_soc(), version=cat.version)
