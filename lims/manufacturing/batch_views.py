"""Batch list and the batch page: step record, verification, QC, deviations, review, release."""

from __future__ import annotations

from functools import partial

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import select

from ..audit.concurrency import version_token
from ..audit.signatures import current_signature, signatures_for
from ..auth.permissions import authenticated, require_role, roles
from ..clock import utcnow
from ..core.scan import Resolver, register, scanned_id
from ..db import db_session
from ..donors import operations as donor_ops
from ..donors.models import Donor
from ..equipment.models import Equipment
from ..errors import LimsError, RuleViolation
from ..forms import SignatureForm
from ..params import arg_int
from ..timefmt import lab_today, to_lab
from ..web import form_action
from . import batches, explain, qc, release, storage
from .forms import (
    BatchFilterForm,
    DeviationForm,
    InvestigationForm,
    PlaceForm,
    ReasonSignatureForm,
    StepForm,
    as_local,
    as_utc,
)
from .models import Batch, Donation, ManufacturingSpec
from .queries import batch_state
from .rules import next_planned
from .spec import qc_items, qc_name

bp = Blueprint("batches", __name__, url_prefix="/batches")
PAGE = 50
TECH = ("technician",)
SECOND = ("technician", "qa")


def _find(session, ident):
    b = session.exec(select(Batch).where(Batch.lot == ident.strip().upper())).first()
    return url_for("batches.detail", lot=b.lot) if b else None


register(Resolver("LOT", "batch", _find, lambda s: s.strip().upper().startswith("FMT-") and s.strip().count("-") == 2))


@bp.route("/")
@authenticated
def index():
    """Keyset-paged (newest first) so the list stays fast at 100,000 batches."""
    s = db_session()
    form = BatchFilterForm(request.args)
    form.validate()
    q = select(Batch)
    if form.status.data:
        q = q.where(Batch.status == form.status.data)
    donor = None
    if form.donor.data:
        try:
            donor = donor_ops.by_code(s, scanned_id(form.donor.data, "DO"))
        except LimsError:  # another kind of label in the donor filter: no batch matches
            donor = None
        q = q.where(Batch.donor_id == (donor.id if donor else -1))
    if form.date_from.data:
        q = q.where(Batch.production_day >= form.date_from.data)
    if form.date_to.data:
        q = q.where(Batch.production_day <= form.date_to.data)
    after = arg_int("after")
    if after:
        q = q.where(Batch.id < after)
    rows = s.exec(q.order_by(Batch.id.desc()).limit(PAGE + 1)).all()
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    donors = (
        {d.id: d.code for d in s.exec(select(Donor).where(Donor.id.in_({r.donor_id for r in rows}))).all()}
        if rows
        else {}
    )
    args = {k: v for k, v in request.args.items() if k != "after" and v}
    return render_template(
        "manufacturing/batches.html",
        form=form,
        rows=rows,
        donors=donors,
        more=more,
        args=args,
        next_after=rows[-1].id if more else None,
        statuses=explain.BATCH_STATUS_LABELS,
        storages=explain.STORAGE_LABELS,
    )


def _step_form(batch, steps, plan):
    nxt = next_planned(plan, {st.position for st in steps})
    form = StepForm(prefix="step", formdata=None, position=nxt.position if nxt else "")
    if nxt is not None:
        prev_end = steps[-1].ended_at if steps else batch.started_at
        form.started_at.data = as_local(prev_end)
        if nxt.kind == "fill":
            form.unit_volume_ml.data = f"{batches.limits_for(db_session(), batch).dose_volume_ml.normalize():f}"
    return form


def _current_step_form(posted, batch, steps, plan, nxt):
    """The posted form keeps its typed input only if it was for the step that is next now; a form for a step
    someone else has recorded meanwhile is replaced by the next step's (the message says which it is)."""
    if posted is not None and nxt is not None and str(posted.position.data) == str(nxt.position):
        return posted
    return _step_form(batch, steps, plan)


def _fix_form(step):
    """The correction form, filled with the step as recorded."""
    values = {k: (", ".join(v) if isinstance(v, list) else v) for k, v in batches.params_of(step).items()}
    return StepForm(
        prefix=f"fix{step.position}",
        formdata=None,
        version=step.version,
        position=step.position,
        started_at=as_local(step.started_at),
        ended_at=as_local(step.ended_at),
        **values,
    )


