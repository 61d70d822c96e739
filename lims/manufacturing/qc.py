"""QC results judged against the batch's spec version, their verification, and deviations."""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from sqlmodel import select

from ..audit.concurrency import check_version
from ..audit.signatures import sign, sign_pending, valid_signatures
from ..audit.trail import change_reason
from ..core.counters import next_number
from ..errors import NotFound, RuleViolation
from .locks import lock_batch
from .models import Batch, Deviation, QcResult, QcSpecItem
from .rules import judge_qc
from .spec import qc_items, qc_name, qc_spec

QC_STATES = ("awaiting_qc", "quarantine")


def results_of(session, batch: Batch) -> list[QcResult]:
    return list(session.exec(select(QcResult).where(QcResult.batch_id == batch.id).order_by(QcResult.id)).all())


def allowed_text(item: QcSpecItem) -> str:
    if item.result_type == "negative":
        return _("negative / positive")
    if item.result_type == "conforms":
        return _("conforms / does not conform")
    return (
        _("a number in %(unit)s, e.g. 1.2e13 or 1.2x10^13", unit=item.unit)
        if item.code == "COUNT" or (item.max_value is not None and item.max_value > 10**6)
        else _("a number in %(unit)s", unit=item.unit)
    )


def record(
    session,
    batch: Batch,
    entries: dict[str, str],
    tested_on,
    method: str,
    reason: str | None,
    today: date,
    versions: dict[str, str] | None = None,
) -> int:
    """Store typed QC results (item code -> text); all or nothing. Out of specification opens a deviation.

    ``versions`` (item code -> the result's version the form showed) makes a correction of a result that
    changed since the form was opened a refusal, never an overwrite; the screens always pass it."""
    lock_batch(session, batch.id)
    if batch.status not in QC_STATES:
        raise RuleViolation(
            _(
                "QC results are entered after the fill and before release; batch %(lot)s is not at that stage.",
                lot=batch.lot,
            )
        )
    if not isinstance(tested_on, date):
        raise RuleViolation(_("Enter the test date."))
    if tested_on > today:
        raise RuleViolation(_("The test date %(d)s is in the future.", d=tested_on))
    if tested_on < batch.production_day:
        raise RuleViolation(_("The test date is before the production day %(d)s.", d=batch.production_day))
    entries = {k: v.strip() for k, v in entries.items() if (v or "").strip()}
    if not entries:
        raise RuleViolation(_("Enter at least one result."))
    items = {i.code: i for i in qc_items(session, batch.spec_id)}
    judged, problems = {}, []
    for code, text in entries.items():
        item = items.get(code)
        if item is None:
            problems.append(_("%(code)s is not a test of this specification.", code=code))
            continue
        j = judge_qc(qc_spec(item), text)
        if j is None:
            problems.append(
                _(
                    '%(item)s: "%(value)s" is not a valid result (%(allowed)s).',
                    item=qc_name(item),
                    value=text,
                    allowed=allowed_text(item),
                )
            )
        judged[code] = j
    if problems:
        raise RuleViolation(" ".join(problems))
    existing = {r.item_code: r for r in results_of(session, batch)}
    corrections = [c for c in entries if c in existing]
    if corrections and not (reason or "").strip():
        raise RuleViolation(
            _(
                "%(items)s already have a result: give a reason for the correction.",
                items=", ".join(qc_name(items[c]) for c in corrections),
            )
        )
    if versions is not None:
        for code in corrections:
            check_version(
                session, existing[code], versions.get(code), {"value": entries[code]}, {"value": qc_name(items[code])}
            )
    with change_reason(session, reason):
        for code, j in judged.items():
            row = existing.get(code)
            if row is None:
                row = QcResult(
                    batch_id=batch.id,
                    lot=batch.lot,
                    item_id=items[code].id,
                    item_code=code,
                    value=j.value,
                    in_spec=j.in_spec,
                    tested_on=tested_on,
                    method=(method or "").strip(),
                )
                session.add(row)
            else:
                row.value, row.in_spec, row.tested_on, row.method = (
                    j.value,
                    j.in_spec,
                    tested_on,
                    (method or "").strip(),
                )
            session.flush()
            if not j.in_spec:
                _qc_deviation(session, batch, items[code], row)
    if batch.status == "awaiting_qc" and set(items) <= set(existing) | set(judged):
        from .batches import set_status

        set_status(session, batch, "quarantine", "every QC result entered; waiting for donor clearance and release")
    return len(judged)


