"""Home, scan box, language and profile."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlmodel import select

from ..audit.models import AuditEntry
from ..auth import operations as auth_ops
from ..auth.forms import LanguageForm
from ..auth.permissions import authenticated, public
from ..auth.rules import LANGUAGES
from ..db import db_session
from ..web import back_url
from .scan import resolve

bp = Blueprint("core", __name__)


@bp.route("/")
@authenticated
def home():
    recent = (
        db_session()
        .exec(select(AuditEntry).where(AuditEntry.user_id == g.user.id).order_by(AuditEntry.id.desc()).limit(10))
        .all()
    )
    from ..clock import utcnow
    from ..jobs.dashboard import due_work
    from ..timefmt import lab_today

    now = utcnow()
    return render_template(
        "core/home.html",
        recent=recent,
        now=now,
        today=lab_today(),
        due=due_work(db_session(), g.user.role_set, now, lab_today()),
    )


SCAN_MESSAGES = {
    "empty": lambda c: _("Nothing was scanned."),
    "malformed": lambda c: _("The code %(code)s is not a valid LIMS code.", code=c),
    "unknown_type": lambda c: _("The code %(code)s is of a type this system does not know.", code=c),
    "not_found": lambda c: _("Unknown code: %(code)s. No record has this ID.", code=c),
}


@bp.route("/scan/resolve")
@authenticated
def scan_resolve():
    """JSON for integrations (e.g. a ward system): what a payload or typed ID points to."""
    from flask import jsonify

    from .scan import RESOLVERS, parse

    code = (request.args.get("code") or "").strip()[:200]
    url, problem = resolve(db_session(), code)
    type_code, ident, _p = parse(code)
    body = {
        "code": code,
        "found": bool(url),
        "url": url,
        "problem": problem or None,
        "type": type_code,
        "id": ident,
        "label": RESOLVERS[type_code].label if type_code in RESOLVERS else None,
        "message": SCAN_MESSAGES[problem](code) if problem else None,
    }
    if url and url.startswith(
        "/units/"
    ):  # a dose unit: what it is now, so no integration reads it as usable when it is not
        from ..clock import utcnow
        from ..manufacturing.models import DoseUnit
        from ..manufacturing.queries import unit_state

        unit = db_session().exec(select(DoseUnit).where(DoseUnit.code == (ident or "").strip().upper())).first()
        if unit is not None:
            state = unit_state(db_session(), unit, utcnow())
            body.update(
                {
                    "status": state.code,
                    "status_text": state.label,
                    "usable": state.usable,
                    "do_not_use": state.do_not_use,
                    "reason": state.reason,
                }
            )
    return jsonify(body), (200 if url else (404 if problem == "not_found" else 400))


@bp.route("/scan")
@authenticated
def scan():
    code = (request.args.get("code") or "").strip()[:200]
    url, problem = resolve(db_session(), code)
    if url:
        return redirect(url)
    flash(SCAN_MESSAGES[problem](code), "error")
    return redirect(back_url())


@bp.route("/language/<code>")
@public
def set_language(code):
    """Language for the sign-in page (before anyone is known); stored in the cookie only."""
    if code not in LANGUAGES:
        abort(404)
    session["lang"] = code
    return redirect(back_url("auth.login"))


@bp.route("/profile", methods=["GET", "POST"])
@authenticated
def profile():
    form = LanguageForm(language=g.user.language)
    if form.validate_on_submit():
        auth_ops.set_own_language(db_session(), g.user, form.language.data)
        session["lang"] = form.language.data
        flash(_("Language saved."), "success")
        return redirect(url_for("core.profile"))
    return render_template("core/profile.html", form=form)
