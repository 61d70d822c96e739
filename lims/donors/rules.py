"""The eligibility engine: a pure function from protocol, donor facts and results to a decision.

No database, no clock, no request: everything it needs is passed in, so
every rule can be tested at its boundaries and every decision explained.

Conventions (docs/donors.md):
- A result sampled on day S with a validity of N days is valid through day
  S + N; on day S + N + 1 it counts as missing ("expired").
- Only verified results count; an unverified or indeterminate result counts
  as missing.
- A failing result stays in force whatever comes after it: an excluding
  result excludes for ever, a deferring one defers until its deferral ends,
  even if a later result of the same item is negative. The latest result of
  an item only decides whether the item is complete and how long it is valid.
- "Deferred until D" always names the last deferred day; the donor may be
  screened again from D + 1.
- Age is whole years on the as-of date (the donation date): a donor is
  18 from the 18th birthday on. Too young defers until the day before the
  birthday of age_min; too old excludes.
- BMI is compared unrounded: 23.91 is above 23.9. It is computed from the
  height and weight measured on ``measured_on`` and counts as missing after
  bmi_validity_days. A BMI deferral that has already ended asks for a new
  measurement (missing) rather than naming a past date.
- The outcome is the most severe of: excluded > deferred > incomplete >
  eligible. Every failed rule is listed, not just the first.
- Eligible until: the earliest of every result's last valid day, the BMI
  measurement's last valid day, as-of + rescreen_days, and the day before the
  donor turns age_max + 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

QUALITATIVE = ("negative", "positive", "indeterminate")
YES_NO = ("no", "yes")
OUTCOMES = ("eligible", "deferred", "excluded", "incomplete")
SEVERITY = {"eligible": 0, "incomplete": 1, "deferred": 2, "excluded": 3}


@dataclass(frozen=True)
class ItemSpec:
    code: str
    name: str
    kind: str  # questionnaire, assessment, blood, stool
    result_type: str  # qualitative, numeric, yes_no
    validity_days: int
    on_fail: str  # defer, exclude
    defer_days: int | None = None
    normal_min: Decimal | None = None
    normal_max: Decimal | None = None
    unit: str = ""
    lookback_days: int | None = None


@dataclass(frozen=True)
class ProtocolSpec:
    code: str
    version: int
    age_min: int
    age_max: int
    bmi_min: Decimal
    bmi_max: Decimal
    bmi_validity_days: int
    bmi_defer_days: int
    rescreen_days: int
    items: tuple[ItemSpec, ...]


@dataclass(frozen=True)
class DonorFacts:
    date_of_birth: date
    height_cm: Decimal
    weight_kg: Decimal
    measured_on: date


@dataclass(frozen=True)
class Result:
    item_code: str
    value: str
    sample_date: date
    verified: bool = True


@dataclass(frozen=True)
class Reason:
    """One rule's finding. ``code`` names the message; ``rule`` names the rule."""

    rule: str  # "age", "bmi", or "item:<code>"
    effect: str  # excluded, deferred, missing, limits
    code: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    outcome: str
    until: date | None
    reasons: tuple[Reason, ...]
    missing: tuple[str, ...]
    checked_on: date
    protocol: str


# --- small rules ----------------------------------------------------------------


def age_on(dob: date, day: date) -> int:
    """Whole years; a 29 February birthday counts from 1 March in common years."""
    years = day.year - dob.year
    if (day.month, day.day) < (dob.month, dob.day):
        years -= 1
    return years


def birthday(dob: date, age: int) -> date:
    try:
        return dob.replace(year=dob.year + age)
    except ValueError:  # 29 February in a common year
        return date(dob.year + age, 3, 1)


def bmi(height_cm: Decimal, weight_kg: Decimal) -> Decimal:
    metres = Decimal(height_cm) / 100
    return Decimal(weight_kg) / (metres * metres)


def valid_through(sample_date: date, validity_days: int) -> date:
    return sample_date + timedelta(days=validity_days)


