"""A seeded, bounded fuzz sweep over every route (issue 16 item 12).

What it does, per role (anonymous first, administrator last, so an account the
administrator changes cannot cut the others short):
1. crawl the app from "/" as that role, following links (a few URLs per endpoint), and collect every POST form
   with its fields, hidden tokens and choices;
2. send each form again with one field at a time replaced by a hostile value (malformed, oversized, wrong type,
   NUL, control characters, invalid UTF-8, markup, SQL, scanned payloads of another kind), plus whole-form
   mutations (all empty, only the CSRF token, repeated keys); POST routes no crawled form reaches get the same
   treatment with guessed fields;
3. send every crawled GET URL again with hostile query parameters and a hostile last path segment.

After each request it asserts the status is below 500 and, when the request was refused (status 400 or more),
that nothing was stored: the row count and the sum of record versions of every table, and the audit rows, are
the same as before (security events written on purpose after a refusal - failed logins and signatures, lockouts,
session touches, downloads - are left out of that comparison, as are the account and session tables they touch).

Everything random comes from one ``random.Random(seed)``: a failing request is reproduced by the same seed.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

from sqlalchemy import text
from sqlmodel import SQLModel

# Audit actions and tables that a refusal writes on purpose (lims.db.defer_write): not "stored changes".
SECURITY_ACTIONS = (
    "login_failed",
    "lockout",
    "session_timeout",
    "signature_refused",
    "signature_failed",
    "password_change_failed",
    "administration_refused",
    "report",
)
SECURITY_TABLES = {"app_user", "user_session", "login_attempt", "audit_chain_head", "audit_entry", "alembic_version"}
SKIP_POST = {"auth.logout"}  # ends the sweep's own session
SKIP_LINK = re.compile(r"^/(static/|logout)")

HOSTILE = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01\x02",
    "\x1b[2J",
    "\x7f",
    "\u0085",
    "\ufffd",
    "\u202e",
    "😀" * 40,
    "x" * 5000,
    "1" * 400,
    "-1",
    "0",
    "-0",
    "99999999999999999999999",
    "2147483648",
    "9223372036854775808",
    "1e309",
    "NaN",
    "inf",
    "-inf",
    "1,5",
    "0x1F",
    "٣",
    "12abc",
    "2026-02-30",
    "2026-13-01",
    "0000-00-00",
    "2026-12-06T25:61",
    "2026-12-06T10:00:99",
    "9999-12-31T23:59",
    "<script>alert(1)</script>",
    '"><img src=x>',
    "' OR 1=1 --",
    "'; DROP TABLE batch; --",
    "{{7*7}}",
    "%s%n%x",
    "../../../etc/passwd",
    "LIMS:BA:FMT-20260101-01",
    "LIMS:DU:NOPE",
    "LIMS:",
    "LIMS:DO:D-0001:extra",
    "D-0001\n",
    '=HYPERLINK("http://x")',
    "+1",
    "@SUM(1)",
    "true",
    "on",
    "null",
    "[]",
    "{}",
]
BAD_BYTES = [b"%FF%FE", b"%C3%28", b"%ED%A0%80", b"\xff", b"%00", b"%F0%28%8C%BC"]
QUERY_NAMES = [
    "after",
    "before",
    "code",
    "q",
    "user",
    "status",
    "donor",
    "batch",
    "recipient",
    "entity",
    "record_id",
    "action",
    "date_from",
    "date_to",
    "next",
    "day",
    "page",
    "lot",
    "kind",
    "administration",
    "format",
]


class FormParser(HTMLParser):
    """Every <form method=post> of a page: action and fields (name, type, value, options)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms, self._form, self._select, self._textarea = [], None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action") or "", "method": (a.get("method") or "get").lower(), "fields": []}
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                self._form["fields"].append((a["name"], kind, None, [a.get("value", "on")]))
            else:
                self._form["fields"].append((a["name"], kind, a.get("value", ""), []))
        elif tag == "select" and a.get("name"):
            self._select = [a["name"], "select", None, []]
        elif tag == "option" and self._select is not None:
            self._select[3].append(a.get("value", ""))
            if "selected" in a or self._select[2] is None:
                self._select[2] = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self._textarea = [a["name"], "textarea", ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[2] += data

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None and self._form is not None:
            self._form["fields"].append(tuple(self._select))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form["fields"].append((self._textarea[0], "textarea", self._textarea[2].lstrip("\n"), []))
            self._textarea = None
        elif tag == "form" and self._form is not None:
            if self._form["method"] == "post":
                self.forms.append(self._form)
            self._form = None


class LinkParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)


