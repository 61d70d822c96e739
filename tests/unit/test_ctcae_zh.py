"""Chinese CTCAE names (lims/ctcae/terms_zh.json), without a database.

The file is keyed by MedDRA code and repeats the English term, so a catalogue update that renames or drops a
term shows up here rather than as a wrong Chinese name on an AE page.
"""

from __future__ import annotations

import re

from lims.ctcae import catalogue
from lims.ctcae.names import ZH_PATH, chinese_names

# The SOCs an FMT study reports most (issue 17 item 12): every term of these must have a Chinese name.
REQUIRED_SOCS = (
    "Gastrointestinal disorders",
    "General disorders and administration site conditions",
    "Infections and infestations",
)
CJK = re.compile(r"[\u4e00-\u9fff]")


def _raw():
    import json

    return json.loads(ZH_PATH.read_text(encoding="utf-8"))


def test_every_term_of_the_fmt_socs_has_a_chinese_name():
    names = chinese_names()["terms"]
    cat = catalogue.default()
    missing = [f"{t.code} {t.term}" for t in cat.terms if t.soc in REQUIRED_SOCS and not names.get(t.code)]
    assert not missing, f"terms without a Chinese name: {missing}"
    assert sum(1 for t in cat.terms if t.soc in REQUIRED_SOCS) >= 170  # the three SOCs are all there


def test_every_soc_name_has_a_chinese_name():
    socs = chinese_names()["socs"]
    assert [s for s in catalogue.SOC_NAMES if not CJK.search(socs.get(s, ""))] == []


def test_each_entry_names_the_catalogues_english_term_and_is_chinese():
    by_code = {t.code: t for t in catalogue.default().terms}
    wrong = []
    for code, entry in _raw()["terms"].items():
        term = by_code.get(code)
        if term is None or term.term != entry["en"]:
            wrong.append(f"{code}: {entry['en']!r} is not the catalogue's term {term.term if term else None!r}")
        elif not CJK.search(entry["zh"]):
            wrong.append(f"{code}: {entry['zh']!r} is not Chinese")
    assert not wrong, "\n".join(wrong)


def test_chinese_names_are_unique_so_two_terms_never_read_the_same():
    names = list(chinese_names()["terms"].values())
    assert len(names) == len(set(names))


def test_search_finds_a_term_by_its_chinese_name_through_aliases():
    cat = catalogue.default()
    aliases = chinese_names()["terms"]
    assert [t.term for t in cat.search("腹泻", aliases=aliases)] == ["Diarrhea"]
    assert cat.search("腹泻") == []  # without aliases (an English reader) only the English texts are searched
    assert "Diarrhea" in [t.term for t in cat.search("diarr", aliases=aliases)]
