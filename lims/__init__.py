"""LIMS for a GMP laboratory making washed-microbiota FMT products."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, g
from flask_wtf import CSRFProtect

from config import INSTANCE_DIR, Config

from . import models  # noqa: F401  (complete metadata)
from .clock import SystemClock

csrf = CSRFProtect()


def _secret_key(configured: str) -> str:
    """The configured key, else one generated once and kept in instance/ (shared by local workers)."""
    if configured:
        return configured
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def create_app(config: type[Config] | None = None, **overrides) -> Flask:
    """Build the app. ``config`` is a settings class; ``overrides`` win over it and over LIMS_*."""
    settings = (config or Config).from_env()
    settings.update(overrides)
    root = Path(__file__).resolve().parent.parent
    app = Flask(__name__, template_folder=str(root / "templates"), instance_path=str(INSTANCE_DIR))
    app.config.update(settings)
    app.config["SECRET_KEY"] = _secret_key(app.config["SECRET_KEY"])
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # the token lives as long as the server-side session
    if app.config.get("PROXY_FIX"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.extensions["clock"] = SystemClock()

    from . import boundary, db, errorpages, i18n, security

    app.url_map.converters["int"] = boundary.BoundedInt  # /x/99999999999999999999 is a 404, not an overflow
    db.init_app(app)  # first: opens the request transaction
    security.init_app(app)
    boundary.init_app(app)  # before CSRF reads the form: raw bytes checked once
    csrf.init_app(app)
    i18n.init_app(app)

    from .admin.views import bp as admin_bp
    from .audit.views import bp as audit_bp
    from .auth.permissions import enforce, public
    from .auth.views import bp as auth_bp
    from .auth.views import load_user
    from .clinical.ae_views import bp as aes_bp
    from .clinical.course_views import bp as courses_bp
    from .clinical.views import bp as recipients_bp
    from .core.views import bp as core_bp
    from .donors.protocol_views import bp as protocols_bp
    from .donors.screening_views import bp as screening_bp
    from .donors.views import bp as donors_bp
    from .equipment.views import bp as equipment_bp
    from .jobs.views import bp as jobs_bp
    from .labels.views import bp as labels_bp
    from .lookback.views import bp as lookback_bp
    from .manufacturing.batch_views import bp as batches_bp
    from .manufacturing.donation_views import bp as donations_bp
    from .manufacturing.storage_views import bp as storage_bp
    from .reports.views import bp as reports_bp

    for bp in (
        core_bp,
        auth_bp,
        admin_bp,
        audit_bp,
        equipment_bp,
        donors_bp,
        screening_bp,
        protocols_bp,
        donations_bp,
        batches_bp,
        storage_bp,
        labels_bp,
        recipients_bp,
        courses_bp,
        aes_bp,
        reports_bp,
        jobs_bp,
        lookback_bp,
    ):
        app.register_blueprint(bp)
    public(app.view_functions["static"])

    app.before_request(load_user)
    app.before_request(boundary.refuse_bad_input)  # after load_user: the refusal page keeps the user's layout
    app.before_request(lambda: enforce(app))

    errorpages.init_app(app)
    _template_helpers(app)

    from .cli import lims_cli

    app.cli.add_command(lims_cli)
    return app


def _template_helpers(app: Flask) -> None:
    from .admin.forms import LANG_CHOICES, ROLE_CHOICES
    from .audit.labels import action_label, entity_label
    from .auth.permissions import require_role
    from .timefmt import format_dt

    role_labels, lang_labels = dict(ROLE_CHOICES), dict(LANG_CHOICES)
    app.jinja_env.filters["roles"] = lambda codes: ", ".join(str(role_labels.get(r, r)) for r in codes.split(",") if r)
    app.jinja_env.filters["language"] = lambda code: lang_labels.get(code, code)
    app.jinja_env.filters["action"] = action_label
    app.jinja_env.filters["entity"] = entity_label
    app.jinja_env.filters["dt"] = format_dt
    app.jinja_env.filters["dts"] = lambda d: format_dt(d, seconds=True)
    from .jobs.tasks import counts_list, job_title

    app.jinja_env.filters["job_title"] = job_title  # job_run.job code -> title (the jobs page and the home list)
    app.jinja_env.filters["job_counts"] = counts_list
    from .ctcae.names import soc_name, term_name

    # CTCAE names by locale; the record keeps the English term (lims/ctcae/names.py).
    app.jinja_env.filters["ctcae_term"] = term_name  # {{ ae.term|ctcae_term(ae.term_code) }}
    app.jinja_env.filters["ctcae_soc"] = soc_name

    def _unit_state(u):
        from .clock import utcnow
        from .db import db_session
        from .manufacturing.queries import unit_state

        return unit_state(db_session(), u, utcnow())

    app.jinja_env.globals["unit_state"] = _unit_state  # the effective status every page shows (expired wins)

    def _audit_display(rows):
        from .audit.display import display_rows
        from .db import db_session

        return display_rows(db_session(), rows)

    app.jinja_env.globals["audit_display"] = _audit_display  # audit rows in words: lab time, names, labels

    @app.context_processor
    def _ctx():
        from flask_babel import get_locale

        from .audit.signatures import MEANINGS
        from .labels.layouts import all_layouts

        return {
            "label_layouts": all_layouts,
            "meanings": MEANINGS,
            "user": g.get("user"),
            "has_role": require_role,
            "lab_name": app.config["LAB_NAME"],
            "lab_tz": app.config["TIMEZONE"],
            "locale": str(get_locale()),
        }
