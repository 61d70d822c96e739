"""Equipment workflow through HTTP: create, edit with reason, stale form, QA approval."""

from sqlmodel import select

from lims.db import Actor, transaction
from lims.equipment.models import Equipment
from tests.conftest import PASSWORD, audit_rows

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


def _edit_form(**over):
    data = {f"edit-{k}": v for k, v in FORM.items() if k != "code"}
    data.update({f"edit-{k}": v for k, v in over.items()})
    return data


def _equipment(app):
    with transaction(Actor(None, "t"), write=False) as s:
        return s.exec(select(Equipment)).all()


def test_register_and_view(app, as_user):
    tech = as_user("tech1")
    r = tech.post("/equipment/new", FORM)
    assert r.status_code == 302
    (eq,) = _equipment(app)
    page = tech.get(r.headers["Location"]).get_data(as_text=True)
    assert "EQ-CEN-02" in page and "Not approved by QA" in page and "Not usable for GMP work" in page


def test_bad_code_keeps_typed_input_and_stores_nothing(app, as_user):
    tech = as_user("tech1")
    before = len(audit_rows(app))
    r = tech.post("/equipment/new", dict(FORM, code="x"))
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "Equipment codes are 3-40 capital letters" in html
    assert 'value="Refrigerated centrifuge"' in html and 'value="CF-1"' in html
    assert _equipment(app) == [] and len(audit_rows(app)) == before


def test_duplicate_code_is_refused(app, as_user):
    tech = as_user("tech1")
    tech.post("/equipment/new", FORM)
    r = tech.post("/equipment/new", dict(FORM, name="Another"))
    assert r.status_code == 422 and "already exists" in r.get_data(as_text=True)
    assert len(_equipment(app)) == 1


def test_edit_requires_a_reason(app, as_user):
    tech = as_user("tech1")
    tech.post("/equipment/new", FORM)
    (eq,) = _equipment(app)
    url = f"/equipment/{eq.id}"
    r = tech.post(f"{url}/edit", dict(_edit_form(location="Room 3"), **{"edit-version": f"{eq.id}@1"}), token_from=url)
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "A reason is required" in html and 'value="Room 3"' in html
    assert _equipment(app)[0].location == "Room 2"


def test_edit_with_reason_is_audited(app, as_user):
    tech = as_user("tech1")
    tech.post("/equipment/new", FORM)
    (eq,) = _equipment(app)
    url = f"/equipment/{eq.id}"
    r = tech.post(
        f"{url}/edit",
        dict(_edit_form(location="Room 3"), **{"edit-version": f"{eq.id}@1", "edit-reason": "moved"}),
        token_from=url,
    )
    assert r.status_code == 302
    assert _equipment(app)[0].location == "Room 3" and _equipment(app)[0].version == 2
    (row,) = audit_rows(app, entity="equipment", action="update")
    assert (row.field, row.old_value, row.new_value, row.reason) == ("location", "Room 2", "Room 3", "moved")


