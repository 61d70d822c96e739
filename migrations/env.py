"""Alembic environment: uses the app's connection (pragmas and BEGIN hooks included)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import lims.models  # noqa: F401  (complete metadata)

config = context.config
target_metadata = SQLModel.metadata


def _include(obj, name, type_, reflected, compare_to):
    return True


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # plain `alembic` command line: build an engine from the environment
        from config import Config

        url = os.environ.get("LIMS_DATABASE_URL", Config.DATABASE_URL)
        with create_engine(url).connect() as conn:
            _run(conn)
            conn.commit()
        return
    _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=_include,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
