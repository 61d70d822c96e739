"""Engine, sessions and the one-transaction-per-request rule.

SQLite: WAL, busy_timeout, foreign keys and FULL sync are set on every
connection. pysqlite's own transaction handling is switched off and we emit
BEGIN ourselves, so a request that may write starts with BEGIN IMMEDIATE: it
takes the write lock up front and waits (busy_timeout) instead of failing
with "database is locked" when a read is later upgraded to a write.

Security events (failed logins, failed signatures, lockouts, session touches)
must be stored even when the request that caused them is refused and rolled
back; they are queued with ``defer_write`` and run in their own short
transaction after the request's transaction has ended.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from flask import current_app, g, has_request_context
from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, SQLModel

# Constraint names must be stable for Alembic batch migrations on SQLite.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("lims_write_intent", default=False)


@dataclass(frozen=True)
class Actor:
    """Who a change is attributed to in the audit trail."""

    user_id: int | None
    name: str
    client: str | None = None


SYSTEM = Actor(None, "system")


class Database:
    def __init__(self, url: str, busy_timeout_ms: int = 15000, echo: bool = False):
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        kwargs: dict = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": busy_timeout_ms / 1000, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            self._install_sqlite_hooks(busy_timeout_ms)
        self.Session = sessionmaker(self.engine, class_=Session, expire_on_commit=False)

    def _install_sqlite_hooks(self, busy_timeout_ms: int) -> None:
        in_memory = self.url.database in (None, "", ":memory:")

        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            if not in_memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")

    def dispose(self) -> None:
        self.engine.dispose()


def get_db() -> Database:
    return current_app.extensions["lims_db"]


def _new_session(actor: Actor) -> Session:
    s = get_db().Session()
    s.info["actor"] = actor
    s.info["deferred"] = []
    return s


def db_session() -> Session:
    """The request's session (created on first use)."""
    s = g.get("_lims_session")
    if s is None:
        s = _new_session(g.get("actor") or Actor(None, "anonymous", _client()))
        s.info["request"] = True  # the request's own transaction (not a deferred security write)
        g._lims_session = s
    return s


def _client() -> str | None:
    from flask import request

    return request.remote_addr if has_request_context() else None


def set_actor(actor: Actor) -> None:
    g.actor = actor
    s = g.get("_lims_session")
    if s is not None:
        s.info["actor"] = actor


def defer_write(session: Session, fn: Callable[[Session], None]) -> None:
    """Run ``fn`` in its own transaction once ``session``'s transaction ends."""
    session.info.setdefault("deferred", []).append(fn)


def after_commit(session: Session, fn: Callable[[], None]) -> None:
    """Call ``fn`` once the request's transaction has committed (never after a rollback)."""
    session.info.setdefault("after_commit", []).append(fn)


def _run_deferred(actor: Actor, deferred: list) -> None:
    for fn in deferred:
        with transaction(actor) as s:
            fn(s)


@contextmanager
def transaction(actor: Actor = SYSTEM, write: bool = True):
    """A unit of work outside a request (CLI, scheduler, deferred writes)."""
    token = _write_intent.set(write)
    s = _new_session(actor)
    try:
        yield s
        s.commit()
    except BaseException:
        s.rollback()
        raise
    finally:
        deferred = s.info.get("deferred", [])
        s.close()
        _write_intent.reset(token)
        _run_deferred(actor, deferred)


def init_app(app) -> None:
    app.extensions["lims_db"] = Database(
        app.config["DATABASE_URL"], app.config["SQLITE_BUSY_TIMEOUT_MS"], app.config["SQL_ECHO"]
    )

    @app.before_request
    def _begin_request():
        from flask import request

        g._lims_write_token = _write_intent.set(request.method not in ("GET", "HEAD", "OPTIONS"))

    @app.after_request
    def _end_request(response):
        s = g.pop("_lims_session", None)
        if s is not None:
            committed = False
            try:
                if response.status_code < 400 and not g.get("lims_rollback"):
                    try:
                        s.commit()
                        committed = True
                    except Exception:  # the commit itself failed (disk full, database gone): say so, never "saved"
                        app.logger.exception("commit failed")
                        s.rollback()
                        response = _commit_failed_response()
                else:
                    s.rollback()
            finally:
                deferred = s.info.get("deferred", [])
                s.close()
                _reset_intent()
                _run_deferred(s.info["actor"], deferred)
            if committed:
                for fn in s.info.get("after_commit", []):  # e.g. start a background job for the committed row
                    fn()
        return response

    @app.teardown_request
    def _teardown(_exc):
        s = g.pop("_lims_session", None)
        if s is not None:  # an exception escaped: nothing of this request is kept
            deferred = s.info.get("deferred", [])
            s.rollback()
            s.close()
            _reset_intent()
            try:
                _run_deferred(s.info["actor"], deferred)
            except Exception:  # pragma: no cover - never mask the original error
                app.logger.exception("deferred security write failed")
        _reset_intent()


def _commit_failed_response():
    """The page for a request whose changes the database did not store; the success message it queued is dropped."""
    from flask import render_template, session
    from flask_babel import gettext as _

    from .web import back_url

    session.pop("_flashes", None)
    try:
        body = render_template(
            "errors/error.html",
            code=503,
            title=_("Nothing was saved"),
            message=_(
                "The database did not store this change, so nothing was saved. Go back, check "
                "your input and try again; tell the administrator if it happens again."
            ),
            back=back_url(),
        )
    except Exception:  # the layout needs the database too: plain text rather than a second failure
        body = "Nothing was saved: the database did not store this change. Go back and try again."
    from flask import make_response

    return make_response(body, 503)


def _reset_intent() -> None:
    token = g.pop("_lims_write_token", None)
    if token is not None:
        _write_intent.reset(token)
