"""Small helpers shared by the request handlers."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import g, request, url_for


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after login (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def back_url(default_endpoint: str = "core.home") -> str:
    """Where "Back" goes: the page the user came from on this site, else home."""
    ref = request.referrer
    if ref:
        parts = urlsplit(ref)
        if parts.netloc == request.host and parts.path != request.path:
            return parts.path + (("?" + parts.query) if parts.query else "")
    return url_for(default_endpoint)


def current_user():
    return g.get("user")


def client() -> str | None:
    return request.remote_addr
