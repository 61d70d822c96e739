"""New protocol versions: copy, edit as a draft, activate by signature (four-eyes).

A protocol version in use is never edited: QA copies it into a draft with the
next version number, changes the draft, and a second QA officer approves it;
approval makes it the active version and retires the previous one. Screenings
keep pointing to the version they started under.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlmodel import func, select

from ..audit.concurrency import check_version
from ..audit.signatures import sign
from ..audit.trail import change_reason
from ..errors import NotFound, RuleViolation
from .models import ProtocolItem, ScreeningProtocol
from .protocols import items_of

PROTOCOL_FIELDS = (
    "title",
    "age_min",
    "age_max",
    "bmi_min",
    "bmi_max",
    "bmi_validity_days",
    "bmi_defer_days",
    "rescreen_days",
)
ITEM_FIELDS = ("validity_days", "on_fail", "defer_days", "normal_min", "normal_max")


def get(session, protocol_id: int) -> ScreeningProtocol:
    p = session.get(ScreeningProtocol, protocol_id)
    if p is None:
        raise NotFound(_("No such screening protocol."))
    return p


def all_versions(session) -> list[ScreeningProtocol]:
    return list(
        session.exec(
            select(ScreeningProtocol).order_by(ScreeningProtocol.code, ScreeningProtocol.protocol_version.desc())
        ).all()
    )


def new_version(session, source: ScreeningProtocol) -> ScreeningProtocol:
    draft = session.exec(
        select(ScreeningProtocol).where(ScreeningProtocol.code == source.code, ScreeningProtocol.status == "draft")
    ).first()
    if draft is not None:
        raise RuleViolation(
            _(
                "Version %(v)s of %(code)s is already a draft; finish or change that one.",
                v=draft.protocol_version,
                code=draft.code,
            )
        )
    latest = session.exec(
        select(func.max(ScreeningProtocol.protocol_version)).where(ScreeningProtocol.code == source.code)
    ).one()
    copy = ScreeningProtocol(
        code=source.code,
        protocol_version=latest + 1,
        status="draft",
        source=source.source,
        **{k: getattr(source, k) for k in PROTOCOL_FIELDS},
    )
    session.add(copy)
    session.flush()
    for item in items_of(session, source, kinds=None):
        session.add(
            ProtocolItem(
                protocol_id=copy.id,
                **{
                    k: getattr(item, k)
                    for k in (
                        "position",
                        "code",
                        "kind",
                        "name",
                        "name_zh",
                        "specimen",
                        "result_type",
                        "unit",
                        "normal_min",
                        "normal_max",
                        "validity_days",
                        "lookback_days",
                        "on_fail",
                        "defer_days",
                        "note",
                    )
                },
            )
        )
    session.flush()
    return copy


def _int(value, label, low=0, high=3650):
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        raise RuleViolation(_("%(label)s must be a whole number.", label=label)) from None
    if not low <= n <= high:
        raise RuleViolation(_("%(label)s must be between %(low)s and %(high)s.", label=label, low=low, high=high))
    return n


def _dec(value, label):
    text = str(value if value is not None else "").strip()
    if text == "":
        return None
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise RuleViolation(_("%(label)s must be a number.", label=label)) from None
    if not d.is_finite():
        raise RuleViolation(_("%(label)s must be a number.", label=label))
    return d


def check_protocol_fields(data: dict) -> dict:
    out = {"title": (data.get("title") or "").strip()}
    if not out["title"]:
        raise RuleViolation(_("The title is required."))
    out["age_min"] = _int(data.get("age_min"), _("Minimum age"), 16, 80)
    out["age_max"] = _int(data.get("age_max"), _("Maximum age"), 16, 80)
    if out["age_min"] > out["age_max"]:
        raise RuleViolation(_("The minimum age is above the maximum age."))
    out["bmi_min"] = _dec(data.get("bmi_min"), _("Minimum BMI"))
    out["bmi_max"] = _dec(data.get("bmi_max"), _("Maximum BMI"))
    if out["bmi_min"] is None or out["bmi_max"] is None or not (10 <= out["bmi_min"] < out["bmi_max"] <= 50):
        raise RuleViolation(_("The BMI range must lie within 10-50 with the minimum below the maximum."))
    for key, label in (
        ("bmi_validity_days", _("BMI validity (days)")),
        ("bmi_defer_days", _("BMI deferral (days)")),
        ("rescreen_days", _("Re-screening interval (days)")),
    ):
        out[key] = _int(data.get(key), label, 1)
    return out


def check_item_fields(item: ProtocolItem, data: dict) -> dict:
    name = item.name
    out = {"validity_days": _int(data.get("validity_days"), _("%(item)s: validity (days)", item=name), 1)}
    on_fail = data.get("on_fail")
    if on_fail not in ("defer", "exclude"):
        raise RuleViolation(_("%(item)s: choose defer or exclude.", item=name))
    out["on_fail"] = on_fail
    defer = str(data.get("defer_days") or "").strip()
    if on_fail == "defer":
        out["defer_days"] = _int(defer, _("%(item)s: deferral (days)", item=name), 1)
    else:
        out["defer_days"] = None
    if item.result_type == "numeric":
        out["normal_min"] = _dec(data.get("normal_min"), _("%(item)s: lower limit", item=name))
        out["normal_max"] = _dec(data.get("normal_max"), _("%(item)s: upper limit", item=name))
        if out["normal_min"] is None and out["normal_max"] is None:
            raise RuleViolation(_("%(item)s: give at least one limit of the normal range.", item=name))
        if out["normal_min"] is not None and out["normal_max"] is not None and out["normal_min"] > out["normal_max"]:
            raise RuleViolation(_("%(item)s: the lower limit is above the upper limit.", item=name))
    else:
        out["normal_min"] = item.normal_min
        out["normal_max"] = item.normal_max
    return out


def edit_draft(session, protocol: ScreeningProtocol, expected_version, data: dict, item_data: dict, reason: str) -> int:
    """Apply the edited numbers to a draft; returns how many fields changed. All or nothing."""
    if protocol.status != "draft":
        raise RuleViolation(_("Only a draft version can be changed; create a new version first."))
    check_version(session, protocol, expected_version)
    fields = check_protocol_fields(data)
    items = items_of(session, protocol, kinds=None)
    checked = {i.code: check_item_fields(i, item_data.get(i.code, {})) for i in items}
    changed = 0
    with change_reason(session, reason):
        for k, v in fields.items():
            if not _same(getattr(protocol, k), v):
                setattr(protocol, k, v)
                changed += 1
        item_changes = 0
        for item in items:
            for k, v in checked[item.code].items():
                if not _same(getattr(item, k), v):
                    setattr(item, k, v)
                    item_changes += 1
        if item_changes:
            # The protocol's version (and so its signature) must move when any of its rules moves.
            protocol.items_revision += 1
        changed += item_changes
    if not changed:
        raise RuleViolation(_("Nothing was changed."))
    return changed


def _same(current, new) -> bool:
    if isinstance(new, Decimal) or isinstance(current, Decimal):
        return current is not None and new is not None and Decimal(current) == Decimal(new)
    return current == new


def activate(
    session, protocol: ScreeningProtocol, expected_version, user, password: str, comment: str | None, client=None
):
    if protocol.status != "draft":
        raise RuleViolation(_("Only a draft version can be approved."))
    check_version(session, protocol, expected_version)
    editors = {protocol.created_by_id, protocol.updated_by_id}
    editors |= {i.updated_by_id for i in items_of(session, protocol, kinds=None)}
    current = session.exec(
        select(ScreeningProtocol).where(ScreeningProtocol.code == protocol.code, ScreeningProtocol.status == "active")
    ).all()
    with change_reason(session, f"version {protocol.protocol_version} approved"):
        for old in current:
            old.status = "retired"
        protocol.status = "active"
    return sign(session, protocol, "approved", user, password, comment=comment, performers=tuple(editors))
