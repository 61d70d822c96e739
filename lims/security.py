"""HTTP security headers and the session cookie (OWASP ASVS V3, V14)."""

from __future__ import annotations

from flask import request
from flask.sessions import SecureCookieSessionInterface

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


class LimsSessionInterface(SecureCookieSessionInterface):
    """Secure cookie flag follows the request's scheme when COOKIE_SECURE is 'auto'."""

    def get_cookie_secure(self, app):
        mode = str(app.config.get("COOKIE_SECURE", "auto")).lower()
        if mode == "auto":
            return request.is_secure
        return mode in {"1", "true", "yes", "on"}


def init_app(app):
    app.session_interface = LimsSessionInterface()
    app.config.update(SESSION_COOKIE_NAME="lims_session", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")

    @app.after_request
    def _headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        # HSTS only when the request came over HTTPS (directly, or through the trusted proxy of PROXY_FIX):
        # browsers ignore it over plain HTTP (RFC 6797), and a demo served on http://127.0.0.1 must not pin itself.
        max_age = int(app.config.get("HSTS_MAX_AGE_SECONDS", 0) or 0)
        if request.is_secure and max_age > 0:
            h.setdefault("Strict-Transport-Security", f"max-age={max_age}")
        if request.endpoint != "static":
            h["Cache-Control"] = "no-store"
        return response
