"""What a label says, per record kind: texts by field name and the QR payload.

Labels carry the donor code, never the donor's identity (domain.md section 5).
Status is printed large: QUARANTINE until the batch is released. A dose unit's label says its effective state at
print time, from the same ``unit_state`` the unit page reads: a thawed unit prints USE BY (thaw + N h or the
expiry, whichever is first), its thaw time and 2-8 °C instead of the frozen expiry and -80 °C.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from flask_babel import gettext as _
from sqlmodel import select

from ..donors.models import Donor
from ..errors import NotFound, RuleViolation
from ..manufacturing.models import Batch, Donation, DoseUnit, StorageLocation
from ..timefmt import format_dt, to_lab

PRODUCT = {
    "frozen": ("Washed microbiota, frozen", "洗涤菌群悬液（冷冻）"),
    "fresh": ("Washed microbiota, fresh", "洗涤菌群悬液（新鲜）"),
}
STORE_AT = {"frozen": "Store at -80 °C / -80 °C保存", "fresh": "Store at 2-8 °C / 2-8 °C保存"}
# A thawed unit is out of the freezer: kept at 2-8 °C until its USE BY (thaw + N h, domain.md, storage). The thaw's
# date is the USE BY line's (or the day before it), so the time alone keeps the line within a 50 mm tube label.
THAWED = "Thawed %(t)s · 2-8 °C 已解冻"
STATUS_TEXT = {
    "quarantine": "QUARANTINE 待放行",
    "available": "RELEASED 已放行",
    "reserved": "RELEASED 已放行",
    "issued": "RELEASED 已放行",
    "administered": "ADMINISTERED 已给药",
    "released": "RELEASED 已放行",
    "in_process": "IN PROCESS 生产中",
    "awaiting_qc": "QUARANTINE 待放行",
    "rejected": "REJECTED 拒绝放行",
    "expired": "EXPIRED 已过期",
    "recalled": "RECALLED 已召回",
    "on_hold": "ON HOLD 暂停使用",
    "discarded": "DISCARDED 已销毁",
}
# A unit that must not be given says so on its label in both languages, whatever stock it is printed on.
DO_NOT_USE = "DO NOT USE 禁止使用"
KINDS = {"DU": "dose_unit", "LOT": "batch", "DN": "donation", "RS": "retained_sample", "LOC": "storage_location"}


@dataclass(frozen=True)
class LabelContent:
    kind: str  # payload type code: DU, LOT, DN, RS, LOC, SP
    record_id: str  # the human ID the payload carries
    texts: dict = field(default_factory=dict)
    state: str = ""  # the record's status code (a dose unit's decides whether a release label may print)
    unit_state: object = None  # a dose unit's UnitState at print time: what the print record keeps

    @property
    def payload(self) -> str:
        return f"LIMS:{self.kind}:{self.record_id}"


def _statement() -> str:
    return current_app.config["LABEL_STATEMENT"]


def _donor_code(session, donor_id) -> str:
    return session.get(Donor, donor_id).code


def unit_status_text(state) -> str:
    """The status line of a dose unit's label: the effective status at print time (expired wins)."""
    text = STATUS_TEXT[state.code]
    return f"{text} · {DO_NOT_USE}" if state.do_not_use else text


def use_by_text(state) -> str:
    """The label's date line: EXP for a unit still frozen or fresh, USE BY once thawed; the minute is the
    last usable one (``UnitState.use_by_minute``), the same the unit page prints."""
    word = "USE BY" if state.thawed_at is not None else "EXP"
    return f"{word} {format_dt(state.use_by_minute)}"


def storage_text(state) -> str:
    """The storage line: -80 °C frozen, 2-8 °C fresh, or the thaw time and the 2-8 °C thaw window."""
    if state.thawed_at is not None:
        return THAWED % {"t": to_lab(state.thawed_at).strftime("%H:%M")}
    return STORE_AT[state.storage]


def dose_unit(session, u: DoseUnit, now=None) -> LabelContent:
    from ..clock import utcnow
    from ..manufacturing.queries import unit_state

    state = unit_state(session, u, now or utcnow())
    batch = session.get(Batch, u.batch_id)
    donation = session.get(Donation, batch.donation_id)
    en, zh = PRODUCT[u.storage]
    return LabelContent(
        "DU",
        u.code,
        {
            "product": en,
            "product_zh": zh,
            "id": u.code,
            "donor": f"Donor {_donor_code(session, batch.donor_id)}",
            "dates": f"Don. {donation.collection_day} · Prod. {batch.production_day}",
            "expiry": use_by_text(state),
            "volume_storage": f"{u.volume_ml.normalize():f} mL · {storage_text(state)}",
            "status": unit_status_text(state),
            "statement": _statement(),
        },
        state.code,
        state,
    )


def batch(session, b: Batch, now=None) -> LabelContent:
    donation = session.get(Donation, b.donation_id)
    en, zh = PRODUCT.get(b.storage or "frozen")
    return LabelContent(
        "LOT",
        b.lot,
        {
            "product": en if b.storage else "Washed microbiota batch",
            "product_zh": zh if b.storage else "洗涤菌群批次",
            "id": b.lot,
            "donor": f"Donor {_donor_code(session, b.donor_id)}",
            "dates": f"Don. {donation.collection_day} · Prod. {b.production_day}",
            "expiry": f"EXP {b.expiry_date}" if b.expiry_date else "",
            "volume_storage": STORE_AT.get(b.storage, ""),
            "status": _batch_status_text(session, b, now),
            "statement": _statement(),
        },
    )


