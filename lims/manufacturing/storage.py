"""Storage locations (site > freezer/fridge > rack > box) and what happens to dose units in them."""

from __future__ import annotations

import re
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from ..audit.trail import change_reason
from ..errors import NotFound, RuleViolation
from ..timefmt import format_dt
from . import explain
from .models import Batch, DoseUnit, StorageLocation
from .rules import expiring_soon, position_problem, storage_mismatch, unit_use_problem

PARENT_KINDS = {
    "site": (None,),
    "freezer": ("site",),
    "fridge": ("site",),
    "rack": ("freezer", "fridge"),
    "box": ("rack", "freezer", "fridge"),
}
CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,38}[A-Z0-9]$")
PLACEABLE = ("quarantine", "available", "reserved")


def location(session, code: str) -> StorageLocation:
    loc = session.exec(select(StorageLocation).where(StorageLocation.code == (code or "").strip().upper())).first()
    if loc is None:
        raise NotFound(_("No such storage location."))
    return loc


def children(session, parent_id: int | None) -> list[StorageLocation]:
    return list(
        session.exec(
            select(StorageLocation).where(StorageLocation.parent_id == parent_id).order_by(StorageLocation.code)
        ).all()
    )


def path_of(session, loc: StorageLocation) -> list[StorageLocation]:
    out = [loc]
    while out[-1].parent_id is not None:
        out.append(session.get(StorageLocation, out[-1].parent_id))
    return list(reversed(out))


def path_text(session, box_id: int | None, position: str | None) -> str:
    if box_id is None:
        return _("not in storage")
    return " > ".join(p.code for p in path_of(session, session.get(StorageLocation, box_id))) + f" / {position}"


def container_of(session, loc: StorageLocation) -> StorageLocation | None:
    """The freezer or fridge a location is in (which sets its temperature)."""
    return next((p for p in reversed(path_of(session, loc)) if p.kind in ("freezer", "fridge")), None)


def create_location(session, data: dict) -> StorageLocation:
    code = (data.get("code") or "").strip().upper()
    kind = data.get("kind")
    if not CODE_RE.match(code):
        raise RuleViolation(_("Location codes are 2-40 capital letters, digits and dashes, e.g. FRZ-01-R1-B3."))
    if session.exec(select(StorageLocation).where(StorageLocation.code == code)).first() is not None:
        raise RuleViolation(_("Location %(code)s already exists.", code=code))
    if kind not in PARENT_KINDS:
        raise RuleViolation(_("Unknown location type."))
    parent = None
    if (data.get("parent") or "").strip():
        from ..core.scan import scanned_id

        parent = location(session, scanned_id(data["parent"], "LOC"))
    if (parent.kind if parent else None) not in PARENT_KINDS[kind]:
        allowed = ", ".join(str(explain.LOCATION_KINDS[k]) for k in PARENT_KINDS[kind] if k) or _("none (top level)")
        raise RuleViolation(
            _("A %(kind)s must be placed in: %(allowed)s.", kind=explain.LOCATION_KINDS[kind], allowed=allowed)
        )
    rows = cols = None
    if kind == "box":
        rows, cols = data.get("rows"), data.get("cols")
        if not (isinstance(rows, int) and isinstance(cols, int) and 1 <= rows <= 26 and 1 <= cols <= 26):
            raise RuleViolation(_("A box needs 1-26 rows and 1-26 columns (e.g. 9 x 9)."))
    loc = StorageLocation(
        code=code,
        name=(data.get("name") or "").strip() or code,
        kind=kind,
        parent_id=parent.id if parent else None,
        rows=rows,
        cols=cols,
    )
    session.add(loc)
    session.flush()
    return loc


def occupied(session, box_id: int) -> dict[str, DoseUnit]:
    return {u.position: u for u in session.exec(select(DoseUnit).where(DoseUnit.box_id == box_id)).all()}


