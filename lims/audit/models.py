"""Audit trail rows, the chain head and electronic signatures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Text
from sqlmodel import Field, SQLModel

GENESIS_HASH = "0" * 64


class AuditEntry(SQLModel, table=True):
    """One append-only row; ``id`` is the chain sequence (1, 2, 3, ...)."""

    __tablename__ = "audit_entry"
    # Composite with id: the trail is read newest-first within a filter.
    __table_args__ = (
        Index("ix_audit_entry_entity_record", "entity", "record_id", "id"),
        Index("ix_audit_entry_action_id", "action", "id"),
        Index("ix_audit_entry_user_id_id", "user_id", "id"),
    )

    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    ts: datetime = Field(index=True)
    user_id: int | None = None
    user_name: str = Field(max_length=200)
    action: str = Field(max_length=40)
    entity: str = Field(max_length=80)
    record_id: str | None = Field(default=None, max_length=80)
    record_version: int | None = None
    field: str | None = Field(default=None, max_length=80)
    old_value: str | None = Field(default=None, sa_column=Column(Text))
    new_value: str | None = Field(default=None, sa_column=Column(Text))
    reason: str | None = Field(default=None, sa_column=Column(Text))
    client: str | None = Field(default=None, max_length=80)
    # A "sign" row carries the signature it records (canonical JSON: id, signer, meaning, record type/id/version,
    # content hash, time, comment), so the signature table is bound into the chain.
    signature: str | None = Field(default=None, sa_column=Column(Text))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditChainHead(SQLModel, table=True):
    """The last sequence and hash; locked while rows are appended.

    Also lets audit-verify notice rows cut off the end of the chain. Triggers let it only move forward, to a
    row that exists with that hash (``lims.audit.immutability``); it is never deleted.
    """

    __tablename__ = "audit_chain_head"

    id: int = Field(default=1, primary_key=True)
    last_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    last_hash: str = Field(default=GENESIS_HASH, max_length=64)


class Signature(SQLModel, table=True):
    """An electronic signature bound to one version and content of a record."""

    __tablename__ = "signature"
    __table_args__ = (Index("ix_signature_record", "record_type", "record_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id")
    user_name: str = Field(max_length=200)
    meaning: str = Field(max_length=20)
    record_type: str = Field(max_length=80)
    record_id: str = Field(max_length=80)
    record_version: int
    content_hash: str = Field(max_length=64)
    signed_at: datetime
    comment: str | None = Field(default=None, sa_column=Column(Text))
