"""The message catalogues, without a database.

Every msgid in the sources must have a Simplified Chinese translation, every
translation must keep the msgid's %(name)s placeholders, and the compiled
catalogue must be one Flask-Babel loads.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import Babel, get_translations, gettext, lazy_gettext

from lims import i18n_build

LOCALE = "zh_CN"
PO = i18n_build.TRANSLATIONS_DIR / LOCALE / "LC_MESSAGES" / "messages.po"
FIX = (
    "run `bash scripts/i18n.sh update`, then translate the empty msgstr entries in "
    "lims/translations/zh_CN/LC_MESSAGES/messages.po (keep every %(name)s) and run the tests again"
)

# A printf-style conversion: %(name)s, %s, %d, %%, ... (what Python's % operator reads).
FORMAT_SPEC = re.compile(r"%(?:\(([^)]*)\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])")


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    i18n_build.compile_catalogs()


@pytest.fixture(scope="module")
def extracted():
    return i18n_build.extract_messages()


@pytest.fixture(scope="module")
def zh_catalog():
    assert PO.exists(), f"{PO} is missing: {FIX}"
    with open(PO, "rb") as f:
        return read_po(f, locale=LOCALE)


def _forms(value) -> list[str]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _label(msgid) -> str:
    return _forms(msgid)[0]


def _specs(text: str) -> list[tuple[str | None, str]]:
    return sorted((m.group(1), m.group(2)) for m in FORMAT_SPEC.finditer(text) if m.group(2) != "%")


def _named(text: str) -> set[str]:
    return {name for name, _conv in _specs(text) if name is not None}


def test_header_is_zh_cn_with_one_plural_form(zh_catalog):
    assert zh_catalog.locale_identifier == LOCALE
    assert zh_catalog.mime_headers and dict(zh_catalog.mime_headers)["Language"] == LOCALE
    assert dict(zh_catalog.mime_headers)["Plural-Forms"].replace(" ", "") == "nplurals=1;plural=0;"
    assert not zh_catalog.fuzzy, "the catalogue header is marked fuzzy"


def test_every_source_msgid_has_a_chinese_translation(extracted, zh_catalog):
    missing, fuzzy = [], []
    for msg in extracted:
        if not msg.id:
            continue
        entry = zh_catalog.get(msg.id, msg.context)
        where = ", ".join(sorted({path for path, _line in msg.locations}))
        if entry is None or not all(s and s.strip() for s in _forms(entry.string)):
            missing.append(f"  {_label(msg.id)!r}  ({where})")
        elif entry.fuzzy:
            fuzzy.append(f"  {_label(msg.id)!r}  ({where})")
    problems = []
    if missing:
        problems.append(f"{len(missing)} msgid(s) have no zh_CN translation:\n" + "\n".join(missing))
    if fuzzy:
        problems.append(
            f"{len(fuzzy)} zh_CN translation(s) are marked fuzzy (check them, remove the flag):\n" + "\n".join(fuzzy)
        )
    assert not problems, "\n".join(problems) + f"\nTo fix: {FIX}."


def test_no_translation_in_the_catalogue_is_fuzzy_or_empty(zh_catalog):
    bad = [_label(m.id) for m in zh_catalog if m.id and (m.fuzzy or not all(_forms(m.string)))]
    assert not bad, f"fuzzy or empty entries in {PO.name}: {bad}. To fix: {FIX}."


def test_translations_keep_exactly_the_placeholders_of_their_msgid(zh_catalog):
    problems = []
    for msg in zh_catalog:
        if not msg.id:
            continue
        source = _forms(msg.id)
        for text in _forms(msg.string):
            if not text:
                continue
            expected = set().union(*(_named(t) for t in source))
            if _named(text) != expected:
                problems.append(
                    f"  {_label(msg.id)!r}: placeholders {sorted(expected)}, "
                    f"translation {text!r} has {sorted(_named(text))}"
                )
                continue
            if set(_specs(text)) != set().union(*(_specs(t) for t in source)):
                problems.append(f"  {_label(msg.id)!r}: the conversions (%(x)s, %(x)d ...) differ in {text!r}")
                continue
            # Jinja's new-style gettext always applies `% variables`, so a lone % would crash the page.
            try:
                text % dict.fromkeys(expected, 1)
            except (ValueError, TypeError, KeyError) as err:
                problems.append(
                    f"  {_label(msg.id)!r}: translation {text!r} cannot be formatted ({err}); a lone % breaks the page"
                )
    assert not problems, "translations must keep the same %(name)s placeholders as the msgid:\n" + "\n".join(problems)


def test_msgids_use_named_placeholders(extracted):
    """A translation may reorder values only when they are named: %(n)s, never a bare %s."""
    bare = [
        _label(m.id)
        for m in extracted
        if m.id
        for text in _forms(m.id)
        if any(name is None for name, _conv in _specs(text))
    ]
    assert not bare, f"msgids with positional %s placeholders (use %(name)s): {bare}"


def _copy_catalogues(dest):
    src = i18n_build.TRANSLATIONS_DIR
    copies = []
    for po in src.glob("*/LC_MESSAGES/messages.po"):
        target = dest / po.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(po, target)
        copies.append(target)
    return copies


def test_compile_catalogs_writes_a_mo_that_flask_babel_loads(tmp_path, zh_catalog):
    (po,) = [p for p in _copy_catalogues(tmp_path) if p.parent.parent.name == LOCALE]
    mo = po.with_suffix(".mo")
    # Babel parses "zh_CN" as zh_Hans_CN and Flask-Babel looks in that folder: the .mo goes to both.
    alias = tmp_path / i18n_build.babel_locale_dir(LOCALE) / "LC_MESSAGES" / "messages.mo"
    expected = sorted({mo, alias})

    assert sorted(i18n_build.compile_catalogs(tmp_path)) == expected
    assert mo.exists() and alias.exists() and mo.read_bytes() == alias.read_bytes()
    assert i18n_build.compile_catalogs(tmp_path) == []  # up to date: nothing rewritten
    earlier = po.stat().st_mtime_ns - 2_000_000_000
    for compiled in expected:
        os.utime(compiled, ns=(earlier, earlier))  # the .po edited after the last compile
    assert sorted(i18n_build.compile_catalogs(tmp_path)) == expected
    assert sorted(i18n_build.compile_catalogs(tmp_path, force=True)) == expected
    alias.unlink()
    assert i18n_build.compile_catalogs(tmp_path) == [alias]  # a missing .mo is written again

    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(tmp_path)
    babel = Babel(app, locale_selector=lambda: LOCALE)
    with app.test_request_context():
        assert LOCALE in {f"{loc.language}_{loc.territory}" for loc in babel.list_translations()}
        assert get_translations().ugettext("Sign in") == zh_catalog.get("Sign in").string
        wrong = {}
        for msg in zh_catalog:
            if msg.id and isinstance(msg.id, str) and gettext(msg.id) != msg.string:
                wrong[msg.id] = gettext(msg.id)
        assert not wrong, f"the compiled catalogue does not give these translations: {wrong}"
        assert str(lazy_gettext("Reason for change")) == zh_catalog.get("Reason for change").string
        assert gettext("Welcome, %(name)s", name="张伟") == zh_catalog.get("Welcome, %(name)s").string % {
            "name": "张伟"
        }


def test_compile_catalogs_on_the_real_tree_is_idempotent():
    i18n_build.compile_catalogs()
    for mo in (
        PO.with_suffix(".mo"),
        i18n_build.TRANSLATIONS_DIR / i18n_build.babel_locale_dir(LOCALE) / "LC_MESSAGES" / "messages.mo",
    ):
        assert mo.exists() and mo.stat().st_mtime_ns >= PO.stat().st_mtime_ns
    assert i18n_build.compile_catalogs() == []


def test_update_keeps_translations_and_adds_new_msgids_untranslated(tmp_path, extracted, zh_catalog):
    (po,) = [p for p in _copy_catalogues(tmp_path) if p.parent.parent.name == LOCALE]
    with open(po, "rb") as f:
        catalog = read_po(f, locale=LOCALE)
    # Simulate a msgid new in the sources (missing from the .po) and a translated msgid since removed.
    catalog.delete("Sign out")
    catalog.add("A message no longer in the sources", "一条已不在源代码中的消息")
    i18n_build._atomic_write(po, i18n_build._render_po(catalog))

    result = i18n_build.update_catalogs(tmp_path)
    assert (tmp_path / "messages.pot").exists() and po in result["written"]
    with open(po, "rb") as f:
        merged = read_po(f, locale=LOCALE)
    entry = merged.get("Sign out")
    assert entry is not None and entry.string == "" and not entry.fuzzy, "a new msgid must be untranslated, not fuzzy"
    assert "Sign out" in result["untranslated"][LOCALE]
    assert merged.get("Sign in").string == zh_catalog.get("Sign in").string  # kept
    assert merged.get("A message no longer in the sources") is None
    assert "A message no longer in the sources" in merged.obsolete  # kept as #~, not lost
    assert not [m for m in merged if m.id and m.fuzzy]
    assert {m.id for m in merged if m.id} == {m.id for m in extracted if m.id}

    # Nothing changed: a second update writes nothing (no churn from dates).
    assert i18n_build.update_catalogs(tmp_path)["written"] == []
