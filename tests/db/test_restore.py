"""Issue 16 item 10: `lims restore` checks the backup before it replaces anything, refuses in one line, and keeps a
safety copy that holds what was only in the WAL."""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from lims.cli import _sha256
from lims.db import Actor, transaction
from lims.equipment import operations as eq_ops
from lims.equipment.models import Equipment

DATA = {
    "name": "n",
    "kind": "other",
    "location": "",
    "serial_number": "",
    "status": "in_service",
    "calibration_due": None,
    "notes": None,
}


@pytest.fixture
def sqlite_app(app, backend, make_user):
    if backend != "sqlite":
        pytest.skip("restore of a file is the SQLite path; PostgreSQL restores with pg_restore")
    make_user("tech1")
    with transaction(Actor(None, "t")) as s:
        eq_ops.create(s, "EQ-OLD-01", dict(DATA))
    return app


def _backup(app, tmp_path) -> Path:
    r = app.test_cli_runner().invoke(args=["lims", "backup", "--to", str(tmp_path / "bk")])
    assert r.exit_code == 0, r.output
    assert "LIMS audit checkpoint" in r.output and "schema revision: 0018" in r.output
    return Path(r.output.split("backup written: ")[1].split()[0])


def _equipment_codes():
    with transaction(Actor(None, "t"), write=False) as s:
        return sorted(s.exec(select(Equipment.code)).all())


def _restore(app, path, *extra):
    return app.test_cli_runner().invoke(args=["lims", "restore", str(path), "--yes", *extra])


def _one_line_refusal(r, *words):
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "nothing was changed" in lines[0], r.output
    assert "Traceback" not in r.output
    for w in words:
        assert w in lines[0], r.output


def _edit(path: Path, *sql, reseal=True):
    """Change a backup file behind its back (triggers dropped), then recompute its .sha256 like a forger would."""
    c = sqlite3.connect(path)
    for stmt in sql:
        c.execute(stmt)
    c.commit()
    c.close()
    if reseal:
        Path(f"{path}.sha256").write_text(f"{_sha256(path)}  {path.name}\n")
        m = json.loads(Path(f"{path}.manifest.json").read_text())
        m["sha256"] = _sha256(path)
        Path(f"{path}.manifest.json").write_text(json.dumps(m))


def _after_the_backup():
    with transaction(Actor(None, "t")) as s:
        eq_ops.create(s, "EQ-NEW-01", dict(DATA))


def test_a_good_backup_is_restored_and_the_trail_verifies(sqlite_app, tmp_path):
    backup = _backup(sqlite_app, tmp_path)
    assert Path(f"{backup}.sha256").read_text().split() == [_sha256(backup), backup.name]
    manifest = json.loads(Path(f"{backup}.manifest.json").read_text())
    assert manifest["schema_revision"] == "0018" and manifest["checkpoint"]["kind"] == "checkpoint"
    _after_the_backup()
    sqlite_app.test_cli_runner().invoke(args=["lims", "audit-checkpoint"])  # a checkpoint beyond the backup's head
    r = _restore(sqlite_app, backup)
    assert r.exit_code == 0, r.output
    assert _equipment_codes() == ["EQ-OLD-01"]
    v = sqlite_app.test_cli_runner().invoke(args=["lims", "audit-verify"])
    assert v.exit_code == 0, v.output  # the signed restore line sets the replaced trail's checkpoint aside


def test_tampered_backup_is_refused_naming_the_row(sqlite_app, tmp_path):
    backup = _backup(sqlite_app, tmp_path)
    c = sqlite3.connect(backup)
    target = c.execute("SELECT id FROM audit_entry WHERE field = 'code' AND new_value = 'EQ-OLD-01'").fetchone()[0]
    c.close()
    _edit(
        backup,
        "DROP TRIGGER audit_entry_no_update",
        f"UPDATE audit_entry SET new_value = 'EQ-FAKE-01' WHERE id = {target}",
    )
    _after_the_backup()
    r = _restore(sqlite_app, backup)
    _one_line_refusal(r, "audit trail", f"does not verify at row {target}")
    assert _equipment_codes() == ["EQ-NEW-01", "EQ-OLD-01"]


def test_backup_with_its_tail_cut_is_refused(sqlite_app, tmp_path):
    backup = _backup(sqlite_app, tmp_path)
    c = sqlite3.connect(backup)
    last = c.execute("SELECT last_seq FROM audit_chain_head").fetchone()[0]
    c.close()
    _edit(
        backup,
        "DROP TRIGGER audit_entry_no_delete",
        "DROP TRIGGER audit_chain_head_forward_only",
        f"DELETE FROM audit_entry WHERE id > {last - 2}",
        f"UPDATE audit_chain_head SET last_seq = {last - 2}, last_hash = (SELECT hash FROM audit_entry WHERE id = {last - 2})",
    )
    r = _restore(sqlite_app, backup)
    _one_line_refusal(r, f"ends at row {last - 2}, but its backup checkpoint says row {last}")


