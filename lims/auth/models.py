"""Users (audited GMP records), server-side sessions and login attempts."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlmodel import Field, SQLModel

from ..audit.records import AuditedRecord


class User(AuditedRecord, table=True):
    """An individual account. Never deleted: deactivated, so its name stays on records."""

    __tablename__ = "app_user"
    __audit_mask__: ClassVar[frozenset] = frozenset({"password_hash"})

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    full_name: str = Field(max_length=200)
    roles: str = Field(default="", max_length=200)  # sorted, comma-separated
    password_hash: str = Field(max_length=255)
    must_change_password: bool = Field(default=True)
    active: bool = Field(default=True)
    failed_attempts: int = Field(default=0)
    locked_at: datetime | None = None
    language: str = Field(default="en", max_length=10)
    password_changed_at: datetime | None = None

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_set & set(roles))


class UserSession(SQLModel, table=True):
    """A login session held on the server; the cookie carries only its token.

    The table keeps the SHA-256 of the token, so reading the database does not
    let anyone take over a session. Ending a row ends the session everywhere.
    """

    __tablename__ = "user_session"

    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = Field(default=None, max_length=40)
    client: str | None = Field(default=None, max_length=80)


class LoginAttempt(SQLModel, table=True):
    """Failed sign-ins by account name (as typed) and client address: the throttle counts them, across workers."""

    __tablename__ = "login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    ts: datetime = Field(index=True)
    username: str = Field(max_length=64)
    client: str | None = Field(default=None, max_length=80, index=True)
