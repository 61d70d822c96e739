"""Pure rules of an FMT course: the template, the plan, postponement, which unit may go to which patient.

No database and no Flask here: every function takes plain facts and answers
with problem codes and their parameters (texts live in ``course_explain``),
so each block at the bedside is a unit-testable sentence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

POSTPONE_REASONS = ("fever", "diarrhoea", "other")
OBSERVATION_EARLY_MINUTES = 10  # an "N-minute" observation may be taken up to 10 min before N


@dataclass(frozen=True)
class Precondition:
    code: str
    text: str
    text_zh: str
    needs: tuple[str, ...] = ()  # "date", "method"


@dataclass(frozen=True)
class Instruction:
    code: str
    text: str
    text_zh: str


@dataclass(frozen=True)
class CoTherapyPlan:
    drug: str
    dose: str
    route: str
    on_day: int
    repeat_min_days: int
    repeat_max_days: int


@dataclass(frozen=True)
class Template:
    """A course template as data (``default_course.json``): what every course of this kind plans and checks."""

    code: str
    version: int
    title: str
    title_zh: str
    route: str
    route_zh: str
    days: tuple[int, ...]
    volume_ml: Decimal
    preconditions: tuple[Precondition, ...]
    post_instructions: tuple[Instruction, ...]
    observation_minutes: tuple[int, ...]
    co_therapy: tuple[CoTherapyPlan, ...] = field(default_factory=tuple)


class TemplateError(ValueError):
    pass


def parse_template(data: dict) -> Template:
    """Read and check a template; a malformed one is refused before it can plan anything."""
    try:
        days = tuple(int(d) for d in data["days"])
        if not days or days[0] != 1 or list(days) != sorted(set(days)):
            raise TemplateError("days must start at 1 and increase")
        minutes = tuple(int(m) for m in data["observation_minutes"])
        if not minutes or any(m <= 0 for m in minutes) or list(minutes) != sorted(set(minutes)):
            raise TemplateError("observation_minutes must be positive and increasing")
        volume = Decimal(str(data["volume_ml"]))
        if not volume.is_finite() or volume <= 0:
            raise TemplateError("volume_ml must be a positive number")
        pre = tuple(
            Precondition(p["code"], p["text"], p.get("text_zh", ""), tuple(p.get("needs", ())))
            for p in data["preconditions"]
        )
        post = tuple(Instruction(p["code"], p["text"], p.get("text_zh", "")) for p in data["post_instructions"])
        co = tuple(
            CoTherapyPlan(
                c["drug"], c["dose"], c["route"], int(c["on_day"]), int(c["repeat_min_days"]), int(c["repeat_max_days"])
            )
            for c in data.get("co_therapy", ())
        )
        return Template(
            code=data["code"],
            version=int(data["version"]),
            title=data["title"],
            title_zh=data.get("title_zh", ""),
            route=data["route"],
            route_zh=data.get("route_zh", ""),
            days=days,
            volume_ml=volume,
            preconditions=pre,
            post_instructions=post,
            observation_minutes=minutes,
            co_therapy=co,
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as err:  # decimal.InvalidOperation is an ArithmeticError
        if isinstance(err, TemplateError):
            raise
        raise TemplateError(f"course template is malformed: {err!r}") from err


def template_json(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


# --- planning --------------------------------------------------------------------------------------


def plan_dates(template: Template, day1: date) -> dict[int, date]:
    """Day n of the course falls on day1 + (n - 1): the reference protocol's d1-d2-d3 are consecutive."""
    return {d: day1 + timedelta(days=d - 1) for d in template.days}


def plan_problems(day1: date | None, today: date, consent: date, has_open_course: bool) -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    if day1 is None:
        return [("day1_missing", {})]
    if day1 < today:
        out.append(("day1_past", {"date": day1}))
    if day1 < consent:
        out.append(("day1_before_consent", {"date": day1, "consent": consent}))
    if has_open_course:
        out.append(("open_course", {}))
    return out


def postpone(schedule: dict[int, date], day: int, new_date: date) -> dict[int, date]:
    """Move ``day`` to ``new_date`` and every later day by the same interval, so the rest stays consecutive."""
    delta = new_date - schedule[day]
    return {d: (when + delta if d >= day else when) for d, when in schedule.items()}


def postpone_problems(
    status: str, current: date, new_date: date | None, reason_code: str, reason: str, today: date, unit_issued: bool
) -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    if status != "planned":
        out.append(("not_planned", {"status": status}))
    if reason_code not in POSTPONE_REASONS:
        out.append(("postpone_reason_code", {}))
    if not (reason or "").strip():
        out.append(("postpone_reason", {}))
    if new_date is None:
        out.append(("new_date_missing", {}))
    elif new_date <= current:
        out.append(("new_date_not_later", {"date": new_date, "current": current}))
    elif new_date < today:
        out.append(("day1_past", {"date": new_date}))
    if unit_issued:
        out.append(("unit_issued", {}))
    return out