def _render(
    batch,
    error=None,
    conflict=None,
    status=200,
    step_form=None,
    qc_values=None,
    qc_form=None,
    correct=None,
    dev_form=None,
    inv_forms=None,
    sig_forms=None,
):
    s = db_session()
    user = g.user
    plan = batches.plan_of(s, batch)
    steps = batches.steps_of(s, batch)
    verified = batches.verified_steps(s, steps)
    results = qc.results_of(s, batch)
    qc_verified = qc.verified_results(s, results)
    items = qc_items(s, batch.spec_id)
    deviations = qc.deviations_of(s, batch)
    units = storage.units_of(s, batch)
    donation = s.get(Donation, batch.donation_id)
    limits = batches.limits_for(s, batch)
    nxt = next_planned(plan, {st.position for st in steps})
    clearing = release.clearance(s, batch)
    spec = s.get(ManufacturingSpec, batch.spec_id)
    blockers = (
        release.blockers(s, batch, user if require_role("qa") else None)
        if batch.status in ("awaiting_qc", "quarantine", "in_process")
        else []
    )
    own = {st.audit_record_id for st in steps if user.id in (st.operator_id, st.created_by_id, st.updated_by_id)}
    own_qc = {r.audit_record_id for r in results if user.id in (r.created_by_id, r.updated_by_id)}
    review = release.latest_review(s, batch, user.id)
    sig_forms = sig_forms or {}
    for name in ("verify_steps", "verify_qc", "review", "release"):
        sig_forms.setdefault(name, SignatureForm(prefix=name))
    for name in ("reject", "recall"):
        sig_forms.setdefault(name, ReasonSignatureForm(prefix=name))
    inv_forms = inv_forms or {}
    for d in deviations:
        if d.code not in inv_forms:  # obj= fills "version" from the record itself: the token is set after
            inv_forms[d.code] = InvestigationForm(prefix=f"dev-{d.code}", obj=d)
            inv_forms[d.code].version.data = version_token(d)
        sig_forms.setdefault(f"close-{d.code}", SignatureForm(prefix=f"close-{d.code}", version=version_token(d)))
    content = release.batch_fingerprint(s, batch)
    for form in sig_forms.values():  # always what this page shows now: a refused stale form is signed after review
        form.content.data = content
    fix_forms = {st.position: _fix_form(st) for st in steps}
    if correct:
        fix_forms[correct[0]] = correct[1]
    now = utcnow()
    return render_template(
        "manufacturing/batch.html",
        batch=batch,
        donation=donation,
        donor=s.get(Donor, batch.donor_id),
        device=s.get(Equipment, batch.device_id),
        plan=plan,
        steps=steps,
        verified=verified,
        nxt=nxt,
        step_form=_current_step_form(step_form, batch, steps, plan, nxt),
        correct=correct,
        fix_forms=fix_forms,
        params_of=batches.params_of,
        step_label=explain.step_label,
        params_text=explain.params_text,
        results={r.item_code: r for r in results},
        qc_verified=qc_verified,
        items=items,
        qc_name=qc_name,
        criterion=explain.criterion,
        qc_value=explain.qc_value,
        qc_values=qc_values or {},
        qc_form=qc_form or {},
        allowed=qc.allowed_text,
        deviations=deviations,
        dev_form=dev_form or DeviationForm(prefix="dev"),
        inv_forms=inv_forms,
        dev_sigs={d.code: current_signature(s, d, "approved") for d in deviations},
        units=units,
        path_text=partial(storage.path_text, s),
        use_problem=partial(storage.use_problem, s, now=now),
        place_form=PlaceForm(prefix="place"),
        limits=limits,
        clearing=clearing,
        blockers=blockers,
        review=review,
        basis=release.release_basis(s, batch),
        spec_label=f"{spec.code} v{spec.spec_version}",
        batch_effective=batch_state(s, batch, now),
        dispositions=[(d, signatures_for(s, d)) for d in release.dispositions_of(s, batch)],
        audit_rows=release.audit_rows(s, batch, 300),
        sig_forms=sig_forms,
        statuses=explain.BATCH_STATUS_LABELS,
        unit_statuses=explain.UNIT_STATUS_LABELS,
        storages=explain.STORAGE_LABELS,
        error=error,
        conflict=conflict,
        today=to_lab(now).date(),
        own=own,
        own_qc=own_qc,
        can_record=require_role(*TECH),
        can_verify=require_role(*SECOND),
        can_qa=require_role("qa"),
        can_qc=require_role(*SECOND),
    ), status


