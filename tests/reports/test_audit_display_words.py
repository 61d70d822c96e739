"""Audit values the LIMS writes itself read in the reader's words (issue 17 item 7): label prints, document
downloads, codes of the fields added with label reconciliation, AE assessments, sex, versioned configuration."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from lims.audit import display


def words(entity, field, value):
    return display.value_text(entity, field, value, None, None)


@pytest.mark.parametrize(
    "locale, expected",
    [
        ("en", []),
        (
            "zh_CN",
            [
                "补打：",
                "可用",
                "男",
                "可能相关",
                "现行有效",
                "扩大范围",
                "批报告",
                "批报告，批量导出 #12",
                "回溯调查 CSV",
            ],
        ),
    ],
)
def test_system_written_values_read_in_words(app, locale, expected):
    with app.test_request_context(), force_locale(locale):
        shown = [
            display.print_text("reprint tube_50x30 zpl_send to 10.0.0.5:9100, 2 of 6"),
            words("label_print", "state", "available"),
            words("donor", "sex", "male"),
            words("adverse_event", "attribution_fmt", "possible"),
            words("adverse_event", "action_taken", "medication"),
            words("course_template", "status", "active"),
            words("lookback_action", "kind", "widen"),
            display.reason_text("batch report"),
            display.reason_text("batch report, bulk export #12"),
            words("lookback_case", None, "lookback CSV"),
        ]
        text = " | ".join(shown)
        if locale == "en":
            assert shown[0].startswith("reprint on ") and "ZPL, 2 of 6 · sent to 10.0.0.5:9100" in shown[0]
            assert shown[1:] == [
                "available",
                "male",
                "possible",
                "treated with medication",
                "in force",
                "scope widened",
                "batch report",
                "batch report, bulk export #12",
                "lookback CSV",
            ]
        else:
            for piece in expected:
                assert piece in text, (piece, text)
            assert not any(w in text for w in ("reprint", "available", "male", "possible", "medication", "widen"))
    assert display.reason_text("typed by QA: smudged") == "typed by QA: smudged"  # a typed reason stays as typed
    assert display.print_text("something else") == "something else"
