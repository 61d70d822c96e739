"""An audit row as the screens and reports show it: the stored (entity, field, old, new) turned into words.

The trail stores what the database held: UTC instants, foreign keys, field names and status codes. The
audit page, every record's change history and the batch report's audit excerpt read them through this one
module, so a time reads in the lab's zone as everywhere else, ``box_id 4`` reads as the box's code, a field
and a status read in the user's language. The stored row itself never changes (it is hashed into the chain).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlmodel import select

from ..timefmt import format_dt
from .labels import action_label, entity_label
from .trail import MASK

_UTC_VALUE = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC$")

# A foreign key field and the table it points to; ``item_id`` depends on the record it sits on.
USER_FIELDS = (
    "user_id",
    "created_by_id",
    "updated_by_id",
    "operator_id",
    "received_by_id",
    "issued_by_id",
    "given_by_id",
    "thawed_by_id",
    "requested_by_id",
    "printed_by_id",
    "verified_by_id",
)
FK_TABLES = {
    **dict.fromkeys(USER_FIELDS, "app_user"),
    "box_id": "storage_location",
    "parent_id": "storage_location",
    "batch_id": "batch",
    "donor_id": "donor",
    "donation_id": "donation",
    "unit_id": "dose_unit",
    "recipient_id": "recipient",
    "device_id": "equipment",
    "equipment_id": "equipment",
    "spec_id": "manufacturing_spec",
    "case_id": "lookback_case",
    "action_id": "lookback_action",
    "released_by_action_id": "lookback_action",
    "administration_id": "administration",
    "course_id": "course",
    "template_id": "course_template",
    "protocol_id": "screening_protocol",
    "screening_id": "screening",
    "result_id": "screening_result",
    "qc_result_id": "qc_result",
}
ITEM_TABLES = {"qc_result": "qc_spec_item", "screening_result": "protocol_item"}
# A lookback hold's ref_id points to what its kind says.
HOLD_TABLES = {"batch": "batch", "donation": "donation", "unit": "dose_unit"}

FIELD_LABELS = {
    "abdominal_pain": _l("abdominal pain"),
    "acted_at": _l("acted at"),
    "action_id": _l("lookback action"),
    "action_taken": _l("action taken"),
    "active": _l("active"),
    "admin_code": _l("dose"),
    "administration_id": _l("dose"),
    "age_max": _l("maximum age"),
    "age_min": _l("minimum age"),
    "answers": _l("answers"),
    "appearance": _l("appearance"),
    "as_of": _l("as of"),
    "attribution_cotherapy": _l("related to co-therapy"),
    "attribution_fmt": _l("related to FMT"),
    "aware_at": _l("became aware at"),
    "batch_id": _l("batch"),
    "bmi_defer_days": _l("BMI deferral (days)"),
    "bmi_max": _l("maximum BMI"),
    "bmi_min": _l("minimum BMI"),
    "bmi_validity_days": _l("BMI validity (days)"),
    "body": _l("text"),
    "box_code": _l("box"),
    "box_id": _l("box"),
    "bristol": _l("Bristol stool form"),
    "calibration_due": _l("calibration due"),
    "case_code": _l("lookback case"),
    "case_id": _l("lookback case"),
    "check_date": _l("check date"),
    "closed_at": _l("closed at"),
    "code": _l("code"),
    "collected_at": _l("collected at"),
    "collection_day": _l("collection day"),
    "cols": _l("columns"),
    "comment": _l("comment"),
    "conclusion": _l("conclusion"),
    "consent_date": _l("consent date"),
    "course_id": _l("FMT course"),
    "criterion": _l("criterion"),
    "ctcae_version": _l("CTCAE version"),
    "cycle": _l("cycle"),
    "date_of_birth": _l("date of birth"),
    "day": _l("day"),
    "day1": _l("day 1"),
    "decision": _l("decision"),
    "defer_days": _l("deferral (days)"),
    "deferred_until": _l("deferred until"),
    "description": _l("description"),
    "device_id": _l("purification device"),
    "diagnosis": _l("diagnosis"),
    "diarrhoea": _l("diarrhoea"),
    "disposed_on": _l("disposed of on"),
    "donation_code": _l("donation"),
    "donation_id": _l("donation"),
    "donor_id": _l("donor"),
    "dose": _l("dose"),
    "dose_volume_ml": _l("dose volume (mL)"),
    "drug": _l("drug"),
    "ecog": _l("ECOG"),
    "ended_at": _l("ended at"),
    "enrichment_limit_minutes": _l("enrichment limit (min)"),
    "enrichment_minutes": _l("enrichment time (min)"),
    "equipment_id": _l("equipment"),
    "ethics_due_at": _l("ethics report due"),
    "ethics_reported_at": _l("reported to ethics at"),
    "expected": _l("expected"),
    "expires_at": _l("expires at"),
    "expiry_date": _l("expiry date"),
    "expiry_warning_days": _l("expiry warning (days)"),
    "failed_attempts": _l("failed attempts"),
    "fasting": _l("fasting"),
    "filtration_stages_min": _l("minimum filtration stages"),
    "finding_date": _l("finding date"),
    "fresh_release_basis": _l("release basis (fresh)"),
    "fresh_use_hours": _l("fresh use (hours)"),
    "from_date": _l("from"),
    "frozen_expiry_months": _l("frozen expiry (months)"),
    "frozen_release_basis": _l("release basis (frozen)"),
    "full_name": _l("full name"),
    "given_at": _l("given at"),
    "given_by_id": _l("given by"),
    "given_on": _l("given on"),
    "grade": _l("grade"),
    "height_cm": _l("height (cm)"),
    "held_at": _l("held at"),
    "hospital_number": _l("hospital number"),
    "identity_checked": _l("identity checked"),
    "in_spec": _l("within specification"),
    "informed_at": _l("informed at"),
    "informed_person": _l("person informed"),
    "instructions_given": _l("instructions given"),
    "investigation": _l("investigation"),
    "issued_at": _l("issued at"),
    "issued_by_id": _l("issued by"),
    "item_code": _l("test code"),
    "item_id": _l("test"),
    "items_revision": _l("items revision"),
    "kind": _l("kind"),
    "laboratory": _l("laboratory"),
    "language": _l("language"),
    "last_audit_id": _l("audit trail reviewed to"),
    "last_negative": _l("last negative"),
    "location": _l("location"),
    "locked_at": _l("locked at"),
    "lookback_days": _l("lookback (days)"),
    "lot": _l("lot"),
    "mass_g": _l("mass (g)"),
    "max_value": _l("maximum"),
    "measured_on": _l("measured on"),
    "metastasis_sites": _l("metastasis sites"),
    "method": _l("method"),
    "min_mass_g": _l("minimum mass (g)"),
    "min_value": _l("minimum"),
    "minutes_after": _l("minutes after"),
    "must_change_password": _l("must change password"),
    "name": _l("name"),
    "name_zh": _l("Chinese name"),
    "national_id": _l("national ID"),
    "nausea_vomiting": _l("nausea or vomiting"),
    "normal_max": _l("normal maximum"),
    "normal_min": _l("normal minimum"),
    "note": _l("note"),
    "notes": _l("notes"),
    "observed_at": _l("observed at"),
    "on_fail": _l("on failure"),
    "onset_date": _l("onset date"),
    "opened_at": _l("opened at"),
    "operator_id": _l("operator"),
    "outcome": _l("outcome"),
    "params": _l("parameters"),
    "parent_id": _l("parent location"),
    "passed": _l("passed"),
    "password_changed_at": _l("password changed at"),
    "password_hash": _l("password"),
    "phone": _l("phone"),
    "placements": _l("placements"),
    "planned_date": _l("planned date"),
    "position": _l("position"),
    "prior_lines": _l("prior lines of therapy"),
    "prior_status": _l("prior status"),
    "processing_limit_minutes": _l("processing limit (min)"),
    "production_day": _l("production day"),
    "protocol_id": _l("screening protocol"),
    "protocol_label": _l("screening protocol"),
    "protocol_version": _l("protocol version"),
    "qc_result_id": _l("QC result"),
    "reached": _l("reached"),
    "reason": _l("reason"),
    "reason_code": _l("reason"),
    "reasons": _l("reasons"),
    "receipt_temp_c": _l("temperature on receipt (°C)"),
    "received_at": _l("received at"),
    "received_by_id": _l("received by"),
    "recipient_code": _l("recipient"),
    "recipient_id": _l("recipient"),
    "ref_code": _l("product"),
    "ref_id": _l("product"),
    "regulatory_due_at": _l("regulatory report due"),
    "regulatory_reported_at": _l("reported to the regulator at"),
    "rejection_reason": _l("rejection reason"),
    "released_by_action_id": _l("released by lookback action"),
    "rescreen_days": _l("re-screening interval (days)"),
    "resolved_date": _l("resolved on"),
    "result": _l("result"),
    "result_id": _l("screening result"),
    "result_type": _l("result type"),
    "retained_keep_months": _l("retained sample kept (months)"),
    "retained_location": _l("retained sample location"),
    "retained_ml": _l("retained sample (mL)"),
    "retained_sample_ml": _l("retained sample (mL)"),
    "retained_until": _l("retained sample kept until"),
    "roles": _l("roles"),
    "route": _l("route"),
    "rows": _l("rows"),
    "rows_reviewed": _l("rows reviewed"),
    "run_number": _l("run number"),
    "same_donor": _l("same donor"),
    "sample_date": _l("sample date"),
    "scheduled_date": _l("scheduled date"),
    "scope_basis": _l("scope basis"),
    "scope_start": _l("scope start"),
    "screening_id": _l("screening"),
    "seq": _l("sequence"),
    "serial_number": _l("serial number"),
    "seriousness": _l("seriousness"),
    "sex": _l("sex"),
    "soc": _l("system organ class"),
    "source": _l("source"),
    "spec_id": _l("manufacturing specification"),
    "spec_version": _l("specification version"),
    "specimen": _l("specimen"),
    "stage": _l("stage"),
    "started_at": _l("started at"),
    "started_on": _l("started on"),
    "status": _l("status"),
    "status_reason": _l("status reason"),
    "status_until": _l("status until"),
    "storage": _l("storage"),
    "study": _l("study"),
    "summary": _l("summary"),
    "temperature_c": _l("temperature (°C)"),
    "template_id": _l("course template"),
    "template_version": _l("template version"),
    "term": _l("CTCAE term"),
    "term_code": _l("CTCAE code"),
    "test": _l("test"),
    "tested_on": _l("tested on"),
    "text": _l("text"),
    "thaw_use_hours": _l("use after thaw (hours)"),
    "thawed_at": _l("thawed at"),
    "thawed_by_id": _l("thawed by"),
    "title": _l("title"),
    "tnm": _l("TNM"),
    "to_date": _l("to"),
    "trigger": _l("trigger"),
    "trigger_text": _l("trigger"),
    "tube_confirmed_on": _l("tube position confirmed on"),
    "tube_method": _l("tube confirmation method"),
    "unit": _l("unit"),
    "unit_count": _l("unit count"),
    "unit_id": _l("dose unit"),
    "until": _l("until"),
    "username": _l("username"),
    "user_id": _l("user"),
    "validity_days": _l("validity (days)"),
    "value": _l("value"),
    "volume_ml": _l("volume (mL)"),
    "washes_required": _l("washes required"),
    "weight_kg": _l("weight (kg)"),
    "window_days": _l("window (days)"),
    "mesh_um": _l("mesh (µm)"),
    "g_force": _l("g-force"),
    "minutes": _l("minutes"),
    "diluent": _l("diluent"),
    "cryoprotectant": _l("cryoprotectant"),
    "cryoprotectant_pct": _l("cryoprotectant concentration"),
    "dose_count": _l("number of units"),
    "unit_volume_ml": _l("volume per unit (mL)"),
    "meaning": _l("meaning"),
    "label": _l("label"),
    "created_by_id": _l("created by"),
    "updated_by_id": _l("changed by"),
    "requested_by_id": _l("requested by"),
    "layout": _l("label stock"),
    "format": _l("format"),
    "state": _l("state printed"),
    "use_by": _l("use by"),
    "printed_at": _l("printed at"),
    "printed_by_id": _l("printed by"),
    "verified_at": _l("label verified at"),
    "verified_by_id": _l("label verified by"),
    "payload": _l("code payload"),
}
BOOL_LABELS = {"true": _l("yes"), "false": _l("no")}
SCOPE_KIND_LABELS = {"donation": _l("donation"), "batch": _l("batch"), "unit": _l("dose unit")}
LOOKBACK_ACTION_LABELS = {"hold": _l("hold"), "widen": _l("scope widened"), "close": _l("closed")}
FORMAT_LABELS = {"pdf": "PDF", "zpl": "ZPL", "zpl_send": _l("ZPL sent to the printer")}
# Versioned configuration (course template, screening protocol, manufacturing spec): one version is in force.
VERSION_STATUS_LABELS = {"draft": _l("draft"), "active": _l("in force"), "retired": _l("retired")}
SCREENING_STATUS_LABELS = {"open": _l("open"), "decided": _l("decided"), "cancelled": _l("cancelled")}
# What the LIMS itself writes as the reason of a document download (lims/reports/views.py, lims/web.py).
DOCUMENT_REASONS = {
    "batch report": _l("batch report"),
    "recipient course report": _l("recipient course report"),
    "lookback report": _l("lookback report"),
    "lookback case export": _l("lookback case export"),
    "donor screening report": _l("donor screening report"),
    "lookback CSV": _l("lookback CSV"),
}
_BULK_REASON = re.compile(r"^batch report, bulk export #(\d+)$")
_PRINT_VALUE = re.compile(
    r"^(print|reprint) (\w+) (pdf|zpl_send|zpl)( \(retained sample\))?(?: to (\S+))?, "
    r"(\d+) of (\d+)$"
)


def field_label(field: str | None) -> str:
    """The field in the reader's language; a field without a label reads as words, never as a column name."""
    if not field:
        return ""
    if field in FIELD_LABELS:
        return str(FIELD_LABELS[field])
    name = field[:-3] if field.endswith("_id") else field
    return name.replace("_", " ")


