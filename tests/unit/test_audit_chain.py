"""The hash chain rules, without a database."""
from datetime import datetime, timezone

from lims.audit.chain import entry_hash, verify
from lims.audit.models import GENESIS_HASH


def _chain(n):
    rows, prev = [], GENESIS_HASH
    for i in range(1, n + 1):
        row = {"id": i, "ts": datetime(2026, 11, 23, 1, 0, i, tzinfo=timezone.utc), "user_id": 1, "user_name": "A",
               "action": "update", "entity": "equipment", "record_id": "1", "record_version": i, "field": "name",
               "old_value": f"v{i - 1}", "new_value": f"v{i}", "reason": "r", "client": None, "prev_hash": prev}
        row["hash"] = prev = entry_hash(prev, row)
        rows.append(row)
    return rows


def test_intact_chain_verifies():
    rows = _chain(5)
    assert verify(rows, 5, rows[-1]["hash"]).ok


def test_empty_chain_verifies_against_genesis_head():
    assert verify([], 0, GENESIS_HASH).ok


def test_altered_value_is_reported_at_its_row():
    rows = _chain(5)
    rows[2]["new_value"] = "tampered"
    result = verify(rows, 5, rows[-1]["hash"])
    assert not result.ok and result.broken_at == 3 and "altered" in result.problem


def test_rehashed_row_breaks_the_next_link():
    rows = _chain(5)
    rows[2]["new_value"] = "tampered"
    rows[2]["hash"] = entry_hash(rows[2]["prev_hash"], rows[2])
    result = verify(rows, 5, rows[-1]["hash"])
    assert not result.ok and result.broken_at == 4 and "previous-hash" in result.problem


def test_deleted_middle_row_is_a_gap():
    rows = _chain(5)
    del rows[1]
    result = verify(rows, 5, rows[-1]["hash"])
    assert not result.ok and result.broken_at == 3 and "gap" in result.problem


def test_rows_cut_off_the_end_are_caught_by_the_head():
    rows = _chain(5)
    result = verify(rows[:4], 5, rows[-1]["hash"])
    assert not result.ok and "removed" in result.problem


def test_hash_is_stable_for_naive_and_aware_utc():
    row = _chain(1)[0]
    naive = dict(row, ts=row["ts"].replace(tzinfo=None))
    assert entry_hash(GENESIS_HASH, naive) == entry_hash(GENESIS_HASH, row)
