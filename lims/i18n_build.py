"""Message catalogues: extract, update and compile with the Babel library (no shelling out).

    python -m lims.i18n_build extract   print the catalogue extracted from the sources (a .pot) to stdout
    python -m lims.i18n_build update    write lims/translations/messages.pot and merge it into every messages.po
    python -m lims.i18n_build compile   compile each messages.po that is newer than its messages.mo
    python -m lims.i18n_build check     exit 1 and list the msgids without a translation

``bash scripts/i18n.sh update`` / ``compile`` / ``check`` are the short forms.

The .mo files are not in git: the set-up script and the test suite call
``compile_catalogs()``, which only rewrites a .mo when its .po is newer (or
the .mo is missing), so calling it again costs a few ``stat`` calls.

``update`` works like ``pybabel update --no-fuzzy-matching``: existing
translations are kept, new msgids are added untranslated (never guessed as
fuzzy), and msgids no longer in the sources are kept as obsolete (#~)
entries, whose translation comes back if the same msgid returns. Locations
are written without line numbers and entries sorted by msgid, so a
developer adding a line elsewhere in a file does not rewrite the catalogue.
Files are only written when something other than their dates changed.
"""
from __future__ import annotations

import io
import os
import re
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
MAPPING_FILE = ROOT / "babel.cfg"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
POT_FILE = TRANSLATIONS_DIR / "messages.pot"
DOMAIN = "messages"
LOCALES = ("zh_CN",)  # catalogues update_catalogs() keeps (created when missing); "en" is the source language

# Function names whose string arguments are messages (``_l`` is lazy_gettext under its usual alias).
KEYWORDS = {
    "_": None,
    "gettext": None,
    "lazy_gettext": None,
    "_l": None,
    "ngettext": (1, 2),
    "lazy_ngettext": (1, 2),
}
COMMENT_TAGS = ("TRANSLATORS:",)

PROJECT = "FMT LIMS"
VERSION = "1.0"
COPYRIGHT_HOLDER = "FMT GMP Laboratory"
BUGS_ADDRESS = "lims-admin@localhost"
LANGUAGE_TEAMS = {"zh_CN": "FMT GMP Laboratory (Simplified Chinese)"}

_DATE_LINE = re.compile(rb'^"(POT-Creation-Date|PO-Revision-Date): [^"]*\\n"\r?\n', re.MULTILINE)


# --- extract -------------------------------------------------------------------

def _mapping():
    with open(MAPPING_FILE, encoding="utf-8") as f:
        return parse_mapping_cfg(f, filename=str(MAPPING_FILE))


def _directory_filter(method_map):
    """Only walk the top-level folders the mapping names (never .venv, instance/, backups/ ...)."""
    tops = set()
    for pattern, _method in method_map:
        first = pattern.replace("\\", "/").split("/", 1)[0]
        if any(ch in first for ch in "*?[") or first == pattern:
            return None  # a pattern at the top level or with a wildcard first: walk everything (default filter)
        tops.add(first)

    def allowed(dirpath: str) -> bool:
        rel = os.path.relpath(dirpath, ROOT).replace(os.sep, "/")
        if rel == ".":
            return True
        parts = rel.split("/")
        if parts[0] not in tops:
            return False
        return not any(p.startswith((".", "_")) for p in parts)  # babel's default: no .git, __pycache__ ...

    return allowed


def extract_messages() -> Catalog:
    """The catalogue of every message in lims/**.py and templates/**.html (per babel.cfg)."""
    method_map, options_map = _mapping()
    catalog = Catalog(project=PROJECT, version=VERSION, copyright_holder=COPYRIGHT_HOLDER,
                      msgid_bugs_address=BUGS_ADDRESS, charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, comment_tags=COMMENT_TAGS,
        strip_comment_tags=True, directory_filter=_directory_filter(method_map),
    ):
        catalog.add(message, None, [(filename.replace(os.sep, "/"), lineno)], auto_comments=comments, context=context)
    return catalog


# --- writing -------------------------------------------------------------------

