"""Printing labels: the documents, the release-label rule and the audit of every print and reprint.

Every dose-unit label printed is also kept as a ``LabelPrint`` with the state it says, for reconciliation
(``reconcile``): the unit is issued only once such a label of its current state is scanned back."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlmodel import select

from ..audit.models import AuditEntry
from ..audit.trail import audit_event
from ..errors import RuleViolation
from ..reports.fonts import FontMissing
from . import content, pdf, reconcile, zpl
from .codes import PRINTER_DOTS_PER_MM, CodeTooSmall
from .fit import DoesNotFit
from .layouts import Layout

ENTITY = {
    "DU": "dose_unit",
    "LOT": "batch",
    "DN": "donation",
    "RS": "donation",
    "LOC": "storage_location",
    "SP": "screening",
}
RELEASED_UNIT = ("available", "reserved", "issued", "administered")


def previously_printed(session, labels) -> bool:
    ids = [lab.record_id for lab in labels]
    entities = {ENTITY[lab.kind] for lab in labels}
    return (
        session.exec(
            select(AuditEntry.id)
            .where(AuditEntry.action == "print", AuditEntry.entity.in_(entities), AuditEntry.record_id.in_(ids))
            .limit(1)
        ).first()
        is not None
    )


def _stock_name(layout: Layout) -> str:
    """The stock's name in the user's language (its Chinese name for zh_CN), as the stock chooser shows it."""
    from flask_babel import get_locale

    return layout.display_name(str(get_locale() or ""))


def _render(layout: Layout, labels, fmt: str, code: str, config) -> bytes | str:
    """The document; both formats refuse the same text and the same too-small code with the same message."""
    if fmt not in ("pdf", "zpl", "zpl_send"):
        raise RuleViolation(_("Choose PDF or ZPL."))
    cjk, font = config.get("ZPL_CJK", "graphic"), config.get("ZPL_FONT", "")
    if fmt != "pdf" and config["ZPL_DOTS_PER_MM"] not in PRINTER_DOTS_PER_MM:
        raise RuleViolation(
            _(
                "LIMS_ZPL_DOTS_PER_MM must be 8 (203 dpi) or 12 (300 dpi) (is %(value)s); nothing was printed.",
                value=config["ZPL_DOTS_PER_MM"],
            )
        )
    if fmt != "pdf" and cjk not in zpl.CJK_MODES:
        raise RuleViolation(_("LIMS_ZPL_CJK must be graphic or font (is %(value)s); nothing was printed.", value=cjk))
    if fmt != "pdf" and cjk == "font" and not font.strip():
        raise RuleViolation(
            _("LIMS_ZPL_CJK is font but LIMS_ZPL_FONT names no font on the printer; nothing was printed.")
        )
    try:
        if fmt == "pdf":
            return pdf.render(layout, labels, title=code)
        return zpl.render(layout, labels, config["ZPL_DOTS_PER_MM"], cjk, font)
    except DoesNotFit as err:
        raise RuleViolation(
            _(
                "%(text)s does not fit on the %(layout)s; choose a larger label stock.",
                text=err.text,
                layout=_stock_name(layout),
            )
        ) from None
    except CodeTooSmall as err:
        raise RuleViolation(
            _(
                "The code of %(payload)s would print too small to scan on the %(layout)s; choose a larger label stock.",
                payload=err.payload,
                layout=_stock_name(layout),
            )
        ) from None
    except FontMissing as err:
        raise RuleViolation(_("The label font is missing (%(error)s); nothing was printed.", error=err)) from None


def print_labels(
    session, kind: str, code: str, layout: Layout, fmt: str, reason: str | None, config, now=None
) -> tuple[bytes | str, int]:
    """(document, number of labels). A reprint needs a reason; a release label needs released units.

    ``now``: the print time (the clock by default); the labels say the units' state at that instant."""
    from ..clock import utcnow

    now = now or utcnow()
    labels = content.for_record(session, kind, code, now)
    if layout.release_only:
        from ..manufacturing.explain import UNIT_STATUS_LABELS

        blocked = [
            f"{lab.record_id} ({UNIT_STATUS_LABELS.get(lab.state, lab.state)})" if lab.kind == "DU" else lab.record_id
            for lab in labels
            if lab.kind != "DU" or lab.state not in RELEASED_UNIT
        ]
        if blocked:
            raise RuleViolation(
                _(
                    "The %(layout)s is printed only for released dose units in date: %(ids)s. Print the tube label, which shows the unit's state.",
                    layout=_stock_name(layout),
                    ids=", ".join(blocked),
                )
            )
    reprint = previously_printed(session, labels)
    if reprint and not (reason or "").strip():
        raise RuleViolation(_("These labels were printed before: give a reason for the reprint."))
    document = _render(layout, labels, fmt, code, config)
    what = f"{'reprint' if reprint else 'print'} {layout.code} {fmt}" + (" (retained sample)" if kind == "RS" else "")
    if fmt == "zpl_send":
        printer = config.get("ZPL_PRINTER") or ""
        if not printer:
            raise RuleViolation(_("No Zebra printer is configured (LIMS_ZPL_PRINTER)."))
        try:
            zpl.send(document, printer)
        except (OSError, ValueError) as err:
            raise RuleViolation(
                _(
                    "The printer at %(printer)s did not take the job (%(error)s); nothing was printed.",
                    printer=printer,
                    error=err,
                )
            ) from None
        what += f" to {printer}"
    actor = session.info.get("actor")
    reconcile.record_prints(session, labels, layout.code, fmt, now, actor.user_id if actor else None)
    for lab in labels:  # written in the request's transaction: a refused print leaves no row
        audit_event(
            session,
            "print",
            ENTITY[lab.kind],
            lab.record_id,
            field="label",
            new=f"{what}, 1 of {len(labels)}",
            reason=(reason or "").strip() or None,
        )
    return document, len(labels)
