"""``flask --app wsgi lims ...``: init, users, demo data, audit verification, backup and restore."""

from __future__ import annotations

import getpass
import hashlib
import shutil
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from .db import Actor, get_db, transaction

lims_cli = AppGroup("lims", help="LIMS administration commands.")


def _cli_actor() -> Actor:
    try:
        who = getpass.getuser()
    except Exception:  # pragma: no cover
        who = "unknown"
    return Actor(None, f"system (command line, {who})", "cli")


@lims_cli.command("init")
def init_cmd():
    """Create or upgrade the schema with the Alembic migrations."""
    from .migrate import current_revision, upgrade

    db = get_db()
    if db.is_sqlite:
        Path(db.url.database).parent.mkdir(parents=True, exist_ok=True)
    upgrade(db)
    from .audit.keys import ensure_key, key_path
    from .audit.models import AuditChainHead

    with transaction(_cli_actor(), write=False) as s:
        head = s.get(AuditChainHead, 1)
        empty = head is None or head.last_seq == 0
    if empty and ensure_key():  # never a new key for a trail that exists: it would no longer verify
        click.echo(
            f"created the audit key {key_path()} (mode 0600; it is never shown: back the file up "
            "separately from the database backups)"
        )
    elif not key_path().exists():
        raise click.ClickException(
            f"the audit trail has rows but its key {key_path()} is missing: restore the key file"
        )
    from .clinical.courses import seed_default_template
    from .donors.protocols import seed_default_protocol
    from .manufacturing.spec import seed_default_spec

    with transaction(_cli_actor()) as s:
        seeded = seed_default_protocol(s)
        spec = seed_default_spec(s)
        template = seed_default_template(s)
    click.echo(f"database at revision {current_revision(db)} ({db.url.render_as_string(hide_password=True)})")
    if seeded is not None:
        click.echo(f"seeded the default screening protocol {seeded.code} v{seeded.protocol_version}")
    if spec is not None:
        click.echo(f"seeded the default manufacturing specification {spec.code} v{spec.spec_version}")
    if template is not None:
        click.echo(f"seeded the default course template {template.code} v{template.template_version}")


@lims_cli.command("scheduler")
def scheduler_cmd():
    """Run the scheduled jobs (APScheduler, lab time zone) until stopped; one process per installation."""
    from flask import current_app

    from .jobs.runner import build_scheduler
    from .jobs.tasks import JOBS

    sched = build_scheduler(current_app._get_current_object())
    for job in sched.get_jobs():
        click.echo(f"scheduled {job.id}: {job.trigger}")
    click.echo(f"scheduler running ({len(JOBS)} jobs); Ctrl+C stops it")
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass


@lims_cli.command("run-jobs")
@click.option("--job", "name", default=None, help="run only this job")
def run_jobs_cmd(name):
    """Run the jobs once for the current slot (cron, or by hand); a slot already run is skipped."""
    from .jobs.runner import run, run_all
    from .jobs.tasks import JOBS

    if name is not None and name not in JOBS:
        raise click.UsageError(f"unknown job {name!r}; jobs: {', '.join(JOBS)}")
    results = [(name, run(name))] if name else run_all()
    failed = False
    for job, row in results:
        if row is None:
            click.echo(f"{job}: already run for this slot")
        else:
            click.echo(f"{job}: {row.outcome} {row.counts or ''} {row.error or ''}".rstrip())
            failed = failed or row.outcome != "ok"
    if failed:
        raise SystemExit(1)


@lims_cli.command("expire-due")
def expire_due_cmd():
    """Mark dose units past their expiry as expired (and released batches whose units all expired)."""
    from .clock import utcnow
    from .manufacturing.release import expire_due

    with transaction(_cli_actor()) as s:
        units, batches = expire_due(s, utcnow())
    click.echo(f"{units} unit(s) and {batches} batch(es) marked expired")


