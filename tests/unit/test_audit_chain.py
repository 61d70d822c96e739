"""The hash chain rules, without a database."""

from datetime import UTC, datetime

from lims.audit.chain import entry_hash, verify
from lims.audit.models import GENESIS_HASH

KEY = bytes(range(32))


def _chain(n):
    rows, prev = [], GENESIS_HASH
    for i in range(1, n + 1):
        row = {
            "id": i,
            "ts": datetime(2026, 11, 23, 1, 0, i, tzinfo=UTC),
            "user_id": 1,
            "user_name": "A",
            "action": "update",
            "entity": "equipment",
            "record_id": "1",
            "record_version": i,
            "field": "name",
            "old_value": f"v{i - 1}",
            "new_value": f"v{i}",
            "reason": "r",
            "client": None,
            "prev_hash": prev,
        }
        row["hash"] = prev = entry_hash(KEY, prev, row)
        rows.append(row)
    return rows


def test_intact_chain_verifies():
    rows = _chain(5)
    assert verify(rows, KEY, 5, rows[-1]["hash"]).ok


def test_empty_chain_verifies_against_genesis_head():
    assert verify([], KEY, 0, GENESIS_HASH).ok


def test_altered_value_is_reported_at_its_row():
    rows = _chain(5)
    rows[2]["new_value"] = "tampered"
    result = verify(rows, KEY, 5, rows[-1]["hash"])
    assert not result.ok and result.broken_at == 3 and "altered" in result.problem


def test_rehashed_row_breaks_the_next_link():
    rows = _chain(5)
    rows[2]["new_value"] = "tampered"
    rows[2]["hash"] = entry_hash(KEY, rows[2]["prev_hash"], rows[2])
    result = verify(rows, KEY, 5, rows[-1]["hash"])
    assert not result.ok and result.broken_at == 4 and "previous-hash" in result.problem


def test_deleted_middle_row_is_a_gap():
    rows = _chain(5)
    del rows[1]
    result = verify(rows, KEY, 5, rows[-1]["hash"])
    assert not result.ok and result.broken_at == 3 and "gap" in result.problem


def test_rows_cut_off_the_end_are_caught_by_the_head():
    rows = _chain(5)
    result = verify(rows[:4], KEY, 5, rows[-1]["hash"])
    assert not result.ok and "removed" in result.problem


def test_hash_is_stable_for_naive_and_aware_utc():
    row = _chain(1)[0]
    naive = dict(row, ts=row["ts"].replace(tzinfo=None))
    assert entry_hash(KEY, GENESIS_HASH, naive) == entry_hash(KEY, GENESIS_HASH, row)


def test_a_row_forged_with_plain_sha256_is_reported_at_that_row():
    """The chain before issue 16 was plain SHA-256: anyone could append a row and recompute its hash."""
    import hashlib

    from lims.audit.chain import payload

    rows = _chain(4)
    forged = dict(rows[-1], id=5, new_value="forged", prev_hash=rows[-1]["hash"])
    forged["hash"] = hashlib.sha256((forged["prev_hash"] + "\n" + payload(forged)).encode()).hexdigest()
    rows.append(forged)
    result = verify(rows, KEY, 5, forged["hash"])
    assert not result.ok and result.broken_at == 5 and "forged" in result.problem


def test_another_key_does_not_verify():
    rows = _chain(3)
    result = verify(rows, b"k" * 32, 3, rows[-1]["hash"])
    assert not result.ok and result.broken_at == 1


def test_a_signature_is_part_of_the_hashed_content():
    row = _chain(1)[0]
    a = entry_hash(KEY, GENESIS_HASH, dict(row, signature='{"id":1}'))
    b = entry_hash(KEY, GENESIS_HASH, dict(row, signature='{"id":2}'))
    assert a != b != entry_hash(KEY, GENESIS_HASH, row)
