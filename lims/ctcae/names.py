"""CTCAE names in the reader's language.

An adverse event stores the English CTCAE/MedDRA term, its MedDRA code and SOC: that is what is reported to
sponsors and authorities and what the audit trail quotes. A Chinese reader sees the term's Chinese name from
terms_zh.json (keyed by MedDRA code, after the Chinese edition of CTCAE v5.0); display chooses by locale and
never changes what is stored. A term without a Chinese name is shown in English rather than not at all.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

ZH_PATH = Path(__file__).with_name("terms_zh.json")


@functools.lru_cache(maxsize=4)
def chinese_names(path: Path = ZH_PATH) -> dict:
    """{"socs": {English SOC: Chinese}, "terms": {code: Chinese}, "by_term": {English term: Chinese}}."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    terms = data.get("terms", {})
    return {
        "socs": dict(data.get("socs", {})),
        "terms": {code: entry["zh"] for code, entry in terms.items() if entry.get("zh")},
        "by_term": {entry["en"]: entry["zh"] for entry in terms.values() if entry.get("zh") and entry.get("en")},
    }


def _zh() -> bool:
    from flask import has_request_context
    from flask_babel import get_locale

    return has_request_context() and str(get_locale() or "").startswith("zh")


def term_name(english: str | None, code: str | None = None) -> str:
    """The term as the reader's language names it: by MedDRA code when known, else by the English term."""
    english = english or ""
    if not _zh():
        return english
    names = chinese_names()
    return names["terms"].get(str(code or "").strip()) or names["by_term"].get(english) or english


def soc_name(english: str | None) -> str:
    english = english or ""
    return chinese_names()["socs"].get(english, english) if _zh() else english


def search_aliases() -> dict[str, str] | None:
    """code -> Chinese name, so a Chinese reader finds a term by typing its Chinese name; None in English."""
    return chinese_names()["terms"] if _zh() else None
