"""Fixtures: an app on SQLite or PostgreSQL, a frozen clock, users and a logged-in client.

Database tests take the ``app`` fixture, which is parametrized over both back
ends, so each runs on SQLite and on PostgreSQL. PostgreSQL is used at
LIMS_TEST_DATABASE_URL, else 127.0.0.1:5432 database ``test``, inside its own
schema. With CI=true an unreachable PostgreSQL fails the run instead of
skipping.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from datetime import UTC, datetime

import pytest
from flask.globals import _cv_app
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from config import TestConfig
from lims import create_app
from lims.clock import FrozenClock
from lims.db import Actor, Database, transaction
from lims.migrate import upgrade

CI = os.environ.get("CI", "").lower() == "true"
PG_SCHEMA = f"lims_test_{os.getpid()}"  # concurrent runs never share a schema
PG_BASE = os.environ.get("LIMS_TEST_DATABASE_URL", "postgresql+psycopg://127.0.0.1:5432/test")
PASSWORD = "Correct-Horse-Battery-9"
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _pg_url() -> str:
    sep = "&" if "?" in PG_BASE else "?"
    return f"{PG_BASE}{sep}options=-csearch_path%3D{PG_SCHEMA}"


def _pg_reachable() -> str | None:
    try:
        eng = create_engine(PG_BASE, connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:
        return str(exc).splitlines()[0]


def _pid_alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "template.sqlite"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_migrated():
    problem = _pg_reachable()
    if problem:
        if CI:
            pytest.fail(f"CI=true and PostgreSQL is not reachable at {PG_BASE}: {problem}")
        pytest.skip(f"PostgreSQL not reachable ({problem})")
    eng = create_engine(PG_BASE)
    with eng.begin() as c:
        for (name,) in c.execute(text("select nspname from pg_namespace where nspname like 'lims_test_%'")):
            if not _pid_alive(name.rsplit("_", 1)[-1]):  # left by a run that was killed
                c.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        c.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        c.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    eng.dispose()
    db = Database(_pg_url())
    upgrade(db)
    tables = [
        r[0]
        for r in db.engine.connect().execute(
            text("select tablename from pg_tables where schemaname = :s and tablename <> 'alembic_version'"),
            {"s": PG_SCHEMA},
        )
    ]
    db.dispose()
    yield tables
    eng = create_engine(PG_BASE)
    with eng.begin() as c:
        c.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
    eng.dispose()


def reset_pg(url: str, tables: list[str]) -> None:
    """Empty every table; the append-only and chain-head triggers are dropped and put back."""
    from lims.audit.immutability import GUARDED_TABLES, guard_sql, unguard_sql

    eng = create_engine(url)
    with eng.begin() as c:
        for t in GUARDED_TABLES:
            for stmt in unguard_sql("postgresql", t):
                c.exec_driver_sql(stmt)
        c.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        c.exec_driver_sql("INSERT INTO audit_chain_head (id, last_seq, last_hash) VALUES (1, 0, '" + "0" * 64 + "')")
        for t in GUARDED_TABLES:
            for stmt in guard_sql("postgresql", t):
                c.exec_driver_sql(stmt)
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    return request.param


@pytest.fixture
def database_url(backend, request, tmp_path):
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "lims.sqlite"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    tables = request.getfixturevalue("pg_migrated")
    url = _pg_url()
    reset_pg(url, tables)
    return url


@pytest.fixture
def clock():
    return FrozenClock(START)


class IsolatedClient(FlaskClient):
    """Each request gets its own app context and ``g``, as in production.

    The ``app`` fixture keeps an app context pushed for direct database calls;
    Flask would reuse it for test requests and leak ``g`` between them.
    """

    def open(self, *args, **kwargs):
        token = _cv_app.set(None)
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)


@pytest.fixture
def app(database_url, clock, tmp_path):
    app = create_app(
        TestConfig,
        DATABASE_URL=database_url,
        BACKUP_DIR=str(tmp_path / "backups"),
        AUDIT_CHECKPOINT_DIR=str(tmp_path / "checkpoints"),
    )
    app.extensions["clock"] = clock
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
    app.extensions["lims_db"].dispose()


@pytest.fixture
def make_user(app):
    def make(username, roles=("technician",), password=PASSWORD, must_change=False, name=None, language="en"):
        from lims.auth.operations import create_user

        with transaction(Actor(None, "test setup")) as s:
            u = create_user(
                s, username, name or username.title(), list(roles), password, language, must_change=must_change
            )
            return u.id

    return make


# Hidden fields a page's forms carry for the server to check: signature content fingerprints and one-time tokens.
CONTENT_RE = re.compile(r'<input id="[^"]*" name="([^"]+-content|(?:[^"]+-)?once)" type="hidden" value="([^"]*)"')
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF token in page"
    return m.group(1) or m.group(2)


class Browser:
    """A test client that reads CSRF tokens from pages like a browser would."""

    def __init__(self, client):
        self.client = client

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def token(self, url="/"):
        return csrf_from(self.client.get(url).get_data(as_text=True))

    def post(self, url, data=None, token_from=None, csrf=True, **kw):
        """Post as a browser would from the page ``token_from``: with its CSRF token, the content fingerprints its
        signature forms carry (hidden ``*-content``) and its creating forms' one-time tokens (``once``), unless the
        test gives them itself."""
        data = dict(data or {})
        if csrf and "csrf_token" not in data:
            html = self.client.get(token_from or url).get_data(as_text=True)
            data["csrf_token"] = csrf_from(html)
            for name, value in CONTENT_RE.findall(html):
                data.setdefault(name, value)
        return self.client.post(url, data=data, **kw)

    def login(self, username, password=PASSWORD):
        return self.post("/login", {"username": username, "password": password}, token_from="/login")

    def logout(self):
        return self.post("/logout", token_from="/profile")


@pytest.fixture
def browser(app):
    return Browser(app.test_client())


@pytest.fixture
def as_user(app, make_user):
    """as_user('qa', roles=['qa']) -> a Browser signed in as a new user."""

    def factory(username, roles=("technician",), **kw):
        make_user(username, roles, **kw)
        b = Browser(app.test_client())
        r = b.login(username)
        assert r.status_code == 302, r.get_data(as_text=True)
        return b

    return factory


def page_text(resp) -> str:
    """A response's page as text, HTML entities decoded."""
    import html

    return html.unescape(resp.get_data(as_text=True))


