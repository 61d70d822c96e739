"""Donation receipt and the start of processing."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import select

from ..audit.models import AuditEntry
from ..auth.permissions import authenticated, require_role, roles
from ..clock import utcnow
from ..core.scan import Resolver, register, scanned_id
from ..db import db_session
from ..donors import operations as donor_ops
from ..donors.models import Donor
from ..equipment.models import Equipment
from ..errors import LimsError
from ..web import form_action
from . import batches, donations
from .explain import DONATION_STATUS_LABELS
from .forms import ReceiveDonationForm, StartBatchForm, as_local, as_utc
from .models import Batch
from .rules import processing_deadline
from .spec import active_spec, limits_of

bp = Blueprint("donations", __name__, url_prefix="/donations")


def _find(session, ident):
    d = donations.by_code(session, ident)
    return url_for("donations.detail", code=d.code) if d else None


register(Resolver("DN", "donation", _find, lambda s: s.strip().upper().startswith("DN-")))
register(Resolver("RS", "retained sample", _find, lambda s: False))  # the retained sample's label opens its donation


def _device_choices(session):
    rows = session.exec(
        select(Equipment)
        .where(Equipment.kind == "purification_device", Equipment.status == "in_service")
        .order_by(Equipment.code)
    ).all()
    return [("", "")] + [(e.code, f"{e.code} {e.name}") for e in rows]


@bp.route("/", methods=["GET"])
@authenticated
def index():
    s = db_session()
    rows = donations.recent(s, 200)
    donors = (
        {d.id: d for d in s.exec(select(Donor).where(Donor.id.in_({r.donor_id for r in rows}))).all()} if rows else {}
    )
    form = ReceiveDonationForm(donor=request.args.get("donor", ""))
    now = as_local(utcnow())
    if not form.collected_at.data:
        form.collected_at.data = form.received_at.data = now
    return _render_index(form, rows=rows, donors=donors)


def _render_index(form, error=None, status=200, rows=None, donors=None):
    s = db_session()
    if rows is None:
        rows = donations.recent(s, 200)
        donors = (
            {d.id: d for d in s.exec(select(Donor).where(Donor.id.in_({r.donor_id for r in rows}))).all()}
            if rows
            else {}
        )
    spec = active_spec(s)
    return render_template(
        "manufacturing/donations.html",
        form=form,
        rows=rows,
        donors=donors,
        error=error,
        statuses=DONATION_STATUS_LABELS,
        limits=limits_of(spec) if spec else None,
        can_receive=require_role("technician", "qa"),
    ), status


@bp.route("/", methods=["POST"])
@roles("technician", "qa")
def receive():
    s = db_session()
    form = ReceiveDonationForm()
    if not form.validate_on_submit():
        return _render_index(form, error=_("Correct the marked fields."), status=400)
    try:
        donor = donor_ops.by_code(s, scanned_id(form.donor.data, "DO"))
    except LimsError as err:
        return _render_index(form, error=err.message, status=err.status_code)
    if donor is None:
        return _render_index(form, error=_("No donor with code %(code)s.", code=form.donor.data.strip()), status=422)
    return form_action(
        lambda: donations.receive(s, donor, form.data_dict(), g.user, utcnow()),
        lambda **kw: _render_index(form, **kw),
        lambda d: _to(d, _("Donation %(code)s received from donor %(donor)s.", code=d.code, donor=donor.code)),
        once=form.once.data,
    )


def _to(donation, message, category="success"):
    flash(message, category)
    return redirect(url_for("donations.detail", code=donation.code))


def _render_detail(donation, form=None, error=None, status=200):
    s = db_session()
    if form is None:
        form = StartBatchForm(run_number="")
        form.started_at.data = as_local(utcnow())
    form.device.choices = _device_choices(s)
    batch = s.exec(select(Batch).where(Batch.donation_id == donation.id)).first()
    history = s.exec(
        select(AuditEntry)
        .where(AuditEntry.entity == "donation", AuditEntry.record_id == donation.code)
        .order_by(AuditEntry.id.desc())
        .limit(100)
    ).all()
    from ..auth.models import User

    return render_template(
        "manufacturing/donation.html",
        donation=donation,
        donor=s.get(Donor, donation.donor_id),
        received_by=s.get(User, donation.received_by_id),
        batch=batch,
        form=form,
        error=error,
        history=history,
        statuses=DONATION_STATUS_LABELS,
        deadline=processing_deadline(donation.collected_at, batches.limits_for(s, donation)),
        now=utcnow(),
        can_start=require_role("technician"),
    ), status


@bp.route("/<code>")
@authenticated
def detail(code):
    return _render_detail(donations.get(db_session(), code))


@bp.route("/<code>/start", methods=["POST"])
@roles("technician")
def start(code):
    s = db_session()
    donation = donations.get(s, code)
    form = StartBatchForm()
    form.device.choices = _device_choices(s)
    if not form.validate_on_submit():
        return _render_detail(donation, form=form, error=_("Correct the marked fields."), status=400)

    def started(batch):
        if batch is None:  # too late after collection: the rejection is what was saved
            return _to(
                donation,
                _("Donation %(code)s rejected: %(reason)s", code=donation.code, reason=donation.rejection_reason),
                "error",
            )
        flash(_("Batch %(lot)s started from donation %(code)s.", lot=batch.lot, code=donation.code), "success")
        return redirect(url_for("batches.detail", lot=batch.lot))

    return form_action(
        lambda: batches.start(
            s, donation, form.device.data, form.run_number.data, as_utc(form.started_at.data), g.user, utcnow()
        ),
        lambda **kw: _render_detail(donation, form=form, error=kw.get("error"), status=kw.get("status", 422)),
        started,
        once=form.once.data,
    )
