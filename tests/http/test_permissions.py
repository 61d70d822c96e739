"""Deny by default: every route declares who may use it, and these tests prove it.

compliance.md "Accounts and sessions": roles, deny by default, every route
declares who may use it; object-level checks (editing an id in a URL never
reaches a record the role may not touch). Plus CSRF on every state-changing
form: a POST without a token is refused with a message and stores nothing.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import func, select
from werkzeug.routing.converters import AnyConverter, IntegerConverter

from config import TestConfig
from lims import create_app
from lims.audit.models import AuditEntry, Signature
from lims.auth.models import User, UserSession
from lims.auth.permissions import AUTHENTICATED, PUBLIC, declaration, public, roles
from lims.auth.rules import ROLES
from lims.db import Actor, transaction
from tests.conftest import PASSWORD, Browser, audit_rows

FORBIDDEN = "Your roles do not allow this."
CSRF_MESSAGE = "The form had expired or did not come from this application, so nothing was saved."


# --- helpers ------------------------------------------------------------------


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def audit_count() -> int:
    with transaction(Actor(None, "test"), write=False) as s:
        return s.exec(select(func.count()).select_from(AuditEntry)).one()


def user_row(uid) -> User:
    with transaction(Actor(None, "test"), write=False) as s:
        return s.get(User, uid)


def user_id(username) -> int:
    with transaction(Actor(None, "test"), write=False) as s:
        return s.exec(select(User).where(User.username == username)).one().id


def is_login_redirect(resp) -> bool:
    return resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/login"


def concrete_urls(app, rule, id_value=1):
    """Every URL a rule can take: ints get ``id_value``, each any(...) item gives its own URL."""
    variants = [{}]
    for arg in sorted(rule.arguments):
        conv = rule._converters[arg]
        if isinstance(conv, AnyConverter):
            values = sorted(conv.items)
        elif isinstance(conv, IntegerConverter):
            values = [id_value]
        elif rule.endpoint == "static":
            values = ["css/lims.css"]
        else:
            values = ["en"] if arg == "code" else ["x"]
        variants = [{**v, arg: val} for v in variants for val in values]
    with app.test_request_context():
        from flask import url_for

        return [url_for(rule.endpoint, **v) for v in variants]


def protected_rules(app):
    return [r for r in app.url_map.iter_rules() if declaration(app, r.endpoint) != PUBLIC]


def role_rules(app):
    return [r for r in app.url_map.iter_rules() if isinstance(declaration(app, r.endpoint), frozenset)]


def request_as(b: Browser, rule, url):
    """GET a page, or POST (with a valid CSRF token) to an action-only route."""
    if "GET" in rule.methods:
        r = b.get(url)
    else:
        r = b.post(url, {}, token_from="/login" if b.client.get_cookie("lims_session") is None else "/profile")
    r.get_data()  # drain streamed responses
    return r


def make_equipment(app, as_user, creator="tech0"):
    tech = as_user(creator, roles=["technician"])
    r = tech.post(
        "/equipment/new",
        {
            "code": "EQ-BAL-01",
            "name": "Balance",
            "kind": "balance",
            "location": "Lab 2",
            "serial_number": "B-1",
            "status": "in_service",
            "calibration_due": "",
            "notes": "",
        },
    )
    assert r.status_code == 302, text(r)
    return int(urlsplit(r.headers["Location"]).path.rstrip("/").split("/")[-1])


# --- every endpoint declares its access ------------------------------------------------


def test_every_endpoint_declares_who_may_use_it(app):
    missing = [r.endpoint for r in app.url_map.iter_rules() if declaration(app, r.endpoint) is None]
    assert missing == []
    for r in app.url_map.iter_rules():
        decl = declaration(app, r.endpoint)
        assert decl in (PUBLIC, AUTHENTICATED) or (isinstance(decl, frozenset) and decl and decl <= set(ROLES)), (
            r.endpoint,
            decl,
        )


def test_only_the_expected_endpoints_are_public(app):
    public_eps = {r.endpoint for r in app.url_map.iter_rules() if declaration(app, r.endpoint) == PUBLIC}
    assert public_eps == {"static", "auth.login", "core.set_language"}


def test_admin_and_audit_routes_are_limited_to_their_roles(app):
    assert declaration(app, "admin.users") == frozenset({"admin"})
    assert declaration(app, "admin.account_action") == frozenset({"admin"})
    assert declaration(app, "audit.export_csv") == frozenset({"qa", "admin"})
    assert declaration(app, "equipment.approve") == frozenset({"qa"})


# --- segregation of duties: the administrator does no GMP work ---------------------------------

# The only state-changing routes an admin-only account may use: account administration, its own sign-in,
# session, password and language, and the bulk export of batch reports already on file (a copy, not a change).
ADMIN_NON_GMP_WRITES = {
    "admin.create_user",
    "admin.edit_user",
    "admin.account_action",
    "admin.reset_password",
    "auth.login",
    "auth.logout",
    "auth.change_password",
    "core.profile",
    "reports.request_export",
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def write_rules(app):
    return [r for r in app.url_map.iter_rules() if r.methods & WRITE_METHODS]


def test_the_admin_role_is_named_on_no_gmp_write_route(app):
    offenders = []
    for rule in write_rules(app):
        if rule.endpoint in ADMIN_NON_GMP_WRITES:
            continue
        decl = declaration(app, rule.endpoint)
        if decl in (PUBLIC, AUTHENTICATED) or "admin" in decl:
            offenders.append((rule.endpoint, decl))
    assert offenders == []
    assert len(write_rules(app)) > 40  # the walk sees the real map


def test_an_admin_only_account_reaches_no_gmp_write_route(app, as_user):
    """Walk the URL map and post to every write route outside account administration: each is refused, nothing stored."""
    admin = as_user("only-admin", roles=["admin"])
    before = audit_count()
    checked = []
    for rule in write_rules(app):
        if rule.endpoint in ADMIN_NON_GMP_WRITES:
            continue
        for url in concrete_urls(app, rule):
            r = admin.post(url, {}, token_from="/profile")
            r.get_data()
            assert r.status_code == 403, (rule.endpoint, url, r.status_code)
            assert FORBIDDEN in text(r)
            checked.append(rule.endpoint)
    assert {
        "storage.create_location",
        "jobs.dispose",
        "equipment.create",
        "equipment.approve",
        "donors.create",
        "lookback.create",
        "courses.administer",
    } <= set(checked)
    assert len(set(checked)) >= 40
    assert audit_count() == before


def test_the_admin_keeps_the_reads_it_needs(app, as_user):
    admin = as_user("only-admin", roles=["admin"])
    for url in ("/admin/users", "/audit/", "/jobs/", "/equipment/"):
        r = admin.get(url)
        r.get_data()
        assert r.status_code == 200, url
    r = admin.get("/audit/export.csv")
    r.get_data()
    assert r.status_code == 200


def test_a_legacy_account_combining_admin_and_qa_cannot_sign(app, as_user, make_user):
    """Accounts created before the separation rule keep their rows; a signature by one is refused, nothing counted."""
    from lims.audit.trail import change_reason

    eq_id = make_equipment(app, as_user)
    uid = make_user("legacy", ["qa"])
    with transaction(Actor(None, "test: account from before the rule")) as s:
        with change_reason(s, "test: legacy combination"):
            s.get(User, uid).roles = "admin,qa"
    b = Browser(app.test_client())
    assert b.login("legacy").status_code == 302
    before = audit_count()
    r = b.post(
        f"/equipment/{eq_id}/approve",
        {"sign-version": f"{eq_id}@1", "sign-password": PASSWORD},
        token_from=f"/equipment/{eq_id}",
    )
    assert r.status_code == 403
    assert "Administrator accounts cannot sign GMP records" in text(r)
    with transaction(Actor(None, "test"), write=False) as s:
        assert s.exec(select(Signature)).all() == []
    assert audit_count() == before
    assert user_row(uid).failed_attempts == 0


def test_declaration_of_an_unknown_endpoint_is_none(app):
    assert declaration(app, "no.such.endpoint") is None


# --- deny by default on a fresh app -------------------------------------------------


def test_undeclared_route_is_refused_even_to_an_admin(database_url, make_user, clock, tmp_path):
    fresh = create_app(TestConfig, DATABASE_URL=database_url, BACKUP_DIR=str(tmp_path / "fresh"))
    fresh.extensions["clock"] = clock
    reached = []

    def undeclared():
        reached.append("undeclared")
        return "the view ran"

    @public
    def declared_public():
        reached.append("declared")
        return "public page"

    def admin_only_view():
        reached.append("admin_only")
        return "admin page"

    fresh.add_url_rule("/undeclared", "undeclared", undeclared, methods=["GET", "POST"])
    fresh.add_url_rule("/declared", "declared", declared_public)
    fresh.add_url_rule("/admin-only", "admin_only", roles("admin")(admin_only_view))
    try:
        make_user("boss", ["admin"])
        make_user("lab", ["qa", "technician", "clinician"])  # every GMP role (admin cannot be combined with them)
        lab = Browser(fresh.test_client())
        assert lab.login("lab").status_code == 302
        assert lab.get("/undeclared").status_code == 403
        assert lab.post("/undeclared", {}, token_from="/").status_code == 403
        b = Browser(fresh.test_client())
        assert b.login("boss").status_code == 302
        r = b.get("/undeclared")
        assert r.status_code == 403
        assert FORBIDDEN in text(r) and 'class="topbar"' in text(r)
        assert b.post("/undeclared", {}, token_from="/").status_code == 403
        assert Browser(fresh.test_client()).get("/undeclared").status_code == 403  # anonymous too
        assert reached == []
        # control: declared routes on the same app work
        assert b.get("/declared").get_data(as_text=True) == "public page"
        assert b.get("/admin-only").get_data(as_text=True) == "admin page"
        assert reached == ["declared", "admin_only"]
    finally:
        fresh.extensions["lims_db"].dispose()


# --- anonymous users are sent to sign in ---------------------------------------------------


def test_anonymous_get_of_every_protected_page_redirects_to_login(app, browser):
    checked = 0
    for rule in protected_rules(app):
        if "GET" not in rule.methods:
            continue
        for url in concrete_urls(app, rule):
            r = browser.get(url)
            assert is_login_redirect(r), (url, r.status_code)
            assert parse_qs(urlsplit(r.headers["Location"]).query).get("next") == [url], url
            checked += 1
    assert checked >= 10


def test_anonymous_post_to_every_protected_action_redirects_to_login(app, browser):
    before = audit_count()
    for rule in protected_rules(app):
        if "POST" not in rule.methods:
            continue
        for url in concrete_urls(app, rule):
            r = browser.post(url, {}, token_from="/login")
            assert is_login_redirect(r), (url, r.status_code)
    assert audit_count() == before


def test_public_pages_open_without_sign_in(app, browser):
    assert browser.get("/login").status_code == 200
    assert browser.get("/static/css/lims.css").status_code == 200
    assert browser.get("/language/zh_CN").status_code == 302


# --- role refusal: every roles-declared route refuses every other role ------------------------


@pytest.fixture
def role_browsers(app, as_user):
    return {role: as_user(f"only-{role}", roles=[role]) for role in ROLES}


def test_every_role_route_refuses_every_role_it_does_not_name(app, role_browsers):
    before = audit_count()
    checked = 0
    for rule in role_rules(app):
        allowed = declaration(app, rule.endpoint)
        for role in set(ROLES) - allowed:
            for url in concrete_urls(app, rule):
                r = request_as(role_browsers[role], rule, url)
                assert r.status_code == 403, (role, rule.endpoint, url, r.status_code)
                assert FORBIDDEN in text(r)
                checked += 1
    assert checked >= 20
    assert audit_count() == before


def test_every_role_route_admits_the_roles_it_names(app, role_browsers):
    for rule in role_rules(app):
        for role in declaration(app, rule.endpoint):
            for url in concrete_urls(app, rule, id_value=999999):
                r = request_as(role_browsers[role], rule, url)
                assert r.status_code != 403, (role, rule.endpoint, url)


def test_technician_gets_403_on_admin_users_page(app, as_user):
    tech = as_user("tech1", roles=["technician"])
    r = tech.get("/admin/users")
    assert r.status_code == 403
    page = text(r)
    assert FORBIDDEN in page and "You do not have permission for this page" in page
    assert "Tech1" in page  # layout with the signed-in user is kept


def test_admin_opens_the_users_page(app, as_user):
    assert as_user("root", roles=["admin"]).get("/admin/users").status_code == 200


def test_qa_cannot_deactivate_a_user_and_nothing_is_stored(app, as_user, make_user):
    victim = make_user("victim")
    qa = as_user("qa1", roles=["qa"])
    before_rows, before = audit_count(), user_row(victim)
    r = qa.post(
        f"/admin/users/{victim}/deactivate",
        {"act-version": before.version, "act-reason": "leaving"},
        token_from="/profile",
    )
    assert r.status_code == 403 and FORBIDDEN in text(r)
    after = user_row(victim)
    assert after.active is True and after.version == before.version
    assert audit_count() == before_rows
    assert Browser(app.test_client()).login("victim").status_code == 302


@pytest.mark.parametrize("role", ["technician", "clinician"])
def test_audit_csv_export_is_refused_to(app, as_user, role):
    b = as_user("u1", roles=[role])
    r = b.get("/audit/export.csv")
    assert r.status_code == 403
    assert r.mimetype == "text/html" and FORBIDDEN in text(r)
    assert "seq,timestamp_utc" not in text(r)


def test_audit_csv_export_is_given_to_qa(app, as_user):
    r = as_user("qa1", roles=["qa"]).get("/audit/export.csv")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "seq" in body.splitlines()[0]


def test_technician_cannot_approve_equipment(app, as_user):
    eq_id = make_equipment(app, as_user)
    tech2 = as_user("tech2", roles=["technician"])
    before = audit_count()
    r = tech2.post(
        f"/equipment/{eq_id}/approve",
        {"sign-version": f"{eq_id}@1", "sign-password": PASSWORD},
        token_from=f"/equipment/{eq_id}",
    )
    assert r.status_code == 403 and FORBIDDEN in text(r)
    assert audit_count() == before
    assert audit_rows(app, action="sign") == []
    with transaction(Actor(None, "test"), write=False) as s:
        assert s.exec(select(Signature)).all() == []


def test_qa_can_approve_equipment(app, as_user):
    eq_id = make_equipment(app, as_user)
    qa = as_user("qa1", roles=["qa"])
    r = qa.post(
        f"/equipment/{eq_id}/approve",
        {"sign-version": f"{eq_id}@1", "sign-password": PASSWORD},
        token_from=f"/equipment/{eq_id}",
    )
    assert r.status_code == 302, text(r)
    assert len(audit_rows(app, action="sign", record_id=str(eq_id))) == 1


# --- object level: editing the id in the URL ------------------------------------------------


@pytest.mark.parametrize("role", ["technician", "qa", "clinician"])
def test_non_admin_cannot_open_another_users_record_by_id(app, as_user, make_user, role):
    other = make_user("other", name="Other Person")
    b = as_user("me", roles=[role])
    me = user_id("me")
    for uid in (other, me):
        r = b.get(f"/admin/users/{uid}")
        assert r.status_code == 403, uid
        assert "Other Person" not in text(r)
    before = user_row(other)
    r = b.post(
        f"/admin/users/{other}/edit",
        {
            "edit-version": before.version,
            "edit-full_name": "Hijacked",
            "edit-roles": ["admin"],
            "edit-language": "en",
            "edit-reason": "x",
        },
        token_from="/profile",
    )
    assert r.status_code == 403
    after = user_row(other)
    assert (after.full_name, after.roles, after.version) == ("Other Person", "technician", before.version)
    assert user_row(me).roles == role  # no self-promotion either


def test_admin_opens_another_users_record(app, as_user, make_user):
    other = make_user("other", name="Other Person")
    r = as_user("root", roles=["admin"]).get(f"/admin/users/{other}")
    assert r.status_code == 200 and "Other Person" in text(r)


def test_unknown_user_id_is_a_404_page_with_the_layout(app, as_user):
    admin = as_user("root", roles=["admin"])
    r = admin.get("/admin/users/999999", headers={"Referer": "http://localhost/admin/users"})
    assert r.status_code == 404
    page = text(r)
    assert "No such user." in page and "Not found" in page
    assert 'class="topbar"' in page and 'class="mainnav"' in page and "Root" in page
    assert 'href="/admin/users"' in page  # the Back button returns to where the user came from
    r = admin.get("/admin/users/not-a-number")
    assert r.status_code == 404 and 'class="mainnav"' in text(r)
    assert "The page or record does not exist." in text(r)


def test_unknown_equipment_id_is_a_404_page(app, as_user):
    r = as_user("tech1").get("/equipment/424242")
    assert r.status_code == 404 and "No such equipment." in text(r) and 'class="topbar"' in text(r)


# --- CSRF ---------------------------------------------------------------------------


def test_post_without_csrf_to_equipment_new_is_refused(app, as_user):
    tech = as_user("tech1", roles=["technician"])
    before = audit_count()
    form = {"code": "EQ-CSRF-01", "name": "Freezer", "kind": "freezer", "status": "in_service"}
    r = tech.post("/equipment/new", form, csrf=False)
    assert r.status_code == 400 and CSRF_MESSAGE in text(r)
    assert audit_count() == before and audit_rows(app, entity="equipment") == []
    # control: the same form with its token is saved
    assert tech.post("/equipment/new", form).status_code == 302
    assert audit_rows(app, entity="equipment", field="code")[0].new_value == "EQ-CSRF-01"


def test_post_with_a_forged_csrf_token_is_refused(app, as_user):
    tech = as_user("tech1", roles=["technician"])
    before = audit_count()
    r = tech.post(
        "/equipment/new",
        {"csrf_token": "forged", "code": "EQ-CSRF-02", "name": "x", "kind": "other", "status": "in_service"},
    )
    assert r.status_code == 400 and CSRF_MESSAGE in text(r)
    assert audit_count() == before


def test_post_without_csrf_to_admin_users_new_is_refused(app, as_user):
    admin = as_user("root", roles=["admin"])
    before = audit_count()
    r = admin.post(
        "/admin/users/new",
        {
            "username": "sneaky",
            "full_name": "Sneaky",
            "roles": ["admin"],
            "language": "en",
            "password": "Temporary-Pass-2026",
        },
        csrf=False,
    )
    assert r.status_code == 400 and CSRF_MESSAGE in text(r)
    assert audit_count() == before
    with transaction(Actor(None, "test"), write=False) as s:
        assert s.exec(select(User).where(User.username == "sneaky")).first() is None


def test_post_without_csrf_to_logout_is_refused_and_session_stays(app, as_user):
    b = as_user("alice")
    uid = user_id("alice")
    r = b.post("/logout", csrf=False)
    assert r.status_code == 400 and CSRF_MESSAGE in text(r)
    assert b.get("/").status_code == 200
    with transaction(Actor(None, "test"), write=False) as s:
        rows = s.exec(select(UserSession).where(UserSession.user_id == uid)).all()
    assert [r.ended_at for r in rows] == [None]
    assert audit_rows(app, action="logout") == []


def test_post_without_csrf_to_login_is_refused(app, make_user, browser):
    uid = make_user("alice")
    before = audit_count()
    r = browser.post("/login", {"username": "alice", "password": PASSWORD}, csrf=False)
    assert r.status_code == 400 and CSRF_MESSAGE in text(r)
    assert audit_count() == before
    with transaction(Actor(None, "test"), write=False) as s:
        assert s.exec(select(UserSession).where(UserSession.user_id == uid)).all() == []
    assert is_login_redirect(browser.get("/"))
