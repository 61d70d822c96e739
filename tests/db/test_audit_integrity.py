"""Issue 16 item 9: the attacks on the audit trail that `lims audit-verify` let through, each now caught at its row.

The attacker writes to the database directly (a role that can drop the triggers, here the test's superuser)
but does not hold the audit key file nor write the checkpoint store outside the database.
"""

import hashlib
import json
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from lims.audit import checkpoints
from lims.audit.chain import HASHED_FIELDS, _canon
from lims.audit.immutability import guard_sql, head_create_sql, unguard_sql
from lims.audit.keys import audit_key
from lims.audit.signatures import sign
from lims.auth.models import User
from lims.db import Actor, transaction
from lims.equipment import operations as eq_ops
from lims.equipment.models import Equipment
from tests.conftest import PASSWORD, audit_rows

DATA = {
    "name": "GenFMTer",
    "kind": "purification_device",
    "location": "Suite A",
    "serial_number": "G1",
    "status": "in_service",
    "calibration_due": None,
    "notes": None,
}


@contextmanager
def unguarded(app, *tables):
    """What a database owner can do: drop the triggers, change things, put the triggers back."""
    engine = app.extensions["lims_db"].engine
    with engine.begin() as conn:
        for t in tables:
            for stmt in unguard_sql(engine.dialect.name, t):
                conn.exec_driver_sql(stmt)
        yield conn
        for t in tables:
            for stmt in guard_sql(engine.dialect.name, t):
                conn.exec_driver_sql(stmt)


def raw(app, sql, **params):
    with app.extensions["lims_db"].engine.begin() as conn:
        return conn.execute(text(sql), params)


def verify(app):
    return app.test_cli_runner().invoke(args=["lims", "audit-verify"])


def checkpoint(app):
    r = app.test_cli_runner().invoke(args=["lims", "audit-checkpoint", "--reason", "end of shift"])
    assert r.exit_code == 0, r.output
    return r


def head(app):
    return tuple(raw(app, "SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1").one())


def hash_of(app, seq):
    return raw(app, "SELECT hash FROM audit_entry WHERE id = :i", i=seq).scalar()


@pytest.fixture
def lab(app, make_user):
    tech = make_user("tech1", name="Tech One")
    qa = make_user("qa1", roles=["qa"], name="QA One")
    with transaction(Actor(tech, "Tech One")) as s:
        eid = eq_ops.create(s, "EQ-GFM-01", dict(DATA)).id
    return tech, qa, eid


def more_work(app, make_user, n=2):
    for i in range(n):
        make_user(f"later{i}")


def test_intact_trail_verifies_with_the_key(app, lab):
    r = verify(app)
    assert r.exit_code == 0 and "intact" in r.output, r.output


def test_tail_cut_with_the_head_moved_back_fails_at_the_checkpointed_row(app, lab, make_user):
    checkpoint(app)
    cp_seq = head(app)[0]
    more_work(app, make_user)
    assert verify(app).exit_code == 0
    keep = cp_seq - 3  # the attacker cuts the last rows, some of them checkpointed, and makes the head agree
    with unguarded(app, "audit_entry", "audit_chain_head") as c:
        c.execute(text("DELETE FROM audit_entry WHERE id > :k"), {"k": keep})
        c.execute(
            text("UPDATE audit_chain_head SET last_seq = :k, last_hash = (SELECT hash FROM audit_entry WHERE id = :k)"),
            {"k": keep},
        )
    r = verify(app)
    assert r.exit_code == 1
    assert f"BROKEN at row {cp_seq}: missing" in r.output and f"the trail now ends at row {keep}" in r.output


def test_the_head_only_moves_forward(app, lab):
    seq, last = head(app)
    earlier = hash_of(app, seq - 1)
    for sql in (
        f"UPDATE audit_chain_head SET last_seq = {seq - 1}, last_hash = '{earlier}'",  # rolled back
        f"UPDATE audit_chain_head SET last_hash = '{'f' * 64}'",  # same seq, other hash
        f"UPDATE audit_chain_head SET last_seq = {seq + 1}, last_hash = '{'e' * 64}'",  # to no row
        "DELETE FROM audit_chain_head",
        f"INSERT INTO audit_chain_head (id, last_seq, last_hash) VALUES (2, 0, '{'0' * 64}')",
    ):
        with pytest.raises(DBAPIError, match="audit_chain_head"):
            raw(app, sql)
    assert head(app) == (seq, last)


def test_head_rolled_back_behind_the_triggers_fails_at_the_checkpointed_row(app, lab, make_user):
    more_work(app, make_user, 1)
    checkpoint(app)
    cp_seq = head(app)[0]
    back = cp_seq - 5
    with unguarded(app, "audit_chain_head") as c:  # rows kept, head rolled back: the rows after it are "not there"
        c.execute(
            text("UPDATE audit_chain_head SET last_seq = :k, last_hash = (SELECT hash FROM audit_entry WHERE id = :k)"),
            {"k": back},
        )
    r = verify(app)
    assert r.exit_code == 1 and f"BROKEN at row {back + 1}" in r.output


def _plain_sha256_row(app, **changes):
    """The forger's row: the last row's shape, a new id, the plain SHA-256 the chain used before the key."""
    seq, last = head(app)
    row = dict(raw(app, "SELECT * FROM audit_entry WHERE id = :i", i=seq).mappings().one())
    row.update(id=seq + 1, prev_hash=last, **changes)
    row.pop("signature", None)
    payload = json.dumps(
        [_canon(row.get(k)) for k in HASHED_FIELDS if k != "signature"], ensure_ascii=False, separators=(",", ":")
    )
    row["hash"] = hashlib.sha256((last + "\n" + payload).encode("utf-8")).hexdigest()
    return row


