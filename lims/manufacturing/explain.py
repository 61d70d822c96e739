"""Sentences for the manufacturing rules' codes (the rules return codes and numbers)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..timefmt import format_dt

STEP_LABELS = {
    "homogenisation": _l("Homogenisation"),
    "microfiltration": _l("Multi-stage microfiltration"),
    "wash": _l("Centrifugation wash"),
    "resuspension": _l("Final resuspension"),
    "fill": _l("Fill into dose units"),
}
BATCH_STATUS_LABELS = {
    "in_process": _l("in process"),
    "awaiting_qc": _l("awaiting QC"),
    "quarantine": _l("quarantine"),
    "released": _l("released"),
    "on_hold": _l("on hold (lookback)"),
    "rejected": _l("rejected"),
    "expired": _l("expired"),
    "recalled": _l("recalled"),
}
UNIT_STATUS_LABELS = {
    "quarantine": _l("quarantine"),
    "available": _l("available"),
    "reserved": _l("reserved"),
    "issued": _l("issued"),
    "administered": _l("administered"),
    "discarded": _l("discarded"),
    "expired": _l("expired"),
    "recalled": _l("recalled"),
    "on_hold": _l("on hold"),  # shown, never stored: a lookback case holds the unit's batch
}
DONATION_STATUS_LABELS = {
    "received": _l("received"),
    "processing": _l("processed into a batch"),
    "rejected": _l("rejected"),
}
STORAGE_LABELS = {"fresh": _l("fresh, 4 °C"), "frozen": _l("frozen, -80 °C")}
PRODUCT_LABELS = {
    "fresh": _l("Washed microbiota suspension, fresh (4 °C)"),
    "frozen": _l("Washed microbiota suspension, frozen (-80 °C)"),
}
LOCATION_KINDS = {
    "site": _l("Site"),
    "freezer": _l("Freezer (-80 °C)"),
    "fridge": _l("Refrigerator (4 °C)"),
    "rack": _l("Rack"),
    "box": _l("Box"),
}
FIELD_LABELS = {
    "diluent": _l("diluent"),
    "volume_ml": _l("volume (mL)"),
    "g_force": _l("g-force"),
    "minutes": _l("minutes"),
    "cryoprotectant": _l("cryoprotectant"),
    "unit_volume_ml": _l("volume per unit (mL)"),
}


QC_VALUE_LABELS = {
    "negative": _l("negative"),
    "positive": _l("positive"),
    "conforms": _l("conforms"),
    "does_not_conform": _l("does not conform"),
}


def qc_value(value: str) -> str:
    """A stored QC word in the reader's language; numbers as stored."""
    return str(QC_VALUE_LABELS.get(value, value))


def criterion(item) -> str:
    """The acceptance criterion built from the spec's numbers, so it reads the same in every language."""
    from .rules import format_quantity

    if item.result_type != "numeric":
        return qc_value(item.result_type)
    unit = f" {item.unit}" if item.unit else ""
    if item.min_value is not None and item.max_value is not None:
        return f"{format_quantity(item.min_value)} – {format_quantity(item.max_value)}{unit}"
    if item.min_value is not None:
        return f"≥ {format_quantity(item.min_value)}{unit}"
    return f"≤ {format_quantity(item.max_value)}{unit}"


def params_text(kind: str, p: dict) -> str:
    """A recorded step's parameters in one line, as the batch page and the batch report print them."""
    if kind == "homogenisation":
        return _("Diluent: %(diluent)s; %(ml)s mL", diluent=p["diluent"], ml=p["volume_ml"])
    if kind == "microfiltration":
        return _("Stages: %(meshes)s µm (%(n)s)", meshes=" → ".join(str(m) for m in p["mesh_um"]), n=len(p["mesh_um"]))
    if kind == "wash":
        return f"{p['g_force']} × g, {p['minutes']} min, {p['temperature_c']} °C"
    if kind == "resuspension":
        extra = f", {p['cryoprotectant']} {p['cryoprotectant_pct']} %" if p.get("cryoprotectant") else ""
        return f"{p['volume_ml']} mL {p['diluent']}{extra}"
    if kind == "fill":
        return _(
            "%(n)s units × %(ml)s mL, %(storage)s",
            n=p["dose_count"],
            ml=p["unit_volume_ml"],
            storage=STORAGE_LABELS[p["storage"]],
        )
    return ""


def step_label(kind: str, seq: int = 1) -> str:
    label = str(STEP_LABELS.get(kind, kind))
    return f"{label} {seq}" if kind == "wash" else label


def _t(dt):
    return format_dt(dt) if hasattr(dt, "tzinfo") else dt


