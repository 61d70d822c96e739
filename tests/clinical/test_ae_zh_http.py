"""AE pages for a Chinese reader: CTCAE terms and SOCs by their Chinese names, the English term stored.

Each test runs on SQLite and on PostgreSQL (the ``app`` fixture).
"""

from __future__ import annotations

from lims.clinical.ae_models import AdverseEvent
from lims.ctcae import catalogue
from lims.ctcae.names import chinese_names
from tests.clinical.conftest import FEVER
from tests.clinical.test_ae_http import NEW, given_dose, record
from tests.conftest import page_text
from tests.manufacturing import flow
from tests.manufacturing.flow import ok
from tests.unit.test_ctcae_zh import REQUIRED_SOCS

NAMES = chinese_names()


def _zh(as_user, username="dr_zh"):
    return as_user(username, roles=["clinician"], language="zh_CN")


def test_catalogue_page_in_chinese_names_every_term_and_soc_of_the_fmt_socs(app, as_user):
    text = page_text(_zh(as_user).get("/aes/terms"))
    for term in catalogue.default().terms:
        if term.soc in REQUIRED_SOCS:
            assert f"<strong>{NAMES['terms'][term.code]}</strong>" in text, term.term
            assert f"<strong>{term.term}</strong>" not in text, term.term
    for soc in REQUIRED_SOCS:
        assert NAMES["socs"][soc] in text and f"<h2>{soc} " not in text


def test_a_recorded_event_shows_the_chinese_term_and_stores_the_english_one(app, clinic, as_user):
    given_dose(clinic)
    ok(record(clinic.nurse, url=NEW))
    stored = flow.row(AdverseEvent, code="AE-0001")
    assert (stored.term, stored.term_code, stored.soc) == (
        "Fever",
        FEVER,
        "General disorders and administration site conditions",
    )
    zh = _zh(as_user)
    detail = page_text(zh.get("/aes/AE-0001"))
    assert "<dd>发热 " in detail and "全身性疾病及给药部位各种反应" in detail and f"MedDRA {FEVER}" in detail
    assert "<dd>Fever " not in detail
    listing = page_text(zh.get("/aes/"))
    assert "<td>发热</td>" in listing and "<td>Fever</td>" not in listing
    summary = page_text(zh.get("/aes/summary"))
    assert "<td>发热</td>" in summary and "<td>全身性疾病及给药部位各种反应</td>" in summary

    english = page_text(clinic.nurse.get("/aes/AE-0001"))
    assert "<dd>Fever " in english and "发热" not in english


def test_a_chinese_reader_finds_a_term_by_its_chinese_name(app, clinic, as_user):
    zh = _zh(as_user)
    page = page_text(zh.get("/aes/new/P-0001?q=腹泻"))
    results = page[page.index('id="term-results"') :]
    assert ">腹泻</a>" in results and "10012727" in results
    assert "发热" in page_text(zh.get(f"/aes/new/P-0001?term={FEVER}"))