def test_stale_form_is_refused_showing_who_and_both_values(app, as_user):
    tech = as_user("tech1", name="Zhang Wei")
    other = as_user("tech2", name="Chen Jing")
    tech.post("/equipment/new", FORM)
    (eq,) = _equipment(app)
    url = f"/equipment/{eq.id}"
    # Chen Jing saves first, from version 1
    assert (
        other.post(
            f"{url}/edit",
            dict(_edit_form(location="Room 5"), **{"edit-version": f"{eq.id}@1", "edit-reason": "a"}),
            token_from=url,
        ).status_code
        == 302
    )
    # Zhang Wei's form was also opened at version 1
    r = tech.post(
        f"{url}/edit",
        dict(_edit_form(location="Room 7"), **{"edit-version": f"{eq.id}@1", "edit-reason": "b"}),
        token_from=url,
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 409
    assert "changed by Chen Jing" in html and "Room 7" in html and "Room 5" in html
    stored = _equipment(app)[0]
    assert stored.location == "Room 5" and stored.version == 2


def test_qa_approval_four_eyes_and_invalidation(app, as_user):
    tech = as_user("tech1")
    qa = as_user("qa1", roles=["qa"], name="Li Na")
    qa2 = as_user("qa2", roles=["qa"], name="Zhou Min")
    qa.post("/equipment/new", FORM)  # QA officer registers it ...
    (eq,) = _equipment(app)
    url = f"/equipment/{eq.id}"
    r = qa.post(f"{url}/approve", {"sign-version": f"{eq.id}@1", "sign-password": PASSWORD}, token_from=url)
    assert r.status_code == 422 and "Four-eyes" in r.get_data(as_text=True)  # ... so cannot approve it
    r = qa2.post(f"{url}/approve", {"sign-version": f"{eq.id}@1", "sign-password": "wrong-password!!"}, token_from=url)
    assert r.status_code == 422 and "password is not correct" in r.get_data(as_text=True)
    r = qa2.post(
        f"{url}/approve",
        {"sign-version": f"{eq.id}@1", "sign-password": PASSWORD, "sign-comment": "IQ/OQ ok"},
        token_from=url,
    )
    assert r.status_code == 302
    page = qa2.get(url).get_data(as_text=True)
    assert "Usable for GMP work" in page and "Zhou Min" in page
    tech.post(
        f"{url}/edit",
        dict(
            _edit_form(status="in_service", location="Room 9"), **{"edit-version": f"{eq.id}@1", "edit-reason": "moved"}
        ),
        token_from=url,
    )
    page = qa2.get(url).get_data(as_text=True)
    assert "Not usable for GMP work" in page and "record changed after signing" in page


def test_approval_from_stale_page_is_refused(app, as_user):
    tech = as_user("tech1")
    qa = as_user("qa1", roles=["qa"])
    tech.post("/equipment/new", FORM)
    (eq,) = _equipment(app)
    url = f"/equipment/{eq.id}"
    tech.post(
        f"{url}/edit",
        dict(_edit_form(location="Room 9"), **{"edit-version": f"{eq.id}@1", "edit-reason": "moved"}),
        token_from=url,
    )
    r = qa.post(f"{url}/approve", {"sign-version": f"{eq.id}@1", "sign-password": PASSWORD}, token_from=url)
    assert r.status_code == 409
    assert audit_rows(app, action="sign") == []


def test_scan_resolves_equipment_payload_and_bare_code(app, as_user):
    tech = as_user("tech1")
    tech.post("/equipment/new", FORM)
    (eq,) = _equipment(app)
    for code in ("LIMS:EQ:EQ-CEN-02", "EQ-CEN-02", "eq-cen-02"):
        r = tech.get("/scan", query_string={"code": code})
        assert r.status_code == 302 and r.headers["Location"].endswith(f"/equipment/{eq.id}")


def test_unknown_or_malformed_scan_keeps_the_user_where_they_were(app, as_user):
    tech = as_user("tech1")
    for code, message in (
        ("LIMS:EQ:EQ-NOPE-99", "Unknown code"),
        ("LIMS:ZZ:1", "type this system does not know"),
        ("LIMS:EQ:bad code!", "not a valid LIMS code"),
        ("", "Nothing was scanned"),
    ):
        r = tech.get("/scan", query_string={"code": code}, headers={"Referer": "http://localhost/equipment/"})
        assert r.status_code == 302 and r.headers["Location"] == "/equipment/"
        assert message in tech.get("/equipment/").get_data(as_text=True)


def test_an_edit_form_of_another_device_is_refused(app, as_user):
    tech = as_user("tech1")
    tech.post("/equipment/new", FORM)
    tech.post("/equipment/new", dict(FORM, code="EQ-CEN-09", name="Centrifuge"))
    first, second = _equipment(app)
    url = f"/equipment/{second.id}"
    r = tech.post(
        f"{url}/edit",
        dict(_edit_form(location="Room 3"), **{"edit-version": f"{first.id}@1", "edit-reason": "moved"}),
        token_from=url,
    )
    assert r.status_code == 409 and "opened for another record" in r.get_data(as_text=True)
    r = tech.post(
        f"{url}/edit",
        dict(_edit_form(location="Room 3"), **{"edit-version": "1", "edit-reason": "moved"}),
        token_from=url,
    )
    assert r.status_code == 409
    assert [e.location for e in _equipment(app)] == ["Room 2", "Room 2"]