def _done(batch, message):
    flash(message, "success")
    return redirect(url_for("batches.detail", lot=batch.lot))


@bp.route("/<lot>")
@authenticated
def detail(lot):
    return _render(batches.get(db_session(), lot))


def _form_error(form) -> str:
    """A hidden field's error has no place on the page: it is the message."""
    return form.position.errors[0] if form.position.errors else _("Correct the marked fields.")


@bp.route("/<lot>/steps", methods=["POST"])
@roles(*TECH)
def record_step(lot):
    s = db_session()
    batch = batches.get(s, lot)
    form = StepForm(prefix="step")
    if not form.validate_on_submit():
        return _render(batch, step_form=form, error=_form_error(form), status=400)
    return form_action(
        lambda: batches.record_step(
            s,
            batch,
            int(form.position.data or 0),
            form.raw(),
            as_utc(form.started_at.data),
            as_utc(form.ended_at.data),
            g.user,
            utcnow(),
        ),
        lambda **kw: _render(batch, step_form=form, **kw),
        lambda st: _done(batch, _("%(step)s recorded.", step=explain.step_label(st.kind, st.seq))),
    )


@bp.route("/<lot>/steps/<int:position>", methods=["POST"])
@roles(*TECH)
def correct_step(lot, position):
    s = db_session()
    batch = batches.get(s, lot)
    step = next((st for st in batches.steps_of(s, batch) if st.position == position), None)
    if step is None:
        return _render(batch, error=_("This step has not been recorded."), status=404)
    form = StepForm(prefix=f"fix{position}")
    if not form.validate_on_submit():
        return _render(batch, correct=(position, form), error=_form_error(form), status=400)
    return form_action(
        lambda: batches.correct_step(
            s,
            step,
            form.version.data,
            form.raw(),
            as_utc(form.started_at.data),
            as_utc(form.ended_at.data),
            form.reason.data,
            utcnow(),
        ),
        lambda **kw: _render(batch, correct=(position, form), **kw),
        lambda _r: _done(
            batch, _("%(step)s corrected; it needs to be verified again.", step=explain.step_label(step.kind, step.seq))
        ),
    )


def _signature_action(lot, name, run, message, form_cls=SignatureForm):
    """Every signature on a batch: under the batch's row lock, and only over the content the signer saw."""
    s = db_session()
    batch = batches.get(s, lot)
    form = form_cls(prefix=name)
    if not form.validate_on_submit():
        return _render(batch, sig_forms={name: form}, error=_("Enter your password to sign."), status=400)

    def signed():
        batches.lock(s, batch)
        release.expect_batch_content(s, batch, form.content.data)
        return run(s, batch, form)

    return form_action(
        signed, lambda **kw: _render(batch, sig_forms={name: form}, **kw), lambda result: _done(batch, message(result))
    )


@bp.route("/<lot>/verify-steps", methods=["POST"])
@roles(*SECOND)
def verify_steps(lot):
    return _signature_action(
        lot,
        "verify_steps",
        lambda s, b, f: batches.verify_steps(s, b, g.user, f.password.data, f.comment.data, request.remote_addr),
        lambda n: _("%(n)s step(s) verified; your signature is recorded.", n=n),
    )


@bp.route("/<lot>/qc", methods=["POST"])
@roles(*SECOND)
def record_qc(lot):
    from flask_wtf import FlaskForm

    s = db_session()
    batch = batches.get(s, lot)
    values = {k[3:]: v for k, v in request.form.items() if k.startswith("qc_")}
    versions = {k[4:]: v for k, v in request.form.items() if k.startswith("qcv_")}
    meta = {
        "tested_on": request.form.get("tested_on", ""),
        "method": request.form.get("method", ""),
        "reason": request.form.get("reason", ""),
    }
    if not FlaskForm().validate_on_submit():
        return _render(
            batch, qc_values=values, qc_form=meta, error=_("The form had expired; nothing was saved."), status=400
        )
    from datetime import date

    try:
        tested_on = date.fromisoformat(meta["tested_on"])
    except ValueError:
        tested_on = None
    return form_action(
        lambda: qc.record(s, batch, values, tested_on, meta["method"], meta["reason"], lab_today(), versions=versions),
        lambda **kw: _render(batch, qc_values=values, qc_form=meta, **kw),
        lambda n: _done(batch, _("%(n)s QC result(s) saved.", n=n)),
    )