def test_older_schema_revision_is_refused(sqlite_app, tmp_path):
    backup = _backup(sqlite_app, tmp_path)
    _edit(backup, "UPDATE alembic_version SET version_num = '0016'")
    _after_the_backup()
    r = _restore(sqlite_app, backup)
    _one_line_refusal(r, "schema revision 0016", "older than this installation's 0018", "--upgrade")
    assert _equipment_codes() == ["EQ-NEW-01", "EQ-OLD-01"]


def test_unknown_schema_revision_is_refused(sqlite_app, tmp_path):
    backup = _backup(sqlite_app, tmp_path)
    _edit(backup, "UPDATE alembic_version SET version_num = '0099'")
    _one_line_refusal(_restore(sqlite_app, backup, "--upgrade"), "schema revision 0099", "does not know")


def test_corrupt_file_is_refused_in_one_line(sqlite_app, tmp_path):
    backup = _backup(sqlite_app, tmp_path)
    data = bytearray(backup.read_bytes())
    data[0:16] = b"garbage garbage!"  # the header: not a database any more
    backup.write_bytes(bytes(data))
    Path(f"{backup}.sha256").write_text(f"{_sha256(backup)}  {backup.name}\n")
    m = json.loads(Path(f"{backup}.manifest.json").read_text())
    m["sha256"] = _sha256(backup)
    Path(f"{backup}.manifest.json").write_text(json.dumps(m))
    _one_line_refusal(_restore(sqlite_app, backup), "not a readable SQLite database")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"\x00" * 5000)
    _one_line_refusal(_restore(sqlite_app, junk, "--sha256", _sha256(junk)), "not a readable SQLite database")


def test_checksum_mismatch_is_refused(sqlite_app, tmp_path):
    backup = _backup(sqlite_app, tmp_path)
    _edit(backup, "UPDATE alembic_version SET version_num = version_num", reseal=False)  # the bytes stay the same ...
    with open(backup, "r+b") as f:  # ... this changes them: one byte flipped in the last page
        f.seek(-10, 2)
        b = f.read(1)
        f.seek(-10, 2)
        f.write(bytes([b[0] ^ 0xFF]))
    _after_the_backup()
    _one_line_refusal(_restore(sqlite_app, backup), "checksum mismatch")
    assert _equipment_codes() == ["EQ-NEW-01", "EQ-OLD-01"]
    _one_line_refusal(_restore(sqlite_app, backup, "--sha256", "0" * 64), "checksum mismatch")


def test_missing_checksum_and_missing_file_are_refused(sqlite_app, tmp_path):
    backup = _backup(sqlite_app, tmp_path)
    Path(f"{backup}.sha256").unlink()
    Path(f"{backup}.manifest.json").unlink()
    _one_line_refusal(_restore(sqlite_app, backup), "no checksum", "--sha256")
    _one_line_refusal(_restore(sqlite_app, tmp_path / "nope.sqlite"), "no backup file")
    r = _restore(sqlite_app, backup, "--sha256", _sha256(backup))  # the printed checksum is enough
    assert r.exit_code == 0, r.output


def test_without_yes_nothing_is_replaced_but_the_checks_are_reported(sqlite_app, tmp_path):
    backup = _backup(sqlite_app, tmp_path)
    _after_the_backup()
    r = sqlite_app.test_cli_runner().invoke(args=["lims", "restore", str(backup)])
    assert r.exit_code == 1 and "verified" in r.output and "--yes" in r.output
    assert _equipment_codes() == ["EQ-NEW-01", "EQ-OLD-01"]


CRASHING_WRITER = """
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA wal_autocheckpoint = 0")
c.execute("CREATE TABLE crash_probe (n INTEGER)")
for n in range(5):
    c.execute("INSERT INTO crash_probe VALUES (?)", (n,))  # each one committed (acknowledged)
os._exit(0)  # the process dies: the five writes are only in the WAL
"""


def test_safety_copy_holds_the_writes_that_were_only_in_the_wal(sqlite_app, tmp_path):
    backup = _backup(sqlite_app, tmp_path)
    db = sqlite_app.extensions["lims_db"]
    live = Path(db.url.database)
    db.dispose()  # the app's connections closed first, so nothing checkpoints the WAL after the crash
    subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(live)], check=True)
    assert Path(f"{live}-wal").stat().st_size > 0
    r = _restore(sqlite_app, backup)
    assert r.exit_code == 0, r.output
    safety = Path(r.output.split("the previous database was kept as ")[1].split()[0])
    c = sqlite3.connect(safety)
    try:
        assert c.execute("SELECT count(*) FROM crash_probe").fetchone()[0] == 5
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        c.close()
    assert safety.name.startswith("lims.sqlite.before-restore-")
