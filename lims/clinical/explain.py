"""Sentences and labels for the course and adverse-event rules (the rules return codes and numbers)."""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..manufacturing.explain import UNIT_STATUS_LABELS
from ..timefmt import format_dt

COURSE_STATUS_LABELS = {
    "planned": _l("planned"),
    "in_progress": _l("in progress"),
    "completed": _l("completed"),
    "stopped": _l("stopped"),
}
ADMIN_STATUS_LABELS = {"planned": _l("planned"), "given": _l("given"), "cancelled": _l("cancelled")}
POSTPONE_LABELS = {"fever": _l("fever"), "diarrhoea": _l("diarrhoea"), "other": _l("other")}
SERIOUSNESS_LABELS = {
    "death": _l("results in death"),
    "life_threatening": _l("is life-threatening"),
    "hospitalisation": _l("requires or prolongs hospitalisation"),
    "disability": _l("persistent or significant disability/incapacity"),
    "congenital_anomaly": _l("congenital anomaly/birth defect"),
    "important_medical_event": _l("important medical event"),
}
ATTRIBUTION_LABELS = {
    "unrelated": _l("unrelated"),
    "unlikely": _l("unlikely"),
    "possible": _l("possible"),
    "probable": _l("probable"),
    "definite": _l("definite"),
}
ACTION_LABELS = {
    "none": _l("none"),
    "medication": _l("treated with medication"),
    "fmt_postponed": _l("FMT postponed"),
    "fmt_stopped": _l("FMT discontinued"),
    "cotherapy_interrupted": _l("co-therapy interrupted"),
    "cotherapy_stopped": _l("co-therapy discontinued"),
    "other": _l("other (see description)"),
}
OUTCOME_LABELS = {
    "recovered": _l("recovered/resolved"),
    "recovering": _l("recovering/resolving"),
    "not_recovered": _l("not recovered/not resolved"),
    "recovered_sequelae": _l("recovered/resolved with sequelae"),
    "fatal": _l("fatal"),
    "unknown": _l("unknown"),
}
GRADE_MEANING = {1: _l("mild"), 2: _l("moderate"), 3: _l("severe"), 4: _l("life-threatening"), 5: _l("death")}


def _status(p):
    return str(ADMIN_STATUS_LABELS.get(p.get("status"), UNIT_STATUS_LABELS.get(p.get("status"), p.get("status"))))


