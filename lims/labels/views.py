"""Printing labels from the record pages: PDF (exact label size or A4 sheet) or ZPL."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, make_response, redirect, request
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from ..auth.permissions import roles
from ..db import db_session
from ..errors import LimsError
from ..web import back_url
from .layouts import LayoutError, all_layouts
from .printing import print_labels

bp = Blueprint("labels", __name__, url_prefix="/labels")
KINDS = ("DU", "LOT", "LOT_UNITS", "DN", "RS", "LOC", "SP")


@bp.route("/print", methods=["POST"])
@roles("technician", "qa")
def print_():
    """The document comes back as the response; a refusal returns to the page with the reason, nothing printed."""
    back = back_url()
    if not FlaskForm().validate_on_submit():
        flash(_("The form had expired; nothing was printed."), "error")
        return redirect(back)
    kind, code = request.form.get("kind", ""), request.form.get("code", "")
    fmt = request.form.get("format", "pdf")
    try:
        layout = all_layouts().get(request.form.get("layout", ""))
    except LayoutError as err:
        flash(_("A label layout file is malformed: %(error)s", error=str(err)), "error")
        return redirect(back)
    if kind not in KINDS or layout is None:
        flash(_("Choose a label layout."), "error")
        return redirect(back)
    try:
        document, count = print_labels(
            db_session(), kind, code, layout, fmt, request.form.get("reason"), current_app.config
        )
    except LimsError as err:
        flash(err.message, "error")
        return redirect(back)
    if fmt == "zpl_send":
        flash(
            _("%(n)s label(s) sent to the printer at %(printer)s.", n=count, printer=current_app.config["ZPL_PRINTER"]),
            "success",
        )
        return redirect(back)
    resp = make_response(document)
    name = f"{code}-{layout.code}.{fmt}"
    if fmt == "pdf":
        resp.headers["Content-Type"] = "application/pdf"
        resp.headers["Content-Disposition"] = f'inline; filename="{name}"'
    else:
        resp.headers["Content-Type"] = "text/plain; charset=utf-8"
        resp.headers["Content-Disposition"] = f'attachment; filename="{name.replace(".zpl", ".zpl.txt")}"'
    resp.headers["X-Label-Count"] = str(count)
    return resp