def _status_labels(entity: str) -> dict:
    from ..clinical.explain import ADMIN_STATUS_LABELS, COURSE_STATUS_LABELS
    from ..donors.forms import STATUS_LABELS as DONOR_STATUS_LABELS
    from ..equipment.forms import STATUS_LABELS as EQUIPMENT_STATUS_LABELS
    from ..manufacturing.explain import BATCH_STATUS_LABELS, DONATION_STATUS_LABELS, UNIT_STATUS_LABELS

    return {
        "batch": BATCH_STATUS_LABELS,
        "dose_unit": UNIT_STATUS_LABELS,
        "donation": DONATION_STATUS_LABELS,
        "course": COURSE_STATUS_LABELS,
        "administration": ADMIN_STATUS_LABELS,
        "donor": DONOR_STATUS_LABELS,
        "equipment": EQUIPMENT_STATUS_LABELS,
        "deviation": {"open": _l("open"), "closed": _l("closed")},
        "lookback_hold": BATCH_STATUS_LABELS,
        "screening": SCREENING_STATUS_LABELS,
        "lookback_case": {"open": _l("open"), "closed": _l("closed")},
        **dict.fromkeys(("course_template", "screening_protocol", "manufacturing_spec"), VERSION_STATUS_LABELS),
    }.get(entity, {})


