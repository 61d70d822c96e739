"""The batch row lock every change of a batch's fate takes first.

Release reads the batch's deviations, QC, steps and lookback holds; a hold, a deviation or a correction
written at the same moment would otherwise slip between that read and the release (PostgreSQL runs them
concurrently; SQLite serialises write transactions already). Each of them takes this lock before it reads or
writes, so they run one after the other and each sees what the one before committed.
"""

from __future__ import annotations

from sqlmodel import select

from .models import Batch


def lock_batch(session, batch_id: int) -> None:
    """Take the row lock on the batch (waits for a writer holding it) and re-read the batch."""
    session.exec(
        select(Batch).where(Batch.id == batch_id).with_for_update().execution_options(populate_existing=True)
    ).one()
