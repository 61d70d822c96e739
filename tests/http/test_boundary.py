"""Bad input at the request boundary is a 400 with a message and no stored change, never a 500 (issue 16 item 11),
and no CSV cell a spreadsheet would run as a formula (item 13)."""

from __future__ import annotations

import csv
import io

import pytest
from sqlmodel import select

from lims.audit.models import AuditEntry
from lims.auth.permissions import authenticated
from lims.db import Actor, db_session, transaction
from lims.equipment.models import Equipment
from lims.errors import LimsError
from tests.conftest import PASSWORD, audit_rows, csrf_from, page_text

REFUSED = "control character or bytes that are not valid UTF-8"
FORM = {
    "code": "EQ-CEN-02",
    "name": "Refrigerated centrifuge",
    "kind": "centrifuge",
    "location": "Room 2",
    "serial_number": "CF-1",
    "status": "in_service",
    "calibration_due": "2027-01-31",
    "notes": "",
}


def _equipment():
    with transaction(Actor(None, "t"), write=False) as s:
        return s.exec(select(Equipment)).all()


def _raw_post(browser, url, body: bytes):
    return browser.client.post(url, data=body, content_type="application/x-www-form-urlencoded")


def _form_bytes(browser, url, fields: dict, extra: bytes = b"") -> bytes:
    from urllib.parse import urlencode

    token = csrf_from(browser.get(url).get_data(as_text=True))
    return urlencode(dict(fields, csrf_token=token)).encode() + extra


# --- control characters and invalid UTF-8 ------------------------------------------------------------------


def test_nul_in_the_login_form_is_refused_with_a_message(app):
    c = app.test_client()
    token = csrf_from(c.get("/login").get_data(as_text=True))
    before = len(audit_rows(app))
    r = c.post("/login", data={"username": "qa\x00", "password": "x", "csrf_token": token})
    assert r.status_code == 400 and REFUSED in page_text(r)
    assert len(audit_rows(app)) == before


@pytest.mark.parametrize("value", ["Room\x002", "Room\x01 2", "Room\x1b[31m", "Room\x7f", "Room\x85"])
def test_control_characters_in_a_field_store_nothing(app, as_user, value):
    tech = as_user("tech1")
    before = len(audit_rows(app))
    r = tech.post("/equipment/new", dict(FORM, location=value))
    assert r.status_code == 400 and REFUSED in page_text(r) and "location" in page_text(r)
    assert _equipment() == [] and len(audit_rows(app)) == before


def test_invalid_utf8_in_a_form_body_is_refused(app, as_user):
    tech = as_user("tech1")
    body = _form_bytes(tech, "/equipment/new", dict(FORM, notes="")).replace(b"notes=", b"notes=%FF%FE")
    r = _raw_post(tech, "/equipment/new", body)
    assert r.status_code == 400 and REFUSED in page_text(r)
    assert _equipment() == []
    raw = _form_bytes(tech, "/equipment/new", FORM) + b"&notes2=\xc3\x28"  # a bare invalid byte sequence
    assert _raw_post(tech, "/equipment/new", raw).status_code == 400
    assert _equipment() == []


def test_tab_and_newlines_stay_allowed_in_free_text(app, as_user):
    tech = as_user("tech1")
    r = tech.post("/equipment/new", dict(FORM, notes="line one\r\nline two\twith a tab"))
    assert r.status_code == 302
    (eq,) = _equipment()
    assert eq.notes == "line one\r\nline two\twith a tab" or eq.notes == "line one\nline two\twith a tab"


@pytest.mark.parametrize(
    "url",
    ["/donors/?code=D%00", "/batches/?donor=%FF", "/audit/?record_id=a%01b", "/donors/D-0001%00", "/scan?code=LIMS%00"],
)
def test_bad_bytes_in_the_address_are_refused(app, as_user, url):
    qa = as_user("qa1", roles=["qa"])
    r = qa.get(url)
    assert r.status_code == 400 and REFUSED in page_text(r)
    assert "Qa1" in page_text(r) and "Sign out" in page_text(r)  # the page still knows who is signed in


# --- query parameters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/batches/?after=99999999999999999999999",
        "/donors/?after=abc",
        "/recipients/?after=-5",
        "/audit/?before=1e9",
        "/aes/?after=12345678901234567890123",
    ],
)
def test_paging_parameters_are_checked(app, as_user, url):
    qa = as_user("qa1", roles=["qa"])
    r = qa.get(url)
    assert r.status_code == 400
    assert "must be a whole number" in page_text(r)


def test_paging_parameter_in_range_works(app, as_user):
    qa = as_user("qa1", roles=["qa"])
    assert qa.get("/batches/?after=2147483647").status_code == 200
    assert qa.get("/donors/?after=").status_code == 200
    assert qa.get("/batches/?after=2147483648").status_code == 400
    assert qa.get("/audit/?before=9223372036854775807").status_code == 200


def test_audit_filter_with_a_user_that_is_not_a_number_shows_the_trail(app, as_user):
    qa = as_user("qa1", roles=["qa"])
    r = qa.get("/audit/?user=abc")
    assert r.status_code == 200
    assert qa.get("/audit/?user=abc&action=nonsense&date_from=2026-13-45").status_code == 200
    assert qa.get("/audit/export.csv?user=abc").status_code == 200


def test_huge_ids_in_the_path_are_not_found(app, as_user):
    qa = as_user("qa1", roles=["qa"])
    r = qa.get("/equipment/2147483648")
    assert r.status_code == 404


# --- the error page after a failed statement -----------------------------------------------------------


def test_the_error_page_renders_after_a_failed_statement(app, make_user):
    @authenticated
    def broken():
        s = db_session()
        try:
            s.add(Equipment(code="EQ-X", name=None, kind="x", location="x", status="in_service"))  # NOT NULL
            s.flush()
        except Exception:
            pass
        raise LimsError("refused after a failed write")

    app.add_url_rule("/_test/broken", "test_broken", broken)
    make_user("tech1")
    c = app.test_client()
    token = csrf_from(c.get("/login").get_data(as_text=True))
    assert c.post("/login", data={"username": "tech1", "password": PASSWORD, "csrf_token": token}).status_code == 302
    r = c.get("/_test/broken")
    assert r.status_code == 400 and "refused after a failed write" in page_text(r)
    assert "Tech1" in page_text(r)  # the layout still knows who is signed in


# --- CSV exports -----------------------------------------------------------------------------------------


def test_audit_csv_neutralises_formulas_in_every_column(app, make_user, as_user):
    make_user("evil", name='=HYPERLINK("http://x","y")')
    qa = as_user("qa1", roles=["qa"])
    with transaction(Actor(None, "+cmd|' /C calc'!A0", "@client")) as s:
        from lims.audit.trail import audit_event

        audit_event(s, "create", "equipment", "-1+1", new="=1+1", reason="\tnote")
    body = qa.get("/audit/export.csv").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(body)))
    cells = [c for row in rows[1:] for c in row]
    assert any(c.startswith("'=HYPERLINK") for c in cells)
    assert any(c == "'+cmd|' /C calc'!A0" for c in cells)
    for c in cells:
        assert not c or c[0] not in "=+-@\t\r", c
    with transaction(Actor(None, "t"), write=False) as s:
        assert s.exec(select(AuditEntry).where(AuditEntry.new_value == "=1+1")).first() is not None  # stored as typed