def parse_number(text: str) -> Decimal | None:
    try:
        value = Decimal(str(text).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def value_problem(spec: ItemSpec, value: str) -> str | None:
    """Why a typed value is not acceptable for this item (None when it is)."""
    v = (value or "").strip().lower()
    if spec.result_type == "qualitative" and v not in QUALITATIVE:
        return "not_qualitative"
    if spec.result_type == "yes_no" and v not in YES_NO:
        return "not_yes_no"
    if spec.result_type == "numeric" and parse_number(v) is None:
        return "not_numeric"
    return None


def item_fails(spec: ItemSpec, value: str) -> bool | None:
    """True: the rule's condition is met (positive, yes, out of range); None: indeterminate."""
    v = value.strip().lower()
    if spec.result_type == "qualitative":
        return None if v == "indeterminate" else v == "positive"
    if spec.result_type == "yes_no":
        return v == "yes"
    number = parse_number(v)
    low_ok = spec.normal_min is None or number >= spec.normal_min
    high_ok = spec.normal_max is None or number <= spec.normal_max
    return not (low_ok and high_ok)


def latest_results(results: Iterable[Result]) -> dict[str, Result]:
    """The most recent result per item (by sample date; later entries win ties)."""
    latest: dict[str, Result] = {}
    for r in results:
        cur = latest.get(r.item_code)
        if cur is None or r.sample_date >= cur.sample_date:
            latest[r.item_code] = r
    return latest


# --- the engine --------------------------------------------------------------------


def decide(protocol: ProtocolSpec, donor: DonorFacts, results: Iterable[Result], as_of: date) -> Decision:
    reasons: list[Reason] = []
    missing: list[str] = []
    limits: list[tuple[date, Reason]] = []
    defer_until: list[date] = []

    # Age on the as-of date.
    age = age_on(donor.date_of_birth, as_of)
    if age < protocol.age_min:
        until = birthday(donor.date_of_birth, protocol.age_min) - timedelta(days=1)
        defer_until.append(until)
        reasons.append(Reason("age", "deferred", "too_young", {"age": age, "min": protocol.age_min, "until": until}))
    elif age > protocol.age_max:
        reasons.append(Reason("age", "excluded", "too_old", {"age": age, "max": protocol.age_max}))
    else:
        last = birthday(donor.date_of_birth, protocol.age_max + 1) - timedelta(days=1)
        limits.append((last, Reason("age", "limits", "age_limit", {"max": protocol.age_max, "until": last})))

    # BMI from the measured height and weight.
    bmi_through = valid_through(donor.measured_on, protocol.bmi_validity_days)
    if donor.measured_on > as_of:
        missing.append("BMI")
        reasons.append(Reason("bmi", "missing", "future_measurement", {"date": donor.measured_on}))
    elif as_of > bmi_through:
        missing.append("BMI")
        reasons.append(Reason("bmi", "missing", "bmi_expired", {"date": donor.measured_on, "through": bmi_through}))
    else:
        value = bmi(donor.height_cm, donor.weight_kg)
        shown = value.quantize(Decimal("0.01"))
        if not protocol.bmi_min <= value <= protocol.bmi_max:
            until = donor.measured_on + timedelta(days=protocol.bmi_defer_days)
            params = {"bmi": shown, "min": protocol.bmi_min, "max": protocol.bmi_max, "until": until}
            if until >= as_of:
                defer_until.append(until)
                reasons.append(Reason("bmi", "deferred", "bmi_out_of_range", params))
            else:
                missing.append("BMI")
                reasons.append(Reason("bmi", "missing", "bmi_deferral_over", {**params, "date": donor.measured_on}))
        else:
            limits.append((bmi_through, Reason("bmi", "limits", "bmi_valid", {"bmi": shown, "through": bmi_through})))

    # Each questionnaire answer, assessment and test.
    usable = [r for r in results if r.sample_date <= as_of]
    latest = latest_results(usable)
    for spec in protocol.items:
        rule = f"item:{spec.code}"
        # Failing verified results stay in force whatever came after them.
        blocking = _blocking_result(spec, [x for x in usable if x.item_code == spec.code], as_of)
        if blocking is not None:
            effect, r, until = blocking
            base = {"item": spec.name, "value": r.value, "unit": spec.unit, "sample_date": r.sample_date}
            if effect == "excluded":
                reasons.append(Reason(rule, "excluded", "item_excludes", base))
            else:
                defer_until.append(until)
                reasons.append(Reason(rule, "deferred", "item_defers", {**base, "until": until}))
            continue
        r = latest.get(spec.code)
        if r is None:
            missing.append(spec.code)
            reasons.append(Reason(rule, "missing", "no_result", {"item": spec.name}))
            continue
        base = {"item": spec.name, "value": r.value, "unit": spec.unit, "sample_date": r.sample_date}
        if not r.verified:
            missing.append(spec.code)
            reasons.append(Reason(rule, "missing", "not_verified", base))
            continue
        if value_problem(spec, r.value):
            missing.append(spec.code)
            reasons.append(Reason(rule, "missing", "invalid_value", base))
            continue
        through = valid_through(r.sample_date, spec.validity_days)
        fails = item_fails(spec, r.value)
        if fails:  # failing results in force were handled above: this one's deferral is over
            until = r.sample_date + timedelta(days=spec.defer_days or spec.validity_days)
            missing.append(spec.code)
            reasons.append(Reason(rule, "missing", "deferral_over", {**base, "until": until}))
            continue
        if as_of > through:
            missing.append(spec.code)
            reasons.append(Reason(rule, "missing", "expired", {**base, "through": through}))
            continue
        if fails is None:
            missing.append(spec.code)
            reasons.append(Reason(rule, "missing", "indeterminate", base))
            continue
        limits.append((through, Reason(rule, "limits", "valid_until", {**base, "through": through})))

    effects = {r.effect for r in reasons}
    if "excluded" in effects:
        outcome, until = "excluded", None
    elif "deferred" in effects:
        outcome, until = "deferred", max(defer_until)
    elif missing:
        outcome, until = "incomplete", None
    else:
        rescreen = as_of + timedelta(days=protocol.rescreen_days)
        limits.append(
            (
                rescreen,
                Reason("rescreen", "limits", "rescreen_due", {"days": protocol.rescreen_days, "until": rescreen}),
            )
        )
        outcome, until = "eligible", min(d for d, _ in limits)
        # The reasons of an eligible decision are the limits that set its end date.
        reasons = [r for d, r in limits if d == until]
    shown = tuple(r for r in reasons if _shown_for(outcome, r))
    return Decision(outcome, until, shown, tuple(missing), as_of, f"{protocol.code} v{protocol.version}")


def eligible_on(status: str, status_until: date | None, day: date) -> bool:
    """Eligible on a day: an approved "eligible" decision whose end date is not past."""
    return status == "eligible" and status_until is not None and day <= status_until


@dataclass(frozen=True)
class DayCheck:
    passed: bool
    until: date | None  # last deferred day when not passed
    reasons: tuple[Reason, ...]


def donation_day_check(questions: tuple[ItemSpec, ...], answers: dict[str, str], day: date) -> DayCheck:
    """Every question must be answered; any "yes" defers the donor (the longest deferral wins)."""
    unanswered = [q for q in questions if (answers.get(q.code) or "").strip().lower() not in YES_NO]
    if unanswered:
        raise ValueError([q.code for q in unanswered])
    reasons, ends = [], []
    for q in questions:
        if answers[q.code].strip().lower() == "yes":
            until = day + timedelta(days=q.defer_days or 0)
            ends.append(until)
            reasons.append(Reason(f"item:{q.code}", "deferred", "day_check_yes", {"item": q.name, "until": until}))
    if not reasons:
        return DayCheck(True, None, ())
    return DayCheck(False, max(ends), tuple(reasons))


def _blocking_result(spec: ItemSpec, results: list[Result], as_of: date):
    """("excluded"|"deferred", result, until) for the strongest failing verified result in force."""
    found = None
    for r in sorted(results, key=lambda x: x.sample_date):
        if not r.verified or value_problem(spec, r.value) or not item_fails(spec, r.value):
            continue
        if spec.on_fail == "exclude":
            return "excluded", r, None
        until = r.sample_date + timedelta(days=spec.defer_days or spec.validity_days)
        if until >= as_of and (found is None or until > found[2]):
            found = ("deferred", r, until)
    return found


def _shown_for(outcome: str, reason: Reason) -> bool:
    if outcome == "eligible":
        return reason.effect == "limits"
    if outcome == "incomplete":
        return reason.effect == "missing"
    return reason.effect in ("excluded", "deferred", "missing")