def boxes(session) -> list[StorageLocation]:
    return list(
        session.exec(select(StorageLocation).where(StorageLocation.kind == "box").order_by(StorageLocation.code)).all()
    )


# --- units ----------------------------------------------------------------------------------------


def unit(session, code: str) -> DoseUnit:
    u = session.exec(select(DoseUnit).where(DoseUnit.code == (code or "").strip().upper())).first()
    if u is None:
        raise NotFound(_("No such dose unit."))
    return u


def units_of(session, batch: Batch) -> list[DoseUnit]:
    return list(session.exec(select(DoseUnit).where(DoseUnit.batch_id == batch.id).order_by(DoseUnit.seq)).all())


def place(
    session,
    u: DoseUnit,
    box_code: str,
    position: str,
    note: str | None = None,
    now: datetime | None = None,
    expected_version=None,
) -> None:
    """Put a unit into a box position, or move it; one unit per position, the right temperature, audited.

    An expired unit (by its time, even before ``lims expire-due`` marked it) is refused: it goes to discard.
    ``expected_version`` (the unit's version the form showed) refuses a move from a page opened before the
    unit moved, instead of moving it again."""
    from ..audit.concurrency import check_version
    from .locks import lock_batch

    lock_batch(session, u.batch_id)
    if now is not None and now >= u.expires_at:
        raise RuleViolation(
            _(
                "Unit %(code)s expired at %(t)s: discard it instead of storing it.",
                code=u.code,
                t=format_dt(u.expires_at),
            )
        )
    if u.status not in PLACEABLE:
        raise RuleViolation(
            _(
                "Unit %(code)s is %(status)s and cannot be stored.",
                code=u.code,
                status=explain.UNIT_STATUS_LABELS[u.status],
            )
        )
    if u.thawed_at is not None:
        raise RuleViolation(_("Unit %(code)s was thawed and cannot go back into storage.", code=u.code))
    box = location(session, box_code)
    if box.kind != "box":
        raise RuleViolation(_("%(code)s is not a box: units are stored in box positions.", code=box.code))
    container = container_of(session, box)
    if container is None or storage_mismatch(u.storage, container.kind):
        raise RuleViolation(
            _(
                "Unit %(code)s is %(storage)s and cannot be stored in %(box)s.",
                code=u.code,
                storage=explain.STORAGE_LABELS[u.storage],
                box=box.code,
            )
        )
    pos = (position or "").strip().upper()
    taken = {p for p, other in occupied(session, box.id).items() if other.id != u.id}
    problem = position_problem(box.rows, box.cols, pos, taken)
    if problem:
        raise RuleViolation(explain.text(*problem))
    if expected_version is not None:  # after the rules, so a refused move names its rule
        check_version(session, u, expected_version)
    if (u.box_id, u.position) == (box.id, pos):
        raise RuleViolation(_("Unit %(code)s is already at %(box)s / %(pos)s.", code=u.code, box=box.code, pos=pos))
    before = path_text(session, u.box_id, u.position)
    reason = f"moved from {before} to {path_text(session, box.id, pos)}" + (
        f": {note.strip()}" if (note or "").strip() else ""
    )
    try:
        with session.begin_nested(), change_reason(session, reason):
            u.box_id, u.position = box.id, pos
    except IntegrityError:  # a concurrent store into the same position; the unique constraint decides
        raise RuleViolation(explain.text("position_occupied", {"position": pos})) from None


