"""The batch report through HTTP, read back with pypdf: key values, signatures, pages, watermark, QR, audit."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from lims.db import Actor, transaction
from tests.clinical.conftest import FEVER, TODAY, UNITS, administer, issue, plan, reserve
from tests.conftest import audit_rows
from tests.labels.test_render import decoded
from tests.manufacturing import flow
from tests.manufacturing.conftest import local
from tests.manufacturing.flow import LOT, ok

URL = f"/reports/batches/{LOT}.pdf"


def pages_of(resp) -> list[str]:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    assert resp.mimetype == "application/pdf"
    return [p.extract_text() for p in PdfReader(io.BytesIO(resp.data)).pages]


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_released_batch_report_holds_the_whole_record(app, clinic):
    # Day 1 of P-0001's course given from unit -01, then a grade 1 fever linked to it.
    ok(plan(clinic.nurse, "P-0001", TODAY))
    ok(reserve(clinic.nurse, "P-0001-C1-D1", UNITS[0]))
    ok(issue(clinic.tech, UNITS[0]))
    ok(administer(clinic.nurse, "P-0001-C1-D1", UNITS[0], local(TODAY, 10, 0)))
    clinic.at(TODAY, 12, 0)
    ok(
        clinic.nurse.post(
            f"/aes/new/P-0001?term={FEVER}",
            {
                "term_code": FEVER,
                "grade": "1",
                "description": "38.4",
                "onset_date": str(TODAY),
                "resolved_date": "",
                "expected": "",
                "attribution_fmt": "possible",
                "attribution_cotherapy": "unrelated",
                "administration_id": str(flow.row(_admin(), code="P-0001-C1-D1").id),
                "action_taken": "medication",
                "outcome": "recovering",
                "aware_at": local(TODAY, 11, 0),
            },
            token_from=f"/aes/new/P-0001?term={FEVER}",
        )
    )

    resp = clinic.lab.qa.get(URL)
    pages = pages_of(resp)
    text = flat(" ".join(pages))
    n = len(pages)
    assert n >= 3
    for i, page in enumerate(pages, start=1):
        assert f"Page {i} of {n}" in page and f"Batch record report · {LOT}" in page
        assert "NOT RELEASED" not in page
    for expected in [
        "D-0001",
        "eligible",
        "DN-20261123-01",
        "Homogenisation",
        "Centrifugation wash 3",
        "Fill into dose units",
        "Enrichment and purification time",
        "within the limit",
        "Bacterial purity ≥ 99 % 99.5 pass",
        "pass",
        "released",
        "reviewed",
        "Li Na",
        "QA officer",
        "verified",
        "CST",
        f"{UNITS[0]}",
        "P-0001 · administered",
        "Fever",
        "possible",
        "Audit trail of the batch",
    ]:
        assert expected in text, expected
    # Every signature line says whether the record changed after signing; none did.
    assert "INVALID" not in text and "valid" in text
    # The header's QR code scans back to the lot.
    assert decoded(resp.data, 0, dpi=300) == [f"LIMS:LOT:{LOT}"]
    # The print is audited with the document version printed in the header.
    version = re.search(r"FMT-BR rev 1 · record version \d+ · audit trail to #\d+", pages[0]).group(0)
    rows = [r for r in audit_rows(app, action="report") if r.record_id == LOT]
    assert [(r.entity, r.new_value, r.user_name) for r in rows] == [("batch", version, "Li Na")]


def _admin():
    from lims.clinical.course_models import Administration

    return Administration


def test_unreleased_batch_prints_not_released_on_every_page(app, mfg):
    flow.to_quarantine(mfg)
    pages = pages_of(mfg.qa.get(URL))
    for page in pages:
        assert "NOT RELEASED" in page
    assert "quarantine" in pages[0]


def test_a_record_changed_after_signing_prints_its_signature_invalid(app, mfg):
    from sqlmodel import select

    from lims.audit.trail import change_reason
    from lims.manufacturing.models import BatchStep

    flow.to_quarantine(mfg)
    with transaction(Actor(None, "test tamper")) as s, change_reason(s, "test: changed after verification"):
        step = s.exec(select(BatchStep).where(BatchStep.lot == LOT, BatchStep.position == 1)).one()
        step.params = step.params.replace("}", ', "note": "x"}', 1)
    text = flat(" ".join(pages_of(mfg.qa.get(URL))))
    assert "INVALID: record changed after signing (signed version 1, now 2)" in text


def test_chinese_report_embeds_the_font_and_the_text_extracts(app, as_user, mfg):
    flow.to_quarantine(mfg)
    zh = as_user("qa_zh", roles=["qa"], language="zh_CN")
    resp = zh.get(URL)
    pages = pages_of(resp)
    text = " ".join(pages)
    assert "批次报告" in text and "未放行" in text and f"第 1 页，共 {len(pages)} 页" in pages[0]
    assert re.search(r"[\u4e00-\u9fff]{4,}", text)
    fonts = {
        str(f)
        for p in PdfReader(io.BytesIO(resp.data)).pages
        for f in (p["/Resources"].get("/Font") or {}).values()
        for f in [f.get_object().get("/BaseFont")]
    }
    assert any("LimsSans" in f or "WenQuanYi" in f or "Micro" in f for f in fonts), fonts


def test_a_technician_may_print_an_unknown_lot_is_404(app, mfg):
    flow.to_quarantine(mfg)
    assert mfg.tech.get(URL).status_code == 200
    assert mfg.tech.get("/reports/batches/FMT-20990101-01.pdf").status_code == 404
