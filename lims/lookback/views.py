"""Lookback case pages: the list, opening a case by hand, the case with everything it reaches, and its actions."""

from __future__ import annotations

import json

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import select

from ..audit.models import AuditEntry
from ..auth.permissions import roles
from ..clock import utcnow
from ..core.scan import Resolver, register
from ..db import db_session
from ..timefmt import lab_today
from ..web import form_action
from . import actions
from . import cases as ops
from .forms import CloseForm, HoldForm, NotifyForm, OpenCaseForm, RetestForm, WidenForm
from .models import LookbackCase

bp = Blueprint("lookback", __name__, url_prefix="/lookback")
READERS = ("qa", "admin", "clinician")
OPENERS = ("qa",)
SIGNERS = ("qa",)  # holds, re-tests and the close are QA's
NOTIFIERS = ("qa", "clinician")


def _find(session, ident):
    c = session.exec(select(LookbackCase).where(LookbackCase.code == ident.upper())).first()
    return url_for("lookback.detail", code=c.code) if c else None


register(Resolver("LB", "lookback case", _find, lambda s: s.strip().upper().startswith("LB-")))


@bp.route("/")
@roles(*READERS)
def index():
    s = db_session()
    rows = s.exec(select(LookbackCase).order_by(LookbackCase.id.desc()).limit(200)).all()
    from ..donors.models import Donor

    donors = (
        {d.id: d.code for d in s.exec(select(Donor).where(Donor.id.in_({c.donor_id for c in rows}))).all()}
        if rows
        else {}
    )
    now = utcnow()
    return render_template(
        "lookback/cases.html",
        rows=rows,
        donors=donors,
        overdue={c.id: ops.is_overdue(c, now) for c in rows},
        form=OpenCaseForm(finding_date=lab_today()),
    )


@bp.route("/new", methods=["POST"])
@roles(*OPENERS)
def create():
    form = OpenCaseForm()
    if not form.validate_on_submit():
        return _render_new(form, _("Correct the marked fields."), 400)
    return form_action(
        lambda: ops.open_manual(
            db_session(), form.donor.data, form.lot.data, form.finding_date.data, form.reason.data, lab_today()
        ),
        lambda **kw: _render_new(form, kw.get("error"), kw.get("status", 422)),
        lambda c: _opened(c),
        once=form.once.data,
    )


def _opened(c):
    flash(_("Lookback case %(code)s opened.", code=c.code), "success")
    return redirect(url_for("lookback.detail", code=c.code))


def _render_new(form, error, status):
    return render_template("lookback/new.html", form=form, error=error), status


@bp.route("/<code>")
@roles(*READERS)
def detail(code):
    return _render(ops.get(db_session(), code))