@bp.route("/<lot>/verify-qc", methods=["POST"])
@roles(*SECOND)
def verify_qc(lot):
    return _signature_action(
        lot,
        "verify_qc",
        lambda s, b, f: qc.verify(s, b, g.user, f.password.data, f.comment.data, request.remote_addr),
        lambda n: _("%(n)s QC result(s) verified; your signature is recorded.", n=n),
    )


@bp.route("/<lot>/deviations", methods=["POST"])
@roles(*SECOND)
def open_deviation(lot):
    s = db_session()
    batch = batches.get(s, lot)
    form = DeviationForm(prefix="dev")
    if not form.validate_on_submit():
        return _render(batch, dev_form=form, error=_("Describe the deviation."), status=400)

    def run():
        batches.lock(s, batch)  # the status is read under the lock: a release committed meanwhile is seen
        if batch.status not in ("in_process", "awaiting_qc", "quarantine"):
            raise RuleViolation(_("Deviations are opened while the batch is being made or in quarantine."))
        return qc.open_deviation(s, batch, "manual", form.description.data)

    return form_action(
        run,
        lambda **kw: _render(batch, dev_form=form, **kw),
        lambda d: _done(batch, _("Deviation %(code)s opened.", code=d.code)),
        once=form.once.data,
    )


@bp.route("/<lot>/deviations/<code>", methods=["POST"])
@roles(*SECOND)
def update_deviation(lot, code):
    s = db_session()
    batch = batches.get(s, lot)
    dev = qc.get_deviation(s, code)
    form = InvestigationForm(prefix=f"dev-{dev.code}")
    if not form.validate_on_submit():
        return _render(batch, inv_forms={dev.code: form}, error=_("Correct the marked fields."), status=400)
    return form_action(
        lambda: qc.update_deviation(
            s,
            dev,
            form.version.data,
            form.investigation.data,
            form.outcome.data,
            form.reason.data,
            labels={"investigation": _("Investigation"), "outcome": _("Outcome and actions")},
        ),
        lambda **kw: _render(batch, inv_forms={dev.code: form}, **kw),
        lambda _r: _done(batch, _("Deviation %(code)s saved.", code=dev.code)),
    )


@bp.route("/<lot>/deviations/<code>/close", methods=["POST"])
@roles("qa")
def close_deviation(lot, code):
    s = db_session()
    dev = qc.get_deviation(s, code)
    name = f"close-{dev.code}"
    return _signature_action(
        lot,
        name,
        lambda s_, b, f: qc.close_deviation(
            s_, dev, f.version.data, g.user, f.password.data, f.comment.data, request.remote_addr
        ),
        lambda _r: _("Deviation %(code)s closed; your signature is recorded.", code=dev.code),
    )


@bp.route("/<lot>/review", methods=["POST"])
@roles("qa")
def review(lot):
    return _signature_action(
        lot,
        "review",
        lambda s, b, f: release.record_review(s, b, g.user, f.password.data, f.comment.data, request.remote_addr),
        lambda r: _("Audit-trail review recorded (%(n)s entries).", n=r.rows_reviewed),
    )


@bp.route("/<lot>/release", methods=["POST"])
@roles("qa")
def release_batch(lot):
    return _signature_action(
        lot,
        "release",
        lambda s, b, f: release.release(s, b, g.user, f.password.data, f.comment.data, request.remote_addr),
        lambda d: _("Batch %(lot)s released; its dose units are available.", lot=d.lot),
    )


@bp.route("/<lot>/reject", methods=["POST"])
@roles("qa")
def reject(lot):
    return _signature_action(
        lot,
        "reject",
        lambda s, b, f: release.reject(s, b, g.user, f.password.data, f.reason.data, request.remote_addr),
        lambda d: _("Batch %(lot)s rejected; its dose units are discarded.", lot=d.lot),
        ReasonSignatureForm,
    )


@bp.route("/<lot>/recall", methods=["POST"])
@roles("qa")
def recall(lot):
    return _signature_action(
        lot,
        "recall",
        lambda s, b, f: release.recall(s, b, g.user, f.password.data, f.reason.data, request.remote_addr),
        lambda d: _("Batch %(lot)s recalled with its units not yet administered.", lot=d.lot),
        ReasonSignatureForm,
    )