@lims_cli.command("create-user")
@click.argument("username")
@click.option("--name", "full_name", required=True, help="Full name, printed on signatures.")
@click.option(
    "--role", "roles", multiple=True, required=True, type=click.Choice(["technician", "qa", "clinician", "admin"])
)
@click.option("--language", default="en", type=click.Choice(["en", "zh_CN"]))
@click.password_option(help="Temporary password (asked when not given); must be changed at first login.")
def create_user_cmd(username, full_name, roles, language, password):
    """Create an account (e.g. the first administrator)."""
    from .auth.operations import create_user
    from .errors import LimsError

    try:
        with transaction(_cli_actor()) as s:
            user = create_user(s, username, full_name, list(roles), password, language)
            click.echo(f"created user {user.username} with roles {user.roles}; password must be changed at first login")
    except LimsError as err:
        raise click.ClickException(err.message) from None


@lims_cli.command("unlock")
@click.argument("username")
@click.option("--reason", required=True)
def unlock_cmd(username, reason):
    """Unlock an account from the server console (when no administrator can sign in)."""
    from .auth.operations import find_user, unlock
    from .errors import LimsError

    try:
        with transaction(_cli_actor()) as s:
            user = find_user(s, username)
            if user is None:
                raise click.ClickException(f"no user {username}")
            unlock(s, user, user.version, reason)
    except LimsError as err:
        raise click.ClickException(err.message) from None
    click.echo(f"unlocked {username}")


@lims_cli.command("demo-data")
def demo_data_cmd():
    """Load the demo lab (idempotent) and print the demo accounts."""
    from .demo import DEMO_PASSWORD, load_demo
    from .jobs.runner import run_all

    with transaction(_cli_actor()) as s:
        created = load_demo(s)
    run_all()  # the scheduler's first pass, so the due-work lists and the jobs page start filled
    click.echo(f"demo data ready ({created} new records). Demo accounts (password for all: {DEMO_PASSWORD}):")
    from .demo import DEMO_USERS

    for username, name, roles, _lang in DEMO_USERS:
        click.echo(f"  {username:<10} {','.join(roles):<22} {name}")


def _report_broken(result, prefix="AUDIT TRAIL BROKEN") -> str:
    where = f" at row {result.broken_at}" if result.broken_at is not None else ""
    more = f"; {result.more} further problem(s)" if result.more else ""
    return f"{prefix}{where}: {result.problem} ({result.checked} rows read{more})"


@lims_cli.command("audit-verify")
def audit_verify_cmd():
    """Verify the keyed audit chain, its head, the signatures in it and the checkpoints; name the first bad row."""
    from .audit.keys import AuditKeyMissing
    from .audit.trail import verify_stored_chain

    try:
        with transaction(_cli_actor(), write=False) as s:
            result = verify_stored_chain(s)
    except AuditKeyMissing as err:
        raise click.ClickException(str(err)) from None
    if result.ok:
        click.echo(
            f"audit trail intact: {result.checked} rows verified with the audit key; head at row {result.head_seq}"
        )
        return
    click.echo(_report_broken(result), err=True)
    for at, text in result.problems[1:20]:
        click.echo(f"  also{'' if at is None else f' row {at}'}: {text}", err=True)
    sys.exit(1)


def _checkpoint(reason: str, also_to: Path | None = None):
    """Verify the trail, then write a checkpoint of its head; (result, checkpoint or None)."""
    from .audit import checkpoints
    from .audit.keys import audit_key
    from .audit.trail import verify_stored_chain

    with transaction(_cli_actor(), write=False) as s:
        result = verify_stored_chain(s)
    if not result.ok:
        return result, None
    return result, checkpoints.write(audit_key(), result.head_seq, result.head_hash, reason, also_to=also_to)


@lims_cli.command("audit-checkpoint")
@click.option("--print", "print_only", is_flag=True, help="Print the latest checkpoint instead of writing one.")
@click.option("--reason", default="by hand", help="Why (kept with the checkpoint).")
def audit_checkpoint_cmd(print_only, reason):
    """Write a checkpoint of the audit chain head outside the database and print it for the paper log."""
    from .audit import checkpoints
    from .audit.keys import AuditKeyMissing, audit_key

    try:
        if print_only:
            rows = [c for c in checkpoints.read_store(audit_key()) if c.valid]
            if not rows:
                raise click.ClickException(f"no checkpoint in {checkpoints.store_path()}")
            click.echo(checkpoints.printable(rows[-1]))
            return
        result, cp = _checkpoint(reason)
    except AuditKeyMissing as err:
        raise click.ClickException(str(err)) from None
    if cp is None:
        raise click.ClickException(_report_broken(result, "no checkpoint written: audit trail broken"))
    click.echo(checkpoints.printable(cp))


