"""HTTP security headers and session cookie flags (OWASP ASVS V3/V14, compliance.md).

"Cookies Secure (when served over HTTPS), HttpOnly, SameSite=Lax; CSP, frame,
nosniff and referrer headers."
"""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, csrf_from

COOKIE = "lims_session"


def csp_directives(resp) -> dict[str, list[str]]:
    policy = resp.headers["Content-Security-Policy"]
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def session_set_cookie(resp) -> str:
    cookies = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith(f"{COOKIE}=")]
    assert cookies, f"no {COOKIE} cookie set: {resp.headers.getlist('Set-Cookie')}"
    return cookies[-1]


def attrs(set_cookie: str) -> set[str]:
    return {p.strip().split("=")[0].lower() for p in set_cookie.split(";")[1:]}


def samesite(set_cookie: str) -> str | None:
    for p in set_cookie.split(";")[1:]:
        k, _, v = p.strip().partition("=")
        if k.lower() == "samesite":
            return v
    return None


PAGES = ["/login", "/", "/equipment/", "/profile", "/no-such-page"]


@pytest.fixture
def signed_in(as_user):
    return as_user("alice", roles=["technician"])


# --- CSP ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", PAGES)
def test_csp_has_no_unsafe_inline_and_forbids_framing(app, signed_in, url):
    r = signed_in.get(url)
    policy = r.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    d = csp_directives(r)
    assert d["frame-ancestors"] == ["'none'"]
    assert d["default-src"] == ["'self'"]
    assert d["script-src"] == ["'self'"] and d["style-src"] == ["'self'"]
    assert d["object-src"] == ["'none'"] and d["base-uri"] == ["'none'"]
    assert d["form-action"] == ["'self'"]


def test_csp_is_also_sent_to_anonymous_users_and_on_error_pages(app, browser):
    for url in ("/login", "/", "/admin/users", "/missing"):
        r = browser.get(url)
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"], url


def test_pages_carry_no_inline_script_or_style(app, signed_in):
    """The CSP forbids inline code; the pages must not depend on any (else they break in the browser)."""
    for url in ("/login", "/", "/equipment/", "/equipment/new", "/profile", "/password"):
        body = signed_in.get(url).get_data(as_text=True).lower()
        assert "<style" not in body and " style=" not in body, url
        assert " onclick=" not in body and " onload=" not in body and " onsubmit=" not in body, url
        for chunk in body.split("<script")[1:]:
            assert "src=" in chunk.split(">")[0], url  # only external scripts


# --- other headers --------------------------------------------------------------------------


@pytest.mark.parametrize("url", PAGES)
def test_nosniff_frame_and_referrer_headers(app, signed_in, url):
    r = signed_in.get(url)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")
    assert r.headers["Referrer-Policy"] not in ("unsafe-url", "no-referrer-when-downgrade")


def test_headers_on_csv_export_and_redirects(app, as_user):
    qa = as_user("qa1", roles=["qa"])
    r = qa.get("/audit/export.csv")
    r.get_data()
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Cache-Control"] == "no-store"
    r = qa.get("/login")  # signed in: redirected home
    assert r.status_code == 302 and r.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("url", PAGES + ["/audit/export.csv"])
def test_pages_are_not_cached(app, as_user, url):
    b = as_user("qa1", roles=["qa"])
    r = b.get(url)
    r.get_data()
    assert r.headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached(app, browser):
    r = browser.get("/static/css/lims.css")
    r.close()
    assert r.status_code == 200
    assert "no-store" not in r.headers.get("Cache-Control", "")
    assert r.headers["X-Content-Type-Options"] == "nosniff"


# --- session cookie -----------------------------------------------------------------------------


def test_session_cookie_is_httponly_and_samesite_lax(app, browser):
    r = browser.get("/login")  # the CSRF token opens the session
    c = session_set_cookie(r)
    assert "httponly" in attrs(c)
    assert samesite(c) == "Lax"


def test_session_cookie_flags_after_login(app, make_user, browser):
    make_user("alice")
    r = browser.post("/login", {"username": "alice", "password": PASSWORD}, token_from="/login")
    assert r.status_code == 302
    c = session_set_cookie(r)
    assert "httponly" in attrs(c) and samesite(c) == "Lax"
    assert "secure" not in attrs(c)  # plain http test server


def test_session_cookie_is_secure_over_https(app, make_user):
    make_user("alice")
    client = app.test_client()
    r = client.get("/login", base_url="https://localhost")
    c = session_set_cookie(r)
    assert "secure" in attrs(c) and "httponly" in attrs(c) and samesite(c) == "Lax"
    token = csrf_from(r.get_data(as_text=True))
    r = client.post(
        "/login",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},
        data={"username": "alice", "password": PASSWORD, "csrf_token": token},
    )
    assert r.status_code == 302
    assert "secure" in attrs(session_set_cookie(r))