def planned_vs_actual(planned: date, given_on: date | None) -> int | None:
    """Days the dose was given after its originally planned day (0 = on plan); None while not given."""
    return None if given_on is None else (given_on - planned).days


# --- units for a patient ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitFacts:
    """What the rules need to know about one dose unit at the moment of a check."""

    code: str
    status: str  # quarantine, available, reserved, issued, administered, discarded, expired, recalled
    storage: str  # fresh, frozen
    expires_at: datetime
    expiry_date: date
    thawed_at: datetime | None
    donor_code: str
    batch_status: str  # the batch's status (released, quarantine, recalled, ...)
    reserved_for: str | None  # the administration code the unit is reserved or issued for
    reserved_recipient: str | None
    production_day: date


def use_by(u: UnitFacts, thaw_hours: int) -> datetime:
    """The last instant the unit may go into a patient: expiry, or thaw + N h for a thawed unit, whichever first.

    The manufacturing rule ``unit_use_by`` decides it, so the dose page, the unit page and the label agree."""
    from ..manufacturing.rules import unit_use_by

    return unit_use_by(u.expires_at, u.thawed_at, thaw_hours)[0]


def reservation_problems(
    u: UnitFacts, for_date: date, now: datetime, thaw_hours: int, day_start: datetime
) -> list[tuple[str, dict]]:
    """Why a unit cannot be reserved for a dose on ``for_date`` (whose lab-zone day starts at ``day_start``, UTC).

    The unit must still be usable at the start of that day: a unit expiring
    during the day is allowed, the bedside check refuses it if the dose is late."""
    out: list[tuple[str, dict]] = []
    if u.batch_status in ("recalled", "on_hold") or u.status == "recalled":
        return [("recalled", {"code": u.code})]
    if u.status == "quarantine" or u.batch_status in ("quarantine", "awaiting_qc", "in_process"):
        return [("quarantine", {"code": u.code})]
    if u.status == "reserved" or u.status == "issued":
        return [("taken", {"code": u.code, "admin": u.reserved_for or "?"})]
    if u.status != "available":
        return [("unit_status", {"code": u.code, "status": u.status})]
    if now >= u.expires_at:
        out.append(("expired", {"code": u.code, "at": u.expires_at}))
    elif u.expires_at <= day_start:
        out.append(("expires_before", {"code": u.code, "at": u.expires_at, "date": for_date}))
    # the thaw clock alone: use_by() also folds in the expiry, already reported above
    if u.thawed_at is not None and u.thawed_at + timedelta(hours=thaw_hours) < max(now, day_start):
        out.append(
            ("thaw_window", {"code": u.code, "at": u.thawed_at + timedelta(hours=thaw_hours), "hours": thaw_hours})
        )
    return out


def rank_candidates(units: list[UnitFacts], prefer_donor: str | None) -> list[UnitFacts]:
    """Same donor as the course so far first (when preferred), then first-expiring first (FEFO)."""
    return sorted(
        units, key=lambda u: (prefer_donor is not None and u.donor_code != prefer_donor, u.expires_at, u.code)
    )


def same_donor_problem(
    chosen: UnitFacts, prefer_donor: str | None, alternatives: list[UnitFacts]
) -> tuple[str, dict] | None:
    """With the same-donor preference on, another donor's unit is refused while one of the course's donor is usable."""
    if prefer_donor is None or chosen.donor_code == prefer_donor:
        return None
    same = [u for u in alternatives if u.donor_code == prefer_donor]
    if same:
        return "other_donor", {"code": chosen.code, "donor": prefer_donor, "alternative": same[0].code}
    return None


@dataclass(frozen=True)
class BedsideFacts:
    """Everything checked before a dose goes into the patient."""

    admin_code: str
    recipient_code: str
    scanned_patient: str  # the code read from the wristband (or typed)
    identity_confirmed: bool  # name and date of birth confirmed with the patient
    status: str  # the administration's status
    scheduled: date
    today: date
    earlier_days_open: tuple[int, ...]
    tube_confirmed: bool
    tube_date: date | None
    tube_method: str
    fasting: bool
    volume_ml: Decimal | None
    unit_volume_ml: Decimal | None
    given_at: datetime | None
    now: datetime
    issued_at: datetime | None = None  # the infusion cannot start before the unit left the lab
    given_on: date | None = None  # the lab-zone day of ``given_at``: the dose's scheduled day


