"""Spec versions: seeding the default, reading a version as rule limits and QC criteria."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from flask_babel import get_locale
from sqlmodel import select

from .models import ManufacturingSpec, QcSpecItem
from .rules import ProcessLimits, QcItemSpec

DEFAULT_FILE = Path(__file__).with_name("default_spec.json")
LIMIT_FIELDS = tuple(ProcessLimits.__dataclass_fields__)


def _dec(value):
    return None if value is None else Decimal(str(value))


def seed_default_spec(session) -> ManufacturingSpec | None:
    """Create the default spec (version 1) unless a spec with its code exists."""
    data = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    if session.exec(select(ManufacturingSpec).where(ManufacturingSpec.code == data["code"])).first() is not None:
        return None
    items = data.pop("qc_items")
    for key in ("min_mass_g", "dose_volume_ml", "retained_sample_ml"):
        data[key] = _dec(data[key])
    spec = ManufacturingSpec(**data)
    session.add(spec)
    session.flush()
    for pos, it in enumerate(items, start=1):
        session.add(
            QcSpecItem(
                spec_id=spec.id,
                position=pos,
                **{**it, "min_value": _dec(it["min_value"]), "max_value": _dec(it["max_value"])},
            )
        )
    session.flush()
    return spec


def active_spec(session) -> ManufacturingSpec | None:
    return session.exec(
        select(ManufacturingSpec).where(ManufacturingSpec.status == "active").order_by(ManufacturingSpec.id.desc())
    ).first()


def _plain(value):
    """Decimal('100.0') from a Numeric column -> Decimal('100'), so messages say "100 g" as the spec does."""
    if isinstance(value, Decimal):
        return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
    return value


def limits_of(spec: ManufacturingSpec) -> ProcessLimits:
    return ProcessLimits(**{k: _plain(getattr(spec, k)) for k in LIMIT_FIELDS})


def qc_items(session, spec_id: int) -> list[QcSpecItem]:
    return list(
        session.exec(select(QcSpecItem).where(QcSpecItem.spec_id == spec_id).order_by(QcSpecItem.position)).all()
    )


def qc_spec(item: QcSpecItem) -> QcItemSpec:
    return QcItemSpec(
        item.code,
        item.name,
        item.result_type,
        None if item.min_value is None else Decimal(item.min_value),
        None if item.max_value is None else Decimal(item.max_value),
        item.unit,
    )


def qc_name(item: QcSpecItem) -> str:
    """The item's name in the reader's language (the English name is the reference)."""
    try:
        zh = str(get_locale()).startswith("zh")
    except Exception:  # outside a request: the reference name
        zh = False
    return item.name_zh if zh and item.name_zh else item.name
