"""The audit trail for QA: filter, page through and export as CSV."""

from __future__ import annotations

import io

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _
from sqlmodel import select

from ..auth.models import User
from ..auth.permissions import roles
from ..core.csvsafe import safe_writer
from ..db import db_session
from ..params import BIG_ID_MAX, arg_int
from ..timefmt import lab_day_bounds_utc, lab_zone
from .forms import AuditFilterForm
from .labels import ACTION_LABELS, action_label, entity_label
from .models import AuditEntry

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE = 100
ACTIONS = tuple(ACTION_LABELS)


def _filter_form(session):
    form = AuditFilterForm(request.args)
    entities = session.exec(select(AuditEntry.entity).distinct().order_by(AuditEntry.entity)).all()
    form.entity.choices = [("", _("all"))] + [(e, entity_label(e)) for e in entities]
    users = session.exec(select(User).order_by(User.username)).all()
    form.user.choices = [("", _("all"))] + [(str(u.id), f"{u.full_name} ({u.username})") for u in users]
    form.action.choices = [("", _("all"))] + [(a, action_label(a)) for a in ACTIONS]
    return form


def _query(form):
    """Only the filters that validated apply (a hand-edited ``?user=abc`` shows its error instead of a 500)."""
    for f in form:
        if f.errors:
            f.data = None
    q = select(AuditEntry)
    if form.entity.data:
        q = q.where(AuditEntry.entity == form.entity.data)
    if form.record_id.data:
        q = q.where(AuditEntry.record_id == form.record_id.data.strip()[:80])
    if form.user.data:
        q = q.where(AuditEntry.user_id == int(form.user.data))
    if form.action.data:
        q = q.where(AuditEntry.action == form.action.data)
    if form.date_from.data:
        q = q.where(AuditEntry.ts >= lab_day_bounds_utc(form.date_from.data)[0])
    if form.date_to.data:
        q = q.where(AuditEntry.ts < lab_day_bounds_utc(form.date_to.data)[1])
    return q


@bp.route("/")
@roles("qa", "admin")
def trail():
    s = db_session()
    form = _filter_form(s)
    form.validate()
    q = _query(form)
    before = arg_int("before", maximum=BIG_ID_MAX)
    if before:
        q = q.where(AuditEntry.id < before)
    rows = s.exec(q.order_by(AuditEntry.id.desc()).limit(PAGE + 1)).all()
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    args = {k: v for k, v in request.args.items() if k != "before"}
    return render_template(
        "audit/trail.html",
        form=form,
        rows=rows,
        more=more,
        args=args,
        next_before=rows[-1].id if rows and more else None,
    )


CSV_HEADER = (
    "seq",
    "timestamp_utc",
    "timestamp_lab",
    "user_id",
    "user",
    "action",
    "entity",
    "record_id",
    "record_version",
    "field",
    "old_value",
    "new_value",
    "reason",
    "client",
    "hash",
)


@bp.route("/export.csv")
@roles("qa", "admin")
def export_csv():
    s = db_session()
    form = _filter_form(s)
    form.validate()
    rows = s.exec(_query(form).order_by(AuditEntry.id)).all()
    zone = lab_zone()  # the generator runs after the request context is gone

    def generate():
        buf = io.StringIO()
        w = safe_writer(buf)
        buf.write("\ufeff")  # Excel opens UTF-8 (Chinese) correctly with a BOM
        w.writerow(CSV_HEADER)
        for r in rows:
            w.writerow(
                [
                    r.id,
                    r.ts.isoformat(sep=" "),
                    r.ts.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z"),
                    r.user_id,
                    r.user_name,
                    r.action,
                    r.entity,
                    r.record_id,
                    r.record_version,
                    r.field,
                    r.old_value,
                    r.new_value,
                    r.reason,
                    r.client,
                    r.hash,
                ]
            )
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate(0)

    return Response(
        generate(),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=audit-trail.csv"},
    )