_TEXTS = {
    # receipt and processing start
    "collected_in_future": lambda p: _("The collection time is in the future."),
    "received_in_future": lambda p: _("The receipt time is in the future."),
    "received_before_collected": lambda p: _("The receipt time is before the collection time."),
    "mass_below_min": lambda p: _(
        "Mass %(mass)s g is below the minimum of %(min)s g: the donation cannot be accepted.", **p
    ),
    "bristol_range": lambda p: _("The Bristol stool form must be 1 to 7 (was %(value)s).", **p),
    "start_before_collection": lambda p: _("Processing cannot start before the stool was collected."),
    "processing_too_late": lambda p: _(
        "Processing would start %(minutes)s min after collection; the limit is %(limit)s min.", **p
    ),
    # step parameters and times
    "required": lambda p: _("Enter the %(field)s.", field=FIELD_LABELS.get(p["field"], p["field"])),
    "must_be_positive": lambda p: _(
        "The %(field)s must be a number above zero.", field=FIELD_LABELS.get(p["field"], p["field"])
    ),
    "mesh_unreadable": lambda p: _(
        "Enter the mesh size of each filtration stage in micrometres, coarse to fine, e.g. 2000, 500, 100."
    ),
    "too_few_stages": lambda p: _("%(n)s filtration stage(s) recorded; at least %(min)s are required.", **p),
    "mesh_positive": lambda p: _("Mesh sizes must be above zero."),
    "mesh_not_descending": lambda p: _("Each filtration stage must be finer than the one before (coarse to fine)."),
    "temperature_range": lambda p: _("The wash temperature must be between %(min)s and %(max)s °C.", **p),
    "percent_range": lambda p: _("The cryoprotectant percentage must be between 0 and 100."),
    "dose_count_range": lambda p: _("The number of dose units must be 1 to %(max)s.", **p),
    "storage_mode": lambda p: _("Choose fresh (4 °C) or frozen (-80 °C)."),
    "fill_exceeds_volume": lambda p: _("Filling needs %(need)s mL but the final resuspension has %(have)s mL.", **p),
    "end_before_start": lambda p: _("The end time is before the start time."),
    "before_previous": lambda p: _("The step starts before the previous step ended (%(t)s).", t=_t(p["previous_end"])),
    "after_next": lambda p: _("The step ends after the next step started (%(t)s).", t=_t(p["next_start"])),
    "time_in_future": lambda p: _("Step times cannot be in the future."),
    # dose units
    "expired": lambda p: _("The unit expired at %(t)s.", t=_t(p["at"])),
    "thaw_window": lambda p: _(
        "The unit was thawed more than %(hours)s h ago (use by %(t)s).", hours=p["hours"], t=_t(p["at"])
    ),
    "held": lambda p: _("Held by lookback case %(cases)s: do not use.", **p),
    "nothing_scanned": lambda p: _("Scan the dose units to store, one per line."),
    "scanned_twice": lambda p: _("Unit %(code)s was scanned twice.", **p),
    "unknown_unit": lambda p: _("No dose unit has the code %(code)s.", **p),
    "other_batch": lambda p: _("Unit %(code)s belongs to batch %(lot)s, not to %(want)s.", **p),
    "slot_occupied": lambda p: _("Position %(position)s is occupied by %(code)s.", **p),
    "slot_twice": lambda p: _("Position %(position)s was given to two units.", **p),
    "box_full": lambda p: _("Box %(box)s has no free position left for %(code)s.", **p),
    "nothing_to_move": lambda p: _("Every scanned unit is already at its position."),
    "not_storable": lambda p: _("Unit %(code)s is %(status)s and cannot be stored.", **p),
    "thawed_unit": lambda p: _("Unit %(code)s was thawed and cannot go back into storage.", **p),
    "wrong_storage": lambda p: _("Unit %(code)s is %(storage)s and cannot be stored in %(box)s.", **p),
    "expired_unit": lambda p: _(
        "Unit %(code)s expired at %(t)s: discard it instead of storing it.", code=p["code"], t=_t(p["at"])
    ),
    "no_such_position": lambda p: _("Position %(position)s does not exist in this box (A1 to %(last)s).", **p),
    "position_occupied": lambda p: _("Position %(position)s is already occupied: one unit per position.", **p),
    # release blockers
    "status": lambda p: _(
        "The batch is %(status)s; only a batch in quarantine can be released.",
        status=BATCH_STATUS_LABELS.get(p["status"], p["status"]),
    ),
    "steps_missing": lambda p: _("Steps not yet recorded: %(items)s.", **p),
    "steps_unverified": lambda p: _("Steps not verified by a second person: %(items)s.", **p),
    "qc_missing": lambda p: _("QC results missing: %(items)s.", **p),
    "qc_unverified": lambda p: _("QC results not verified by a second person: %(items)s.", **p),
    "qc_out_of_spec": lambda p: _("QC results out of specification: %(items)s.", **p),
    "open_deviations": lambda p: _("Open deviations: %(items)s.", **p),
    "lookback_hold": lambda p: _("Held by lookback case %(items)s.", **p),
    "batch_expired": lambda p: _("The batch expired at %(t)s: an expired batch is never released.", t=_t(p["at"])),
    "donor_not_cleared": lambda p: _(
        "Donor %(donor)s is not yet cleared: no passed screening with every sample taken after the donation of %(day)s.",
        **p,
    ),
    "donor_not_eligible_at_donation": lambda p: _(
        "Fresh product: donor %(donor)s had no signed decision in force on the donation day %(day)s that found the donor eligible.",
        **p,
    ),
    "no_day_check": lambda p: _("Fresh product: donor %(donor)s has no passed donation-day check on %(day)s.", **p),
    "donor_suspended": lambda p: _(
        "Donor %(donor)s is suspended (%(reason)s): nothing of this donor is released until a signed eligibility decision.",
        **p,
    ),
    "no_review": lambda p: _("You have not recorded your review of this batch's audit trail."),
    "review_stale": lambda p: _("The batch changed after your audit-trail review; review the new entries again."),
    "no_review_any": lambda p: _("No QA officer has recorded the audit-trail review of this batch."),
    "review_stale_any": lambda p: _("The batch changed after the last QA audit-trail review."),
    "performer": lambda p: _(
        "You performed or verified steps or QC results of this batch; another QA officer must release it."
    ),
}


def text(code: str, params: dict | None = None) -> str:
    return _TEXTS[code](params or {})


def texts(problems) -> str:
    return " ".join(text(code, params) for code, params in problems)