def test_session_cookie_is_not_secure_on_plain_http_in_auto_mode(app, browser):
    assert app.config["COOKIE_SECURE"] == "auto"
    c = session_set_cookie(browser.get("/login"))
    assert "secure" not in attrs(c)


def test_cookie_secure_can_be_forced_on(app, browser):
    app.config["COOKIE_SECURE"] = "true"
    c = session_set_cookie(browser.get("/login"))
    assert "secure" in attrs(c)


def test_cookie_secure_can_be_forced_off_even_on_https(app):
    app.config["COOKIE_SECURE"] = "false"
    c = session_set_cookie(app.test_client().get("/login", base_url="https://localhost"))
    assert "secure" not in attrs(c)


def test_https_login_without_referer_is_refused(app, make_user):
    """Over HTTPS the CSRF check also wants a same-origin Referer; nothing is stored without it."""
    from sqlmodel import select

    from lims.auth.models import UserSession
    from lims.db import Actor, transaction

    uid = make_user("alice")
    client = app.test_client()
    r = client.get("/login", base_url="https://localhost")
    token = csrf_from(r.get_data(as_text=True))
    r = client.post(
        "/login",
        base_url="https://localhost",
        headers={"Referer": "https://evil.example/"},
        data={"username": "alice", "password": PASSWORD, "csrf_token": token},
    )
    assert r.status_code == 400
    assert "nothing was saved" in r.get_data(as_text=True)
    with transaction(Actor(None, "test"), write=False) as s:
        assert s.exec(select(UserSession).where(UserSession.user_id == uid)).all() == []


# --- behind a reverse proxy (nginx terminates TLS) -------------------------------------------


def _proxied_app(database_url, clock, tmp_path, proxy_fix):
    from config import TestConfig
    from lims import create_app

    a = create_app(TestConfig, DATABASE_URL=database_url, BACKUP_DIR=str(tmp_path / "px"), PROXY_FIX=proxy_fix)
    a.extensions["clock"] = clock
    return a


def test_secure_cookie_behind_a_trusted_tls_proxy(database_url, clock, tmp_path, app):
    a = _proxied_app(database_url, clock, tmp_path, proxy_fix=True)
    try:
        r = a.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
        assert "secure" in attrs(session_set_cookie(r))
    finally:
        a.extensions["lims_db"].dispose()


def test_forwarded_proto_is_ignored_without_proxy_fix(app, browser):
    assert app.config["PROXY_FIX"] is False
    r = browser.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "secure" not in attrs(session_set_cookie(r))


# --- HSTS: only when the request came over HTTPS ------------------------------------------------

HSTS = "Strict-Transport-Security"


@pytest.mark.parametrize("url", ["/login", "/", "/no-such-page", "/static/css/lims.css"])
def test_hsts_is_sent_over_https(app, url):
    r = app.test_client().get(url, base_url="https://localhost")
    r.close()
    assert r.headers[HSTS] == "max-age=31536000"


@pytest.mark.parametrize("url", ["/login", "/", "/no-such-page", "/static/css/lims.css"])
def test_hsts_is_not_sent_over_plain_http(app, browser, url):
    r = browser.get(url)
    r.close()
    assert HSTS not in r.headers


def test_hsts_after_an_https_login(app, make_user):
    make_user("alice")
    client = app.test_client()
    token = csrf_from(client.get("/login", base_url="https://localhost").get_data(as_text=True))
    r = client.post(
        "/login",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},
        data={"username": "alice", "password": PASSWORD, "csrf_token": token},
    )
    assert r.status_code == 302 and r.headers[HSTS] == "max-age=31536000"


def test_hsts_behind_a_trusted_tls_proxy(database_url, clock, tmp_path, app):
    a = _proxied_app(database_url, clock, tmp_path, proxy_fix=True)
    try:
        assert a.test_client().get("/login", headers={"X-Forwarded-Proto": "https"}).headers[HSTS] == "max-age=31536000"
        assert HSTS not in a.test_client().get("/login", headers={"X-Forwarded-Proto": "http"}).headers
    finally:
        a.extensions["lims_db"].dispose()


def test_forwarded_proto_without_proxy_fix_gives_no_hsts(app, browser):
    assert HSTS not in browser.get("/login", headers={"X-Forwarded-Proto": "https"}).headers


def test_hsts_max_age_is_configurable_and_zero_turns_it_off(app):
    app.config["HSTS_MAX_AGE_SECONDS"] = 600
    assert app.test_client().get("/login", base_url="https://localhost").headers[HSTS] == "max-age=600"
    app.config["HSTS_MAX_AGE_SECONDS"] = 0
    assert HSTS not in app.test_client().get("/login", base_url="https://localhost").headers