_TEXTS = {
    # planning and postponement
    "day1_missing": lambda p: _("Enter the date of day 1."),
    "day1_past": lambda p: _("%(date)s is in the past: doses are planned from today on.", **p),
    "day1_before_consent": lambda p: _("Day 1 on %(date)s would be before the informed consent of %(consent)s.", **p),
    "open_course": lambda p: _("The recipient already has a course that is not completed."),
    "not_planned": lambda p: _("This dose is %(status)s, not planned.", status=_status(p)),
    "postpone_reason_code": lambda p: _("Choose why the dose is postponed."),
    "postpone_reason": lambda p: _("Describe the reason for the postponement (e.g. the temperature measured)."),
    "new_date_missing": lambda p: _("Enter the new date."),
    "new_date_not_later": lambda p: _("The new date %(date)s is not after the scheduled %(current)s.", **p),
    "unit_issued": lambda p: _("The dose unit was already issued: return or discard it before postponing."),
    # units
    "recalled": lambda p: _("Unit %(code)s is recalled and must not be given.", **p),
    "quarantine": lambda p: _("Unit %(code)s is not released (its batch is in quarantine or was not released).", **p),
    "taken": lambda p: _("Unit %(code)s is already reserved for %(admin)s.", **p),
    "unit_status": lambda p: _("Unit %(code)s is %(status)s.", code=p["code"], status=_status(p)),
    "expired": lambda p: _("Unit %(code)s expired at %(at)s.", code=p["code"], at=format_dt(p["at"])),
    "expires_before": lambda p: _(
        "Unit %(code)s expires at %(at)s, before the dose day %(date)s.",
        code=p["code"],
        at=format_dt(p["at"]),
        date=p["date"],
    ),
    "thaw_window": lambda p: _(
        "Unit %(code)s was thawed more than %(hours)s h ago: usable only until %(at)s.",
        code=p["code"],
        hours=p["hours"],
        at=format_dt(p["at"], seconds=True),
    ),
    "other_donor": lambda p: _(
        "Unit %(code)s is from another donor; this course uses donor %(donor)s and %(alternative)s "
        "is available (same-donor preference).",
        **p,
    ),
    "unit_unknown": lambda p: _("No dose unit has the code %(code)s.", **p),
    "wrong_type": lambda p: _("That is not a dose unit code: scan the label of the dose unit (LIMS:DU:...)."),
    "other_recipient": lambda p: _(
        "WRONG PATIENT: unit %(code)s is reserved for %(recipient)s, not %(expected)s.", **p
    ),
    "not_reserved": lambda p: _("Unit %(code)s is not the unit reserved for %(admin)s.", **p),
    "not_issued": lambda p: _("Unit %(code)s has not been issued from the lab yet.", **p),
    "not_thawed": lambda p: _("Unit %(code)s is frozen and was not thawed.", **p),
    "thawed_no_return": lambda p: _("Unit %(code)s was thawed and cannot go back to stock: discard it.", **p),
    "no_unit": lambda p: _("No dose unit is reserved for this dose."),
    # bedside
    "wrong_patient": lambda p: _("WRONG PATIENT: the wristband reads %(scanned)s, this dose is for %(expected)s.", **p),
    "identity_not_confirmed": lambda p: _("Confirm the patient's name and date of birth with the patient."),
    "not_today": lambda p: _("This dose is scheduled for %(date)s, not today.", **p),
    "earlier_open": lambda p: _("Day %(days)s of the course has not been given or postponed yet.", **p),
    "tube": lambda p: _("Confirm the nasojejunal tube placement with its date and method."),
    "tube_future": lambda p: _("The tube placement date %(date)s is in the future.", **p),
    "fasting": lambda p: _("Confirm that the patient is fasting."),
    "volume": lambda p: _("Enter the volume given in mL."),
    "volume_over": lambda p: _("%(volume)s mL is more than the unit holds (%(unit)s mL).", **p),
    "given_at": lambda p: _("Enter the time of the infusion."),
    "given_future": lambda p: _("The time is in the future."),
    "given_other_day": lambda p: _("The infusion time must be on the dose's day, %(date)s.", **p),
    "given_before_issue": lambda p: _(
        "The infusion time is before the unit was issued at %(at)s.", at=format_dt(p["at"])
    ),
    # observations
    "obs_time": lambda p: _("Choose one of the planned observation times (%(allowed)s min).", **p),
    "obs_done": lambda p: _("The %(minutes)s-minute observation is already recorded; correct it instead.", **p),
    "temperature": lambda p: _("%(value)s °C is not a plausible body temperature.", **p),
    "obs_at": lambda p: _("Enter the time of the observation."),
    "obs_before_dose": lambda p: _("The observation time is before the infusion."),
    "obs_too_early": lambda p: _(
        "A %(minutes)s-minute observation is taken from %(at)s on.", minutes=p["minutes"], at=format_dt(p["at"])
    ),
    # adverse events
    "term_missing": lambda p: _("Choose the CTCAE term."),
    "grade_missing": lambda p: _("Choose the grade."),
    "unknown_term": lambda p: _("The term is not in the CTCAE catalogue."),
    "grade_not_defined": lambda p: _("Grade %(grade)s is not defined for this term.", **p),
    "onset_missing": lambda p: _("Enter the onset date."),
    "onset_future": lambda p: _("The onset date %(date)s is in the future.", **p),
    "resolved_before_onset": lambda p: _("The resolution date %(date)s is before the onset %(onset)s.", **p),
    "resolved_future": lambda p: _("The resolution date %(date)s is in the future.", **p),
    "resolved_outcome": lambda p: _("A resolution date needs the outcome recovered, recovered with sequelae or fatal."),
    "outcome_needs_date": lambda p: _("This outcome needs the date the event resolved (or of death)."),
    "criteria": lambda p: _("Unknown seriousness criterion."),
    "expectedness": lambda p: _(
        "A serious event needs its expectedness (listed in the reference safety information or not)."
    ),
    "attribution": lambda p: _("Choose the attribution to FMT and to the co-therapy."),
    "needs_administration": lambda p: _("An event related to FMT must name the administration it followed."),
    "administration_not_given": lambda p: _("The chosen administration was not given."),
    "onset_before_dose": lambda p: _("The onset is before the administration on %(date)s.", **p),
    "action": lambda p: _("Choose the action taken."),
    "outcome": lambda p: _("Choose the outcome."),
    "fatal_consistency": lambda p: _(
        "A fatal event is grade 5, outcome fatal, with the seriousness criterion death - all three together."
    ),
    "aware_future": lambda p: _("The time the site became aware is in the future."),
    "aware_before_onset": lambda p: _(
        "The site cannot have become aware of the event before its onset on %(onset)s.", **p
    ),
}


def text(code: str, params: dict | None = None) -> str:
    return _TEXTS[code](params or {})


def texts(problems) -> str:
    return " ".join(text(code, params) for code, params in problems)


def zh() -> bool:
    loc = get_locale()
    return bool(loc) and loc.language == "zh"


def localised(item, attr: str = "text") -> str:
    """Template data carries its own Chinese (``text_zh``); shown to zh users when present."""
    value = getattr(item, attr)
    other = getattr(item, f"{attr}_zh", "")
    return other if (zh() and other) else value