@dataclass
class Figures:
    requests: int = 0
    posts: int = 0
    gets: int = 0
    statuses: Counter = field(default_factory=Counter)
    server_errors: list = field(default_factory=list)
    changed_after_refusal: list = field(default_factory=list)
    post_endpoints: set = field(default_factory=set)
    get_endpoints: set = field(default_factory=set)
    forms: int = 0

    def line(self, backend: str, post_rules: int, get_rules: int) -> str:
        return (
            f"fuzz sweep [{backend}]: {self.requests} requests ({self.posts} POST to {len(self.post_endpoints)} of "
            f"{post_rules} POST routes, {self.gets} GET to {len(self.get_endpoints)} of {get_rules} GET routes, "
            f"{self.forms} forms), "
            f"{len(self.server_errors)} server errors, {len(self.changed_after_refusal)} stored changes after "
            f"refusals; statuses {dict(sorted(self.statuses.items()))}"
        )


class Sweep:
    def __init__(self, app, seed: int, per_form: int = 6, per_get: int = 3, pages_per_role: int = 90):
        self.app, self.rng = app, random.Random(seed)
        self.per_form, self.per_get, self.pages_per_role = per_form, per_get, pages_per_role
        self.fig = Figures()
        self.adapter = app.url_map.bind("localhost")
        self.db = app.extensions["lims_db"]
        self.args_seen: dict[str, list[str]] = defaultdict(list)
        self._snapshot_sql = self._build_snapshot_sql()

    # --- stored state ---------------------------------------------------------------------------------
    def _build_snapshot_sql(self):
        parts = []
        for name, table in sorted(SQLModel.metadata.tables.items()):
            if name in SECURITY_TABLES:
                continue
            version = "coalesce(sum(version), 0)" if "version" in table.c else "0"
            parts.append(f"SELECT '{name}' AS t, count(*) AS n, {version} AS v FROM {name}")
        actions = ", ".join(f"'{a}'" for a in SECURITY_ACTIONS)
        parts.append(
            f"SELECT 'audit_entry' AS t, count(*) AS n, 0 AS v FROM audit_entry WHERE action NOT IN ({actions}) "
            "AND NOT (entity = 'app_user' AND field IN ('failed_attempts', 'locked_at'))"
        )
        return text(" UNION ALL ".join(parts))

    def snapshot(self) -> dict:
        with self.db.engine.connect() as c:
            return {t: (n, int(v)) for t, n, v in c.execute(self._snapshot_sql)}

    def _free_accounts(self):
        """A refused signature counts towards a lockout and a failed login towards the throttle: the sweep's own
        accounts are unlocked between requests (outside any compared snapshot)."""
        with self.db.engine.connect() as c:
            dirty = c.execute(
                text(
                    "SELECT (SELECT count(*) FROM app_user WHERE failed_attempts > 0 OR locked_at IS NOT "
                    "NULL) + (SELECT count(*) FROM login_attempt)"
                )
            ).scalar()
        if dirty:
            with self.db.engine.begin() as c:
                c.execute(
                    text(
                        "UPDATE app_user SET failed_attempts = 0, locked_at = NULL WHERE failed_attempts > 0 "
                        "OR locked_at IS NOT NULL"
                    )
                )
                c.execute(text("DELETE FROM login_attempt"))

    # --- requests -------------------------------------------------------------------------------------
    def _endpoint(self, path: str, method: str) -> str | None:
        try:
            endpoint, args = self.adapter.match(urlsplit(path).path, method=method)
        except Exception:
            return None
        for k, v in args.items():
            if str(v) not in self.args_seen[k]:
                self.args_seen[k].append(str(v))
        return endpoint

    def send(self, client, method: str, url: str, body=None, what: str = "") -> object:
        before = self.snapshot()
        if method == "POST":
            if isinstance(body, bytes):
                resp = client.post(url, data=body, content_type="application/x-www-form-urlencoded")
            else:
                resp = client.post(url, data=body or {})
            self.fig.posts += 1
        else:
            resp = client.get(url)
            self.fig.gets += 1
        self.fig.requests += 1
        self.fig.statuses[resp.status_code] += 1
        endpoint = self._endpoint(url, method)
        if endpoint:
            (self.fig.post_endpoints if method == "POST" else self.fig.get_endpoints).add(endpoint)
        if resp.status_code >= 500:
            self.fig.server_errors.append((method, url, what, resp.status_code, _summary(body)))
        elif resp.status_code >= 400:
            after = self.snapshot()
            if after != before:
                diff = {
                    t: (before.get(t), after.get(t)) for t in set(before) | set(after) if before.get(t) != after.get(t)
                }
                self.fig.changed_after_refusal.append((method, url, what, resp.status_code, diff))
        if method == "POST" and resp.status_code >= 400:
            self._free_accounts()
        return resp

    # --- crawling -------------------------------------------------------------------------------------
    def crawl(self, client):
        """Pages (url -> html) reached from "/" by links, a few per endpoint."""
        pages, queue, per_endpoint = {}, ["/"], Counter()
        while queue and len(pages) < self.pages_per_role:
            url = queue.pop(0)
            if url in pages:
                continue
            endpoint = self._endpoint(url, "GET")
            if endpoint is None or per_endpoint[endpoint] >= 2:
                continue
            per_endpoint[endpoint] += 1
            resp = self.send(client, "GET", url, what="crawl")
            if resp.status_code != 200 or "html" not in (resp.mimetype or ""):
                pages[url] = ""
                continue
            body = resp.get_data(as_text=True)
            pages[url] = body
            lp = LinkParser()
            lp.feed(body)
            for href in lp.links:
                full = urljoin(url, href)
                parts = urlsplit(full)
                if parts.netloc not in ("", "localhost") or SKIP_LINK.match(parts.path):
                    continue
                target = parts.path + (f"?{parts.query}" if parts.query else "")
                if target not in pages:
                    queue.append(target)
        return pages

    # --- mutation -------------------------------------------------------------------------------------
    def _hostile(self):
        return self.rng.choice(HOSTILE)

    def _base(self, fields, password):
        data = []
        for name, kind, value, options in fields:
            if kind == "password":
                data.append((name, password))
            elif value is not None:
                data.append((name, value))
            elif options:
                data.append((name, options[0]))
        return data

    def mutations(self, fields, password):
        base = self._base(fields, password)
        names = [n for n, *_ in fields if n != "csrf_token"]
        out = []
        if names:
            for _ in range(self.per_form):
                target = self.rng.choice(names)
                value = self._hostile()
                out.append((f"{target}={value[:20]!r}", [(n, value if n == target else v) for n, v in base]))
            target = self.rng.choice(names)
            raw = self.rng.choice(BAD_BYTES)
            raw_body = b"&".join(
                urlencode({n: ""}).encode() + raw if n == target else urlencode({n: v}).encode() for n, v in base
            )
            out.append((f"{target}=<bad bytes>", raw_body))
        out.append(("all empty", [(n, "" if n != "csrf_token" else v) for n, v in base]))
        out.append(("csrf only", [(n, v) for n, v in base if n == "csrf_token"]))
        out.append(("repeated keys", base + [(n, self._hostile()) for n, v in base if n != "csrf_token"]))
        return out

    def _multidict(self, pairs):
        from werkzeug.datastructures import MultiDict

        return MultiDict(pairs)

    def fuzz_forms(self, client, pages, password):
        seen = set()
        for page_url, body in pages.items():
            if not body:
                continue
            fp = FormParser()
            fp.feed(body)
            for form in fp.forms:
                action = urljoin(page_url, form["action"] or page_url)
                endpoint = self._endpoint(action, "POST")
                key = (endpoint, tuple(sorted(n for n, *_ in form["fields"])))
                if endpoint is None or endpoint in SKIP_POST or key in seen:
                    continue
                seen.add(key)
                self.fig.forms += 1
                path = urlsplit(action).path
                for what, data in self.mutations(form["fields"], password):
                    self.send(
                        client,
                        "POST",
                        path,
                        data if isinstance(data, bytes) else self._multidict(data),
                        what=f"{endpoint}: {what}",
                    )

    def _build(self, rule):
        """A URL of ``rule`` with ids seen while crawling (or a guess), None if none can be built."""
        values = {}
        for arg in rule.arguments:
            seen = self.args_seen.get(arg)
            conv = rule._converters[arg]
            if seen:
                values[arg] = self.rng.choice(seen)
            elif conv.__class__.__name__ in ("BoundedInt", "IntegerConverter"):
                values[arg] = "1"
            elif hasattr(conv, "items"):
                values[arg] = sorted(conv.items)[0]
            else:
                values[arg] = "X-1"
        try:
            return self.adapter.build(rule.endpoint, values)
        except Exception:
            return None

    def fuzz_unreached_gets(self, client):
        """GET routes no link reached (a report of a record type the crawl did not open, an export's status)."""
        for rule in self.app.url_map.iter_rules():
            if (
                "GET" not in (rule.methods or ())
                or rule.endpoint == "static"
                or rule.endpoint in self.fig.get_endpoints
            ):
                continue
            path = self._build(rule)
            if path is not None:
                self.fuzz_gets(client, {path: ""})

    def fuzz_unreached_posts(self, client, password, csrf):
        """POST routes no crawled form reached: guessed fields, hostile values, real ids where seen."""
        for rule in self.app.url_map.iter_rules():
            if (
                "POST" not in (rule.methods or ())
                or rule.endpoint in SKIP_POST
                or rule.endpoint in self.fig.post_endpoints
            ):
                continue
            path = self._build(rule)
            if path is None:
                continue
            guessed = [
                ("csrf_token", csrf),
                ("reason", "r"),
                ("password", password),
                ("version", "1"),
                ("code", self._hostile()),
                ("position", self._hostile()),
                ("sign-password", password),
            ]
            for _ in range(3):
                data = [(n, self._hostile() if n != "csrf_token" else v) for n, v in guessed]
                self.send(client, "POST", path, self._multidict(data), what=f"{rule.endpoint}: guessed")

    def fuzz_gets(self, client, pages):
        for url in list(pages):
            parts = urlsplit(url)
            for _ in range(self.per_get):
                params = {self.rng.choice(QUERY_NAMES): self._hostile() for _ in range(self.rng.randint(1, 3))}
                self.send(client, "GET", f"{parts.path}?{urlencode(params)}", what="query")
            segments = parts.path.rstrip("/").split("/")
            if len(segments) > 2:
                hostile = urlencode({"x": self._hostile()})[2:] or "%00"
                self.send(client, "GET", "/".join(segments[:-1] + [hostile]), what="path")
            self.send(
                client,
                "GET",
                f"{parts.path}?{self.rng.choice(QUERY_NAMES)}=" + self.rng.choice(BAD_BYTES).decode("latin-1"),
                what="bad bytes",
            )


def _summary(body):
    if body is None:
        return None
    if isinstance(body, bytes):
        return body[:300]
    return [(k, v[:60]) for k, v in body.items(multi=True)][:20]
