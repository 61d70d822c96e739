"""``flask --app wsgi lims ...``: init, users, demo data, audit verification, backup and restore."""
from __future__ import annotations

import getpass
import hashlib
import shutil
import sqlite3
import sys
from datetime import datetime, timezone
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
        click.echo(f"created the audit key {key_path()} (mode 0600; it is never shown: back the file up "
                   "separately from the database backups)")
    elif not key_path().exists():
        raise click.ClickException(f"the audit trail has rows but its key {key_path()} is missing: restore the key file")
    from .donors.protocols import seed_default_protocol
    from .clinical.courses import seed_default_template
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
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["technician", "qa", "clinician", "admin"]))
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
        raise click.ClickException(err.message)


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
        raise click.ClickException(err.message)
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
        raise click.ClickException(str(err))
    if result.ok:
        click.echo(f"audit trail intact: {result.checked} rows verified with the audit key; head at row {result.head_seq}")
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
        raise click.ClickException(str(err))
    if cp is None:
        raise click.ClickException(_report_broken(result, "no checkpoint written: audit trail broken"))
    click.echo(checkpoints.printable(cp))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pg_parts():
    url = get_db().url
    return url.host or "127.0.0.1", url.port or 5432, url.username or "", url.database


@lims_cli.command("backup")
@click.option("--to", "dest_dir", default=None, help="Folder for the backup (default LIMS_BACKUP_DIR).")
def backup_cmd(dest_dir):
    """Consistent online copy of the SQLite database; pg_dump instructions on PostgreSQL."""
    db = get_db()
    if not db.is_sqlite:
        host, port, user, name = _pg_parts()
        click.echo("PostgreSQL: back up with pg_dump (consistent while the app runs):")
        click.echo(f"  pg_dump -h {host} -p {port} -U {user} -Fc -f lims-$(date -u +%Y%m%dT%H%M%SZ).dump {name}")
        click.echo("Keep the dump on separate storage and test a restore regularly (see `lims restore`).")
        return
    dest = Path(dest_dir or current_app.config["BACKUP_DIR"])
    dest.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = dest / f"lims-{stamp}.sqlite"
    src = sqlite3.connect(db.url.database)
    try:
        out = sqlite3.connect(target)
        with out:
            src.backup(out)  # SQLite online backup API: a consistent snapshot while the app runs
        ok = out.execute("PRAGMA integrity_check").fetchone()[0]
        out.close()
    finally:
        src.close()
    if ok != "ok":
        raise click.ClickException(f"backup copy failed its integrity check: {ok}")
    click.echo(f"backup written: {target}")
    click.echo(f"sha256: {_sha256(target)}")


@lims_cli.command("restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Confirm replacing the current database.")
def restore_cmd(backup_file, yes):
    """Replace the SQLite database with a backup (stop the web and scheduler processes first)."""
    db = get_db()
    if not db.is_sqlite:
        host, port, user, name = _pg_parts()
        click.echo("PostgreSQL: stop the app, then restore the pg_dump file with:")
        click.echo(f"  pg_restore -h {host} -p {port} -U {user} --clean --if-exists -d {name} BACKUP.dump")
        return
    src_path = Path(backup_file)
    check = sqlite3.connect(f"file:{src_path}?mode=ro", uri=True)
    try:
        if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise click.ClickException("the backup file fails SQLite's integrity check; nothing was changed")
        tables = {r[0] for r in check.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"alembic_version", "audit_entry", "app_user"} <= tables:
            raise click.ClickException("this file is not a LIMS database backup; nothing was changed")
    finally:
        check.close()
    if not yes:
        raise click.ClickException("restoring replaces every record made since the backup: repeat with --yes")
    db.dispose()
    live = Path(db.url.database)
    safety = live.with_name(live.name + ".before-restore")
    if live.exists():
        shutil.copy2(live, safety)
    src = sqlite3.connect(src_path)
    dst = sqlite3.connect(live)
    try:
        with dst:
            src.backup(dst)
    finally:
        src.close()
        dst.close()
    from .audit.trail import audit_event

    with transaction(_cli_actor()) as s:
        audit_event(s, "restore", "database", None, reason=f"restored from {src_path.name} (sha256 {_sha256(src_path)})")
    click.echo(f"restored {live} from {src_path}; the previous file was kept as {safety}")