@lims_cli.command("pg-roles")
@click.option("--owner", required=True, help="Role that owns the schema and runs `lims init` (migrations).")
@click.option("--app", "app_role", required=True, help="Role the web workers and the scheduler connect as.")
@click.option("--schema", default="public", show_default=True)
@click.option("--database", default=None, help="Also make the owner own this database.")
def pg_roles_cmd(owner, app_role, schema, database):
    """Print the PostgreSQL SQL for an owner role and an application role that may only append to the audit trail.

    Run it with psql as a superuser once, and again after every `lims init` that added tables (idempotent)."""
    from sqlmodel import SQLModel

    from .audit.immutability import pg_role_sql

    tables = [t.name for t in SQLModel.metadata.sorted_tables] + ["alembic_version"]
    try:
        for stmt in pg_role_sql(owner, app_role, schema, tables, database):
            click.echo(stmt + ";")
    except ValueError as err:
        raise click.ClickException(str(err)) from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pg_parts():
    url = get_db().url
    return url.host or "127.0.0.1", url.port or 5432, url.username or "", url.database


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    from .migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from .migrate import alembic_config

    return {r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _sqlite_copy(src: Path, dst: Path) -> None:
    """Copy a SQLite database with SQLite's online backup API: committed content still in the WAL is included."""
    s = sqlite3.connect(src)  # read-write open: recovers a WAL left by a crash instead of failing on it
    try:
        d = sqlite3.connect(dst)
        try:
            with d:
                s.backup(d)
            ok = d.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            d.close()
    finally:
        s.close()
    if ok != "ok":
        raise click.ClickException(f"the copy {dst} failed its integrity check ({ok})")


def _verify_sqlite_file(path: Path, checkpoints_=None):
    """Verify the audit trail of a SQLite file with the key (read only)."""
    from sqlalchemy import create_engine

    from .audit.integrity import verify_database
    from .audit.keys import audit_key

    eng = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with eng.connect() as conn:
            return verify_database(conn, audit_key(), checkpoints_ or [])
    finally:
        eng.dispose()


@lims_cli.command("backup")
@click.option("--to", "dest_dir", default=None, help="Folder for the backup (default LIMS_BACKUP_DIR).")
def backup_cmd(dest_dir):
    """Consistent online copy of the SQLite database with its checksum, schema revision and an audit checkpoint;
    on PostgreSQL an audit checkpoint and the pg_dump command."""
    import json

    from .audit import checkpoints
    from .audit.keys import AuditKeyMissing, audit_key

    db = get_db()
    if not db.is_sqlite:
        host, port, user, name = _pg_parts()
        try:
            result, cp = _checkpoint("backup (pg_dump)")
        except AuditKeyMissing as err:
            raise click.ClickException(str(err)) from None
        click.echo("PostgreSQL: back up with pg_dump (consistent while the app runs):")
        click.echo(f"  pg_dump -h {host} -p {port} -U {user} -Fc -f lims-$(date -u +%Y%m%dT%H%M%SZ).dump {name}")
        click.echo("Keep the dump on separate storage and test a restore regularly (see `lims restore`).")
        if cp is None:
            click.echo(_report_broken(result, "no checkpoint written: audit trail broken"), err=True)
            sys.exit(1)
        click.echo(checkpoints.printable(cp))
        return
    dest = Path(dest_dir or current_app.config["BACKUP_DIR"])
    dest.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = dest / f"lims-{stamp}.sqlite"
    _sqlite_copy(Path(db.url.database), target)  # SQLite online backup API: a consistent snapshot while the app runs
    digest = _sha256(target)
    Path(f"{target}.sha256").write_text(f"{digest}  {target.name}\n")  # `sha256sum -c` reads it
    rev = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    try:
        revision = rev.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        rev.close()
    try:
        key = audit_key()
        result = _verify_sqlite_file(target, checkpoints.read_store(key))
    except AuditKeyMissing as err:
        raise click.ClickException(str(err)) from None
    cp = None
    if result.ok:  # the backup's own head, checkpointed in the store and next to the backup
        cp = checkpoints.write(key, result.head_seq, result.head_hash, f"backup {target.name}")
    manifest = {
        "file": target.name,
        "sha256": digest,
        "schema_revision": revision,
        "checkpoint": cp.record() if cp else None,
    }
    Path(f"{target}.manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    click.echo(f"backup written: {target}")
    click.echo(f"sha256: {digest}")
    click.echo(f"schema revision: {revision}")
    if cp is None:
        click.echo(_report_broken(result, "no checkpoint written: audit trail broken"), err=True)
        sys.exit(1)
    click.echo(checkpoints.printable(cp))


def _refuse(message: str):
    raise click.ClickException(f"{message}; nothing was changed")


def _check_backup(src: Path, staging: Path, expected_sha: str | None, upgrade_old: bool) -> tuple:
    """Every check of a SQLite backup, on a private staging copy (what is checked is what is restored).

    Returns (schema revision, audit verification result, manifest checkpoint or None)."""
    import json

    from .audit import checkpoints
    from .audit.integrity import effective_checkpoints
    from .audit.keys import audit_key

    manifest_path = Path(f"{src}.manifest.json")
    sidecar = Path(f"{src}.sha256")
    if expected_sha is None and sidecar.exists():
        expected_sha = sidecar.read_text().split()[0] if sidecar.read_text().split() else ""
    if expected_sha is None and manifest_path.exists():
        try:
            expected_sha = json.loads(manifest_path.read_text())["sha256"]
        except (ValueError, KeyError, TypeError):
            pass
    if not expected_sha:
        _refuse(
            f"no checksum for {src.name}: {sidecar.name} is missing; give the sha256 printed by `lims backup` with --sha256"
        )
    shutil.copyfile(src, staging)
    actual = _sha256(staging)
    if actual != expected_sha.strip().lower():
        _refuse(
            f"checksum mismatch: {src.name} has sha256 {actual}, the backup recorded {expected_sha.strip()} "
            "(file damaged or altered)"
        )
    try:
        check = sqlite3.connect(f"file:{staging}?mode=ro", uri=True)
        try:
            ok = check.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {r[0] for r in check.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            revision = None
            if "alembic_version" in tables:
                row = check.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else None
        finally:
            check.close()
    except sqlite3.DatabaseError as err:
        _refuse(f"{src.name} is not a readable SQLite database ({err})")
    if ok != "ok":
        _refuse(f"{src.name} fails SQLite's integrity check ({ok.splitlines()[0]})")
    if not {"alembic_version", "audit_entry", "audit_chain_head", "app_user"} <= tables:
        _refuse(f"{src.name} is not a LIMS database backup")
    head = _head_revision()
    if revision != head:
        if revision not in _known_revisions():
            _refuse(
                f"{src.name} is at schema revision {revision}, which this installation (at {head}) does not know "
                "(made by a newer release?)"
            )
        if not upgrade_old:
            _refuse(
                f"{src.name} is at schema revision {revision}, older than this installation's {head}: repeat with "
                "--upgrade to upgrade a copy of it before restoring"
            )
        from .db import Database
        from .migrate import upgrade

        staged = Database(f"sqlite:///{staging}")
        try:
            upgrade(staged)
        except Exception as err:
            _refuse(
                f"upgrading a copy of {src.name} from {revision} to {head} failed ({type(err).__name__}: {err})".splitlines()[
                    0
                ]
            )
        finally:
            staged.dispose()
    key = audit_key()
    # The store's checkpoints up to the backup's head must all be in it; later ones cannot be (taken after it).
    compare, _unsigned = effective_checkpoints(checkpoints.read_store(key))
    probe = _verify_sqlite_file(staging)
    result = _verify_sqlite_file(staging, [c for c in compare if c.seq <= probe.head_seq])
    if not result.ok:
        where = f" at row {result.broken_at}" if result.broken_at is not None else ""
        _refuse(f"the audit trail in {src.name} does not verify{where}: {result.problem}")
    cp = None
    if manifest_path.exists():
        try:
            rec = json.loads(manifest_path.read_text()).get("checkpoint")
        except ValueError:
            _refuse(f"{manifest_path.name} cannot be read")
        if rec:
            path = staging.with_name("manifest-checkpoint.jsonl")
            path.write_text(json.dumps(rec) + "\n")
            (cp,) = checkpoints.read(path, key)
            if not cp.valid:
                _refuse(f"the checkpoint in {manifest_path.name} is not signed with the audit key")
            if (cp.seq, cp.hash) != (result.head_seq, result.head_hash):
                _refuse(
                    f"the audit trail in {src.name} ends at row {result.head_seq}, but its backup checkpoint says "
                    f"row {cp.seq} (rows cut or the head moved)"
                )
    return revision, result, cp


@lims_cli.command("restore")
@click.argument("backup_file", type=click.Path(dir_okay=False))
@click.option("--sha256", "expected_sha", default=None, help="The backup's checksum, when its .sha256 file is missing.")
@click.option(
    "--upgrade", "upgrade_old", is_flag=True, help="Upgrade a copy of a backup from an older schema revision."
)
@click.option("--yes", is_flag=True, help="Confirm replacing the current database.")
def restore_cmd(backup_file, expected_sha, upgrade_old, yes):
    """Check a SQLite backup (checksum, schema revision, audit trail), keep a safety copy of the current
    database, then replace it (stop the web and scheduler processes first)."""
    import tempfile

    from .audit import checkpoints
    from .audit.keys import AuditKeyMissing, audit_key

    db = get_db()
    if not db.is_sqlite:
        host, port, user, name = _pg_parts()
        click.echo("PostgreSQL: stop the app, then restore the pg_dump file with:")
        click.echo(f"  pg_restore -h {host} -p {port} -U {user} --clean --if-exists -d {name} BACKUP.dump")
        click.echo("then run `lims audit-verify` before starting the app again.")
        return
    src_path = Path(backup_file)
    if not src_path.is_file():
        _refuse(f"no backup file {src_path}")
    live = Path(db.url.database)
    live.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".lims-restore-", dir=live.parent))
    try:
        staging = work / "backup.sqlite"
        try:
            revision, result, _cp = _check_backup(src_path, staging, expected_sha, upgrade_old)
        except AuditKeyMissing as err:
            raise click.ClickException(f"{err}; nothing was changed") from None
        summary = (
            f"{src_path.name}: checksum, schema revision {revision} and audit trail ({result.head_seq} rows) verified"
        )
        if not yes:
            raise click.ClickException(
                f"{summary}; restoring replaces every record made since the backup: repeat with --yes"
            )
        db.dispose()
        safety = None
        if live.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            safety = live.with_name(f"{live.name}.before-restore-{stamp}")
            _sqlite_copy(live, safety)  # with the WAL's committed content (a plain file copy would leave it out)
        src = sqlite3.connect(staging)
        dst = sqlite3.connect(live)
        try:
            with dst:
                src.backup(dst)
        finally:
            src.close()
            dst.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    from .audit.trail import audit_event

    key = audit_key()
    checkpoints.write(key, result.head_seq, result.head_hash, f"restore of {src_path.name}", kind="restore")
    with transaction(_cli_actor()) as s:
        audit_event(
            s, "restore", "database", None, reason=f"restored from {src_path.name} (sha256 {_sha256(src_path)})"
        )
    _after, cp = _checkpoint(f"after restore of {src_path.name}")
    click.echo(f"restored {live} from {src_path} ({summary})")
    click.echo(f"the previous database was kept as {safety}" if safety else "there was no previous database")
    if cp is not None:
        click.echo(checkpoints.printable(cp))