def _batch_status_text(session, b: Batch, now=None) -> str:
    """The batch's effective status at print time: expired, held by a lookback case or recalled says DO NOT USE."""
    from ..clock import utcnow
    from ..manufacturing.queries import batch_state

    code, _why = batch_state(session, b, now or utcnow())
    text = STATUS_TEXT[code]
    return f"{text} · {DO_NOT_USE}" if code in ("expired", "recalled", "on_hold", "rejected") else text


def donation(session, d: Donation) -> LabelContent:
    return LabelContent(
        "DN",
        d.code,
        {
            "product": "Stool donation",
            "product_zh": "供体粪便",
            "id": d.code,
            "donor": f"Donor {_donor_code(session, d.donor_id)}",
            "dates": f"Coll. {format_dt(d.collected_at)}",
            "date": str(d.collection_day),
            "volume_storage": f"{d.mass_g.normalize():f} g · 2-8 °C",
            "status": "QUARANTINE 待放行",
            "statement": _statement(),
        },
    )


def retained_sample(session, d: Donation) -> LabelContent:
    return LabelContent(
        "RS",
        d.code,
        {
            "product": "Retained sample 留样",
            "id": d.code,
            "donor": _donor_code(session, d.donor_id),
            "date": str(d.collection_day),
            "keep_until": f"RS {d.retained_until}",
            "statement": _statement(),
        },
    )


def box(session, loc: StorageLocation) -> LabelContent:
    from ..manufacturing.storage import path_of

    return LabelContent(
        "LOC",
        loc.code,
        {
            "product": loc.name,
            "id": loc.code,
            "location": " > ".join(p.code for p in path_of(session, loc)),
            "dates": " > ".join(p.code for p in path_of(session, loc)[:-1]),
            "volume_storage": f"{loc.rows} x {loc.cols} positions" if loc.kind == "box" else "",
        },
    )


SPECIMEN_ZH = {"serum": "血清", "blood": "全血", "stool": "粪便"}


def screening_specimens(session, sc) -> list[LabelContent]:
    """One tube label per specimen type the screening's protocol needs (e.g. serum, blood, stool)."""
    from ..donors.models import ProtocolItem

    specimens = sorted(
        {
            s
            for s in session.exec(
                select(ProtocolItem.specimen).where(
                    ProtocolItem.protocol_id == sc.protocol_id, ProtocolItem.specimen != ""
                )
            ).all()
        }
    )
    donor = _donor_code(session, sc.donor_id)
    return [
        LabelContent(
            "SP",
            f"SC{sc.id}-{sp.upper()}",
            {
                "product": f"Screening specimen: {sp}",
                "product_zh": f"筛查标本：{SPECIMEN_ZH.get(sp, sp)}",
                "id": f"SC{sc.id}-{sp.upper()}",
                "donor": f"Donor {donor}",
                "date": str(sc.started_on),
                "dates": f"Screening #{sc.id} · {sc.started_on}",
                "keep_until": sp,
                "statement": _statement(),
            },
        )
        for sp in specimens
    ]


def for_record(session, kind: str, code: str, now=None) -> list[LabelContent]:
    """The labels to print for a scanned/typed record; a lot prints one label per dose unit."""
    from ..core.scan import scanned_id

    code = (code or "").strip().upper() if kind == "SP" else scanned_id(code, {"LOT_UNITS": "LOT"}.get(kind, kind))
    if kind == "DU":
        u = session.exec(select(DoseUnit).where(DoseUnit.code == code)).first()
        return [dose_unit(session, u, now)] if u else _missing()
    if kind == "LOT_UNITS":
        b = session.exec(select(Batch).where(Batch.lot == code)).first()
        if b is None:
            return _missing()
        units = session.exec(select(DoseUnit).where(DoseUnit.batch_id == b.id).order_by(DoseUnit.seq)).all()
        if not units:
            raise RuleViolation(_("Batch %(lot)s has no dose units yet.", lot=b.lot))
        return [dose_unit(session, u, now) for u in units]
    if kind == "LOT":
        b = session.exec(select(Batch).where(Batch.lot == code)).first()
        return [batch(session, b, now)] if b else _missing()
    if kind in ("DN", "RS"):
        d = session.exec(select(Donation).where(Donation.code == code)).first()
        if d is None:
            return _missing()
        return [donation(session, d) if kind == "DN" else retained_sample(session, d)]
    if kind == "SP":
        from ..donors.screening_models import Screening

        sc = session.get(Screening, int(code)) if code.isdigit() else None
        return screening_specimens(session, sc) if sc else _missing()
    if kind == "LOC":
        loc = session.exec(select(StorageLocation).where(StorageLocation.code == code)).first()
        return [box(session, loc)] if loc else _missing()
    raise NotFound(_("Unknown label kind."))


def _missing():
    raise NotFound(_("No such record."))
