"""The Chinese UI as each role: no English from the application itself (issue 17, "Done when").

On the demo lab, each demo role (technician, QA, clinician, admin) signs in with its language set to zh_CN and
follows every same-origin link reachable from the home page and the navigation (GET only, bounded per endpoint,
never "sign out"). The visible text of every HTML page (text nodes, placeholders, tooltips and button captions; no
tags, scripts, styles) must hold no word that the application's own English messages use: the set of words of 3+ letters of every msgid the extractor finds.

What is not the application's English is left out, built from the sources rather than a hand list where possible:
- data typed by users: every word of the demo database's free text (values with a space or a capital letter:
  names, notes, locations, method, diagnosis ...). Lower-case single tokens are codes (statuses, kinds) and are
  not excused: a raw code on a Chinese page is exactly what this test is for;
- configuration (the lab's name, the time zone) and the CTCAE terms' English names of terms not on the page;
- literal identifiers in <code> (job codes, commands) and the published English CTCAE definitions and grade
  texts, marked lang="en" (docs/i18n.md: not yet translated);
- TECHNICAL: tokens that are not English prose in either language.

PENDING lists what other branches of issue 17 change (audit tables, label layout names, report files): the
integrator deletes each entry once that branch is merged, and the crawl then covers it.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import MetaData, String, Table, Text, inspect
from sqlalchemy import select as sa_select

from lims import i18n_build
from lims.audit.trail import change_reason
from lims.auth.operations import find_user
from lims.db import Actor, transaction
from lims.demo import DEMO_PASSWORD, load_demo
from tests.conftest import Browser

ROLES = ("tech", "qa", "clinician", "admin")  # the demo accounts of the four roles
MAX_PAGES_PER_ROLE = 400
MAX_PER_ENDPOINT = 3  # e.g. three donor pages, three batch pages: the same template with other data
SKIP_PATH = re.compile(r"^/(static/|logout)")

# Not English prose in either language: abbreviations, units, standards and product names the Chinese text keeps.
TECHNICAL = {
    "ctcae",
    "meddra",
    "fmt",
    "gmp",
    "lims",
    "pdf",
    "zpl",
    "csv",
    "recist",
    "lot",
    "ecog",
    "tnm",
    "bmi",
    "sae",
    "susar",
    "cst",
    "utc",
    "hiv",
    "htlv",
    "hbsag",
    "hcv",
    "hev",
    "hav",
    "cmv",
    "ebv",
    "vca",
    "igm",
    "igg",
    "pcr",
    "esbl",
    "cre",
    "vre",
    "mrsa",
    "stec",
    "epec",
    "sars",
    "cov",
    "mdro",
    "cron",
    "dpi",
    "qr",
    "dmso",
    "rna",
    "zip",
    "ich",
    "zebra",
    "bristol",  # file format, ICH E2A, the printer maker, the Bristol stool scale
    "english",  # the language menu names each language in itself (English, 简体中文)
}

# PENDING (issue 17): English that other helpers' branches replace. Each entry: (path regex, element marker, why).
# The element marker is a substring of an element's start tag; that element's subtree is left out on matching pages.
PENDING: list[tuple[str, str, str]] = []


def _audit_table(*headers: str) -> re.Pattern:
    """A table of raw audit rows, found by the Chinese text of its first header cells (after "#" if given)."""
    from babel.messages.pofile import read_po

    po = i18n_build.TRANSLATIONS_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po"
    with open(po, "rb") as f:
        cat = read_po(f, locale="zh_CN")
    head = "".join(f"<th>{re.escape(h if h == '#' else cat.get(h).string)}</th>" for h in headers)
    return re.compile(r'<table class="grid compact"[^>]*>\s*<thead><tr>' + head + r".*?</table>", re.S)


# PENDING, by HTML: (path regex, compiled regex of the left-out HTML, why). These tables print audit_entry's
# field names, stored values (codes, UTC datetimes, foreign keys) and system reasons as stored; issue 17 item 7
# (the audit branch) shows them as the screens do.
PENDING_HTML: list[tuple[str, re.Pattern, str]] = []

WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")
PLACEHOLDER = re.compile(r"%\([^)]*\)[#0\- +]*\d*(?:\.\d+)?[a-zA-Z]|%[a-zA-Z%]")
TEMPLATE_VAR = re.compile(r"\{[^}]*\}")


def _words(text: str) -> set[str]:
    """Words of 3+ letters, case-folded, from ``text`` (hyphenated words split)."""
    out = set()
    for w in WORD.findall(text or ""):
        for part in re.split(r"[-'’]", w):
            if len(part) >= 3:
                out.add(part.casefold())
    return out


def application_english() -> set[str]:
    """Every word of 3+ letters in the English msgids the extractor finds (placeholders removed)."""
    words = set()
    for msg in i18n_build.extract_messages():
        if not msg.id:
            continue
        for text in msg.id if isinstance(msg.id, (list, tuple)) else [msg.id]:
            words |= _words(TEMPLATE_VAR.sub(" ", PLACEHOLDER.sub(" ", text)))
    return words - TECHNICAL


TYPED_TOKENS = {"username"}  # single lower-case tokens that a person chose, not codes of the application


def _looks_typed(value: str) -> bool:
    """Free text a user typed (a space or a capital letter); a lower-case single token is a code."""
    return any(ch.isspace() for ch in value) or any(ch.isupper() for ch in value)


def data_words(app) -> set[str]:
    """Words of the free text stored in the demo database, and of the configuration, which pages show as typed."""
    from lims.db import get_db

    words = set()
    engine = get_db().engine
    with engine.connect() as conn:
        for table_name in inspect(engine).get_table_names():
            table = Table(table_name, MetaData(), autoload_with=conn)
            cols = [c for c in table.columns if isinstance(c.type, (String, Text))]
            if not cols:
                continue
            for row in conn.execute(sa_select(*cols)):
                for col, value in zip(cols, row):
                    if isinstance(value, str) and (_looks_typed(value) or col.name in TYPED_TOKENS):
                        words |= _words(value)
    for key in ("LAB_NAME", "TIMEZONE"):
        words |= _words(str(app.config.get(key, "")))
    return words


class VisibleText(HTMLParser):
    """The text a reader sees: no script, style, <code> literals, lang="en" catalogue texts or PENDING elements."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, pending_markers=()):
        super().__init__(convert_charrefs=True)
        self.parts, self.links = [], []
        self.skip_depth = 0  # >0 while inside a left-out element
        self.stack = []
        self.pending_markers = pending_markers

    def _left_out(self, tag, attrs, raw) -> bool:
        a = dict(attrs)
        return (
            tag in ("script", "style", "code", "template")
            or a.get("lang") == "en"
            or any(m and m in raw for m in self.pending_markers)
        )

    def handle_starttag(self, tag, attrs):
        if tag == "a" and dict(attrs).get("href"):
            self.links.append(dict(attrs)["href"])
        skip = self.skip_depth > 0 or self._left_out(tag, attrs, self.get_starttag_text() or "")
        if not skip:
            self._shown_attributes(tag, dict(attrs))
        if tag in self.VOID:
            return
        self.stack.append((tag, skip))
        if skip:
            self.skip_depth += 1

    def _shown_attributes(self, tag, a):
        """Text the reader sees that lives in attributes: placeholders, tooltips, button captions."""
        for name in ("placeholder", "title"):
            if a.get(name):
                self.parts.append(a[name])
        if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
            self.parts.append(a["value"])

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        while self.stack:
            open_tag, skip = self.stack.pop()
            if skip:
                self.skip_depth -= 1
            if open_tag == tag:
                break

    def handle_data(self, data):
        if not self.skip_depth:
            self.parts.append(data)

    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


