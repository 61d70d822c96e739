"""Sentences for the eligibility engine's reasons (the engine itself returns codes)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

OUTCOME_LABELS = {
    "eligible": lambda: _("eligible"),
    "deferred": lambda: _("temporarily deferred"),
    "excluded": lambda: _("permanently excluded"),
    "incomplete": lambda: _("incomplete"),
}

_TEXTS = {
    "too_young": lambda p: _(
        "Age %(age)s is below the minimum of %(min)s; deferred until %(until)s, the day before that birthday.", **p
    ),
    "too_old": lambda p: _("Age %(age)s is above the maximum of %(max)s.", **p),
    "age_limit": lambda p: _(
        "Eligibility ends on %(until)s, the last day before the donor is older than %(max)s.", **p
    ),
    "future_measurement": lambda p: _("Height and weight are dated %(date)s, after the decision date.", **p),
    "bmi_expired": lambda p: _(
        "Height and weight measured on %(date)s were valid through %(through)s; measure again.", **p
    ),
    "bmi_out_of_range": lambda p: _("BMI %(bmi)s is outside %(min)s-%(max)s; deferred until %(until)s.", **p),
    "bmi_deferral_over": lambda p: _(
        "BMI %(bmi)s measured on %(date)s deferred the donor until %(until)s; measure height and weight again.", **p
    ),
    "bmi_valid": lambda p: _("BMI %(bmi)s is within range; the measurement is valid through %(through)s.", **p),
    "no_result": lambda p: _("%(item)s: no result.", **p),
    "not_verified": lambda p: _("%(item)s: the result of %(sample_date)s is not verified by a second person.", **p),
    "invalid_value": lambda p: _('%(item)s: the value "%(value)s" is not valid for this item.', **p),
    "item_excludes": lambda p: _(
        "%(item)s: %(value)s %(unit)s on %(sample_date)s excludes the donor permanently.", **p
    ),
    "item_defers": lambda p: _(
        "%(item)s: %(value)s %(unit)s on %(sample_date)s defers the donor until %(until)s.", **p
    ),
    "deferral_over": lambda p: _(
        "%(item)s: the deferral for %(value)s on %(sample_date)s ended on %(until)s; a new result is needed.", **p
    ),
    "expired": lambda p: _(
        "%(item)s: the result of %(sample_date)s was valid through %(through)s; it has expired.", **p
    ),
    "indeterminate": lambda p: _("%(item)s: indeterminate on %(sample_date)s; repeat the test.", **p),
    "valid_until": lambda p: _("%(item)s: the result of %(sample_date)s is valid through %(through)s.", **p),
    "day_check_yes": lambda p: _("%(item)s: yes; deferred until %(until)s.", **p),
    "rescreen_due": lambda p: _("Re-screening is due every %(days)s days, by %(until)s.", **p),
}


VALUE_LABELS = {
    "negative": lambda: _("negative"),
    "positive": lambda: _("positive"),
    "indeterminate": lambda: _("indeterminate"),
    "no": lambda: _("no"),
    "yes": lambda: _("yes"),
}


# Display labels of the codes protocol items store (ProtocolItem.kind, .result_type) and of the stored
# qualitative / yes-no values (rules.QUALITATIVE, rules.YES_NO). The database keeps the code; pages show these.
ITEM_KIND_LABELS = {
    "questionnaire": _l("Questionnaire and interview"),
    "assessment": _l("Physical and psychological assessment"),
    "blood": _l("Blood tests"),
    "stool": _l("Stool tests"),
    "donation_day": _l("Donation-day check"),
}
RESULT_TYPE_LABELS = {
    "qualitative": _l("qualitative (negative/positive)"),
    "numeric": _l("numeric"),
    "yes_no": _l("yes/no"),
}


def kind_label(kind: str) -> str:
    return str(ITEM_KIND_LABELS.get(kind, kind))


def result_type_label(result_type: str) -> str:
    return str(RESULT_TYPE_LABELS.get(result_type, result_type))


def value_label(value) -> str:
    """A stored result in the reader's language: words translated, numbers as stored."""
    label = VALUE_LABELS.get(str(value).lower())
    return label() if label else ("" if value is None else str(value))


def reason_text(reason, names: dict | None = None) -> str:
    """The sentence for a reason; ``names`` maps item codes to names in the reader's language."""
    params = {k: ("" if v is None else v) for k, v in reason.params.items()}
    if names and reason.rule.startswith("item:") and reason.rule[5:] in names:
        params["item"] = names[reason.rule[5:]]
    if str(params.get("value", "")).lower() in VALUE_LABELS:
        params["value"] = VALUE_LABELS[str(params["value"]).lower()]()
    return _TEXTS[reason.code](params).replace("  ", " ")


def outcome_label(outcome: str) -> str:
    return OUTCOME_LABELS[outcome]()
