"""PDF reports: batch record, donor screening, recipient course; the bulk export of batch reports.

A report is rendered during a GET, whose transaction only reads; the audit row
saying who printed which document version is written after it, in its own
short transaction (``lims.web.audited_download``).
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlmodel import select
from wtforms import DateField
from wtforms.validators import DataRequired

from ..auth.permissions import roles
from ..clock import utcnow
from ..db import after_commit, db_session
from ..errors import NotFound
from ..manufacturing import batches
from ..timefmt import lab_today
from ..web import audited_download, form_action
from . import batch_report, export
from .models import ReportExport

bp = Blueprint("reports", __name__, url_prefix="/reports")
BATCH_READERS = ("qa", "admin", "technician", "clinician")
CLINICAL = ("clinician", "qa", "admin")
EXPORTERS = ("qa", "admin")


def _report(module, record, file_name: str, entity: str, record_id: str, what: str):
    """Collect, render and hand out one report; the print is audited with the document version."""
    s = db_session()
    data = module.collect(s, record)
    pdf = module.build(data, g.user.full_name, utcnow())
    return audited_download(pdf, "application/pdf", file_name, entity, record_id, module.doc_version(data), what)


@bp.route("/batches/<lot>.pdf")
@roles(*BATCH_READERS)
def batch(lot):
    b = batches.get(db_session(), lot)
    return _report(batch_report, b, f"batch-report-{b.lot}.pdf", "batch", b.lot, "batch report")


@bp.route("/screenings/<int:screening_id>.pdf")
@roles(*CLINICAL)
def screening(screening_id):
    from ..donors import screening as screening_ops
    from ..donors.models import Donor
    from . import donor_report

    s = db_session()
    sc = screening_ops.get(s, screening_id)
    donor = s.get(Donor, sc.donor_id)
    return _report(
        donor_report,
        sc,
        f"screening-report-{donor.code}-{sc.id}.pdf",
        "screening",
        str(sc.id),
        "donor screening report",
    )


@bp.route("/courses/<code>.pdf")
@roles(*CLINICAL)
def course(code):
    from ..clinical import courses
    from . import course_report

    c = courses.course(db_session(), code)
    return _report(course_report, c, f"course-report-{c.code}.pdf", "course", c.code, "recipient course report")


# --- bulk export -----------------------------------------------------------------------------------


class ExportForm(FlaskForm):
    from flask_babel import lazy_gettext as _l

    from_day = DateField(_l("Produced from"), validators=[DataRequired(message=_l("Enter both dates."))])
    to_day = DateField(_l("Produced through"), validators=[DataRequired(message=_l("Enter both dates."))])


def _render_exports(form, error=None, status=200):
    rows = db_session().exec(select(ReportExport).order_by(ReportExport.id.desc()).limit(20)).all()
    return render_template("reports/exports.html", form=form, rows=rows, error=error), status


@bp.route("/exports")
@roles(*EXPORTERS)
def exports():
    today = lab_today()
    return _render_exports(ExportForm(from_day=today.replace(day=1), to_day=today))


@bp.route("/exports", methods=["POST"])
@roles(*EXPORTERS)
def request_export():
    form = ExportForm()
    if not form.validate_on_submit():
        return _render_exports(form, _("Enter both dates."), 400)
    app = current_app._get_current_object()

    def run():
        job = export.request_export(db_session(), g.user, form.from_day.data, form.to_day.data, str(get_locale()))
        job_id = job.id
        # The thread starts once this request's transaction has committed the job row.
        after_commit(db_session(), lambda: export.start(app, job_id))
        return job

    return form_action(
        run,
        lambda **kw: _render_exports(form, kw.get("error"), kw.get("status", 422)),
        lambda job: redirect(url_for("reports.export_status", export_id=job.id)),
    )


@bp.route("/exports/<int:export_id>")
@roles(*EXPORTERS)
def export_status(export_id):
    job = db_session().get(ReportExport, export_id)
    if job is None:
        raise NotFound(_("No such export."))
    return render_template("reports/export.html", job=job)


@bp.route("/exports/<int:export_id>/download")
@roles(*EXPORTERS)
def export_download(export_id):
    job = db_session().get(ReportExport, export_id)
    if job is None or job.status != "done":
        raise NotFound(_("No such export."))
    path = export.export_dir() / job.file_name
    if not path.is_file():
        flash(_("The export file is no longer on the server."), "error")
        return redirect(url_for("reports.exports"))
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=job.file_name)


@bp.route("/lookback/<code>.pdf")
@roles(*CLINICAL)
def lookback(code):
    from ..lookback import cases
    from . import lookback_report

    c = cases.get(db_session(), code)
    return _report(lookback_report, c, f"lookback-report-{c.code}.pdf", "lookback_case", c.code, "lookback report")
