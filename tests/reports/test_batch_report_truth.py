"""A printed batch report says what the record says at print time (issue 17, reports' done-when).

FMT-20261123-01 is released with its six units in BOX-F1; FMT-20261123-02 waits in quarantine with a
deviation written in Chinese. On 11-26 an ESBL-positive re-screening opens a lookback case that holds
both. Each report is read back with pypdf in English and Chinese: every known ID whole on one line, no
UTC value, no database ID, field names and statuses in words, the hold named.
"""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from lims.lookback.models import LookbackCase
from lims.manufacturing.models import Deviation
from tests.clinical.conftest import LOT2, UNITS, UNITS2, quarantined_batch
from tests.conftest import page_text
from tests.lookback.test_lookback_recall import DAY2, esbl_positive, hold
from tests.manufacturing import flow
from tests.manufacturing.flow import LOT, ok

CHINESE_NOTE = (
    "第三次离心洗涤时离心机门报警，FMT-20261123-02批次暂停处理约五分钟，温度记录仪DN-20261123-02样本未受影响。"
)
RAW_ID = re.compile(r"_id\b|\b[a-z]+_[a-z_]+\b")  # a column name (box_id, expires_at) where words belong


def held_batches(clinic) -> tuple[str, str]:
    """Both batches of D-0001 held by one lookback case; returns (case code, deviation code)."""
    quarantined_batch(clinic)
    ok(
        clinic.tech.post(
            f"/batches/{LOT2}/deviations", {"dev-description": CHINESE_NOTE}, token_from=f"/batches/{LOT2}"
        )
    )
    clinic.at(DAY2, 8, 0)
    code = esbl_positive(clinic)
    ok(hold(clinic, code))
    assert flow.row(LookbackCase, code=code).held_at is not None
    return code, flow.row(Deviation, lot=LOT2).code


def report_text(browser, lot) -> tuple[str, list[str]]:
    resp = browser.get(f"/reports/batches/{lot}.pdf")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(resp.data)).pages]
    return "\n".join(pages), pages


def assert_prints_the_record(text: str, ids: list[str]) -> None:
    joined = text.replace("\n", "")
    for ident in ids:
        assert ident in text, ident
        # An ID cut across two lines is found once the line breaks are taken out, never with them in.
        assert text.count(ident) == joined.count(ident), (ident, [l for l in text.splitlines() if ident[:6] in l])
    assert "UTC" not in text
    words = re.sub(r"[\w-]+/\n?[\w-]+", "", text)  # record IDs (FMT-20261123-01/on_hold-2) are IDs, not words
    assert not RAW_ID.search(words), RAW_ID.findall(words)[:10]


def test_a_held_batch_report_names_the_hold_and_prints_every_id_whole_in_english_and_chinese(
    app, clinic, as_user, tmp_path
):
    case, dev = held_batches(clinic)
    ids = [LOT2, *UNITS2[:3], "DN-20261123-02", "D-0001", case, dev, "EQ-GFM-01"]
    text, pages = report_text(clinic.lab.qa, LOT2)
    assert_prints_the_record(text, ids)
    status = text[text.index("Status at print time") :]
    assert f"Held by lookback case {case}." in status
    assert "on hold (lookback) (stored as quarantine)" in status
    assert f"Open deviations {dev}" in status.replace("\n", " ")
    assert "What still blocks release" in status
    for page in pages:
        assert "NOT RELEASED" in page
    # The audit excerpt in words: the step operator by name, the lot, the stored status translated.
    audit = text[text.index("Audit trail of the batch") :]
    assert "Zhang Wei" in audit and "operator" in audit and "quarantine" in audit

    zh = as_user("qa_zh", roles=["qa"], language="zh_CN")
    text_zh, _pages = report_text(zh, LOT2)
    assert_prints_the_record(text_zh, ids)
    assert CHINESE_NOTE.replace("，", "")[:8] in text_zh.replace("\n", "")
    assert f"回溯调查 {case}" in text_zh or case in text_zh[text_zh.index("打印时状态") :]
    assert "操作者" in text_zh and "Zhang Wei" in text_zh