def _qc_deviation(session, batch, item, row) -> None:
    open_for_result = session.exec(
        select(Deviation).where(Deviation.qc_result_id == row.id, Deviation.status == "open")
    ).first()
    if open_for_result is None:
        open_deviation(
            session,
            batch,
            "qc",
            _(
                "QC %(item)s: %(value)s %(unit)s is out of specification (%(criterion)s).",
                item=item.name,
                value=row.value,
                unit=item.unit,
                criterion=item.criterion,
            ),
            qc_result_id=row.id,
        )


def verified_results(session, results: list[QcResult]) -> dict:
    return valid_signatures(session, "qc_result", {r.audit_record_id: r for r in results}, "verified")


def verify(session, batch: Batch, user, password: str, comment: str | None, client=None) -> int:
    return sign_pending(
        session,
        results_of(session, batch),
        "verified",
        user,
        password,
        comment=comment,
        client=client,
        performers_of=lambda r: (r.created_by_id, r.updated_by_id),
        nothing_left=_("Every QC result is already verified."),
    )


# --- deviations ----------------------------------------------------------------------------------


def open_deviation(session, batch: Batch, source: str, description: str, qc_result_id: int | None = None) -> Deviation:
    lock_batch(session, batch.id)  # a release of the batch reading its open deviations waits, then sees this one
    if not (description or "").strip():
        raise RuleViolation(_("Describe the deviation."))
    year = batch.production_day.year
    dev = Deviation(
        code=f"DEV-{year}-{next_number(session, f'deviation-{year}'):04d}",
        batch_id=batch.id,
        lot=batch.lot,
        source=source,
        qc_result_id=qc_result_id,
        description=description.strip(),
    )
    session.add(dev)
    session.flush()
    return dev


def get_deviation(session, code: str) -> Deviation:
    dev = session.exec(select(Deviation).where(Deviation.code == (code or "").strip().upper())).first()
    if dev is None:
        raise NotFound(_("No such deviation."))
    return dev


def deviations_of(session, batch: Batch) -> list[Deviation]:
    return list(session.exec(select(Deviation).where(Deviation.batch_id == batch.id).order_by(Deviation.id)).all())


def update_deviation(
    session, dev: Deviation, expected_version, investigation: str, outcome: str, reason: str | None, labels=None
) -> None:
    if dev.status != "open":
        raise RuleViolation(_("Deviation %(code)s is closed.", code=dev.code))
    submitted = {"investigation": (investigation or "").strip() or None, "outcome": (outcome or "").strip() or None}
    check_version(session, dev, expected_version, submitted, labels, require_ref=True)
    first_entry = dev.investigation is None and dev.outcome is None
    if not first_entry and not (reason or "").strip():
        raise RuleViolation(_("A reason is required to change the investigation or outcome."))
    with change_reason(session, reason or "investigation recorded"):
        dev.investigation, dev.outcome = submitted["investigation"], submitted["outcome"]


def close_deviation(session, dev: Deviation, expected_version, user, password: str, comment: str | None, client=None):
    """QA closes by signature, never a person who wrote any part of the investigation or outcome."""
    check_version(session, dev, expected_version, require_ref=True)
    if dev.status != "open":
        raise RuleViolation(_("Deviation %(code)s is already closed.", code=dev.code))
    if not dev.investigation or not dev.outcome:
        raise RuleViolation(
            _("Record the investigation and the outcome before closing deviation %(code)s.", code=dev.code)
        )
    from ..audit.models import AuditEntry

    authors = set(
        session.exec(
            select(AuditEntry.user_id).where(
                AuditEntry.entity == "deviation",
                AuditEntry.record_id == dev.audit_record_id,
                AuditEntry.action == "update",
                AuditEntry.field.in_(("investigation", "outcome")),
            )
        ).all()
    )
    with change_reason(session, "closed by QA"):
        dev.status = "closed"
    return sign(session, dev, "approved", user, password, comment=comment, performers=tuple(authors), client=client)