def _render_po(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_po(buf, catalog, width=100, sort_output=True, include_lineno=False)
    return buf.getvalue()


def _without_dates(data: bytes) -> bytes:
    return _DATE_LINE.sub(b"", data)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` unless the file already says the same apart from its dates."""
    if path.exists() and _without_dates(path.read_bytes()) == _without_dates(data):
        return False
    _atomic_write(path, data)
    return True


# --- update ----------------------------------------------------------------------

def _po_path(translations_dir: Path, locale: str) -> Path:
    return translations_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def _new_catalog(locale: str, template: Catalog) -> Catalog:
    cat = Catalog(locale=locale, domain=DOMAIN, project=PROJECT, version=VERSION,
                  copyright_holder=COPYRIGHT_HOLDER, msgid_bugs_address=BUGS_ADDRESS,
                  creation_date=template.creation_date, fuzzy=False, charset="utf-8")
    cat.language_team = LANGUAGE_TEAMS.get(locale, cat.language_team)
    return cat


def _merge(po_path: Path, template: Catalog, locale: str) -> Catalog:
    if po_path.exists():
        with open(po_path, "rb") as f:
            catalog = read_po(f, locale=locale, domain=DOMAIN)
    else:
        catalog = _new_catalog(locale, template)
    old_obsolete = dict(catalog.obsolete)
    catalog.update(template, no_fuzzy_matching=True, update_header_comment=False, keep_user_comments=True)
    # A msgid that comes back exactly as it was gets its old translation back.
    for key, old in old_obsolete.items():
        msg = catalog.get(old.id, old.context)
        if msg is not None and not _translated(msg) and _translated(old) and not old.fuzzy:
            msg.string = old.string
            catalog.obsolete.pop(key, None)
    catalog.fuzzy = False  # the header: never "#, fuzzy" in a catalogue the app uses
    return catalog


def _translated(msg) -> bool:
    if isinstance(msg.string, (list, tuple)):
        return all(s for s in msg.string)
    return bool(msg.string)


def untranslated(catalog: Catalog) -> list[str]:
    """msgids (singular) with an empty or fuzzy translation, in catalogue order."""
    return [m.id[0] if isinstance(m.id, (list, tuple)) else m.id
            for m in catalog if m.id and (m.fuzzy or not _translated(m))]


def update_catalogs(translations_dir: Path | None = None, locales=LOCALES) -> dict:
    """Extract, write messages.pot and merge it into each locale's messages.po.

    Returns {"pot": Path, "written": [paths rewritten], "untranslated": {locale: [msgids]}}.
    """
    tdir = Path(translations_dir or TRANSLATIONS_DIR)
    template = extract_messages()
    written = []
    pot = tdir / f"{DOMAIN}.pot"
    if _write_if_changed(pot, _render_po(template)):
        written.append(pot)
    found = {p.parent.parent.name for p in tdir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    missing = {}
    for locale in sorted(found | set(locales)):
        po = _po_path(tdir, locale)
        catalog = _merge(po, template, locale)
        if _write_if_changed(po, _render_po(catalog)):
            written.append(po)
        missing[locale] = untranslated(catalog)
    return {"pot": pot, "written": written, "untranslated": missing}


# --- compile ---------------------------------------------------------------------

def _stale(po: Path, mo: Path) -> bool:
    try:
        return po.stat().st_mtime_ns > mo.stat().st_mtime_ns
    except FileNotFoundError:
        return True


def compile_catalogs(translations_dir: Path | None = None, force: bool = False) -> list[Path]:
    """Compile each */LC_MESSAGES/messages.po whose .mo is missing or older; returns the .mo files written.

    Fuzzy entries are left out of the .mo (as ``pybabel compile`` does). Safe to
    run concurrently: each .mo is written to a temporary file and renamed.
    """
    tdir = Path(translations_dir or TRANSLATIONS_DIR)
    compiled = []
    for po in sorted(tdir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        if not force and not _stale(po, mo):
            continue
        with open(po, "rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name, domain=DOMAIN)
        buf = io.BytesIO()
        write_mo(buf, catalog, use_fuzzy=False)
        _atomic_write(mo, buf.getvalue())
        compiled.append(mo)
    return compiled


# --- command line ----------------------------------------------------------------

def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else ""
    if command == "extract":
        sys.stdout.buffer.write(_render_po(extract_messages()))
        return 0
    if command == "update":
        result = update_catalogs()
        for path in result["written"]:
            print(f"i18n: wrote {_rel(path)}")
        if not result["written"]:
            print("i18n: catalogues already up to date")
        for locale, ids in result["untranslated"].items():
            print(f"i18n: {locale}: {len(ids)} msgid(s) to translate" + ("" if ids else " - complete"))
            for msgid in ids:
                print(f"    {msgid!r}")
        compiled = compile_catalogs()
        for path in compiled:
            print(f"i18n: compiled {_rel(path)}")
        return 0
    if command == "compile":
        for path in compile_catalogs(force="--force" in args[1:]):
            print(f"i18n: compiled {_rel(path)}")
        return 0
    if command == "check":
        template = extract_messages()
        bad = 0
        for po in sorted(TRANSLATIONS_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            with open(po, "rb") as f:
                catalog = read_po(f, domain=DOMAIN)
            ids = [m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id
                   and (catalog.get(m.id, m.context) is None or catalog.get(m.id, m.context).fuzzy
                        or not _translated(catalog.get(m.id, m.context)))]
            for msgid in ids:
                print(f"{_rel(po)}: untranslated: {msgid!r}")
            bad += len(ids)
        if bad:
            print(f"i18n: {bad} msgid(s) untranslated: run `bash scripts/i18n.sh update` and translate them", file=sys.stderr)
            return 1
        print("i18n: every msgid is translated")
        return 0
    print(__doc__.strip().split("\n\n")[0], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
