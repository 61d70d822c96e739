"""Pure rules of adverse events: what a record must hold, and when a serious one must be reported.

Severity (the CTCAE grade) and seriousness (ICH E2A criteria) are separate
questions; a grade-1 event can be serious and a grade-3 one need not be.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

SERIOUSNESS = (
    "death",
    "life_threatening",
    "hospitalisation",
    "disability",
    "congenital_anomaly",
    "important_medical_event",
)
ATTRIBUTIONS = ("unrelated", "unlikely", "possible", "probable", "definite")
RELATED = frozenset({"possible", "probable", "definite"})
ACTIONS = ("none", "medication", "fmt_postponed", "fmt_stopped", "cotherapy_interrupted", "cotherapy_stopped", "other")
OUTCOMES = ("recovered", "recovering", "not_recovered", "recovered_sequelae", "fatal", "unknown")
RESOLVED_OUTCOMES = frozenset({"recovered", "recovered_sequelae", "fatal"})


@dataclass(frozen=True)
class SaeLimits:
    """Reporting clocks, counted from the moment the site became aware (configurable: LIMS_SAE_*)."""

    ethics_hours: int = 24
    fatal_days: int = 7
    other_days: int = 15


@dataclass(frozen=True)
class Deadlines:
    ethics: datetime | None
    regulatory: datetime | None
    regulatory_days: int | None


def sae_deadlines(
    criteria: tuple[str, ...], expected: bool | None, related: bool, aware_at: datetime, limits: SaeLimits
) -> Deadlines:
    """Every SAE goes to the ethics committee within N hours.

    An expedited regulatory report is due only for a suspected unexpected
    serious adverse reaction (ICH E2A): related to a study treatment and not
    expected; 7 days when fatal or life-threatening, otherwise 15 days.
    """
    if not criteria:
        return Deadlines(None, None, None)
    ethics = aware_at + timedelta(hours=limits.ethics_hours)
    if not related or expected is not False:
        return Deadlines(ethics, None, None)
    days = limits.fatal_days if ("death" in criteria or "life_threatening" in criteria) else limits.other_days
    return Deadlines(ethics, aware_at + timedelta(days=days), days)


@dataclass(frozen=True)
class AeFacts:
    term_code: str
    grade: int | None
    onset: date | None
    resolved: date | None
    criteria: tuple[str, ...]
    expected: bool | None
    attribution_fmt: str
    attribution_cotherapy: str
    action: str
    outcome: str
    administration_given_on: date | None  # the linked administration's day, when one is linked
    has_administration: bool
    aware_at: datetime | None
    today: date
    now: datetime
    aware_on: date | None = None  # the lab-zone day of ``aware_at``


def ae_problems(f: AeFacts, grade_problem) -> list[tuple[str, dict]]:
    """``grade_problem(code, grade)`` is the catalogue's check (unknown term / grade not defined for it)."""
    out: list[tuple[str, dict]] = []
    if not f.term_code:
        out.append(("term_missing", {}))
    elif f.grade is None:
        out.append(("grade_missing", {}))
    else:
        problem = grade_problem(f.term_code, f.grade)
        if problem:
            out.append((problem, {"grade": f.grade}))
    if f.onset is None:
        out.append(("onset_missing", {}))
    elif f.onset > f.today:
        out.append(("onset_future", {"date": f.onset}))
    if f.resolved is not None:
        if f.onset is not None and f.resolved < f.onset:
            out.append(("resolved_before_onset", {"date": f.resolved, "onset": f.onset}))
        if f.resolved > f.today:
            out.append(("resolved_future", {"date": f.resolved}))
        if f.outcome not in RESOLVED_OUTCOMES:
            out.append(("resolved_outcome", {}))
    elif f.outcome in RESOLVED_OUTCOMES:
        out.append(("outcome_needs_date", {}))
    if any(c not in SERIOUSNESS for c in f.criteria):
        out.append(("criteria", {}))
    if f.criteria and f.expected is None:
        out.append(("expectedness", {}))
    if f.attribution_fmt not in ATTRIBUTIONS or f.attribution_cotherapy not in ATTRIBUTIONS:
        out.append(("attribution", {}))
    elif f.attribution_fmt in RELATED and not f.has_administration:
        out.append(("needs_administration", {}))
    if f.has_administration and f.administration_given_on is None:
        out.append(("administration_not_given", {}))
    elif f.administration_given_on is not None and f.onset is not None and f.onset < f.administration_given_on:
        out.append(("onset_before_dose", {"date": f.administration_given_on}))
    if f.action not in ACTIONS:
        out.append(("action", {}))
    if f.outcome not in OUTCOMES:
        out.append(("outcome", {}))
    fatal = f.grade == 5 or f.outcome == "fatal"
    if fatal and not (f.grade == 5 and f.outcome == "fatal" and "death" in f.criteria):
        out.append(("fatal_consistency", {}))
    if f.aware_at is not None and f.aware_at > f.now:
        out.append(("aware_future", {}))
    elif f.aware_on is not None and f.onset is not None and f.aware_on < f.onset:
        out.append(("aware_before_onset", {"onset": f.onset}))
    return out


def worst_grades(rows) -> dict[str, dict[int, int]]:
    """Rows (recipient, term, grade) -> per term: how many recipients had each grade as their worst for it.

    The usual study summary counts patients, not events: a patient with grade 1
    and later grade 2 fever counts once, under grade 2.
    """
    worst: dict[tuple[str, str], int] = {}
    for recipient, term, grade in rows:
        key = (recipient, term)
        worst[key] = max(grade, worst.get(key, 0))
    table: dict[str, dict[int, int]] = {}
    for (_recipient, term), grade in worst.items():
        counts = table.setdefault(term, {})
        counts[grade] = counts.get(grade, 0) + 1
    return table
