"""The scheduled jobs' runs, and the retained-sample disposal form the due-work list links to."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..auth.permissions import roles
from ..db import db_session
from ..manufacturing import donations
from ..timefmt import lab_today
from ..web import form_action
from . import disposal
from .runner import latest_runs
from .tasks import JOBS

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


class DisposalForm(FlaskForm):
    disposed_on = DateField(_l("Disposed of on"), validators=[DataRequired(message=_l("Enter the disposal date."))])
    method = StringField(
        _l("Method (e.g. autoclaved, clinical waste)"),
        validators=[DataRequired(message=_l("Enter how the sample was disposed of.")), Length(max=120)],
    )
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=1000)])


@bp.route("/")
@roles("qa", "admin")
def index():
    from ..clock import utcnow

    return render_template("jobs/runs.html", runs=latest_runs(db_session(), 100), jobs=JOBS, now=utcnow())


def _render_disposal(d, form, error=None, status=200):
    return render_template(
        "jobs/disposal.html", d=d, form=form, error=error, done=disposal.disposal_of(db_session(), d)
    ), status


@bp.route("/retained/<code>")
@roles("technician", "qa", "admin")
def retained(code):
    return _render_disposal(donations.get(db_session(), code), DisposalForm(disposed_on=lab_today()))


@bp.route("/retained/<code>", methods=["POST"])
@roles("technician", "qa")
def dispose(code):
    s = db_session()
    d = donations.get(s, code)
    form = DisposalForm()
    if not form.validate_on_submit():
        return _render_disposal(d, form, _("Correct the marked fields."), 400)

    def done(_row):
        flash(_("Disposal of the retained sample of %(code)s recorded.", code=d.code), "success")
        return redirect(url_for("core.home"))

    return form_action(
        lambda: disposal.dispose(s, d, form.disposed_on.data, form.method.data, form.note.data, lab_today()),
        lambda **kw: _render_disposal(d, form, kw.get("error"), kw.get("status", 422)),
        done,
    )
