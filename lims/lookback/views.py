"""Lookback case pages: the list, opening a case by hand, and the case with everything it reaches."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlmodel import select
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..audit.models import AuditEntry
from ..auth.permissions import roles
from ..clock import utcnow
from ..core.scan import Resolver, register
from ..db import db_session
from ..timefmt import lab_today
from ..web import form_action
from . import cases as ops
from .models import LookbackCase

bp = Blueprint("lookback", __name__, url_prefix="/lookback")
READERS = ("qa", "admin", "clinician")
OPENERS = ("qa", "admin")


def _find(session, ident):
    c = session.exec(select(LookbackCase).where(LookbackCase.code == ident.upper())).first()
    return url_for("lookback.detail", code=c.code) if c else None


register(Resolver("LB", "lookback case", _find, lambda s: s.strip().upper().startswith("LB-")))


class OpenCaseForm(FlaskForm):
    donor = StringField(_l("Donor code"), validators=[Optional(), Length(max=40)])
    lot = StringField(_l("or batch (lot)"), validators=[Optional(), Length(max=40)])
    finding_date = DateField(_l("Date of the finding (sample or report)"),
                             validators=[DataRequired(message=_l("Enter the date of the finding."))])
    reason = TextAreaField(_l("Reason (what was found, by whom)"),
                           validators=[DataRequired(message=_l("A reason is required to open a lookback case.")),
                                       Length(max=2000)])


@bp.route("/")
@roles(*READERS)
def index():
    s = db_session()
    rows = s.exec(select(LookbackCase).order_by(LookbackCase.id.desc()).limit(200)).all()
    from ..donors.models import Donor

    donors = {d.id: d.code for d in s.exec(select(Donor).where(Donor.id.in_({c.donor_id for c in rows}))).all()} if rows else {}
    now = utcnow()
    return render_template("lookback/cases.html", rows=rows, donors=donors, overdue={c.id: ops.is_overdue(c, now) for c in rows},
                           form=OpenCaseForm(finding_date=lab_today()))


@bp.route("/new", methods=["POST"])
@roles(*OPENERS)
def create():
    form = OpenCaseForm()
    if not form.validate_on_submit():
        return _render_new(form, _("Correct the marked fields."), 400)
    return form_action(lambda: ops.open_manual(db_session(), form.donor.data, form.lot.data, form.finding_date.data,
                                               form.reason.data, lab_today()),
                       lambda **kw: _render_new(form, kw.get("error"), kw.get("status", 422)),
                       lambda c: _opened(c))


def _opened(c):
    flash(_("Lookback case %(code)s opened.", code=c.code), "success")
    return redirect(url_for("lookback.detail", code=c.code))


def _render_new(form, error, status):
    return render_template("lookback/new.html", form=form, error=error), status


@bp.route("/<code>")
@roles(*READERS)
def detail(code):
    from ..donors.models import Donor

    s = db_session()
    c = ops.get(s, code)
    lines = ops.reach(s, c)
    history = s.exec(select(AuditEntry).where(AuditEntry.entity == "lookback_case", AuditEntry.record_id == c.code)
                     .order_by(AuditEntry.id.desc()).limit(200)).all()
    now = utcnow()
    from datetime import timedelta

    from ..manufacturing.explain import BATCH_STATUS_LABELS

    return render_template("lookback/case.html", c=c, window_start=c.finding_date - timedelta(days=c.window_days),
                           batch_statuses=BATCH_STATUS_LABELS, donor=s.get(Donor, c.donor_id), lines=lines,
                           recipients=ops.recipients_of(lines), overdue=ops.is_overdue(c, now),
                           elapsed_hours=int((now - c.opened_at).total_seconds() // 3600), target_days=ops.target_days(),
                           history=history, scanned=request.args.get("code"))


CSV_HEADER = ("case", "donor", "donation", "collection_day", "retained_sample", "batch", "batch_status", "unit",
              "unit_status", "location", "recipient", "dose", "given_at_lab", "planned_for")


@bp.route("/<code>.csv")
@roles(*READERS)
def export_csv(code):
    """The case's reach as one row per unit (a donation without units is one row), audited as a printed report."""
    import csv
    import io

    from ..donors.models import Donor
    from ..timefmt import format_dt
    from ..web import audited_download, csv_safe

    s = db_session()
    c = ops.get(s, code)
    donor = s.get(Donor, c.donor_id).code
    buf = io.StringIO()
    buf.write("\ufeff")  # Excel reads UTF-8 with a BOM
    w = csv.writer(buf)
    w.writerow(CSV_HEADER)
    for line in ops.reach(s, c):
        dn = line.donation
        retained = (f"disposed {line.disposed.disposed_on}" if line.disposed
                    else f"{dn.retained_ml} mL at {dn.retained_location}, keep until {dn.retained_until}")
        base = [c.code, donor, dn.code, dn.collection_day, csv_safe(retained), line.batch.lot if line.batch else "",
                line.batch.status if line.batch else ""]
        if not line.units:
            w.writerow(base + [""] * 7)
        for u in line.units:
            a = u.administration
            w.writerow(base + [u.unit.code, u.unit.status, csv_safe(u.location), u.recipient or "", a.code if a else "",
                               format_dt(a.given_at, seconds=True) if a and a.given_at else "",
                               a.scheduled_date if a and not a.given_at else ""])
    return audited_download(buf.getvalue(), "text/csv; charset=utf-8", f"{c.code}.csv", "lookback_case", c.code,
                            "lookback CSV", "lookback case export", inline=False)