def test_forged_row_appended_with_a_recomputed_sha256_fails_at_that_row(app, lab):
    row = _plain_sha256_row(
        app, action="update", field="status", old_value="in_service", new_value="retired", reason="forged"
    )
    cols = ", ".join(row)
    raw(app, f"INSERT INTO audit_entry ({cols}) VALUES ({', '.join(':' + k for k in row)})", **row)
    raw(
        app, "UPDATE audit_chain_head SET last_seq = :s, last_hash = :h", s=row["id"], h=row["hash"]
    )  # no trigger dropped
    r = verify(app)
    assert r.exit_code == 1
    assert f"BROKEN at row {row['id']}: content does not match its keyed hash" in r.output


def _signed(app, lab):
    tech, qa, eid = lab
    with transaction(Actor(qa, "QA One")) as s:
        sig = sign(s, s.get(Equipment, eid), "approved", s.get(User, qa), PASSWORD, performers=(tech,))
        return sig.id


def test_the_sign_row_records_the_whole_signature(app, lab, clock):
    sid = _signed(app, lab)
    (row,) = audit_rows(app, action="sign")
    rec = json.loads(row.signature)
    assert rec["id"] == sid and rec["meaning"] == "approved" and rec["user_name"] == "QA One"
    assert (rec["record_type"], rec["record_id"], rec["record_version"]) == ("equipment", str(lab[2]), 1)
    assert len(rec["content_hash"]) == 64 and rec["signed_at"].startswith("2026-11-23T02:00:00")
    assert verify(app).exit_code == 0


def test_deleted_signature_fails_at_the_row_that_recorded_it(app, lab):
    sid = _signed(app, lab)
    (row,) = audit_rows(app, action="sign")
    with unguarded(app, "signature") as c:
        c.execute(text("DELETE FROM signature WHERE id = :i"), {"i": sid})
    r = verify(app)
    assert r.exit_code == 1
    assert f"BROKEN at row {row.id}: records signature {sid}, which is missing" in r.output


def test_altered_signature_fails_at_the_row_that_recorded_it(app, lab):
    sid = _signed(app, lab)
    (row,) = audit_rows(app, action="sign")
    with unguarded(app, "signature") as c:
        c.execute(text("UPDATE signature SET meaning = 'released' WHERE id = :i"), {"i": sid})
    r = verify(app)
    assert r.exit_code == 1 and f"BROKEN at row {row.id}: signature {sid}" in r.output and "altered" in r.output


def test_signature_inserted_behind_the_application_fails(app, lab):
    sid = _signed(app, lab)
    raw(
        app,
        "INSERT INTO signature (user_id, user_name, meaning, record_type, record_id, record_version, content_hash,"
        " signed_at, comment) SELECT user_id, user_name, 'released', record_type, record_id, record_version,"
        " content_hash, signed_at, comment FROM signature WHERE id = :i",
        i=sid,
    )
    r = verify(app)
    assert r.exit_code == 1 and f"signature {sid + 1} (released of equipment" in r.output and "no audit row" in r.output


def test_a_checkpoint_written_without_the_key_is_reported(app, lab):
    checkpoint(app)
    path = checkpoints.store_path()
    line = json.loads(path.read_text().splitlines()[-1])
    line.update(seq=1, hash=hash_of(app, 1), reason="forged to hide a cut")
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")
    r = verify(app)
    assert r.exit_code == 1 and "checkpoint line 2 is not signed with the audit key" in r.output


def test_checkpoint_is_printable_and_matches_the_head(app, lab):
    out = checkpoint(app).output.strip()
    seq, last = head(app)
    assert out.startswith("LIMS audit checkpoint 2026-11-23T02:00:00Z") and f"seq={seq} head={last}" in out
    printed = app.test_cli_runner().invoke(args=["lims", "audit-checkpoint", "--print"])
    assert printed.exit_code == 0 and printed.output.strip() == out
    (cp,) = checkpoints.read_store(audit_key())
    assert cp.valid and (cp.seq, cp.hash) == (seq, last)


def test_no_checkpoint_of_a_broken_trail(app, lab):
    with unguarded(app, "audit_entry") as c:
        c.execute(text("UPDATE audit_entry SET new_value = 'x' WHERE id = 2"))
    r = app.test_cli_runner().invoke(args=["lims", "audit-checkpoint"])
    assert r.exit_code == 1 and "no checkpoint written: audit trail broken at row 2" in r.output
    assert checkpoints.read_store(audit_key()) == []


def test_another_key_verifies_nothing(app, lab, tmp_path):
    other = tmp_path / "other.key"
    other.write_text("ab" * 32)
    app.config["AUDIT_KEY_FILE"] = str(other)
    r = verify(app)
    assert r.exit_code == 1 and "BROKEN at row 1" in r.output


def test_a_missing_key_is_one_clear_line(app, lab, tmp_path):
    app.config["AUDIT_KEY_FILE"] = str(tmp_path / "gone.key")
    r = verify(app)
    assert r.exit_code == 1 and "audit key file" in r.output and "is missing" in r.output
    assert "Traceback" not in r.output
    with pytest.raises(Exception, match="audit key file"):  # and nothing is written without it
        with transaction(Actor(None, "t")) as s:
            eq_ops.create(s, "EQ-X-01", dict(DATA))
    assert not (tmp_path / "gone.key").exists()


def test_the_head_triggers_of_the_migration_and_the_fixtures_agree(app, backend):
    """Migration 0017 spells its trigger SQL out; lims.audit.immutability (used by the fixtures) must match it."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0017_audit_integrity.py"
    spec = importlib.util.spec_from_file_location("m0017", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod._create(backend) == head_create_sql(backend)