def bedside_problems(f: BedsideFacts) -> list[tuple[str, dict]]:
    """Patient, plan and pre-conditions; the unit is checked separately by ``unit_problems``."""
    out: list[tuple[str, dict]] = []
    if f.status != "planned":
        out.append(("not_planned", {"status": f.status}))
    if (f.scanned_patient or "").strip().upper() != f.recipient_code:
        out.append(
            ("wrong_patient", {"scanned": (f.scanned_patient or "").strip() or "-", "expected": f.recipient_code})
        )
    if not f.identity_confirmed:
        out.append(("identity_not_confirmed", {}))
    if f.scheduled != f.today:
        out.append(("not_today", {"date": f.scheduled}))
    if f.earlier_days_open:
        out.append(("earlier_open", {"days": ", ".join(str(d) for d in f.earlier_days_open)}))
    if not f.tube_confirmed or f.tube_date is None or not (f.tube_method or "").strip():
        out.append(("tube", {}))
    elif f.tube_date > f.today:
        out.append(("tube_future", {"date": f.tube_date}))
    if not f.fasting:
        out.append(("fasting", {}))
    if f.volume_ml is None or f.volume_ml <= 0:
        out.append(("volume", {}))
    elif f.unit_volume_ml is not None and f.volume_ml > f.unit_volume_ml:
        out.append(("volume_over", {"volume": f.volume_ml, "unit": f.unit_volume_ml}))
    if f.given_at is None:
        out.append(("given_at", {}))
    elif f.given_at > f.now:
        out.append(("given_future", {}))
    elif f.issued_at is not None and f.given_at < f.issued_at.replace(second=0, microsecond=0):
        out.append(("given_before_issue", {"at": f.issued_at}))
    if f.given_on is not None and f.given_on != f.scheduled:
        out.append(("given_other_day", {"date": f.scheduled}))
    return out


def unit_problems(
    u: UnitFacts | None, scanned: str, admin_code: str, recipient_code: str, now: datetime, thaw_hours: int
) -> list[tuple[str, dict]]:
    """The dose unit scanned at the bedside: right patient, released, not expired, not recalled, within thaw + N h.

    Any one of these blocks the administration; the first that applies is the
    reason given (a recalled unit is not also reported as "not issued")."""
    if u is None:
        return [("unit_unknown", {"code": (scanned or "").strip() or "-"})]
    if u.batch_status in ("recalled", "on_hold") or u.status == "recalled":
        return [("recalled", {"code": u.code})]
    if u.status == "quarantine" or u.batch_status in ("quarantine", "awaiting_qc", "in_process", "rejected"):
        return [("quarantine", {"code": u.code})]
    if u.status == "expired" or now >= u.expires_at:
        return [("expired", {"code": u.code, "at": u.expires_at})]
    if u.status in ("administered", "discarded"):
        return [("unit_status", {"code": u.code, "status": u.status})]
    if u.reserved_for != admin_code:
        if u.reserved_recipient and u.reserved_recipient != recipient_code:
            return [
                ("other_recipient", {"code": u.code, "recipient": u.reserved_recipient, "expected": recipient_code})
            ]
        return [("not_reserved", {"code": u.code, "admin": admin_code})]
    if u.status != "issued":
        return [("not_issued", {"code": u.code})]
    if u.storage == "frozen" and u.thawed_at is None:
        return [("not_thawed", {"code": u.code})]
    if u.thawed_at is not None and now > u.thawed_at + timedelta(hours=thaw_hours):
        return [("thaw_window", {"code": u.code, "at": u.thawed_at + timedelta(hours=thaw_hours), "hours": thaw_hours})]
    return []


def return_problem(u: UnitFacts) -> tuple[str, dict] | None:
    """An issued unit comes back to stock only if it was never thawed; a thawed one is discarded."""
    if u.status not in ("issued", "reserved"):
        return "unit_status", {"code": u.code, "status": u.status}
    if u.thawed_at is not None:
        return "thawed_no_return", {"code": u.code}
    return None


# --- observations ----------------------------------------------------------------------------------


def fever_grade(temp_c: Decimal | None) -> int | None:
    """CTCAE v5.0 Fever by one reading: 38.0-39.0 -> 1, >39.0-40.0 -> 2, >40.0 -> 3 (grade 4 needs >24 h)."""
    if temp_c is None or temp_c < Decimal("38.0"):
        return None
    if temp_c <= Decimal("39.0"):
        return 1
    if temp_c <= Decimal("40.0"):
        return 2
    return 3


def observation_problems(
    minutes_after: int | None,
    allowed: tuple[int, ...],
    temp_c: Decimal | None,
    observed_at: datetime | None,
    given_at: datetime,
    now: datetime,
    already: set[int],
) -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    if minutes_after not in allowed:
        out.append(("obs_time", {"allowed": ", ".join(str(m) for m in allowed)}))
    elif minutes_after in already:
        out.append(("obs_done", {"minutes": minutes_after}))
    if temp_c is not None and not (Decimal("30.0") <= temp_c <= Decimal("45.0")):
        out.append(("temperature", {"value": temp_c}))
    if observed_at is None:
        out.append(("obs_at", {}))
    elif observed_at < given_at:
        out.append(("obs_before_dose", {}))
    elif minutes_after in allowed and observed_at < given_at + timedelta(
        minutes=minutes_after - OBSERVATION_EARLY_MINUTES
    ):
        out.append(
            (
                "obs_too_early",
                {
                    "minutes": minutes_after,
                    "at": given_at + timedelta(minutes=minutes_after - OBSERVATION_EARLY_MINUTES),
                },
            )
        )
    elif observed_at > now:
        out.append(("given_future", {}))
    return out
