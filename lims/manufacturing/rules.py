"""Manufacturing rules: pure functions from facts and limits to findings.

No database, clock or request: the operations pass in the spec version's
limits and the times, so every rule is tested at its boundaries and every
refusal can name the rule and its numbers.

Conventions (docs/manufacturing.md):
- Limits are inclusive: a mass equal to the minimum is accepted, processing
  that starts exactly at the limit is in time, a result equal to a bound is in
  specification, a thawed unit is usable until thaw + 6 h exactly.
- Frozen expiry is a date (donation date + N months): the unit is usable
  through that date and expired from the next lab day. Fresh use-by is an
  instant: fill end + N hours, never later than the end of the production day.
- The batch status only moves along ``BATCH_TRANSITIONS``.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

# --- numbers typed by people -----------------------------------------------------------

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUPERSCRIPT_CHARS = frozenset("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺")
_FULL_WIDTH = {0xFF01 + i: 0x21 + i for i in range(94)}
MAX_EXPONENT = 30
_SCI_RE = re.compile(r"^(?:([+-]?(?:\d+(?:\.\d*)?|\.\d+))[x*·])?10\^([+-]?\d+)$")


def parse_quantity(text: str) -> Decimal | None:
    """A number as lab staff type it: 99.5, 99.5 %, 1.2e13, 1.2x10^13, 1.2×10¹³, 1.2*10^13, 10^13.

    A comma is refused (None) rather than guessed: "1,2e13" and "1,200" mean
    different things in different labs.
    """
    if text is None:
        return None
    # Full-width forms from Chinese input methods -> ASCII (not NFKC: it would turn "10¹³" into "1013").
    s = str(text).translate(_FULL_WIDTH).replace("\u3000", " ").strip()
    if any(ch in _SUPERSCRIPT_CHARS for ch in s):
        m = re.fullmatch(r"(.*?)10([⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)", s)
        if not m or any(ch in _SUPERSCRIPT_CHARS for ch in m.group(1)):
            return None  # a superscript anywhere but as the exponent of 10 is not guessed at
        s = m.group(1) + "10^" + m.group(2).translate(_SUPERSCRIPTS)
    s = s.replace("×", "x").replace(" ", "").lower()
    if s.endswith("%"):
        s = s[:-1]
    if not s or "," in s:
        return None
    try:
        if "^" not in s:
            value = Decimal(s)
        else:
            m = _SCI_RE.match(s)
            if not m or abs(int(m.group(2))) > MAX_EXPONENT:
                return None
            mantissa = Decimal(m.group(1)) if m.group(1) is not None else Decimal(1)
            value = mantissa * (Decimal(10) ** int(m.group(2)))
    except (InvalidOperation, ValueError, ArithmeticError):
        return None
    if not value.is_finite() or (value != 0 and abs(value.adjusted()) > MAX_EXPONENT):
        return None  # no lab quantity is this large or small: a typing slip, refused rather than stored
    return value if value.is_finite() else None


def format_quantity(value: Decimal | None) -> str:
    """1.2 × 10^13 for large counts, plain digits otherwise."""
    if value is None:
        return ""
    value = Decimal(value)
    if value != 0 and value.adjusted() >= 6:
        exp = value.adjusted()
        mantissa = value.scaleb(-exp).normalize()
        return f"{mantissa:f} × 10^{exp}"
    return f"{value.normalize():f}"


def add_months(day: date, months: int) -> date:
    """Same day N months later; the 31st becomes the month's last day (31 Aug + 6 -> 28/29 Feb)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# --- donation receipt ----------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessLimits:
    """One version of the process spec (all numbers are data, see default_manufacturing.json)."""

    min_mass_g: Decimal = Decimal(100)
    processing_limit_minutes: int = 360
    enrichment_limit_minutes: int = 60
    washes_required: int = 3
    filtration_stages_min: int = 2
    dose_volume_ml: Decimal = Decimal(120)
    fresh_use_hours: int = 12
    frozen_expiry_months: int = 6
    thaw_use_hours: int = 6
    retained_sample_ml: Decimal = Decimal(2)
    retained_keep_months: int = 6
    expiry_warning_days: int = 7
    fresh_release_basis: str = "eligible_at_donation"
    frozen_release_basis: str = "screening_after_donation"