def _stock_names() -> dict:
    """Label stock codes by the name the reader's language gives them (labels/*.json)."""
    from flask_babel import get_locale

    from ..labels.layouts import LayoutError, all_layouts

    try:
        layouts = all_layouts()
    except LayoutError:
        return {}  # a malformed stock file is reported where labels are printed; the trail shows the code
    return {code: layout.display_name(str(get_locale() or "")) for code, layout in layouts.items()}


def print_text(value: str, stocks: dict | None = None) -> str:
    """A label print's stored summary ("reprint tube_50x30 zpl, 1 of 6") in the reader's words."""
    m = _PRINT_VALUE.match(value)
    if not m:
        return value
    stocks = _stock_names() if stocks is None else stocks
    word, stock, fmt, retained, printer, n, total = m.groups()
    text = _(
        "%(what)s on %(stock)s, %(format)s, %(n)s of %(total)s",
        what=_("reprint") if word == "reprint" else _("print"),
        stock=stocks.get(stock, stock),
        format="PDF" if fmt == "pdf" else "ZPL",
        n=n,
        total=total,
    )
    if retained:
        text += " · " + _("retained sample")
    if printer:
        text += " · " + _("sent to %(printer)s", printer=printer)
    return text


def _code_labels(entity: str, field: str) -> dict:
    """Stored codes with a label elsewhere in the LIMS (statuses, storage, step kinds)."""
    from ..manufacturing.explain import STEP_LABELS, STORAGE_LABELS

    if field in ("status", "prior_status"):
        return _status_labels(entity)
    if field == "decision" and entity == "batch_disposition":
        from ..manufacturing.explain import BATCH_STATUS_LABELS

        return BATCH_STATUS_LABELS
    if field == "meaning":
        from .signatures import MEANINGS

        return MEANINGS
    if field == "storage":
        return STORAGE_LABELS
    if field == "kind" and entity == "batch_step":
        return STEP_LABELS
    if field == "sex":
        from ..donors.forms import SEX_CHOICES

        return dict(SEX_CHOICES)
    if entity == "adverse_event" and field in (
        "attribution_fmt",
        "attribution_cotherapy",
        "action_taken",
        "outcome",
        "seriousness",
    ):
        from ..clinical.explain import ACTION_LABELS, ATTRIBUTION_LABELS, OUTCOME_LABELS, SERIOUSNESS_LABELS

        return {"action_taken": ACTION_LABELS, "outcome": OUTCOME_LABELS, "seriousness": SERIOUSNESS_LABELS}.get(
            field, ATTRIBUTION_LABELS
        )
    if entity == "label_print":
        from ..manufacturing.explain import UNIT_STATUS_LABELS

        return {"state": UNIT_STATUS_LABELS, "format": FORMAT_LABELS}.get(field, {})
    if field == "kind":
        from ..donors.explain import ITEM_KIND_LABELS
        from ..equipment.forms import KIND_LABELS as EQUIPMENT_KINDS
        from ..manufacturing.explain import LOCATION_KINDS

        return {
            "lookback_action": LOOKBACK_ACTION_LABELS,
            "lookback_hold": SCOPE_KIND_LABELS,
            "lookback_scope": SCOPE_KIND_LABELS,
            "equipment": EQUIPMENT_KINDS,
            "storage_location": LOCATION_KINDS,
            "protocol_item": ITEM_KIND_LABELS,
        }.get(entity, {})
    if field == "value" and entity == "qc_result":
        from ..manufacturing.explain import QC_VALUE_LABELS

        return QC_VALUE_LABELS
    return {}