def user_row(uid):
    from lims.auth.models import User

    with transaction(Actor(None, "test"), write=False) as s:
        return s.get(User, uid)


def audit_rows(app, **filters):
    from sqlmodel import select

    from lims.audit.models import AuditEntry

    with transaction(Actor(None, "test"), write=False) as s:
        q = select(AuditEntry)
        for k, v in filters.items():
            q = q.where(getattr(AuditEntry, k) == v)
        return s.exec(q.order_by(AuditEntry.id)).all()


def pytest_sessionstart(session):
    """The .mo files are build products (gitignored): compile them before any test."""
    from lims.i18n_build import compile_catalogs

    compile_catalogs()


def pytest_terminal_summary(terminalreporter):
    """Print how many tests ran per back end, so CI logs prove both ran."""
    counts: Counter = Counter()
    for outcome in ("passed", "failed", "skipped", "error"):
        for rep in terminalreporter.stats.get(outcome, []):
            if getattr(rep, "when", "call") not in ("call", "setup") or (outcome == "passed" and rep.when != "call"):
                continue
            nodeid = rep.nodeid
            if "tests/browser/" in nodeid:
                kind = "browser"
            elif "[postgresql" in nodeid or "-postgresql" in nodeid:
                kind = "postgresql"
            elif "[sqlite" in nodeid or "-sqlite" in nodeid:
                kind = "sqlite"
            else:
                kind = "unit"
            counts[(kind, outcome)] += 1
    terminalreporter.write_sep("=", "tests by back end")
    for kind in ("unit", "sqlite", "postgresql", "browser"):
        parts = [f"{counts[(kind, o)]} {o}" for o in ("passed", "failed", "skipped", "error") if counts[(kind, o)]]
        terminalreporter.write_line(f"{kind:>11}: {', '.join(parts) or 'none'}")