def test_the_released_batch_report_shows_boxes_users_and_lab_times_instead_of_stored_values(app, clinic, as_user):
    case, _dev = held_batches(clinic)
    text, _pages = report_text(clinic.lab.qa, LOT)
    assert_prints_the_record(text, [LOT, *UNITS, "DN-20261123-01", "D-0001", case, "BOX-F1"])
    audit = text[text.index("Audit trail of the batch") :]
    assert "box" in audit and "BOX-F1" in audit  # box_id 4 read as the box's code
    assert re.search(r"expires at\s*\n?\s*\d{4}-\d{2}-\d{2} \d{2}:\d{2} CST", audit), audit[:3000]
    assert "available → recalled" in audit.replace("\n", " ")
    status = text[text.index("Status at print time") :]
    assert f"Held by lookback case {case}." in status

    zh = as_user("qa_zh", roles=["qa"], language="zh_CN")
    text_zh, _pages = report_text(zh, LOT)
    assert_prints_the_record(text_zh, [LOT, *UNITS, case, "BOX-F1"])
    assert "可用 → 已召回" in text_zh.replace("\n", " ")
    assert "有效期至" in text_zh or "失效时间" in text_zh


def _visible(resp) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page_text(resp)).split())


def test_the_change_history_and_the_audit_page_show_words_not_stored_values(app, clinic, as_user):
    unit = UNITS[0]
    for browser, words in (
        (clinic.lab.qa, ("box", "BOX-F1", "expires at", "CST", "available", "Li Na")),
        (as_user("qa_zh", roles=["qa"], language="zh_CN"), ("BOX-F1", "CST", "可用", "状态")),
    ):
        for url in (f"/units/{unit}", f"/audit/?entity=dose_unit&record_id={unit}"):
            page = _visible(browser.get(url))
            history = page[page.index("#") :]
            for word in words:
                assert word in history, (url, word)
            assert "UTC" not in history and not re.search(r"\bbox_id\b|\bexpires_at\b|\bstatus\b available", history)
    steps = _visible(clinic.lab.qa.get(f"/audit/?entity=batch_step&record_id={LOT}/S1"))
    assert "operator" in steps and "Zhang Wei" in steps and "operator_id" not in steps, steps[-3000:]
    steps_zh = _visible(
        as_user("qa_zh2", roles=["qa"], language="zh_CN").get(f"/audit/?entity=batch_step&record_id={LOT}/S1")
    )
    assert "操作者" in steps_zh and "Zhang Wei" in steps_zh and "operator_id" not in steps_zh


def test_a_page_of_audit_rows_reads_each_referenced_table_once(app, clinic):
    """100 rows with box, unit, batch and user references: a handful of queries, not one per row."""
    from sqlalchemy import event
    from sqlmodel import select

    from lims.audit.display import FK_TABLES, display_rows
    from lims.audit.models import AuditEntry
    from lims.db import Actor, transaction

    with transaction(Actor(None, "t"), write=False) as s:
        rows = s.exec(select(AuditEntry).where(AuditEntry.field.like("%_id")).order_by(AuditEntry.id).limit(100)).all()
        assert len(rows) >= 50
        count = []
        listener = lambda *a, **k: count.append(1)  # noqa: E731
        event.listen(s.get_bind(), "before_cursor_execute", listener)
        try:
            shown = display_rows(s, rows)
        finally:
            event.remove(s.get_bind(), "before_cursor_execute", listener)
        tables = {r.field for r in rows}
        assert len(count) <= len(tables) + 1, (len(count), tables)
        references = [d for d in shown if d.entry.field in FK_TABLES]
        assert references and all(not d.new.isdigit() for d in references), [
            (d.entry.field, d.new) for d in references if d.new.isdigit()
        ]