def _model_for(table: str):
    from sqlmodel import SQLModel

    for mapper in SQLModel._sa_registry.mappers:
        if getattr(mapper.class_, "__tablename__", None) == table:
            return mapper.class_
    return None


def _name_of(table: str, obj) -> str:
    """What a screen calls the record: a person's name, a code, a lot; else the ID the audit trail gives it."""
    if table == "app_user":
        return obj.full_name
    if table == "manufacturing_spec":
        return f"{obj.code} v{obj.spec_version}"
    if table == "qc_spec_item":
        from ..manufacturing.spec import qc_name

        return qc_name(obj)
    if table == "protocol_item":
        from ..donors.protocols import display_name

        return display_name(obj)
    if table == "screening":
        return _("screening #%(n)s", n=obj.id)
    for attr in ("lot", "code"):
        if getattr(obj, attr, None):
            return str(getattr(obj, attr))
    return str(obj.audit_record_id)


def _int(value) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() else None


@dataclass(frozen=True)
class DisplayRow:
    """One audit row in words; ``entry`` is the stored row (its sequence, time and hash stay as stored)."""

    entry: object
    when: str
    user: str
    action: str
    record: str
    field: str
    old: str
    new: str
    reason: str = ""

    @property
    def change(self) -> str:
        """Old -> new on one line of text; a created value alone, a deleted one with an arrow to nothing."""
        if self.old and self.new:
            return f"{self.old} → {self.new}"
        if self.old:
            return f"{self.old} → –"
        return self.new


