"""Seeding the default screening protocol and reading it back as a rule spec (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import select

from lims.db import Actor, transaction
from lims.donors.models import ProtocolItem, ScreeningProtocol
from lims.donors.protocols import DEFAULT_FILE, active_protocol, items_of, seed_default_protocol, spec_of
from lims.donors.rules import decide
from tests.conftest import audit_rows
from tests.donors.test_rules import AS_OF, donor, load_default_spec, panel

ACTOR = Actor(None, "test")
DATA = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
CODES = [i["code"] for i in DATA["items"]]


def _seed():
    with transaction(ACTOR) as s:
        proto = seed_default_protocol(s)
        return None if proto is None else proto.id


def _counts():
    with transaction(ACTOR, write=False) as s:
        return (
            s.exec(select(func.count()).select_from(ScreeningProtocol)).one(),
            s.exec(select(func.count()).select_from(ProtocolItem)).one(),
        )


def test_seed_creates_version_1_with_every_item_in_order(app):
    pid = _seed()
    assert pid is not None
    with transaction(ACTOR, write=False) as s:
        proto = s.get(ScreeningProtocol, pid)
        assert (proto.code, proto.protocol_version, proto.status, proto.version) == ("CN-WMT", 1, "active", 1)
        assert proto.title == DATA["title"] and proto.source == DATA["source"]
        assert (proto.age_min, proto.age_max, proto.bmi_validity_days, proto.bmi_defer_days, proto.rescreen_days) == (
            18,
            30,
            90,
            90,
            60,
        )
        assert active_protocol(s).id == pid
        items = items_of(s, proto, kinds=None)
        assert [i.code for i in items] == CODES
        assert [i.position for i in items] == list(range(1, len(CODES) + 1))
        for item, src in zip(items, DATA["items"]):
            assert (
                item.kind,
                item.name,
                item.specimen,
                item.result_type,
                item.unit,
                item.validity_days,
                item.lookback_days,
                item.on_fail,
                item.defer_days,
                item.note,
            ) == (
                src["kind"],
                src["name"],
                src["specimen"],
                src["result_type"],
                src.get("unit", ""),
                src["validity_days"],
                src.get("lookback_days"),
                src["on_fail"],
                src.get("defer_days"),
                src["note"],
            )
    assert _counts() == (1, len(CODES))


def test_seed_is_idempotent(app):
    assert _seed() is not None
    before_audit = len(audit_rows(app))
    assert _seed() is None
    assert _counts() == (1, len(CODES))
    assert len(audit_rows(app)) == before_audit


def test_spec_of_round_trips_the_numbers_exactly(app):
    _seed()
    with transaction(ACTOR, write=False) as s:  # a fresh session: values come from the database
        spec = spec_of(s, active_protocol(s))
    assert spec == load_default_spec()
    assert (spec.code, spec.version) == ("CN-WMT", 1)
    assert type(spec.bmi_min) is Decimal and spec.bmi_min == Decimal("18.5")
    assert type(spec.bmi_max) is Decimal and spec.bmi_max == Decimal("23.9")
    by_code = {i.code: i for i in spec.items}
    for src in (i for i in DATA["items"] if i["kind"] != "donation_day"):  # the engine's panel
        item = by_code[src["code"]]
        for key in ("normal_min", "normal_max"):
            value = getattr(item, key)
            if src.get(key) is None:
                assert value is None, (src["code"], key)
            else:
                assert type(value) is Decimal and value == Decimal(src[key]), (src["code"], key, value)
    assert (by_code["B_WBC"].normal_min, by_code["B_WBC"].normal_max) == (Decimal("3.5"), Decimal("9.5"))
    assert by_code["B_K"].normal_max == Decimal("5.3") and by_code["B_CRP"].normal_min == Decimal("0")
    assert by_code["A_SDS"].normal_min is None and by_code["A_SDS"].normal_max == Decimal("49")


def test_stored_protocol_decides_like_the_json(app):
    _seed()
    with transaction(ACTOR, write=False) as s:
        stored = spec_of(s, active_protocol(s))
    from_json = load_default_spec()
    for values in ({}, {"S_ESBL": "positive"}, {"B_K": "5.3"}, {"B_K": "5.31"}, {"Q_GI_HISTORY": "yes"}):
        results = panel(AS_OF, from_json, **values)
        assert decide(stored, donor(), results, AS_OF) == decide(from_json, donor(), results, AS_OF)


def test_seeding_is_audited(app):
    pid = _seed()
    rows = audit_rows(app, entity="protocol_item")
    assert rows and {r.action for r in rows} == {"create"}
    assert {r.user_name for r in rows} == {"test"} and {r.record_version for r in rows} == {1}
    assert len({r.record_id for r in rows}) == len(CODES)
    codes = [r.new_value for r in rows if r.field == "code"]
    assert codes == CODES
    with transaction(ACTOR, write=False) as s:
        wbc = s.exec(select(ProtocolItem).where(ProtocolItem.code == "B_WBC")).one()
    fields = {r.field: r.new_value for r in rows if r.record_id == wbc.audit_record_id}
    assert fields["normal_min"] == "3.5" and fields["normal_max"] == "9.5" and fields["on_fail"] == "defer"
    assert fields["protocol_id"] == str(pid) and fields["position"] == str(CODES.index("B_WBC") + 1)
    proto_rows = audit_rows(app, entity="screening_protocol")
    proto_fields = {r.field: r.new_value for r in proto_rows}
    assert {r.record_id for r in proto_rows} == {"CN-WMT v1"}
    assert proto_fields["bmi_min"] == "18.5" and proto_fields["bmi_max"] == "23.9"
    assert proto_fields["rescreen_days"] == "60"
