"""Storage locations, box view, dose units and the inventory."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import select

from ..audit.concurrency import version_token
from ..audit.models import AuditEntry
from ..auth.permissions import authenticated, require_role, roles
from ..clock import utcnow
from ..core.scan import Resolver, register
from ..db import db_session
from ..errors import LimsError, RuleViolation
from ..timefmt import lab_today, to_lab
from ..web import form_action
from . import explain, storage
from .forms import (
    DiscardForm,
    LocationForm,
    PlaceForm,
    StorageSessionForm,
    StoreHereForm,
    ThawForm,
    VerifyLabelForm,
    as_local,
    as_utc,
)
from .models import Batch, DoseUnit
from .rules import ProcessLimits, box_positions
from .spec import active_spec, limits_of

bp = Blueprint("storage", __name__)
HANDLERS = ("technician", "qa")


def _find_unit(session, ident):
    u = session.exec(select(DoseUnit).where(DoseUnit.code == ident.strip().upper())).first()
    return url_for("storage.unit", code=u.code) if u else None


def _find_location(session, ident):
    from .models import StorageLocation

    loc = session.exec(select(StorageLocation).where(StorageLocation.code == ident.strip().upper())).first()
    return url_for("storage.location", code=loc.code) if loc else None


register(
    Resolver(
        "DU", "dose unit", _find_unit, lambda s: s.strip().upper().startswith("FMT-") and s.strip().count("-") == 3
    )
)
register(Resolver("LOC", "storage location", _find_location, lambda s: False))


@bp.route("/inventory")
@authenticated
def inventory():
    s = db_session()
    now = utcnow()
    today = to_lab(now).date()
    spec = active_spec(s)
    limits = limits_of(spec) if spec else ProcessLimits()
    warning = limits.expiry_warning_days
    rows = storage.inventory(s, now, today, limits)
    return render_template(
        "manufacturing/inventory.html",
        rows=rows,
        products=explain.PRODUCT_LABELS,
        warning=warning,
        boxes=storage.boxes(s),
        occupied_count=lambda b: len(storage.occupied(s, b.id)),
        path_of=lambda loc: storage.path_of(s, loc),
        today=today,
    )


@bp.route("/storage")
@authenticated
def locations():
    return _render_locations(LocationForm(prefix="loc"))


@bp.route("/storage", methods=["POST"])
@roles(*HANDLERS)
def create_location():
    s = db_session()
    form = LocationForm(prefix="loc")
    if not form.validate_on_submit():
        return _render_locations(form, _("Correct the marked fields."), 400)
    return form_action(
        lambda: storage.create_location(
            s,
            {
                "code": form.code.data,
                "name": form.name.data,
                "kind": form.kind.data,
                "parent": form.parent.data,
                "rows": form.rows.data,
                "cols": form.cols.data,
            },
        ),
        lambda **kw: _render_locations(form, kw.get("error"), kw.get("status", 422)),
        lambda loc: _flash_to(
            url_for("storage.location", code=loc.code), _("Location %(code)s created.", code=loc.code)
        ),
        once=form.once.data,
    )


def _render_locations(form, error=None, status=200):
    s = db_session()

    def tree(parent_id, depth=0):
        out = []
        for loc in storage.children(s, parent_id):
            out.append((depth, loc))
            out.extend(tree(loc.id, depth + 1))
        return out

    return render_template(
        "manufacturing/locations.html",
        rows=tree(None),
        form=form,
        error=error,
        kinds=explain.LOCATION_KINDS,
        can_create=require_role(*HANDLERS),
        occupied_count=lambda b: len(storage.occupied(s, b.id)),
    ), status


def _flash_to(url, message, category="success"):
    flash(message, category)
    return redirect(url)


@bp.route("/storage/<code>")
@authenticated
def location(code):
    return _render_location(storage.location(db_session(), code))


@bp.route("/storage/<code>/store", methods=["POST"])
@roles(*HANDLERS)
def store_here(code):
    """A context scan: the field wants a dose unit; any other label is refused before anything is looked up."""
    from ..core.scan import expect

    s = db_session()
    loc = storage.location(s, code)
    form = StoreHereForm(prefix="here")
    if not form.validate_on_submit():
        return _render_location(loc, form, _("Correct the marked fields."), 400)
    ident, problem, found = expect(form.unit.data, "DU")
    if problem:
        return _render_location(loc, form, scan_problem_text(problem, form.unit.data, found), 422)
    try:
        u = storage.unit(s, ident)
    except LimsError as err:
        return _render_location(loc, form, err.message, 404)
    return form_action(
        lambda: storage.place(s, u, loc.code, form.position.data, "stored by scan", now=utcnow()),
        lambda **kw: _render_location(loc, form, kw.get("error"), kw.get("status", 422)),
        lambda _r: _flash_to(
            url_for("storage.location", code=loc.code),
            _("Unit %(code)s stored at %(where)s.", code=u.code, where=storage.path_text(s, u.box_id, u.position)),
        ),
    )


def scan_problem_text(problem, code, found=None):
    from ..core.scan import RESOLVERS
    from ..core.views import SCAN_MESSAGES

    if problem == "wrong_type":
        label = RESOLVERS[found].label if found in RESOLVERS else found
        return _("%(code)s is a %(label)s label; scan the dose unit's label.", code=code, label=label)
    return SCAN_MESSAGES[problem](code)


@bp.route("/storage/<code>/session", methods=["POST"])
@roles(*HANDLERS)
def store_session(code):
    """Review the scanned plan (step "review"), then store every unit in one signed act (step "sign")."""
    from ..core.scan import scanned_id

    s = db_session()
    loc = storage.location(s, code)
    form = StorageSessionForm(prefix="ss")
    if not form.validate_on_submit():
        return _render_location(loc, session_form=form, error=_("Correct the marked fields."), status=400)
    try:
        lot = scanned_id(form.lot.data, "LOT")
        plan, problems, records = storage.session_plan(s, loc, lot, form.scans.data, form.start.data, utcnow())
    except LimsError as err:
        return _render_location(loc, session_form=form, error=err.message, status=err.status_code)
    if request.form.get("step") != "sign":
        form.content.data = storage.session_content(records, plan) if not problems else ""
        return _render_location(
            loc,
            session_form=form,
            plan=plan,
            problems=problems,
            error=" ".join(problems) or None,
            status=422 if problems else 200,
        )
    if not (form.password.data or ""):
        form.content.data = storage.session_content(records, plan) if not problems else ""
        return _render_location(
            loc, session_form=form, plan=plan, problems=problems, error=_("Enter your password to sign."), status=400
        )
    return form_action(
        lambda: storage.store_session(
            s,
            loc,
            lot,
            form.scans.data,
            form.start.data,
            form.content.data,
            g.user,
            form.password.data,
            utcnow(),
            request.remote_addr,
        ),
        lambda **kw: _render_location(
            loc, session_form=form, plan=plan, problems=problems, error=kw.get("error"), status=kw.get("status", 422)
        ),
        lambda run: _flash_to(
            url_for("storage.location", code=loc.code),
            _(
                "%(n)s units of batch %(lot)s stored in %(box)s (%(run)s); your signature is recorded.",
                n=run.unit_count,
                lot=run.lot,
                box=loc.code,
                run=run.code,
            ),
        ),
    )


def _render_location(loc, form=None, error=None, status=200, session_form=None, plan=None, problems=None):
    s = db_session()
    grid = None
    if loc.kind == "box":
        occ = storage.occupied(s, loc.id)
        positions = box_positions(loc.rows, loc.cols)
        grid = [[(p, occ.get(p)) for p in positions[r * loc.cols : (r + 1) * loc.cols]] for r in range(loc.rows)]
    return render_template(
        "manufacturing/location.html",
        loc=loc,
        path=storage.path_of(s, loc),
        grid=grid,
        children=storage.children(s, loc.id),
        kinds=explain.LOCATION_KINDS,
        container=storage.container_of(s, loc),
        unit_statuses=explain.UNIT_STATUS_LABELS,
        today=lab_today(),
        form=form or StoreHereForm(prefix="here"),
        error=error,
        session_form=session_form or StorageSessionForm(prefix="ss"),
        plan=plan,
        problems=problems,
        can_handle=require_role(*HANDLERS),
    ), status


def _render_unit(u, error=None, status=200, place_form=None, thaw_form=None, discard_form=None, verify_form=None):
    s = db_session()
    now = utcnow()
    batch = s.get(Batch, u.batch_id)
    if thaw_form is None:
        thaw_form = ThawForm(prefix="thaw")
        thaw_form.thawed_at.data = as_local(now)
    history = s.exec(
        select(AuditEntry)
        .where(AuditEntry.entity == "dose_unit", AuditEntry.record_id == u.code)
        .order_by(AuditEntry.id.desc())
        .limit(200)
    ).all()
    return render_template(
        "manufacturing/unit.html",
        u=u,
        batch=batch,
        where=storage.path_text(s, u.box_id, u.position),
        problem=storage.use_problem(s, u, now),
        place_form=place_form or PlaceForm(prefix="place", version=version_token(u)),
        thaw_form=thaw_form,
        discard_form=discard_form or DiscardForm(prefix="discard"),
        history=history,
        error=error,
        verify_form=verify_form or VerifyLabelForm(prefix="verify"),
        label=_label_status(s, u, now),
        statuses=explain.UNIT_STATUS_LABELS,
        storages=explain.STORAGE_LABELS,
        batch_statuses=explain.BATCH_STATUS_LABELS,
        can_handle=require_role(*HANDLERS),
        can_thaw=require_role("technician", "qa", "clinician"),
    ), status


def _label_status(s, u, now):
    """(last print, is it of the unit's current state) for the unit page's label section; (None, False) unprinted."""
    from ..labels import reconcile
    from .queries import unit_state

    p = reconcile.last_print(s, u)
    return p, bool(p and reconcile.is_current(p, unit_state(s, u, now)))


@bp.route("/units/<code>/verify-label", methods=["POST"])
@roles(*HANDLERS)
def verify_label(code):
    """The scan of the printed label: checked against the unit and its state, recorded as "label verified"."""
    from ..labels import reconcile

    s = db_session()
    u = storage.unit(s, code)
    form = VerifyLabelForm(prefix="verify")
    if not form.validate_on_submit():
        return _render_unit(u, error=_("Scan the printed label."), status=400, verify_form=form)
    return form_action(
        lambda: reconcile.verify(s, u, form.payload.data, g.user, utcnow()),
        lambda **kw: _render_unit(u, verify_form=form, error=kw.get("error"), status=kw.get("status", 422)),
        lambda _r: _flash_to(url_for("storage.unit", code=u.code), _("Label of unit %(code)s verified.", code=u.code)),
    )


@bp.route("/units/<code>")
@authenticated
def unit(code):
    return _render_unit(storage.unit(db_session(), code))


@bp.route("/units/<code>/place", methods=["POST"])
@roles(*HANDLERS)
def place(code):
    s = db_session()
    u = storage.unit(s, code)
    form = PlaceForm(prefix="place")
    back = request.form.get("back")
    if not form.validate_on_submit():
        return _render_unit(u, error=_("Correct the marked fields."), status=400, place_form=form)
    return form_action(
        lambda: storage.place(
            s,
            u,
            _box_code(form.box.data),
            form.position.data,
            form.note.data,
            now=utcnow(),
            expected_version=form.version.data or "",
        ),
        lambda **kw: _render_unit(u, place_form=form, error=kw.get("error"), status=kw.get("status", 422)),
        lambda _r: _flash_to(
            back if back and back.startswith("/batches/") else url_for("storage.unit", code=u.code),
            _("Unit %(code)s stored at %(where)s.", code=u.code, where=storage.path_text(s, u.box_id, u.position)),
        ),
    )


def _box_code(scanned: str) -> str:
    """The box field takes a typed code or a scanned location label (LIMS:LOC:...)."""
    from ..core.scan import expect

    ident, problem, _found = expect(scanned, "LOC")
    if problem == "wrong_type":
        raise RuleViolation(_("%(code)s is not a storage location label; scan the box's label.", code=scanned))
    return ident or scanned


@bp.route("/units/<code>/thaw", methods=["POST"])
@roles("technician", "qa", "clinician")
def thaw(code):
    s = db_session()
    u = storage.unit(s, code)
    form = ThawForm(prefix="thaw")
    if not form.validate_on_submit():
        return _render_unit(u, error=_("Correct the marked fields."), status=400, thaw_form=form)
    return form_action(
        lambda: storage.thaw(s, u, as_utc(form.thawed_at.data), g.user, utcnow()),
        lambda **kw: _render_unit(u, thaw_form=form, error=kw.get("error"), status=kw.get("status", 422)),
        lambda _r: _flash_to(
            url_for("storage.unit", code=u.code), _("Unit %(code)s thawed; use it within the thaw window.", code=u.code)
        ),
    )


@bp.route("/units/<code>/discard", methods=["POST"])
@roles(*HANDLERS)
def discard(code):
    s = db_session()
    u = storage.unit(s, code)
    form = DiscardForm(prefix="discard")
    if not form.validate_on_submit():
        return _render_unit(u, error=_("A reason is required to discard a unit."), status=400, discard_form=form)
    return form_action(
        lambda: storage.discard(s, u, form.reason.data),
        lambda **kw: _render_unit(u, discard_form=form, error=kw.get("error"), status=kw.get("status", 422)),
        lambda _r: _flash_to(url_for("storage.unit", code=u.code), _("Unit %(code)s discarded.", code=u.code)),
    )
