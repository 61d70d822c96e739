"""Screening pages: result entry from the keyboard, verification, the decision."""

from __future__ import annotations

import re
from collections import OrderedDict
from functools import partial

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..audit.fingerprint import expect_content, fingerprint
from ..auth.permissions import authenticated, require_role, roles
from ..core.scan import Resolver, register
from ..db import db_session
from ..errors import LimsError
from ..forms import SignatureForm
from ..timefmt import lab_today
from ..web import form_action
from . import operations as donor_ops
from . import screening as ops
from .explain import ITEM_KIND_LABELS, outcome_label, reason_text, value_label
from .models import ScreeningProtocol
from .protocols import PANEL_KINDS, display_name, item_names, items_of
from .screening_models import Screening

bp = Blueprint("screening", __name__)

ENTERERS = ("technician", "clinician", "qa")
DECIDERS = ("clinician", "qa")
# The screening page's groups, in panel order (donation-day items have their own screen).
KIND_LABELS = OrderedDict((kind, ITEM_KIND_LABELS[kind]) for kind in PANEL_KINDS)


# An option's text starts with the code's first letter, so typing n / p / i / y selects from the keyboard in
# every language ("n · 阴性" in Chinese, "negative" in English).
OPTION_LABELS = {
    "negative": _l("negative"),
    "positive": _l("positive"),
    "indeterminate": _l("indeterminate"),
    "no": _l("no"),
    "yes": _l("yes"),
}


class PanelForm(FlaskForm):
    sample_date = DateField(
        _l("Sample / interview date"), validators=[DataRequired(message=_l("Enter the sample date."))]
    )
    method = StringField(_l("Method / laboratory"), validators=[Optional(), Length(max=120)])
    reason = TextAreaField(
        _l("Reason (only when correcting an existing result)"), validators=[Optional(), Length(max=1000)]
    )


def _num(d) -> str:
    text = format(d.normalize(), "f") if d is not None else ""
    return text


def normal_range(item) -> str:
    """'3.5-9.5 10^9/L', '<= 49 score' or '>= 7 U/L', without trailing zeros."""
    low, high = item.normal_min, item.normal_max
    if low is not None and high is not None:
        text = f"{_num(low)}–{_num(high)}"
    elif high is not None:
        text = f"≤ {_num(high)}"
    else:
        text = f"≥ {_num(low)}"
    return f"{text} {item.unit}".strip()


def _find_specimen(session, ident):
    """A specimen tube label (SC12-SERUM) opens its screening."""
    m = re.match(r"^SC(\d+)-[A-Z]+$", ident.strip().upper())
    sc = session.get(Screening, int(m.group(1))) if m else None
    return url_for("screening.detail", screening_id=sc.id) if sc else None


register(
    Resolver("SP", "screening specimen", _find_specimen, lambda s: bool(re.match(r"^SC\d+-[A-Z]+$", s.strip().upper())))
)


@bp.route("/donors/<code>/screenings", methods=["POST"])
@roles(*ENTERERS)
def start(code):
    s = db_session()
    donor = donor_ops.get(s, code)
    form = FlaskForm()
    if not form.validate_on_submit():
        flash(_("The form had expired; nothing was saved."), "error")
        return redirect(url_for("donors.detail", code=code))
    try:
        sc = ops.start(s, donor, lab_today())
    except LimsError as err:
        flash(err.message, "error")
        return redirect(url_for("donors.detail", code=code)), 303
    flash(_("Screening #%(id)s started for %(code)s.", id=sc.id, code=donor.code), "success")
    return redirect(url_for("screening.detail", screening_id=sc.id))


