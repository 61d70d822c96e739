"""Every message the code translates must reach the catalogue.

Babel's Python extractor does not look inside f-strings, so ``f"{_('Stages')}: ..."``
is never extracted: the msgid has no zh_CN entry and the Chinese screen shows the
English word. These tests read the sources with ``ast`` (no import, no app) and fail
naming file:line, so the rule holds without anyone having to remember it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from lims import i18n_build

ROOT = Path(__file__).resolve().parents[2]
LIMS = ROOT / "lims"
GETTEXT_NAMES = set(i18n_build.KEYWORDS)  # _, gettext, lazy_gettext, _l, ngettext, lazy_ngettext


def _sources():
    for path in sorted(LIMS.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        yield rel, ast.parse(path.read_text(encoding="utf-8"), filename=rel)


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):  # flask_babel.gettext(...)
        return func.attr
    return None


def _gettext_calls_in_fstrings(tree) -> list[ast.Call]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            found += [sub for sub in ast.walk(node) if isinstance(sub, ast.Call) and _called_name(sub) in GETTEXT_NAMES]
    return found


def test_no_gettext_call_inside_an_f_string():
    hits = []
    for rel, tree in _sources():
        hits += [f"{rel}:{call.lineno}: {ast.unparse(call)}" for call in _gettext_calls_in_fstrings(tree)]
    assert not hits, (
        "_() inside an f-string is never extracted by Babel; translate the whole sentence with "
        'named placeholders, _("... %(x)s", x=...), instead:\n  ' + "\n  ".join(hits)
    )


def test_the_lint_sees_a_gettext_call_in_an_f_string():
    """The rule itself: a nested call, a lazy alias and an attribute call are all found, plain calls are not."""
    tree = ast.parse(
        "a = f\"{_('x')}: {n}\"\nb = f\"{str(_l('y'))}\"\nc = f\"{flask_babel.gettext('z')}\"\n"
        'd = _("fine %(n)s", n=f"{n}")\n'
    )
    assert [call.lineno for call in _gettext_calls_in_fstrings(tree)] == [1, 2, 3]


def _literal_msgids(tree) -> list[tuple[int, str]]:
    """(line, msgid) of every gettext call whose first argument is a plain string literal."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called_name(node) in GETTEXT_NAMES and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value:
                out.append((node.lineno, first.value))
    return out


def test_every_literal_gettext_call_is_in_what_the_extractor_finds():
    """The "every msgid translated" test reads the extracted catalogue; this proves that catalogue is complete.

    A call the extractor misses (in an f-string, or through a keyword babel.cfg does not list) would pass the
    translation test while the screen stays English.
    """
    extracted = set()
    for msg in i18n_build.extract_messages():
        if msg.id:
            extracted.update(msg.id if isinstance(msg.id, (list, tuple)) else [msg.id])
    missing = [
        f"{rel}:{line}: {msgid!r}"
        for rel, tree in _sources()
        for line, msgid in _literal_msgids(tree)
        if msgid not in extracted
    ]
    assert not missing, "gettext calls the extractor does not find (so never translated):\n  " + "\n  ".join(missing)
