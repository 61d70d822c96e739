"""Screening protocols: seeding the default, loading a version as a rule spec."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from sqlmodel import select

from .models import ProtocolItem, ScreeningProtocol
from .rules import ItemSpec, ProtocolSpec

DEFAULT_FILE = Path(__file__).with_name("default_protocol.json")


def _dec(value):
    return None if value is None else Decimal(str(value))


SEEDED_TRANSLATED = ("title", "source")  # protocol texts the seed file also gives in Chinese (title_zh, source_zh)


def seed_default_protocol(session) -> ScreeningProtocol | None:
    """Create the default protocol (version 1) unless a protocol with its code exists."""
    data = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    exists = session.exec(select(ScreeningProtocol).where(ScreeningProtocol.code == data["code"])).first()
    if exists is not None:
        return None
    items = data.pop("items")
    for key in SEEDED_TRANSLATED:
        data.pop(f"{key}_zh", None)  # display only: the record keeps the English text
    proto = ScreeningProtocol(**{**data, "bmi_min": _dec(data["bmi_min"]), "bmi_max": _dec(data["bmi_max"])})
    session.add(proto)
    session.flush()
    for pos, it in enumerate(items, start=1):
        session.add(
            ProtocolItem(
                protocol_id=proto.id,
                position=pos,
                **{**it, "normal_min": _dec(it.get("normal_min")), "normal_max": _dec(it.get("normal_max"))},
            )
        )
    session.flush()
    return proto


def active_protocol(session) -> ScreeningProtocol | None:
    return session.exec(
        select(ScreeningProtocol).where(ScreeningProtocol.status == "active").order_by(ScreeningProtocol.id.desc())
    ).first()


PANEL_KINDS = ("questionnaire", "assessment", "blood", "stool")


def items_of(session, protocol: ScreeningProtocol, kinds=PANEL_KINDS) -> list[ProtocolItem]:
    """The screening panel's items (by default), or those of other kinds such as ("donation_day",)."""
    q = select(ProtocolItem).where(ProtocolItem.protocol_id == protocol.id)
    if kinds is not None:
        q = q.where(ProtocolItem.kind.in_(kinds))
    return list(session.exec(q.order_by(ProtocolItem.position)).all())


def spec_of(session, protocol: ScreeningProtocol) -> ProtocolSpec:
    """The pure rule spec of a stored protocol version."""
    return ProtocolSpec(
        code=protocol.code,
        version=protocol.protocol_version,
        age_min=protocol.age_min,
        age_max=protocol.age_max,
        bmi_min=Decimal(protocol.bmi_min),
        bmi_max=Decimal(protocol.bmi_max),
        bmi_validity_days=protocol.bmi_validity_days,
        bmi_defer_days=protocol.bmi_defer_days,
        rescreen_days=protocol.rescreen_days,
        items=tuple(item_spec(i) for i in items_of(session, protocol)),
    )


def item_spec(item: ProtocolItem) -> ItemSpec:
    """The pure rule spec of one stored item."""
    return ItemSpec(
        code=item.code,
        name=item.name,
        kind=item.kind,
        result_type=item.result_type,
        validity_days=item.validity_days,
        on_fail=item.on_fail,
        defer_days=item.defer_days,
        normal_min=_dec(item.normal_min),
        normal_max=_dec(item.normal_max),
        unit=item.unit,
        lookback_days=item.lookback_days,
    )


def _zh() -> bool:
    from flask import has_request_context
    from flask_babel import get_locale

    return has_request_context() and str(get_locale() or "").startswith("zh")


def display_name(item: ProtocolItem) -> str:
    """The item's name in the reader's language (Chinese when the protocol carries it)."""
    return item.name_zh if _zh() and item.name_zh else item.name


def item_names(session) -> dict[str, str]:
    """Item code -> name in the reader's language, for re-rendering stored reasons."""
    if not _zh():
        return {}
    rows = session.exec(select(ProtocolItem.code, ProtocolItem.name_zh).order_by(ProtocolItem.id)).all()
    return {code: zh for code, zh in rows if zh}


@lru_cache(maxsize=1)
def _seeded_chinese() -> dict[str, str]:
    """English seeded text -> its Chinese, from the seed file (title_zh, source_zh)."""
    data = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    return {data[key]: data[f"{key}_zh"] for key in SEEDED_TRANSLATED if data.get(f"{key}_zh")}


def protocol_text(text: str | None) -> str:
    """A protocol's title or source in the reader's language.

    The seeded English texts have a Chinese version in the seed file; the record keeps the English, so reports
    and the audit trail quote what was stored. A text the lab typed (a changed title) is shown as typed.
    """
    if not text:
        return ""
    return _seeded_chinese().get(text, text) if _zh() else text
