"""Settings for the LIMS.

Every setting has a safe default for the embedded SQLite demo and can be
overridden by an environment variable named ``LIMS_<SETTING>``; the production
deployment sets them in its systemd unit or environment file, never in code.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _env(name: str, default):
    """Read LIMS_<name>, converted to the type of the default."""
    raw = os.environ.get(f"LIMS_{name}")
    if raw is None:
        return default
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw


class Config:
    """Defaults; each attribute listed in ``ENV_SETTINGS`` may come from LIMS_*."""

    DATABASE_URL = f"sqlite:///{INSTANCE_DIR / 'lims.sqlite'}"
    SECRET_KEY = ""  # empty: a random key is generated and kept in instance/
    TIMEZONE = "Asia/Shanghai"
    DEFAULT_LANGUAGE = "en"
    LANGUAGES = ("en", "zh_CN")
    LAB_NAME = "FMT GMP Laboratory"
    # Accounts and sessions (compliance.md "Accounts and sessions").
    PASSWORD_MIN_LENGTH = 12
    PASSWORD_MIN_SCORE = 3  # zxcvbn guessability score 0-4 a new password needs (0: list check only)
    LOCKOUT_ATTEMPTS = 5  # failed signature / password-change passwords before lockout (not sign-in)
    IDLE_TIMEOUT_MINUTES = 30
    SESSION_MAX_HOURS = 12  # absolute session lifetime, however active
    # Sign-in throttle: per account name (as typed) and per client address, growing delays, never a lock.
    LOGIN_FREE_FAILURES_PER_ACCOUNT = 5  # failures of one name without delay ...
    LOGIN_FREE_FAILURES_PER_ADDRESS = 20  # ... and from one address
    LOGIN_FIRST_DELAY_SECONDS = 30  # the wait after the first failure past the free ones, doubled per further failure
    LOGIN_MAX_DELAY_SECONDS = 900  # ... up to this cap
    LOGIN_THROTTLE_WINDOW_HOURS = 24  # failures older than this are forgotten
    HSTS_MAX_AGE_SECONDS = 31536000  # Strict-Transport-Security on HTTPS responses; 0: not sent
    COOKIE_SECURE = "auto"  # auto: Secure when the request came over HTTPS
    PROXY_FIX = False  # trust X-Forwarded-* from one proxy (gunicorn behind nginx)
    SQLITE_BUSY_TIMEOUT_MS = 15000
    BACKUP_DIR = str(BASE_DIR / "backups")
    # Tamper-evident audit trail (docs/hardening.md): the HMAC key lives outside the database, and so do the
    # head checkpoints. The key file is created (32 random bytes, mode 0600) while the chain is still empty.
    AUDIT_KEY_FILE = str(INSTANCE_DIR / "audit.key")
    AUDIT_CHECKPOINT_DIR = str(INSTANCE_DIR / "checkpoints")
    SQL_ECHO = False
    # Labels (labels/ holds the layouts).
    LABEL_STATEMENT = "For clinical research use only / 仅供临床研究使用"
    ZPL_DOTS_PER_MM = 8  # 8 = 203 dpi, 12 = 300 dpi
    ZPL_CJK = "graphic"  # Chinese on ZPL labels: "graphic" (^GFA bitmap, any Zebra) or "font" (ZPL_FONT)
    ZPL_FONT = ""  # with ZPL_CJK=font: TrueType font downloaded to the printer, e.g. E:SIMSUN.TTF
    ZPL_PRINTER = ""  # host:port of a Zebra printer's raw port (9100) for direct printing; empty: download only
    # Courses and adverse events.
    SAME_DONOR_PREFERENCE = (
        True  # a course's later doses come from the donor of its first (refused while one is usable)
    )
    SAE_ETHICS_HOURS = 24  # SAE report to the ethics committee, from the moment the site became aware
    SAE_FATAL_DAYS = 7  # expedited regulatory report: fatal or life-threatening SUSAR
    SAE_OTHER_DAYS = 15  # expedited regulatory report: other SUSAR
    # Lookback.
    LOOKBACK_WINDOW_DAYS = 28  # a positive finding reaches back this far (unless a later negative screening)
    LOOKBACK_TARGET_DAYS = 3  # calendar days to complete the record review of a case
    # Scheduled jobs (docs/jobs.md "Leases").
    JOB_LEASE_SECONDS = 120  # a job run's claim lasts this long unless its heartbeat renews it; then it is taken over
    JOB_BATCH_SIZE = 100  # records a job changes per transaction (each batch commits and renews the lease)
    # Reports.
    REPORT_FONT = ""  # TrueType face with Chinese glyphs; empty: instance/fonts/wqy-microhei.ttc (setup installs it)
    EXPORT_DIR = ""  # where bulk-export ZIPs are written; empty: instance/exports

    ENV_SETTINGS = (
        "DATABASE_URL",
        "SECRET_KEY",
        "TIMEZONE",
        "DEFAULT_LANGUAGE",
        "LAB_NAME",
        "PASSWORD_MIN_LENGTH",
        "PASSWORD_MIN_SCORE",
        "LOCKOUT_ATTEMPTS",
        "IDLE_TIMEOUT_MINUTES",
        "SESSION_MAX_HOURS",
        "LOGIN_FREE_FAILURES_PER_ACCOUNT",
        "LOGIN_FREE_FAILURES_PER_ADDRESS",
        "LOGIN_FIRST_DELAY_SECONDS",
        "LOGIN_MAX_DELAY_SECONDS",
        "LOGIN_THROTTLE_WINDOW_HOURS",
        "HSTS_MAX_AGE_SECONDS",
        "COOKIE_SECURE",
        "PROXY_FIX",
        "SQLITE_BUSY_TIMEOUT_MS",
        "BACKUP_DIR",
        "AUDIT_KEY_FILE",
        "AUDIT_CHECKPOINT_DIR",
        "SQL_ECHO",
        "LABEL_STATEMENT",
        "ZPL_DOTS_PER_MM",
        "ZPL_CJK",
        "ZPL_FONT",
        "ZPL_PRINTER",
        "SAME_DONOR_PREFERENCE",
        "SAE_ETHICS_HOURS",
        "SAE_FATAL_DAYS",
        "SAE_OTHER_DAYS",
        "REPORT_FONT",
        "EXPORT_DIR",
        "LOOKBACK_WINDOW_DAYS",
        "LOOKBACK_TARGET_DAYS",
        "JOB_LEASE_SECONDS",
        "JOB_BATCH_SIZE",
    )
    TESTING = False

    @classmethod
    def from_env(cls) -> dict:
        """The effective settings: class defaults overridden by LIMS_* variables."""
        values = {k: getattr(cls, k) for k in dir(cls) if k.isupper()}
        for name in cls.ENV_SETTINGS:
            values[name] = _env(name, getattr(cls, name))
        return values


class TestConfig(Config):
    TESTING = True
    WTF_CSRF_ENABLED = True  # CSRF stays on in tests: the suite proves it
    SECRET_KEY = "test-secret-key-not-for-production"
    # One key per test process (never the installation's); the app fixture gives each test its own checkpoints.
    AUDIT_KEY_FILE = str(Path(tempfile.gettempdir()) / f"lims-test-{os.getpid()}" / "audit.key")
    AUDIT_CHECKPOINT_DIR = str(Path(tempfile.gettempdir()) / f"lims-test-{os.getpid()}" / "checkpoints")