def thaw(session, u: DoseUnit, thawed_at: datetime, user, now: datetime) -> None:
    """Thawing takes the unit out of the freezer; from then on it must be used within the thaw window."""
    from .batches import limits_for

    if u.storage != "frozen":
        raise RuleViolation(_("Unit %(code)s is fresh, not frozen.", code=u.code))
    if u.thawed_at is not None:
        raise RuleViolation(_("Unit %(code)s was already thawed.", code=u.code))
    if u.status not in ("available", "reserved"):
        raise RuleViolation(
            _(
                "Only released units are thawed; unit %(code)s is %(status)s.",
                code=u.code,
                status=explain.UNIT_STATUS_LABELS[u.status],
            )
        )
    if thawed_at > now:
        raise RuleViolation(_("The thaw time is in the future."))
    problem = unit_use_problem(thawed_at, u.expires_at, None, limits_for(session, session.get(Batch, u.batch_id)))
    if problem:
        raise RuleViolation(explain.text(*problem))
    with change_reason(session, f"thawed, removed from {path_text(session, u.box_id, u.position)}"):
        u.thawed_at, u.thawed_by_id, u.box_id, u.position = thawed_at, user.id, None, None


def discard(session, u: DoseUnit, reason: str) -> None:
    if not (reason or "").strip():
        raise RuleViolation(_("A reason is required to discard a unit."))
    if u.status in ("reserved", "issued", "administered", "discarded"):  # reserved/issued: from the dose page
        raise RuleViolation(
            _(
                "Unit %(code)s is %(status)s and cannot be discarded.",
                code=u.code,
                status=explain.UNIT_STATUS_LABELS[u.status],
            )
        )
    with change_reason(session, reason):
        u.status, u.status_reason, u.box_id, u.position = "discarded", reason.strip(), None, None


def use_problem(session, u: DoseUnit, now: datetime) -> str | None:
    """Why the unit cannot be used now (expired, past the thaw window), as a sentence; None when usable."""
    from .batches import limits_for

    problem = unit_use_problem(now, u.expires_at, u.thawed_at, limits_for(session, session.get(Batch, u.batch_id)))
    return explain.text(*problem) if problem else None


# --- inventory ------------------------------------------------------------------------------------


def inventory(session, now: datetime, today: date, limits):
    """Available units by product (storage) and expiry day, soonest first, with the expiring-soon flag.

    A thawed unit counts only within its thaw window (the spec's hours)."""
    from datetime import timedelta

    from sqlalchemy import or_

    rows = session.exec(
        select(DoseUnit.storage, DoseUnit.expiry_date, func.count())
        .where(
            DoseUnit.status == "available",
            DoseUnit.expires_at > now,
            or_(DoseUnit.thawed_at.is_(None), DoseUnit.thawed_at >= now - timedelta(hours=limits.thaw_use_hours)),
        )
        .group_by(DoseUnit.storage, DoseUnit.expiry_date)
        .order_by(DoseUnit.expiry_date, DoseUnit.storage)
    ).all()
    return [(storage, expiry, n, expiring_soon(expiry, today, limits)) for storage, expiry, n in rows]


# --- storage sessions: a batch's units scanned into a box, stored in one signed act --------------------------


def parse_scans(text: str) -> list[tuple[str, str | None]]:
    """One line per scan: the unit's label (payload or code), optionally followed by a position ("... B2")."""
    from ..core.scan import scanned_id

    out = []
    for line in (text or "").splitlines():
        parts = line.split()
        if not parts:
            continue
        out.append((scanned_id(parts[0], "DU"), parts[1].upper() if len(parts) > 1 else None))
    return out


def _storable_problem(u: DoseUnit, box: StorageLocation, container, now: datetime):
    if now >= u.expires_at:
        return "expired_unit", {"code": u.code, "at": u.expires_at}
    if u.status not in PLACEABLE:
        return "not_storable", {"code": u.code, "status": explain.UNIT_STATUS_LABELS[u.status]}
    if u.thawed_at is not None:
        return "thawed_unit", {"code": u.code}
    if container is None or storage_mismatch(u.storage, container.kind):
        return "wrong_storage", {"code": u.code, "storage": explain.STORAGE_LABELS[u.storage], "box": box.code}
    return None