def receipt_problems(
    limits: ProcessLimits, collected_at: datetime, received_at: datetime, now: datetime, mass_g: Decimal, bristol: int
) -> list[tuple[str, dict]]:
    """Why a donation cannot be received (empty when it can)."""
    problems = []
    if collected_at > now:
        problems.append(("collected_in_future", {}))
    if received_at > now:
        problems.append(("received_in_future", {}))
    if received_at < collected_at:
        problems.append(("received_before_collected", {}))
    if mass_g < limits.min_mass_g:
        problems.append(("mass_below_min", {"mass": mass_g, "min": limits.min_mass_g}))
    if not 1 <= bristol <= 7:
        problems.append(("bristol_range", {"value": bristol}))
    return problems


def processing_deadline(collected_at: datetime, limits: ProcessLimits) -> datetime:
    return collected_at + timedelta(minutes=limits.processing_limit_minutes)


def processing_start_problem(collected_at: datetime, start: datetime, limits: ProcessLimits) -> tuple[str, dict] | None:
    """Processing starts no earlier than collection and no later than collection + the limit (inclusive)."""
    if start < collected_at:
        return "start_before_collection", {}
    late = start - processing_deadline(collected_at, limits)
    if late > timedelta(0):
        minutes = int(-(-(start - collected_at).total_seconds() // 60))  # 360 min 30 s reads as 361
        return "processing_too_late", {"minutes": minutes, "limit": limits.processing_limit_minutes}
    return None


def retained_until(donation_day: date, limits: ProcessLimits) -> date:
    return add_months(donation_day, limits.retained_keep_months)


# --- the batch record --------------------------------------------------------------------

STEP_KINDS = ("homogenisation", "microfiltration", "wash", "resuspension", "fill")


@dataclass(frozen=True)
class PlannedStep:
    kind: str
    seq: int  # 1.. within its kind (the wash number)
    position: int  # 1.. in the batch record


def step_plan(limits: ProcessLimits) -> list[PlannedStep]:
    """The ordered steps of a washed-microbiota batch under these limits."""
    kinds = [("homogenisation", 1), ("microfiltration", 1)]
    kinds += [("wash", n) for n in range(1, limits.washes_required + 1)]
    kinds += [("resuspension", 1), ("fill", 1)]
    return [PlannedStep(k, s, i) for i, (k, s) in enumerate(kinds, start=1)]


def next_planned(plan: list[PlannedStep], recorded_positions: set[int]) -> PlannedStep | None:
    """The first step not yet recorded: steps are recorded strictly in order."""
    for step in plan:
        if step.position not in recorded_positions:
            return step
    return None


def parse_mesh_stages(text: str) -> list[Decimal] | None:
    """'2000, 500, 100' (micrometres, coarse to fine) -> numbers; None when unreadable."""
    parts = [
        p
        for p in re.split(
            r"[,;/\s>→]+", unicodedata.normalize("NFKC", text or "").lower().replace("μm", "").replace("um", "")
        )
        if p
    ]
    if not parts:
        return None
    values = [parse_quantity(p) for p in parts]
    return None if any(v is None for v in values) else values


def step_param_problems(kind: str, params: dict, limits: ProcessLimits) -> list[tuple[str, dict]]:
    """Checks of one step's parameters (numbers already parsed to Decimal or None)."""
    p = []

    def positive(name):
        v = params.get(name)
        if v is None or v <= 0:
            p.append(("must_be_positive", {"field": name}))

    if kind == "homogenisation":
        if not (params.get("diluent") or "").strip():
            p.append(("required", {"field": "diluent"}))
        positive("volume_ml")
    elif kind == "microfiltration":
        stages = params.get("mesh_um")
        if not stages:
            p.append(("mesh_unreadable", {}))
        else:
            if len(stages) < limits.filtration_stages_min:
                p.append(("too_few_stages", {"n": len(stages), "min": limits.filtration_stages_min}))
            if any(s <= 0 for s in stages):
                p.append(("mesh_positive", {}))
            if any(b >= a for a, b in zip(stages, stages[1:])):
                p.append(("mesh_not_descending", {}))
    elif kind == "wash":
        positive("g_force")
        positive("minutes")
        t = params.get("temperature_c")
        if t is None or not Decimal(-20) <= t <= Decimal(45):
            p.append(("temperature_range", {"min": -20, "max": 45}))
    elif kind == "resuspension":
        positive("volume_ml")
        if not (params.get("diluent") or "").strip():
            p.append(("required", {"field": "diluent"}))
        pct = params.get("cryoprotectant_pct")
        if pct is None or not Decimal(0) <= pct <= Decimal(100):
            p.append(("percent_range", {}))
        if pct and not (params.get("cryoprotectant") or "").strip():
            p.append(("required", {"field": "cryoprotectant"}))
    elif kind == "fill":
        n = params.get("dose_count")
        if n is None or n != int(n) or n < 1 or n > 99:
            p.append(("dose_count_range", {"max": 99}))
        positive("unit_volume_ml")
        if params.get("storage") not in ("fresh", "frozen"):
            p.append(("storage_mode", {}))
        available = params.get("resuspension_volume_ml")
        if n and params.get("unit_volume_ml") and available is not None and n * params["unit_volume_ml"] > available:
            p.append(("fill_exceeds_volume", {"need": n * params["unit_volume_ml"], "have": available}))
    return p


def _minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def step_time_problems(
    start: datetime, end: datetime, previous_end: datetime | None, next_start: datetime | None, now: datetime
) -> list[tuple[str, dict]]:
    """A step ends after it starts, starts after the previous step ended, ends before the next started and is not in the future.

    Step forms record whole minutes, so a neighbour is compared at its minute: a step may start in the minute the
    previous one ended (its prefilled start is that minute, seconds cut), and end in the minute the next began."""
    p = []
    if end < start:
        p.append(("end_before_start", {}))
    if previous_end is not None and start < _minute(previous_end):
        p.append(("before_previous", {"previous_end": previous_end}))
    if next_start is not None and _minute(end) > _minute(next_start):
        p.append(("after_next", {"next_start": next_start}))
    if end > now or start > now:
        p.append(("time_in_future", {}))
    return p


def enrichment_minutes(homogenisation_start: datetime, last_wash_end: datetime) -> int:
    """Enrichment and purification time, whole minutes rounded up (60 min 01 s counts as 61)."""
    seconds = (last_wash_end - homogenisation_start).total_seconds()
    return int(-(-seconds // 60))


def enrichment_over_limit(minutes: int, limits: ProcessLimits) -> bool:
    return minutes > limits.enrichment_limit_minutes


# --- QC ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QcItemSpec:
    code: str
    name: str
    result_type: str  # numeric, negative, conforms
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    unit: str = ""


QC_WORDS = {
    "negative": ("negative", "positive"),
    "conforms": ("conforms", "does_not_conform"),
}
_WORD_ALIASES = {
    "neg": "negative",
    "pos": "positive",
    "阴性": "negative",
    "阳性": "positive",
    "符合": "conforms",
    "不符合": "does_not_conform",
    "does not conform": "does_not_conform",
    "conform": "conforms",
    "pass": "conforms",
    "fail": "does_not_conform",
}


@dataclass(frozen=True)
class QcJudgement:
    value: str  # the stored, normalised value
    number: Decimal | None
    in_spec: bool


def judge_qc(spec: QcItemSpec, text: str) -> QcJudgement | None:
    """In or out of specification; None when the typed value is not a valid result for the item."""
    raw = (text or "").strip()
    if spec.result_type == "numeric":
        number = parse_quantity(raw)
        if number is None:
            return None
        ok = (spec.min_value is None or number >= spec.min_value) and (
            spec.max_value is None or number <= spec.max_value
        )
        return QcJudgement(format_quantity(number), number, ok)
    word = _WORD_ALIASES.get(raw.lower(), raw.lower().replace(" ", "_"))
    allowed = QC_WORDS.get(spec.result_type)
    if allowed is None or word not in allowed:
        return None
    return QcJudgement(word, None, word == allowed[0])


# --- status machine --------------------------------------------------------------------------

BATCH_STATUSES = ("in_process", "awaiting_qc", "quarantine", "released", "on_hold", "rejected", "expired", "recalled")
BATCH_TRANSITIONS = {
    "in_process": ("awaiting_qc", "rejected"),
    "awaiting_qc": ("quarantine", "rejected"),
    "quarantine": ("released", "rejected"),
    "released": ("expired", "recalled", "on_hold"),
    # a lookback case holds a released batch; it closes confirmed (recalled) or unfounded (released again)
    "on_hold": ("released", "recalled"),
}


def transition_allowed(current: str, target: str) -> bool:
    return target in BATCH_TRANSITIONS.get(current, ())


# --- donor clearance ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PassedScreening:
    decision_id: int
    as_of: date
    first_sample: date  # earliest sample date among the screening's results
    until: date | None = None  # the decision's "eligible until"
    outcome: str = "eligible"


def clearing_screening(passed: list[PassedScreening], donation_day: date) -> PassedScreening | None:
    """The first passed screening whose every sample was taken after the donation day (domain.md section 2)."""
    later = [p for p in passed if p.outcome == "eligible" and p.first_sample > donation_day]
    return min(later, key=lambda p: (p.as_of, p.decision_id)) if later else None


# The release basis is data of the spec version, per storage (docs/manufacturing.md "Release basis").
RELEASE_BASES = ("screening_after_donation", "eligible_at_donation")


def decision_in_force(decisions: list[PassedScreening], day: date) -> PassedScreening | None:
    """The latest signed decision taken on or before ``day`` (whatever its outcome): the one in force that day."""
    before = [d for d in decisions if d.as_of <= day]
    return max(before, key=lambda d: (d.as_of, d.decision_id)) if before else None


def clearance(
    basis: str, decisions: list[PassedScreening], donation_day: date, day_check_passed: bool
) -> tuple[PassedScreening | None, str | None]:
    """(the decision that clears the donation, or None with the blocker code).

    ``screening_after_donation`` (frozen product): quarantine until a passed screening sampled entirely after
    the donation day. ``eligible_at_donation`` (fresh product, given the day it is made): the signed decision
    in force on the donation day found the donor eligible through that day, and that day's donation-day check
    passed; the donor's later findings are caught by the suspension and lookback rules instead."""
    if basis == "eligible_at_donation":
        found = decision_in_force(decisions, donation_day)
        if found is None or found.outcome != "eligible" or found.until is None or found.until < donation_day:
            return None, "donor_not_eligible_at_donation"
        if not day_check_passed:
            return None, "no_day_check"
        return found, None
    found = clearing_screening(decisions, donation_day)
    return (found, None) if found else (None, "donor_not_cleared")


# --- release ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Blocker:
    code: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ReleaseFacts:
    status: str
    steps_missing: tuple[str, ...] = ()
    steps_unverified: tuple[str, ...] = ()
    qc_missing: tuple[str, ...] = ()
    qc_unverified: tuple[str, ...] = ()
    qc_out_of_spec: tuple[str, ...] = ()
    open_deviations: tuple[str, ...] = ()
    lookback_holds: tuple[str, ...] = ()  # the lookback cases holding the batch
    expires_at: datetime | None = None  # first instant every unit is expired ...
    now: datetime | None = None  # ... compared with the moment of release
    donor_cleared: bool = False
    clearance_problem: str = "donor_not_cleared"  # the blocker when not cleared (depends on the release basis)
    donor_suspended: str | None = None  # the suspension's cause
    donor_code: str = ""
    donation_day: date | None = None
    review_by_user: bool = False  # the releasing officer recorded an audit-trail review ...
    review_current: bool = False  # ... and nothing of the batch changed after it
    user_is_performer: bool = False


def release_blockers(f: ReleaseFacts) -> list[Blocker]:
    """Everything that still stops this officer releasing the batch; empty means release is possible."""
    out = []
    if f.status != "quarantine":
        out.append(Blocker("status", {"status": f.status}))
    if f.expires_at is not None and f.now is not None and f.now >= f.expires_at:
        out.append(Blocker("batch_expired", {"at": f.expires_at}))
    if f.steps_missing:
        out.append(Blocker("steps_missing", {"items": ", ".join(f.steps_missing)}))
    if f.steps_unverified:
        out.append(Blocker("steps_unverified", {"items": ", ".join(f.steps_unverified)}))
    if f.qc_missing:
        out.append(Blocker("qc_missing", {"items": ", ".join(f.qc_missing)}))
    if f.qc_unverified:
        out.append(Blocker("qc_unverified", {"items": ", ".join(f.qc_unverified)}))
    if f.qc_out_of_spec:
        out.append(Blocker("qc_out_of_spec", {"items": ", ".join(f.qc_out_of_spec)}))
    if f.open_deviations:
        out.append(Blocker("open_deviations", {"items": ", ".join(f.open_deviations)}))
    if f.lookback_holds:
        out.append(Blocker("lookback_hold", {"items": ", ".join(f.lookback_holds)}))
    if not f.donor_cleared:
        out.append(Blocker(f.clearance_problem, {"donor": f.donor_code, "day": f.donation_day}))
    if f.donor_suspended:
        out.append(Blocker("donor_suspended", {"donor": f.donor_code, "reason": f.donor_suspended}))
    if not f.review_by_user:
        out.append(Blocker("no_review", {}))
    elif not f.review_current:
        out.append(Blocker("review_stale", {}))
    if f.user_is_performer:
        out.append(Blocker("performer", {}))
    return out


# --- dose units and storage ------------------------------------------------------------------

UNIT_STATUSES = ("quarantine", "available", "reserved", "issued", "administered", "discarded", "expired", "recalled")


def frozen_expiry(donation_day: date, limits: ProcessLimits) -> date:
    return add_months(donation_day, limits.frozen_expiry_months)


def fresh_use_by(filled_at: datetime, day_end: datetime, limits: ProcessLimits) -> datetime:
    """Fill end + N hours, but never past the end of the production day (fresh product is used the same day)."""
    return min(filled_at + timedelta(hours=limits.fresh_use_hours), day_end)


def thaw_use_by(thawed_at: datetime, limits: ProcessLimits) -> datetime:
    return thawed_at + timedelta(hours=limits.thaw_use_hours)


def unit_use_by(expires_at: datetime, thawed_at: datetime | None, thaw_hours: int) -> tuple[datetime, str]:
    """(last usable instant, the rule that sets it: "expiry" or "thaw").

    The same boundaries as ``effective_unit_status``: expired from ``expires_at`` on (so the last usable instant
    is one microsecond before it), the thaw window inclusive at thaw + N h. Where both fall together the expiry
    decides. Pages and labels print the minute of this instant, so they never disagree."""
    last = expires_at - timedelta(microseconds=1)
    if thawed_at is not None and thawed_at + timedelta(hours=thaw_hours) < last:
        return thawed_at + timedelta(hours=thaw_hours), "thaw"
    return last, "expiry"


def printed_minute(instant: datetime) -> datetime:
    """The minute a page or label prints for an instant: the instant with its seconds cut, never rounded up."""
    return instant.replace(second=0, microsecond=0)


def unit_use_problem(
    now: datetime, expires_at: datetime, thawed_at: datetime | None, limits: ProcessLimits
) -> tuple[str, dict] | None:
    """Why a unit cannot be used now: expired (from ``expires_at`` on) or past thaw + N h (inclusive)."""
    if now >= expires_at:
        return "expired", {"at": expires_at}
    if thawed_at is not None and now > thaw_use_by(thawed_at, limits):
        return "thaw_window", {"at": thaw_use_by(thawed_at, limits), "hours": limits.thaw_use_hours}
    return None


FINAL_UNIT_STATUSES = ("administered", "discarded", "recalled", "expired")
USABLE_UNIT_STATUSES = ("available", "reserved", "issued")


def effective_unit_status(
    status: str,
    now: datetime,
    expires_at: datetime,
    thawed_at: datetime | None,
    thaw_hours: int,
    held_by: tuple[str, ...] = (),
) -> tuple[str, tuple[str, dict] | None]:
    """What a unit is at ``now``, whatever its stored status says: (status code, why it differs or None).

    The stored status changes only when someone (or the expiry job) acts; between the instant a unit
    expires and that act, every page, label and scan must already say expired. Expired wins over a
    hold; "on_hold" (a lookback case holding the batch in place) is never stored, only shown."""
    if status in FINAL_UNIT_STATUSES:
        return status, None
    if now >= expires_at:
        return "expired", ("expired", {"at": expires_at})
    if thawed_at is not None and now > thawed_at + timedelta(hours=thaw_hours):
        return "expired", ("thaw_window", {"at": thawed_at + timedelta(hours=thaw_hours), "hours": thaw_hours})
    if held_by:
        return "on_hold", ("held", {"cases": ", ".join(held_by)})
    return status, None


LIVE_BATCH_STATUSES = ("awaiting_qc", "quarantine", "released", "on_hold")


def effective_batch_status(
    status: str, now: datetime, expires_at: datetime | None, held_by: tuple[str, ...] = ()
) -> tuple[str, tuple[str, dict] | None]:
    """What a batch is at ``now``: past the expiry of its units it is expired (refused for release, printed as
    expired) before the expiry job marks it; a lookback hold on an unreleased batch shows as on hold."""
    if status in LIVE_BATCH_STATUSES and expires_at is not None and now >= expires_at:
        return "expired", ("batch_expired", {"at": expires_at})
    if held_by and status in ("in_process", "awaiting_qc", "quarantine"):
        return "on_hold", ("held", {"cases": ", ".join(held_by)})
    return status, None


def expiring_soon(expiry_day: date, today: date, limits: ProcessLimits) -> bool:
    """Within the warning window: expiry on today .. today + N days."""
    return today <= expiry_day <= today + timedelta(days=limits.expiry_warning_days)


ROW_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def box_positions(rows: int, cols: int) -> list[str]:
    """A1, A2, ... row by row: the position names printed on a cryobox."""
    return [f"{ROW_LETTERS[r]}{c}" for r in range(rows) for c in range(1, cols + 1)]


def position_problem(rows: int, cols: int, position: str, occupied: set[str]) -> tuple[str, dict] | None:
    pos = (position or "").strip().upper()
    if pos not in box_positions(rows, cols):
        return "no_such_position", {"position": pos, "last": box_positions(rows, cols)[-1] if rows and cols else ""}
    if pos in occupied:
        return "position_occupied", {"position": pos}
    return None


@dataclass(frozen=True)
class ScannedUnit:
    """What the storage session knows of one scanned unit (from the scan and the record)."""

    code: str
    position: str | None = None  # typed after the scan ("FMT-...-03 B2"), or None: the next free one
    found: bool = True
    lot: str = ""
    problem: tuple[str, dict] | None = None  # why it cannot be stored at all (status, thawed, expired, storage)
    current: tuple[str, str] | None = None  # (box code, position) where it is now


def storage_session_plan(
    scans: list[ScannedUnit],
    lot: str,
    box_code: str,
    rows: int,
    cols: int,
    occupied: dict[str, str],
    start: str | None = None,
) -> tuple[list[tuple[str, str]], list[tuple[str, dict]]]:
    """Positions for a batch's units scanned one after another into a box: (plan, problems).

    Each unit takes the position typed after it, or the next free one in box order from ``start``; every
    problem is listed (a unit of another batch, one scanned twice, an occupied or missing position, a box too
    full), and a plan with any problem is stored not at all. ``occupied`` maps position -> unit code now there;
    a scanned unit's own current position in this box counts as free for it."""
    positions = box_positions(rows, cols)
    problems: list[tuple[str, dict]] = []
    if not scans:
        return [], [("nothing_scanned", {})]
    seen: set[str] = set()
    moving = {s.code for s in scans}
    taken = {p for p, code in occupied.items() if code not in moving}
    start_pos = (start or "").strip().upper()
    if start_pos and start_pos not in positions:
        problems.append(("no_such_position", {"position": start_pos, "last": positions[-1] if positions else ""}))
        start_pos = ""
    order = (
        positions[positions.index(start_pos) :] + positions[: positions.index(start_pos)] if start_pos else positions
    )
    wanted = {s.position.strip().upper() for s in scans if s.position}
    plan: list[tuple[str, str]] = []
    free = iter([p for p in order if p not in taken and p not in wanted])
    used: set[str] = set()
    for s in scans:
        if s.code in seen:
            problems.append(("scanned_twice", {"code": s.code}))
            continue
        seen.add(s.code)
        if not s.found:
            problems.append(("unknown_unit", {"code": s.code}))
            continue
        if s.lot != lot:
            problems.append(("other_batch", {"code": s.code, "lot": s.lot, "want": lot}))
            continue
        if s.problem:
            problems.append(s.problem)
            continue
        if s.position:
            pos = s.position.strip().upper()
            if pos not in positions:
                problems.append(("no_such_position", {"position": pos, "last": positions[-1] if positions else ""}))
                continue
            if pos in taken:
                problems.append(("slot_occupied", {"position": pos, "code": occupied[pos]}))
                continue
            if pos in used:
                problems.append(("slot_twice", {"position": pos}))
                continue
        else:
            pos = next(free, None)
            if pos is None:
                problems.append(("box_full", {"box": box_code, "code": s.code}))
                continue
        used.add(pos)
        if s.current == (box_code, pos):
            continue  # already there: nothing to do for this unit
        plan.append((s.code, pos))
    if not problems and not plan:
        problems.append(("nothing_to_move", {}))
    return plan, problems


def storage_mismatch(storage: str, container_kind: str) -> bool:
    """Frozen units go into a freezer (-80 C), fresh units into a fridge (4 C)."""
    return {"frozen": "freezer", "fresh": "fridge"}.get(storage) != container_kind


# --- identifiers -------------------------------------------------------------------------------


def lot_number(day: date, n: int) -> str:
    return f"FMT-{day:%Y%m%d}-{n:02d}"


def donation_code(day: date, n: int) -> str:
    return f"DN-{day:%Y%m%d}-{n:02d}"


def unit_code(lot: str, n: int) -> str:
    return f"{lot}-{n:02d}"
