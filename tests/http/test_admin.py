"""User administration by the admin role.

compliance.md "Accounts and sessions" (individual accounts, deactivate never
delete, first login after an admin-set password must change it), "Audit
trail" (every create/update audited, a change needs a reason, role changes
audited) and "Records and copies" (a stale form is refused with "changed by X
at T", never a silent overwrite). Every refused input checks the message AND
that nothing was stored.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlmodel import func, select

from lims.audit.models import AuditEntry
from lims.auth.models import User, UserSession
from lims.db import Actor, transaction
from tests.conftest import PASSWORD, Browser, audit_rows, user_row
from tests.conftest import page_text as text

TEMP = "Temporary-Pass-2026"
GENERIC = "Invalid user name or password, or the account is locked or deactivated."
SEPARATION = (
    "The administrator role cannot be combined with technician, QA or clinician: account administration "
    "and GMP work are done by separate accounts."
)
OWN_ROLES = "You cannot change your own roles; ask another administrator."
COMMON = "This password is on a list of common or breached passwords; choose another."
GUESSABLE = "This password is too easy to guess"


# --- helpers ------------------------------------------------------------------


def users_named(username) -> list[User]:
    with transaction(Actor(None, "test"), write=False) as s:
        return s.exec(select(User).where(func.lower(User.username) == username.lower())).all()


def user_count() -> int:
    with transaction(Actor(None, "test"), write=False) as s:
        return s.exec(select(func.count()).select_from(User)).one()


def audit_count() -> int:
    with transaction(Actor(None, "test"), write=False) as s:
        return s.exec(select(func.count()).select_from(AuditEntry)).one()


def live_sessions(uid) -> list[UserSession]:
    with transaction(Actor(None, "test"), write=False) as s:
        return s.exec(select(UserSession).where(UserSession.user_id == uid, UserSession.ended_at.is_(None))).all()


def user_audit(app, uid, **filters):
    return audit_rows(app, entity="app_user", record_id=str(uid), **filters)


def login(b: Browser, username, password=PASSWORD):
    return b.post("/login", {"username": username, "password": password}, token_from="/login")


def is_login_redirect(resp) -> bool:
    return resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/login"


def create(admin: Browser, **fields):
    data = {
        "username": "bob",
        "full_name": "Bob Builder",
        "roles": ["technician", "qa"],
        "language": "en",
        "password": TEMP,
    }
    data.update(fields)
    return admin.post("/admin/users/new", data)


def edit(admin: Browser, uid, version=None, **fields):
    u = user_row(uid)
    data = {
        "edit-version": u.version if version is None else version,
        "edit-full_name": u.full_name,
        "edit-roles": sorted(u.role_set),
        "edit-language": u.language,
        "edit-reason": "role review 2026",
    }
    data.update({f"edit-{k}": v for k, v in fields.items()})
    return admin.post(f"/admin/users/{uid}/edit", data, token_from=f"/admin/users/{uid}")


def action(admin: Browser, uid, name, reason="left the company", version=None):
    v = user_row(uid).version if version is None else version
    return admin.post(
        f"/admin/users/{uid}/{name}", {"act-version": v, "act-reason": reason}, token_from=f"/admin/users/{uid}"
    )


def reset(admin: Browser, uid, password=TEMP, reason="forgot password, identity checked", version=None):
    v = user_row(uid).version if version is None else version
    return admin.post(
        f"/admin/users/{uid}/reset-password",
        {"reset-version": v, "reset-password": password, "reset-reason": reason},
        token_from=f"/admin/users/{uid}",
    )


@pytest.fixture
def admin(as_user):
    return as_user("root", roles=["admin"], name="Root Admin")


def admin_id():
    return users_named("root")[0].id


# --- create --------------------------------------------------------------------------


def test_admin_creates_a_user_with_a_temporary_password(app, admin):
    r = create(admin)
    assert r.status_code == 302
    (u,) = users_named("bob")
    assert urlsplit(r.headers["Location"]).path == f"/admin/users/{u.id}"
    assert "User bob created" in text(admin.get(r.headers["Location"]))
    assert u.must_change_password is True and u.active is True
    assert u.roles == "qa,technician" and u.full_name == "Bob Builder"
    assert u.password_hash.startswith("$argon2id$")
    rows = user_audit(app, u.id, action="create")
    fields = {r.field: r.new_value for r in rows}
    assert fields["username"] == "bob" and fields["roles"] == "qa,technician"
    assert fields["must_change_password"] == "true"
    assert fields["password_hash"] == "********"
    assert {(r.user_id, r.user_name) for r in rows} == {(admin_id(), "Root Admin")}
    # neither the password nor its hash appear anywhere in the audit trail
    for row in audit_rows(app):
        for value in (row.old_value, row.new_value, row.reason):
            assert TEMP not in (value or "") and u.password_hash not in (value or "")


def test_created_user_is_sent_to_change_the_password(app, admin):
    create(admin)
    b = Browser(app.test_client())
    r = login(b, "bob", TEMP)
    assert urlsplit(r.headers["Location"]).path == "/password"


BAD_CREATES = [
    pytest.param({"username": "alice"}, "The user name alice is taken", 422, id="duplicate"),
    pytest.param({"username": "ALICE"}, "The user name alice is taken", 422, id="duplicate-other-case"),
    pytest.param(
        {"password": "Short-pw-11"}, "The password must have at least 12 characters.", 422, id="short-password"
    ),
    pytest.param(
        {"password": "bob-is-my-password"},
        "The password must not contain the user name.",
        422,
        id="password-contains-username",
    ),
    pytest.param({"roles": []}, "Choose at least one role.", 400, id="no-role"),
    pytest.param({"roles": ["root"]}, "'root' is not a valid choice for this field.", 400, id="unknown-role"),
    pytest.param(
        {"username": "bad name!"},
        "User names use letters, digits, dots, dashes and underscores only.",
        422,
        id="bad-username",
    ),
    pytest.param({"full_name": ""}, "This field is required.", 400, id="no-full-name"),
    pytest.param({"full_name": "   "}, "This field is required.", 400, id="blank-full-name"),
    pytest.param({"roles": ["admin", "technician"]}, SEPARATION, 422, id="admin-and-technician"),
    pytest.param({"roles": ["admin", "qa"]}, SEPARATION, 422, id="admin-and-qa"),
    pytest.param({"roles": ["admin", "clinician"]}, SEPARATION, 422, id="admin-and-clinician"),
    pytest.param({"roles": ["admin", "technician", "qa", "clinician"]}, SEPARATION, 422, id="admin-and-all"),
    pytest.param({"password": "qwerty123456"}, COMMON, 422, id="common-password"),
    pytest.param({"password": "QWERTY123456"}, COMMON, 422, id="common-password-upper-case"),
    pytest.param({"password": "LeaveMeAlone"}, COMMON, 422, id="common-password-mixed-case"),
    pytest.param({"password": "aaaaaaaaaaaaaaaa"}, GUESSABLE, 422, id="repeated-characters"),
    pytest.param(
        {"username": "wli", "full_name": "Wangjun Li", "password": "Wangjun-2026"},
        GUESSABLE,
        422,
        id="full-name-in-password",
    ),
]


@pytest.mark.parametrize("fields, message, status", BAD_CREATES)
def test_bad_create_is_refused_and_stores_nothing(app, admin, make_user, fields, message, status):
    make_user("alice", name="Alice Original")
    users_before, audit_before = user_count(), audit_count()
    r = create(admin, **fields)
    assert r.status_code == status, r.status_code
    assert message in text(r)
    assert user_count() == users_before
    assert audit_count() == audit_before
    (alice,) = users_named("alice")
    assert alice.full_name == "Alice Original"


def test_a_deactivated_users_name_is_never_reused(app, admin, make_user):
    uid = make_user("alice")
    assert action(admin, uid, "deactivate").status_code == 302
    r = create(admin, username="alice")
    assert r.status_code == 422 and "accounts are never deleted or reused" in text(r)
    assert len(users_named("alice")) == 1


# --- edit roles -------------------------------------------------------------------------


def test_roles_edit_with_a_reason_is_saved_and_audited(app, admin, make_user):
    uid = make_user("alice", ["technician"])
    r = edit(admin, uid, roles=["technician", "qa"], reason="promoted to QA reviewer")
    assert r.status_code == 302
    u = user_row(uid)
    assert u.roles == "qa,technician" and u.version == 2
    (row,) = user_audit(app, uid, action="update", field="roles")
    assert (row.old_value, row.new_value) == ("technician", "qa,technician")
    assert row.reason == "promoted to QA reviewer" and row.user_id == admin_id()


@pytest.mark.parametrize("reason", ["", "   "])
def test_roles_edit_without_a_reason_is_refused(app, admin, make_user, reason):
    uid = make_user("alice", ["technician"])
    before, audit_before = user_row(uid), audit_count()
    r = edit(admin, uid, roles=["admin"], reason=reason)
    assert r.status_code in (400, 422)
    assert "A reason is required to change an existing record." in text(r)
    after = user_row(uid)
    assert (after.roles, after.version) == ("technician", before.version)
    assert audit_count() == audit_before


def test_roles_edit_with_no_role_is_refused(app, admin, make_user):
    uid = make_user("alice", ["technician"])
    audit_before = audit_count()
    r = edit(admin, uid, roles=[])
    assert r.status_code == 400 and "Choose at least one role." in text(r)
    assert user_row(uid).roles == "technician" and audit_count() == audit_before


# --- stale forms ------------------------------------------------------------------------------


def test_stale_edit_is_refused_showing_who_changed_it_and_both_values(app, admin, as_user, make_user):
    uid = make_user("alice", name="Alice Original")
    opened = user_row(uid).version  # admin 1 opens the form
    admin2 = as_user("root2", roles=["admin"], name="Second Admin")
    assert edit(admin2, uid, full_name="Alice By Second", reason="typo").status_code == 302
    audit_before = audit_count()
    r = edit(admin, uid, version=opened, full_name="Alice By First", reason="my fix")
    assert r.status_code == 409
    page = text(r)
    assert "Changed by Second Admin at" in page
    assert "This record was changed by Second Admin" in page and "Nothing was saved" in page
    assert "Alice By First" in page and "Alice By Second" in page  # yours (not saved) and now stored
    u = user_row(uid)
    assert u.full_name == "Alice By Second" and u.version == opened + 1
    assert audit_count() == audit_before
    assert len(user_audit(app, uid, action="update", field="full_name")) == 1


def test_current_version_edit_is_accepted(app, admin, make_user):
    uid = make_user("alice", name="Alice Original")
    assert edit(admin, uid, full_name="Alice Renamed").status_code == 302
    assert user_row(uid).full_name == "Alice Renamed"


def test_stale_deactivate_is_refused(app, admin, make_user):
    uid = make_user("alice")
    opened = user_row(uid).version
    assert edit(admin, uid, full_name="Alice Changed").status_code == 302
    r = action(admin, uid, "deactivate", version=opened)
    assert r.status_code == 409 and "Changed by Root Admin at" in text(r)
    assert user_row(uid).active is True


# --- deactivate -----------------------------------------------------------------------------


def test_deactivate_blocks_login_ends_sessions_and_keeps_the_row(app, admin, make_user):
    uid = make_user("alice", name="Alice Example")
    alice = Browser(app.test_client())
    assert login(alice, "alice").status_code == 302
    r = action(admin, uid, "deactivate", reason="left the company")
    assert r.status_code == 302
    assert "Account alice deactivated." in text(admin.get(r.headers["Location"]))
    # her open session is over on the server
    r = alice.get("/")
    assert is_login_redirect(r)
    assert "Your session was ended because the account was deactivated." in text(alice.get(r.headers["Location"]))
    assert live_sessions(uid) == []
    # she cannot sign in with the right password; the message stays generic
    r = login(Browser(app.test_client()), "alice")
    assert r.status_code == 200 and GENERIC in text(r)
    # never deleted: the row and its name are still there, audited as an update with the reason
    u = user_row(uid)
    assert u is not None and u.active is False and u.full_name == "Alice Example"
    (row,) = user_audit(app, uid, action="update", field="active")
    assert (row.old_value, row.new_value, row.reason) == ("true", "false", "left the company")
    assert user_audit(app, uid, action="delete") == []
    assert "Alice Example" in text(admin.get("/admin/users"))


def test_no_route_deletes_a_user(app):
    for rule in app.url_map.iter_rules():
        assert "DELETE" not in rule.methods, rule
        assert "delete" not in rule.rule.lower(), rule


def test_reactivate_restores_login(app, admin, make_user):
    uid = make_user("alice")
    action(admin, uid, "deactivate")
    assert action(admin, uid, "reactivate", reason="returned from leave").status_code == 302
    assert user_row(uid).active is True
    assert login(Browser(app.test_client()), "alice").status_code == 302


def test_deactivate_without_a_reason_is_refused(app, admin, make_user):
    uid = make_user("alice")
    alice = Browser(app.test_client())
    login(alice, "alice")
    audit_before = audit_count()
    r = action(admin, uid, "deactivate", reason="")
    assert r.status_code == 400 and "A reason is required" in text(r)
    assert user_row(uid).active is True and audit_count() == audit_before
    assert alice.get("/").status_code == 200


def test_self_deactivate_is_refused(app, admin):
    me = admin_id()
    before, audit_before = user_row(me), audit_count()
    r = action(admin, me, "deactivate", reason="testing")
    assert r.status_code == 422
    assert "You cannot deactivate your own account." in text(r)
    after = user_row(me)
    assert after.active is True and after.version == before.version
    assert audit_count() == audit_before
    assert admin.get("/admin/users").status_code == 200


def test_admin_may_deactivate_another_admin(app, admin, as_user):
    as_user("root2", roles=["admin"])
    other = users_named("root2")[0].id
    assert action(admin, other, "deactivate").status_code == 302
    assert user_row(other).active is False


# --- segregation of duties: own roles, admin apart from GMP roles ---------------------------


@pytest.mark.parametrize(
    "roles",
    [["qa"], ["admin", "qa"], ["admin", "technician"], ["technician"]],
    ids=["step-down-to-qa", "grant-self-qa", "grant-self-technician", "swap-to-technician"],
)
def test_an_admin_cannot_change_its_own_roles(app, admin, roles):
    me = admin_id()
    before, audit_before = user_row(me), audit_count()
    r = edit(admin, me, roles=roles, reason="my own change")
    assert r.status_code == 422
    assert OWN_ROLES in text(r)
    after = user_row(me)
    assert after.roles == "admin" and after.version == before.version
    assert audit_count() == audit_before
    assert admin.get("/admin/users").status_code == 200


def test_an_admin_may_edit_its_own_name_with_its_roles_unchanged(app, admin):
    me = admin_id()
    assert edit(admin, me, full_name="Root Administrator", reason="full name as on the ID card").status_code == 302
    assert user_row(me).full_name == "Root Administrator" and user_row(me).roles == "admin"


def test_another_admin_may_change_an_admins_roles(app, admin, as_user):
    as_user("root2", roles=["admin"])
    other = users_named("root2")[0].id
    assert edit(admin, other, roles=["technician"], reason="moved to the lab").status_code == 302
    assert user_row(other).roles == "technician"


@pytest.mark.parametrize(
    "start, roles",
    [
        (["admin"], ["admin", "qa"]),
        (["qa"], ["qa", "admin"]),
        (["technician"], ["admin", "technician"]),
        (["clinician"], ["admin", "clinician"]),
    ],
)
def test_an_edit_that_combines_admin_with_a_gmp_role_is_refused(app, admin, make_user, start, roles):
    uid = make_user("alice", start)
    before, audit_before = user_row(uid), audit_count()
    r = edit(admin, uid, roles=roles, reason="wants both")
    assert r.status_code == 422 and SEPARATION in text(r)
    after = user_row(uid)
    assert after.roles == before.roles and after.version == before.version
    assert audit_count() == audit_before


def test_a_role_change_without_a_reason_is_refused_by_the_operation_too(app, admin, make_user):
    """The form asks for a reason; the operation refuses without one for every other caller."""
    from lims.auth import operations as ops
    from lims.errors import ReasonRequired

    uid = make_user("alice", ["technician"])
    with transaction(Actor(admin_id(), "Root Admin")) as s:
        actor, user = s.get(User, admin_id()), s.get(User, uid)
        with pytest.raises(ReasonRequired):
            ops.update_user(s, actor, user, user.version, user.full_name, ["qa"], "en", "  ")
    assert user_row(uid).roles == "technician"


def test_the_user_page_shows_the_role_history_from_the_audit_trail(app, admin, as_user, make_user):
    uid = make_user("alice", ["technician"], name="Alice Example")
    assert edit(admin, uid, roles=["technician", "qa"], reason="trained as QA reviewer").status_code == 302
    admin2 = as_user("root2", roles=["admin"], name="Second Admin")
    assert edit(admin2, uid, roles=["qa"], reason="left the bench").status_code == 302
    assert edit(admin, uid, full_name="Alice B. Example", reason="married name").status_code == 302  # no role change
    page = admin.get(f"/admin/users/{uid}").get_data(as_text=True)
    import html
    import re

    section = html.unescape(page.split("Role changes</h2>")[1].split("</table>")[0])
    rows = [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        for tr in section.split("<tbody>")[1].split("<tr>")[1:]
    ]
    assert [r[1:] for r in rows] == [
        ["Second Admin", "QA officer, Technician", "QA officer", "left the bench"],
        ["Root Admin", "Technician", "QA officer, Technician", "trained as QA reviewer"],
        ["test setup", "(account created)", "Technician", ""],
    ]
    assert all(re.match(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", r[0]) for r in rows), rows
    # read from the trail: the same rows as the audit entries of the roles field
    trail = user_audit(app, uid, field="roles")
    assert [(e.user_name, e.reason) for e in reversed(trail)][:2] == [
        ("Second Admin", "left the bench"),
        ("Root Admin", "trained as QA reviewer"),
    ]


def test_own_user_page_says_the_roles_are_not_for_oneself(app, admin):
    page = text(admin.get(f"/admin/users/{admin_id()}"))
    assert "You cannot change your own roles; another administrator must." in page


def test_a_legacy_account_combining_admin_and_qa_is_flagged(app, admin, make_user):
    uid = make_user("legacy", ["qa"])
    with transaction(Actor(None, "test: account from before the rule")) as s:
        from lims.audit.trail import change_reason

        with change_reason(s, "test: legacy combination"):
            s.get(User, uid).roles = "admin,qa"
    assert "admin combined with GMP roles" in text(admin.get("/admin/users"))
    page = text(admin.get(f"/admin/users/{uid}"))
    assert "combines the administrator role with GMP roles" in page
    # any edit must separate them; removing the admin role is accepted
    assert SEPARATION in text(edit(admin, uid, full_name="Legacy Person", reason="rename"))
    assert edit(admin, uid, roles=["qa"], reason="separate accounts").status_code == 302
    assert user_row(uid).roles == "qa"


# --- reset password ------------------------------------------------------------------------


def test_reset_password_forces_a_change_at_next_login(app, admin, make_user):
    uid = make_user("alice")
    alice = Browser(app.test_client())
    login(alice, "alice")
    before = user_row(uid)
    r = reset(admin, uid, password=TEMP)
    assert r.status_code == 302
    after = user_row(uid)
    assert after.must_change_password is True and after.password_hash != before.password_hash
    (row,) = user_audit(app, uid, action="update", field="password_hash")
    assert row.old_value == row.new_value == "********" and row.reason == "forgot password, identity checked"
    assert is_login_redirect(alice.get("/"))  # the old session ended
    assert live_sessions(uid) == []
    assert GENERIC in text(login(Browser(app.test_client()), "alice", PASSWORD))  # old password is gone
    b = Browser(app.test_client())
    r = login(b, "alice", TEMP)
    assert urlsplit(r.headers["Location"]).path == "/password"
    assert urlsplit(b.get("/equipment/").headers["Location"]).path == "/password"
    new = "Own-Secret-Phrase-2026"
    assert b.post("/password", {"current": TEMP, "new": new, "confirm": new}).status_code == 302
    assert b.get("/equipment/").status_code == 200
    assert user_row(uid).must_change_password is False


@pytest.mark.parametrize(
    "password, reason, message",
    [
        (TEMP, "", "Correct the marked fields."),
        ("Short-pw-11", "forgot", "The password must have at least 12 characters."),
        ("my-alice-password", "forgot", "The password must not contain the user name."),
        ("1q2w3e4r5t6y", "forgot", COMMON),
        ("1Q2W3E4R5T6Y", "forgot", COMMON),
        ("123456789012", "forgot", GUESSABLE),
    ],
)
def test_bad_reset_is_refused_and_the_hash_unchanged(app, admin, make_user, password, reason, message):
    uid = make_user("alice")
    before, audit_before = user_row(uid), audit_count()
    r = reset(admin, uid, password=password, reason=reason)
    assert r.status_code in (400, 422)
    assert message in text(r)
    after = user_row(uid)
    assert after.password_hash == before.password_hash and after.must_change_password is False
    assert audit_count() == audit_before
    assert login(Browser(app.test_client()), "alice").status_code == 302