def _render(c, error=None, conflict=None, status=200, **forms):
    """The case page; a refused action re-renders it with the typed input and the message."""
    from ..audit.signatures import MEANINGS, signatures_for
    from ..donors.models import Donor
    from ..manufacturing.explain import BATCH_STATUS_LABELS, UNIT_STATUS_LABELS
    from ..manufacturing.forms import as_local

    s = db_session()
    entries = ops.scope_of(s, c)
    lines = ops.reach(s, c, entries)
    history = s.exec(select(AuditEntry).where(ops.audit_clause(c)).order_by(AuditEntry.id.desc()).limit(300)).all()
    now = utcnow()
    to_inform = actions.recipients_to_inform(s, c, lines)
    reached = actions.recipients_reached(s, c, lines)
    done = actions.informed(s, c)
    notify = forms.get("notify") or NotifyForm(formdata=None, informed_at=as_local(now))
    notify.recipient.choices = [("", "")] + [(r, r) for r in reached]
    retest = forms.get("retest") or RetestForm(formdata=None, tested_on=lab_today())
    retest.donation.choices = [("", "")] + [(ln.donation.code, ln.donation.code) for ln in lines if not ln.disposed]
    hold = forms.get("hold") or HoldForm(prefix="hold", formdata=None, version=c.version)
    close = forms.get("close") or CloseForm(prefix="close", formdata=None, version=c.version)
    widen = forms.get("widen") or WidenForm(prefix="widen", formdata=None, version=c.version)
    content = actions.case_fingerprint(s, c)
    for form in (hold, close, widen):  # always what this page shows now: a refused stale form is signed after review
        form.content.data = content
    acts = actions.actions_of(s, c)
    return render_template(
        "lookback/case.html",
        c=c,
        scope=ops.scope_sentence(c, sum(1 for e in entries if e.addition)),
        batch_statuses=BATCH_STATUS_LABELS,
        unit_statuses=UNIT_STATUS_LABELS,
        donor=s.get(Donor, c.donor_id),
        entries=entries,
        scope_reason=ops.scope_reason,
        excluded=[e for e in entries if not e.in_scope],
        lines=lines,
        recipients=ops.recipients_of(lines),
        overdue=ops.is_overdue(c, now),
        elapsed_hours=int(actions.elapsed(c, now).total_seconds() // 3600),
        target_days=ops.target_days(),
        history=history,
        plan=actions.hold_plan(s, c, lines) if c.status == "open" else None,
        to_inform=to_inform,
        reached=reached,
        informed=done,
        notifications=actions.notifications_of(s, c),
        retests=actions.retests_of(s, c),
        actions=[(a, json.loads(a.summary), signatures_for(s, a)) for a in acts],
        held={(h.kind, h.ref_id) for h in actions.holds_of(s, c) if h.active},
        timeline=actions.timeline(s, c),
        meanings=MEANINGS,
        outcome_label=actions.outcome_label,
        retest_label=actions.retest_label,
        method_label=actions.method_label,
        can_sign=g.user.has_role(*SIGNERS),
        can_notify=g.user.has_role(*NOTIFIERS),
        notify_form=notify,
        retest_form=retest,
        hold_form=hold,
        close_form=close,
        widen_form=widen,
        error=error,
        conflict=conflict,
        scanned=request.args.get("code"),
    ), status


def _act(code, form, key, run, message):
    s = db_session()
    c = ops.get(s, code)
    if not form.validate_on_submit():
        return _render(c, error=_("Correct the marked fields."), status=400, **{key: form})
    return form_action(
        lambda: run(s, c),
        lambda **kw: _render(c, **{key: form}, **kw),
        lambda result: _done(c, message(result)),
        once=form.once.data if "once" in form else None,
    )


def _done(c, message):
    flash(message, "success")
    return redirect(url_for("lookback.detail", code=c.code))


@bp.route("/<code>/hold", methods=["POST"])
@roles(*SIGNERS)
def hold(code):
    f = HoldForm(prefix="hold")
    return _act(
        code,
        f,
        "hold",
        lambda s, c: actions.hold(
            s, c, f.version.data, f.reason.data, g.user, f.password.data, request.remote_addr, f.content.data
        ),
        lambda a: _(
            "Hold signed: %(n)s units recalled; every batch in scope is held.", n=len(json.loads(a.summary)["units"])
        ),
    )


@bp.route("/<code>/close", methods=["POST"])
@roles(*SIGNERS)
def close(code):
    f = CloseForm(prefix="close")
    return _act(
        code,
        f,
        "close",
        lambda s, c: actions.close(
            s,
            c,
            f.version.data,
            f.outcome.data,
            f.conclusion.data,
            g.user,
            f.password.data,
            request.remote_addr,
            f.content.data,
        ),
        lambda a: _("Lookback case closed as %(outcome)s.", outcome=actions.outcome_label(a.outcome)),
    )


@bp.route("/<code>/scope", methods=["POST"])
@roles(*SIGNERS)
def widen(code):
    f = WidenForm(prefix="widen")
    return _act(
        code,
        f,
        "widen",
        lambda s, c: actions.widen(
            s, c, f.content.data, f.targets.data, f.reason.data, g.user, f.password.data, request.remote_addr
        ),
        lambda a: _(
            "Scope widened: %(items)s added; hold them to take them out of use.",
            items=", ".join(json.loads(a.summary)["donations"] + json.loads(a.summary)["batches"]),
        ),
    )


@bp.route("/<code>/notifications", methods=["POST"])
@roles(*NOTIFIERS)
def notify(code):
    from ..manufacturing.forms import as_utc

    f = NotifyForm()
    f.recipient.choices = [(f.recipient.data, f.recipient.data)]
    return _act(
        code,
        f,
        "notify",
        lambda s, c: actions.notify(
            s,
            c,
            f.recipient.data,
            f.informed_person.data,
            as_utc(f.informed_at.data),
            f.method.data,
            f.reached.data == "yes",
            f.note.data,
            utcnow(),
        ),
        lambda n: _("Notification of %(code)s recorded.", code=n.recipient_code),
    )


@bp.route("/<code>/retests", methods=["POST"])
@roles(*SIGNERS)
def retest(code):
    f = RetestForm()
    return _act(
        code,
        f,
        "retest",
        lambda s, c: actions.record_retest(
            s,
            c,
            f.donation.data,
            f.test.data,
            f.result.data,
            f.tested_on.data,
            f.laboratory.data,
            f.note.data,
            lab_today(),
        ),
        lambda r: _("Re-test of %(code)s recorded.", code=r.donation_code),
    )


CSV_HEADER = (
    "case",
    "donor",
    "donation",
    "collection_day",
    "retained_sample",
    "batch",
    "batch_status",
    "unit",
    "unit_status",
    "location",
    "recipient",
    "dose",
    "given_at_lab",
    "planned_for",
)


@bp.route("/<code>.csv")
@roles(*READERS)
def export_csv(code):
    """The case's reach as one row per unit (a donation without units is one row), audited as a printed report."""
    import io

    from ..core.csvsafe import safe_writer
    from ..donors.models import Donor
    from ..timefmt import format_dt
    from ..web import audited_download

    s = db_session()
    c = ops.get(s, code)
    donor = s.get(Donor, c.donor_id).code
    buf = io.StringIO()
    buf.write("\ufeff")  # Excel reads UTF-8 with a BOM
    w = safe_writer(buf)
    w.writerow(CSV_HEADER)
    for line in ops.reach(s, c):
        dn = line.donation
        retained = (
            f"disposed {line.disposed.disposed_on}"
            if line.disposed
            else f"{dn.retained_ml} mL at {dn.retained_location}, keep until {dn.retained_until}"
        )
        base = [
            c.code,
            donor,
            dn.code,
            dn.collection_day,
            retained,
            line.batch.lot if line.batch else "",
            line.batch.status if line.batch else "",
        ]
        if not line.units:
            w.writerow(base + [""] * 7)
        for u in line.units:
            a = u.administration
            w.writerow(
                base
                + [
                    u.unit.code,
                    u.unit.status,
                    u.location,
                    u.recipient or "",
                    a.code if a else "",
                    format_dt(a.given_at, seconds=True) if a and a.given_at else "",
                    a.scheduled_date if a and not a.given_at else "",
                ]
            )
    return audited_download(
        buf.getvalue(),
        "text/csv; charset=utf-8",
        f"{c.code}.csv",
        "lookback_case",
        c.code,
        "lookback CSV",
        "lookback case export",
        inline=False,
    )