class _Resolver:
    """Collects every foreign key of a page of rows first, then reads each table once."""

    def __init__(self, session):
        self.session = session
        self.wanted: dict[str, set[int]] = {}
        self.names: dict[tuple[str, int], str] = {}
        self._stocks: dict | None = None

    def stock_names(self) -> dict:
        """The label stocks' names, read from their files once per page of rows."""
        if self._stocks is None:
            self._stocks = _stock_names()
        return self._stocks

    def want(self, table: str | None, value) -> None:
        if table and _int(value) is not None:
            self.wanted.setdefault(table, set()).add(_int(value))

    def load(self) -> None:
        for table, ids in self.wanted.items():
            model = _model_for(table)
            if model is None:
                continue
            for obj in self.session.exec(select(model).where(model.id.in_(sorted(ids)))).all():
                self.names[(table, obj.id)] = _name_of(table, obj)

    def name(self, table: str | None, value) -> str | None:
        return self.names.get((table, _int(value))) if table else None


def _fk_table(entity: str, field: str | None, kinds: dict) -> str | None:
    if not field:
        return None
    if field == "item_id":
        return ITEM_TABLES.get(entity)
    if field == "ref_id" and entity == "lookback_hold":
        return HOLD_TABLES.get(kinds.get(entity))
    return FK_TABLES.get(field)