def session_plan(session, box: StorageLocation, lot: str, text: str, start: str | None, now: datetime):
    """(plan [(unit, position)], problems as sentences, the unit records involved) for a scan session."""
    from .rules import ScannedUnit, storage_session_plan

    if box.kind != "box":
        raise RuleViolation(_("%(code)s is not a box: units are stored in box positions.", code=box.code))
    container = container_of(session, box)
    scans = parse_scans(text)
    codes = [c for c, _p in scans]
    units = {u.code: u for u in session.exec(select(DoseUnit).where(DoseUnit.code.in_(codes))).all()} if codes else {}
    boxes = (
        {
            b.id: b.code
            for b in session.exec(
                select(StorageLocation).where(StorageLocation.id.in_({u.box_id for u in units.values() if u.box_id}))
            ).all()
        }
        if units
        else {}
    )
    facts = []
    for code, pos in scans:
        u = units.get(code)
        if u is None:
            facts.append(ScannedUnit(code, pos, found=False))
            continue
        facts.append(
            ScannedUnit(
                code,
                pos,
                lot=u.lot,
                problem=_storable_problem(u, box, container, now),
                current=(boxes.get(u.box_id), u.position) if u.box_id else None,
            )
        )
    here = occupied(session, box.id)
    plan, problems = storage_session_plan(
        facts, (lot or "").strip().upper(), box.code, box.rows, box.cols, {p: u.code for p, u in here.items()}, start
    )
    records = list({u.id: u for u in [*units.values(), *here.values()]}.values())
    return plan, [explain.text(c, p) for c, p in problems], records


def session_content(records, plan) -> str:
    """The fingerprint of a reviewed plan: the units it moves, those already in the box, and the plan itself."""
    from ..audit.fingerprint import fingerprint

    return fingerprint(records, *[f"{code}>{pos}" for code, pos in plan])


def store_session(
    session,
    box: StorageLocation,
    lot: str,
    text: str,
    start: str | None,
    content: str | None,
    user,
    password: str,
    now: datetime,
    client=None,
):
    """Store every unit of the reviewed plan at once, or none: one storage run, signed "performed"."""
    import json

    from ..audit.fingerprint import expect_content
    from ..audit.signatures import sign
    from ..core.counters import next_number
    from .locks import lock_batch
    from .models import StorageRun

    batch = session.exec(select(Batch).where(Batch.lot == (lot or "").strip().upper())).first()
    if batch is None:
        raise RuleViolation(_("No batch has the lot %(lot)s.", lot=(lot or "").strip() or "-"))
    lock_batch(session, batch.id)
    plan, problems, records = session_plan(session, box, batch.lot, text, start, now)
    if problems:
        raise RuleViolation(" ".join(problems))
    expect_content(session, content, records, *[f"{code}>{pos}" for code, pos in plan])
    if not (content or "").strip():
        raise RuleViolation(_("Review the plan before signing it."))
    run = StorageRun(
        code=f"SR-{now.year}-{next_number(session, f'storage-run-{now.year}'):04d}",
        box_id=box.id,
        box_code=box.code,
        batch_id=batch.id,
        lot=batch.lot,
        placements=json.dumps(plan),
        unit_count=len(plan),
    )
    session.add(run)
    session.flush()
    by_code = {r.code: r for r in records if isinstance(r, DoseUnit)}
    try:
        with session.begin_nested(), change_reason(session, f"stored by scan session {run.code}"):
            targets = {pos: code for code, pos in plan}
            blocking = [
                code
                for code, _pos in plan
                if by_code[code].box_id == box.id and targets.get(by_code[code].position) not in (None, code)
            ]
            for code in blocking:  # units swapping places in the box leave their positions first
                by_code[code].box_id, by_code[code].position = None, None
            if blocking:
                session.flush()
            for code, pos in plan:
                by_code[code].box_id, by_code[code].position = box.id, pos
    except IntegrityError:  # a concurrent store took a position; the unique constraint decides
        raise RuleViolation(_("A position of the plan was taken at the same moment; review the plan again.")) from None
    sign(session, run, "performed", user, password, client=client)
    return run