@pytest.fixture
def demo_app(app, monkeypatch):
    from argon2 import PasswordHasher

    monkeypatch.setattr("lims.auth.passwords._hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    with transaction(Actor(None, "demo")) as s:
        load_demo(s)
    with transaction(Actor(None, "test")) as s, change_reason(s, "zh_CN crawl"):
        for username in ROLES:
            find_user(s, username).language = "zh_CN"
    i18n_build.compile_catalogs()
    return app


def crawl(app, client) -> dict[str, str]:
    """url -> html of every HTML page reached from "/" by same-origin links, at most MAX_PER_ENDPOINT per endpoint."""
    adapter = app.url_map.bind("localhost")
    pages, queue, per_endpoint = {}, ["/"], Counter()
    while queue and len(pages) < MAX_PAGES_PER_ROLE:
        url = queue.pop(0)
        if url in pages:
            continue
        try:
            endpoint, _args = adapter.match(urlsplit(url).path, method="GET")
        except Exception:
            continue
        if per_endpoint[endpoint] >= MAX_PER_ENDPOINT:
            continue
        per_endpoint[endpoint] += 1
        resp = client.get(url)
        assert resp.status_code < 500, f"{url} answered {resp.status_code}"
        if resp.status_code != 200 or "html" not in (resp.mimetype or ""):
            pages[url] = ""
            continue
        pages[url] = resp.get_data(as_text=True)
        parser = VisibleText()
        parser.feed(pages[url])
        for href in parser.links:
            parts = urlsplit(urljoin(url, href))
            if parts.scheme not in ("", "http") or parts.netloc not in ("", "localhost") or SKIP_PATH.match(parts.path):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in pages:
                queue.append(target)
    return pages


def visible_text(url: str, html: str) -> str | None:
    """The page's visible text with the PENDING parts left out; None when the whole page is PENDING."""
    markers = []
    for pattern, marker, _why in PENDING:
        if re.match(pattern, url):
            if not marker:
                return None
            markers.append(marker)
    for pattern, regex, _why in PENDING_HTML:
        if re.match(pattern, url):
            html = regex.sub(" ", html)
    parser = VisibleText(markers)
    parser.feed(html)
    return parser.text()


def english_on(url: str, html: str, english: set[str], excused: set[str]) -> dict[str, str]:
    """English word -> where it stands on the page (a few words either side), for the words of the application."""
    text = visible_text(url, html)
    if not text:
        return {}
    found = {}
    for m in WORD.finditer(text):
        for part in re.split(r"[-'’]", m.group(0)):
            w = part.casefold()
            if len(w) >= 3 and w in english and w not in excused and w not in found:
                found[w] = text[max(0, m.start() - 40) : m.end() + 40]
    return found


def test_the_visible_text_rule_leaves_out_scripts_code_and_english_catalogue_texts():
    parser = VisibleText(['class="history'])
    parser.feed(
        '<p>结果 <b>ok</b><script>var shown = 1</script><code>expire</code><span lang="en">Mild pain</span>'
        '<br><details class="history"><summary>Changes</summary></details> 完成</p>'
    )
    assert parser.text() == "结果 ok 完成"
    parser = VisibleText()
    parser.feed(
        '<input name="q" placeholder="Search terms"><span title="Expired"></span><input type="submit" value="Go">'
        '<input type="hidden" value="hidden">'
    )
    assert parser.text() == "Search terms Expired Go"
    assert _words("Re-screening of donor's %(x)s") == {"screening", "donor", "'s"} - {"'s"}


def test_chinese_ui_shows_no_english_from_the_application(demo_app):
    english = application_english()
    excused = data_words(demo_app)
    assert {"donor", "batch", "released", "quarantine"} <= english  # the word list is the application's own
    report, seen = [], 0
    for username in ROLES:
        b = Browser(demo_app.test_client())
        assert b.login(username, DEMO_PASSWORD).status_code == 302, username
        home = b.get("/").get_data(as_text=True)
        assert '<html lang="zh-CN">' in home, f"{username} does not see the Chinese UI"
        pages = crawl(demo_app, b.client)
        seen += sum(1 for html in pages.values() if html)
        for url, html in pages.items():
            found = english_on(url, html, english, excused)
            if found:
                report.append(f"{username} {url}: " + "; ".join(f"{w} [{ctx}]" for w, ctx in sorted(found.items())))
    assert seen >= 60, f"the crawl reached only {seen} pages"
    assert not report, f"English from the application on {len(report)} zh_CN page(s):\n  " + "\n  ".join(report)
