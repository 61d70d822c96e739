"""Every endpoint declares who may use it; anything undeclared is refused.

``@roles(...)`` names the roles allowed, ``@authenticated`` admits any
signed-in user, ``@public`` admits everyone. The check runs before every
request, so forgetting a declaration gives 403, never an open page, and a
test walks ``app.url_map`` to prove every endpoint has one.
"""

from __future__ import annotations

from flask import abort, g, redirect, request, url_for

PUBLIC = "public"
AUTHENTICATED = "authenticated"
ATTR = "lims_access"


def roles(*allowed: str):
    def deco(fn):
        setattr(fn, ATTR, frozenset(allowed))
        return fn

    return deco


def authenticated(fn):
    setattr(fn, ATTR, AUTHENTICATED)
    return fn


def public(fn):
    setattr(fn, ATTR, PUBLIC)
    return fn


def declaration(app, endpoint: str):
    view = app.view_functions.get(endpoint)
    return getattr(view, ATTR, None) if view else None


# Endpoints a user who must change the password may still reach.
PASSWORD_CHANGE_ALLOWED = {"auth.change_password", "auth.logout", "static", "core.set_language"}


def enforce(app):
    """before_request hook: runs after the session user is loaded."""
    if request.endpoint is None:
        return None  # 404/405 are handled by Flask
    decl = declaration(app, request.endpoint)
    if decl is None:
        abort(403)
    if decl == PUBLIC:
        return None
    user = g.get("user")
    if user is None:
        if request.method == "GET":
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return redirect(url_for("auth.login"))
    if user.must_change_password and request.endpoint not in PASSWORD_CHANGE_ALLOWED:
        return redirect(url_for("auth.change_password"))
    if decl == AUTHENTICATED:
        return None
    if not (user.role_set & decl):
        abort(403)
    return None


def require_role(*allowed: str):
    """For checks inside a view (e.g. a button shown only to some roles)."""
    user = g.get("user")
    return bool(user and user.role_set & set(allowed))