def _render(sc, panel=None, typed=None, verify_form=None, decide_form=None, error=None, conflict=None, status=200):
    s = db_session()
    donor = s.get(donor_ops.Donor, sc.donor_id)
    protocol = s.get(ScreeningProtocol, sc.protocol_id)
    items = items_of(s, protocol)
    results = ops.results_of(s, sc)
    verified = ops.verified_map(s, results)
    by_item = {r.item_id: r for r in results}
    groups = OrderedDict((k, []) for k in KIND_LABELS)
    for item in items:
        groups.setdefault(item.kind, []).append(item)
    decision = ops.evaluate(s, sc, lab_today())
    verify_form = verify_form or SignatureForm(prefix="verify")
    decide_form = decide_form or SignatureForm(prefix="decide")
    verify_form.content.data = decide_form.content.data = fingerprint(_shown(s, sc))
    return render_template(
        "donors/screening.html",
        sc=sc,
        donor=donor,
        protocol=protocol,
        groups=groups,
        kinds=KIND_LABELS,
        by_item=by_item,
        verified=verified,
        pending=[r for r in results if r.audit_record_id not in verified],
        panel=panel or PanelForm(prefix="panel", sample_date=lab_today()),
        typed=typed or {},
        verify_form=verify_form,
        decide_form=decide_form,
        decision=decision,
        option_labels=OPTION_LABELS,
        normal_range=normal_range,
        reason_text=partial(reason_text, names=item_names(s)),
        display_name=display_name,
        outcome_label=outcome_label,
        allowed=ops.allowed_values,
        value_label=value_label,
        error=error,
        can_enter=require_role(*ENTERERS) and sc.status == "open",
        can_decide=require_role(*DECIDERS) and sc.status == "open",
    ), status


def _shown(s, sc) -> list:
    """What the screening page shows a verifier or the approver: the screening, the donor's facts, every result."""
    return [sc, s.get(donor_ops.Donor, sc.donor_id), *ops.results_of(s, sc)]


def _checked(s, sc, form, run):
    """Sign only over what the page showed (lims.audit.fingerprint)."""

    def signed():
        expect_content(s, form.content.data, _shown(s, sc))
        return run()

    return signed


@bp.route("/screenings/<int:screening_id>")
@authenticated
def detail(screening_id):
    return _render(ops.get(db_session(), screening_id))


@bp.route("/screenings/<int:screening_id>/results", methods=["POST"])
@roles(*ENTERERS)
def record(screening_id):
    s = db_session()
    sc = ops.get(s, screening_id)
    panel = PanelForm(prefix="panel")
    typed = {k[2:]: v for k, v in request.form.items() if k.startswith("v_")}
    comments = {k[2:]: v for k, v in request.form.items() if k.startswith("c_")}
    if not panel.validate_on_submit():
        return _render(sc, panel=panel, typed=typed, error=_("Correct the marked fields."), status=400)
    entries = {code: (value, comments.get(code, "")) for code, value in typed.items()}
    return form_action(
        lambda: ops.record_results(
            s, sc, entries, panel.sample_date.data, panel.method.data, panel.reason.data, lab_today()
        ),
        lambda **kw: _render(sc, panel=panel, typed=typed, **kw),
        lambda n: _saved(
            _("%(n)s results saved; a second person must verify them.", n=n),
            url_for("screening.detail", screening_id=sc.id),
        ),
    )


@bp.route("/screenings/<int:screening_id>/verify", methods=["POST"])
@roles(*ENTERERS)
def verify(screening_id):
    s = db_session()
    sc = ops.get(s, screening_id)
    form = SignatureForm(prefix="verify")
    if not form.validate_on_submit():
        return _render(sc, verify_form=form, error=_("Enter your password to sign."), status=400)
    return form_action(
        _checked(
            s, sc, form, lambda: ops.verify(s, sc, g.user, form.password.data, form.comment.data, request.remote_addr)
        ),
        lambda **kw: _render(sc, verify_form=form, **kw),
        lambda n: _saved(
            _("%(n)s results verified; your signature is recorded.", n=n),
            url_for("screening.detail", screening_id=sc.id),
        ),
    )


@bp.route("/screenings/<int:screening_id>/decision", methods=["POST"])
@roles(*DECIDERS)
def decide(screening_id):
    s = db_session()
    sc = ops.get(s, screening_id)
    form = SignatureForm(prefix="decide")
    if not form.validate_on_submit():
        return _render(sc, decide_form=form, error=_("Enter your password to sign."), status=400)
    donor = s.get(donor_ops.Donor, sc.donor_id)
    return form_action(
        _checked(
            s,
            sc,
            form,
            lambda: ops.approve(s, sc, g.user, form.password.data, form.comment.data, lab_today(), request.remote_addr),
        ),
        lambda **kw: _render(sc, decide_form=form, **kw),
        lambda row: _saved(
            _("Decision approved: %(code)s is %(outcome)s.", code=donor.code, outcome=outcome_label(row.outcome)),
            url_for("donors.detail", code=donor.code),
        ),
    )


def _saved(message, target):
    flash(message, "success")
    return redirect(target)