def _record_table(entity: str) -> str | None:
    """Records whose trail ID is their database ID (users, equipment): shown by name or code instead."""
    return entity if entity in ("app_user", "equipment") else None


def _structured(value: str) -> str | None:
    """A JSON value (a step's parameters) as "label: value" pairs; None when it is not JSON after all."""
    import json

    try:
        data = json.loads(value)
    except ValueError:
        return None
    if isinstance(data, dict):
        return "; ".join(f"{field_label(k)}: {_plain(v)}" for k, v in data.items())
    if isinstance(data, list):
        return ", ".join(_plain(v) for v in data)
    return None


def _plain(v) -> str:
    if isinstance(v, list):
        return ", ".join(_plain(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{field_label(k)}: {_plain(x)}" for k, x in v.items())
    return str(v)


def value_text(entity: str, field: str | None, value: str | None, table: str | None, resolver: _Resolver) -> str:
    if value is None:
        return ""
    if value == MASK:
        return value
    if table and _int(value) is not None:
        return resolver.name(table, value) or _("record %(id)s no longer found", id=value)
    if field == "last_audit_id" and value.isdigit():
        return f"#{value}"  # an audit row's sequence, as the document versions print it
    if value[:1] in "{[":
        structured = _structured(value)
        if structured is not None:
            return structured
    m = _UTC_VALUE.match(value)
    if m:
        instant = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        return format_dt(instant, seconds=instant.second != 0)
    if field is None and value in DOCUMENT_REASONS:  # a download's document version ("lookback CSV")
        return str(DOCUMENT_REASONS[value])
    if field == "label" and _PRINT_VALUE.match(value):
        return print_text(value, resolver.stock_names() if resolver else None)
    if entity == "label_print" and field == "layout":
        return (resolver.stock_names() if resolver else _stock_names()).get(value, value)
    labels = _code_labels(entity, field or "")
    if value in labels:
        return str(labels[value])
    if value in BOOL_LABELS:
        return str(BOOL_LABELS[value])
    return value


def reason_text(reason: str | None) -> str:
    """A reason as typed, or the reader's words for the ones the LIMS writes itself (document downloads)."""
    if not reason:
        return ""
    if reason in DOCUMENT_REASONS:
        return str(DOCUMENT_REASONS[reason])
    bulk = _BULK_REASON.match(reason)
    return _("batch report, bulk export #%(job)s", job=bulk.group(1)) if bulk else reason


def display_rows(session, rows) -> list[DisplayRow]:
    """The rows of one page in words, with one query per referenced table (not one per row)."""
    rows = list(rows)
    resolver = _Resolver(session)
    hold_kinds = {
        (r.entity, r.record_id): r.new_value for r in rows if r.entity == "lookback_hold" and r.field == "kind"
    }
    for r in rows:
        kinds = {"lookback_hold": hold_kinds.get((r.entity, r.record_id))}
        table = _fk_table(r.entity, r.field, kinds)
        resolver.want(table, r.old_value)
        resolver.want(table, r.new_value)
        resolver.want(_record_table(r.entity), r.record_id)
    resolver.load()
    out = []
    for r in rows:
        kinds = {"lookback_hold": hold_kinds.get((r.entity, r.record_id))}
        table = _fk_table(r.entity, r.field, kinds)
        record_id = r.record_id or ""
        shown_id = resolver.name(_record_table(r.entity), record_id) or record_id
        out.append(
            DisplayRow(
                entry=r,
                when=format_dt(r.ts, seconds=True),
                user=r.user_name,
                action=action_label(r.action),
                record=f"{entity_label(r.entity)} {shown_id}".strip(),
                field=field_label(r.field),
                old=value_text(r.entity, r.field, r.old_value, table, resolver),
                new=value_text(r.entity, r.field, r.new_value, table, resolver),
                reason=reason_text(r.reason),
            )
        )
    return out
