"""Codes and seeded texts of the donor screening pages in the reader's language (issue 17 items 11, 12).

The database keeps the codes (``stool``, ``qualitative``, ``positive``) and the seeded English texts; a
Chinese reader sees labels, an English reader the same page as before.
"""

from __future__ import annotations

import json
import re

from sqlmodel import select

from lims.audit.trail import change_reason
from lims.db import Actor, transaction
from lims.donors.models import ScreeningProtocol
from tests.conftest import PASSWORD, page_text
from tests.donors.test_screening_http import _register_and_start, full_panel

SEED = json.load(open("lims/donors/default_protocol.json", encoding="utf-8"))


def _visible(resp) -> str:
    """The page's text as a reader sees it: no tags, no script or style bodies, no attribute values."""
    html = page_text(resp)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _protocol_id():
    with transaction(Actor(None, "t"), write=False) as s:
        return s.exec(select(ScreeningProtocol)).one().id


def test_protocol_page_shows_item_kinds_result_types_and_seeded_texts_in_chinese(app, as_user, protocol):
    zh = as_user("qa_zh", roles=["qa"], language="zh_CN")
    pid = _protocol_id()
    text = _visible(zh.get(f"/protocols/{pid}"))
    for raw in (
        "questionnaire ·",
        "stool ·",
        "blood ·",
        "donation_day ·",
        "· qualitative",
        "· numeric",
        "· yes_no",
        SEED["title"],
        SEED["source"][:40],
    ):
        assert raw not in text, raw
    assert "粪便检测 · 定性（阴性/阳性）" in text and "血液检测 · 数值" in text and "捐献当日检查 · 是/否" in text
    assert SEED["title_zh"] in text and SEED["source_zh"] in text
    assert SEED["title_zh"] in _visible(zh.get("/protocols/"))

    en = as_user("qa_en", roles=["qa"], language="en")
    english = _visible(en.get(f"/protocols/{pid}"))
    assert "Stool tests · qualitative (negative/positive)" in english and SEED["title"] in english
    assert SEED["title_zh"] not in english


def test_a_title_typed_by_the_lab_is_shown_as_typed_in_every_language(app, as_user, protocol):
    with transaction(Actor(None, "t")) as s, change_reason(s, "lab's own title"):
        s.exec(select(ScreeningProtocol)).one().title = "Donor screening - our lab"
    zh = as_user("qa_zh", roles=["qa"], language="zh_CN")
    assert "Donor screening - our lab" in _visible(zh.get("/protocols/"))


def test_screening_page_shows_result_values_and_allowed_values_in_chinese(app, staff, as_user, protocol):
    url = _register_and_start(staff)
    staff["tech"].post(
        f"{url}/results", {"panel-sample_date": "2026-11-20", **full_panel({"S_ESBL": "positive"})}, token_from=url
    )
    staff["tech2"].post(f"{url}/verify", {"verify-password": PASSWORD}, token_from=url)
    zh = as_user("qa_zh", roles=["qa"], language="zh_CN")
    text = _visible(zh.get(url))
    for english in ("negative", "positive", "indeterminate", " no ", " yes "):
        assert english not in text, english
    assert "阴性 / 阳性 / 不确定" in text and "否 / 是" in text
    assert "阳性" in text
    english = _visible(staff["nurse"].get(url))
    assert "negative / positive / indeterminate" in english and "no / yes" in english


def test_a_refused_value_names_the_allowed_values_in_the_readers_language(app, staff, as_user, protocol):
    url = _register_and_start(staff)
    zh = as_user("tech_zh", roles=["technician"], language="zh_CN")
    r = zh.post(f"{url}/results", {"panel-sample_date": "2026-11-20", "v_S_ESBL": "maybe"}, token_from=url)
    assert r.status_code == 422
    text = _visible(r)
    assert "阴性 / 阳性 / 不确定" in text and "negative / positive" not in text
