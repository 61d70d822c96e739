"""Language choice: the user's stored language, else the cookie, else the browser."""

from __future__ import annotations

from flask import current_app, g, has_request_context, request, session
from flask_babel import Babel

from .auth.rules import LANGUAGES

babel = Babel()


def select_locale():
    if not has_request_context():  # CLI and scheduler speak the lab's default language
        return current_app.config["DEFAULT_LANGUAGE"]
    user = g.get("user")
    if user is not None and user.language in LANGUAGES:
        return user.language
    lang = session.get("lang")
    if lang in LANGUAGES:
        return lang
    best = request.accept_languages.best_match(["en", "zh_CN", "zh"])
    if best and best.startswith("zh"):
        return "zh_CN"
    return current_app.config["DEFAULT_LANGUAGE"]


def select_timezone():
    return current_app.config["TIMEZONE"]


def init_app(app):
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["TIMEZONE"]
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
