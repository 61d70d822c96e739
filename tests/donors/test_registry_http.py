"""Donor registry through HTTP: registration, identity separation, duplicates, bad input, edits."""

import pytest
from sqlmodel import func, select

from lims.db import Actor, transaction
from lims.donors.models import Donor, DonorIdentity
from tests.conftest import audit_rows

FORM = {
    "sex": "male",
    "date_of_birth": "2006-03-14",
    "height_cm": "178",
    "weight_kg": "68.5",
    "measured_on": "2026-11-20",
    "notes": "university student",
    "full_name": "Wang Xiaoming",
    "national_id": "11010520060314123X",
    "phone": "138 0000 0000",
}


def _count(model):
    with transaction(Actor(None, "t"), write=False) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def _donor(code):
    with transaction(Actor(None, "t"), write=False) as s:
        return s.exec(select(Donor).where(Donor.code == code)).one()


def test_clinician_registers_a_candidate_with_a_pseudonymous_code(app, as_user, protocol):
    nurse = as_user("nurse1", roles=["clinician"])
    r = nurse.post("/donors/new", FORM)
    assert r.status_code == 302 and r.headers["Location"].endswith("/donors/D-0001")
    page = nurse.get("/donors/D-0001").get_data(as_text=True)
    assert "candidate" in page and "21.6" in page and "Wang Xiaoming" in page
    # the engine's check: age and BMI pass, every panel item is still missing
    assert "incomplete" in page and "49 items of the screening panel have no valid result yet" in page
    d = _donor("D-0001")
    assert (d.status, d.sex, str(d.weight_kg)) == ("candidate", "male", "68.5")
    rows = audit_rows(app, entity="donor", record_id="D-0001")
    assert {r.field for r in rows} >= {"code", "sex", "date_of_birth", "height_cm", "weight_kg", "status"}
    assert "national_id" in {r.field for r in audit_rows(app, entity="donor_identity")}
    assert (
        nurse.post("/donors/new", dict(FORM, national_id="110105200603140000")).headers["Location"].endswith("D-0002")
    )


def test_identity_is_hidden_from_technicians(app, as_user, protocol):
    as_user("nurse1", roles=["clinician"]).post("/donors/new", FORM)
    tech = as_user("tech1", roles=["technician"])
    page = tech.get("/donors/D-0001").get_data(as_text=True)
    assert "D-0001" in page and "Wang Xiaoming" not in page and "11010520060314123X" not in page
    assert "Wang Xiaoming" not in tech.get("/donors/").get_data(as_text=True)
    r = tech.post(
        "/donors/D-0001/identity",
        {"identity-full_name": "X", "identity-national_id": "123456", "identity-version": "1", "identity-reason": "x"},
        token_from="/donors/",
    )
    assert r.status_code == 403
    with transaction(Actor(None, "t"), write=False) as s:
        assert s.exec(select(DonorIdentity)).one().full_name == "Wang Xiaoming"


def test_duplicate_national_id_is_refused_with_a_link(app, as_user, protocol):
    nurse = as_user("nurse1", roles=["clinician"])
    nurse.post("/donors/new", FORM)
    r = nurse.post("/donors/new", dict(FORM, full_name="Someone Else", national_id="110105-20060314123x"))
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "already registered as D-0001" in html
    assert 'href="/donors/D-0001"' in html and 'value="Someone Else"' in html
    assert _count(Donor) == 1 and _count(DonorIdentity) == 1


@pytest.mark.parametrize(
    "change,message",
    [
        ({"weight_kg": "0"}, "Weight must be between 20 and 300 kg."),
        ({"height_cm": "35"}, "Height must be between 100 and 250 cm."),
        ({"date_of_birth": "2027-01-01"}, "The date of birth must be a past date."),
        ({"measured_on": "2026-12-01"}, "The measurement date cannot be in the future."),
        ({"national_id": "12"}, "The national ID must be 6-40 letters and digits."),
        ({"sex": "other"}, "Not a valid choice"),
        ({"weight_kg": "heavy"}, "Not a valid decimal value"),
    ],
)
def test_bad_registration_input_stores_nothing_and_keeps_what_was_typed(app, as_user, protocol, change, message):
    nurse = as_user("nurse1", roles=["clinician"])
    before = len(audit_rows(app))
    r = nurse.post("/donors/new", dict(FORM, **change))
    html = r.get_data(as_text=True)
    assert r.status_code in (400, 422) and message in html
    assert 'value="Wang Xiaoming"' in html
    assert _count(Donor) == 0 and len(audit_rows(app)) == before


def test_editing_facts_needs_a_reason_and_a_current_version(app, as_user, protocol):
    nurse = as_user("nurse1", roles=["clinician"])
    qa = as_user("qa1", roles=["qa"], name="Li Na")
    nurse.post("/donors/new", FORM)
    url = "/donors/D-0001"
    edit = {f"facts-{k}": FORM[k] for k in ("sex", "date_of_birth", "height_cm", "measured_on", "notes")}
    edit.update({"facts-weight_kg": "70.0", "facts-version": "1"})
    r = nurse.post(f"{url}/facts", edit, token_from=url)
    assert r.status_code == 400 and "A reason is required" in r.get_data(as_text=True)
    assert str(_donor("D-0001").weight_kg) == "68.5"
    assert qa.post(f"{url}/facts", dict(edit, **{"facts-reason": "re-weighed"}), token_from=url).status_code == 302
    r = nurse.post(f"{url}/facts", dict(edit, **{"facts-weight_kg": "71.0", "facts-reason": "typo"}), token_from=url)
    assert r.status_code == 409 and "changed by Li Na" in r.get_data(as_text=True)
    d = _donor("D-0001")
    assert str(d.weight_kg) == "70.0" and d.version == 2
    (row,) = audit_rows(app, entity="donor", action="update")
    assert (row.field, row.old_value, row.new_value, row.reason) == ("weight_kg", "68.5", "70.0", "re-weighed")


def test_identity_edit_refuses_a_national_id_of_another_donor(app, as_user, protocol):
    nurse = as_user("nurse1", roles=["clinician"])
    nurse.post("/donors/new", FORM)
    nurse.post("/donors/new", dict(FORM, full_name="Li Lei", national_id="220105200101011234"))
    url = "/donors/D-0002"
    r = nurse.post(
        f"{url}/identity",
        {
            "identity-full_name": "Li Lei",
            "identity-national_id": "11010520060314123X",
            "identity-phone": "",
            "identity-version": "1",
            "identity-reason": "fix",
        },
        token_from=url,
    )
    assert r.status_code == 422 and "already registered as D-0001" in r.get_data(as_text=True)


def test_list_filters_searches_and_pages(app, as_user, protocol):
    nurse = as_user("nurse1", roles=["clinician"])
    for i in range(52):
        nurse.post("/donors/new", dict(FORM, national_id=f"ID{i:08d}"))
    page = nurse.get("/donors/").get_data(as_text=True)
    assert "D-0001" in page and "D-0050" in page and "D-0051" not in page and "Next page" in page
    import re

    after = re.search(r"after=(\d+)", page).group(1)
    assert "D-0052" in nurse.get("/donors/", query_string={"after": after}).get_data(as_text=True)
    found = nurse.get("/donors/", query_string={"code": "d-005"}).get_data(as_text=True)  # a code prefix
    assert "D-0050" in found and "D-0052" in found and "D-0005<" not in found and "D-0001<" not in found
    none = nurse.get("/donors/", query_string={"status": "eligible"}).get_data(as_text=True)
    assert "No donors match" in none


def test_scan_opens_a_donor(app, as_user, protocol):
    nurse = as_user("nurse1", roles=["clinician"])
    nurse.post("/donors/new", FORM)
    for code in ("LIMS:DO:D-0001", "D-0001", "d-0001"):
        r = nurse.get("/scan", query_string={"code": code})
        assert r.status_code == 302 and r.headers["Location"].endswith("/donors/D-0001")


def test_technician_cannot_register(app, as_user, protocol):
    tech = as_user("tech1", roles=["technician"])
    assert tech.get("/donors/new").status_code == 403
    assert _count(Donor) == 0


def test_retiring_a_donor_needs_a_reason_and_ends_screening(app, as_user, protocol):
    nurse = as_user("nurse1", roles=["clinician"])
    tech = as_user("tech1", roles=["technician"])
    nurse.post("/donors/new", FORM)
    url = "/donors/D-0001"
    r = nurse.post(f"{url}/retire", {"version": "1", "reason": ""}, token_from=url)
    assert r.status_code == 422 and "A reason is required" in r.get_data(as_text=True)
    assert _donor("D-0001").status == "candidate"
    assert tech.post(f"{url}/retire", {"version": "1", "reason": "x"}, token_from="/donors/").status_code == 403
    assert (
        nurse.post(f"{url}/retire", {"version": "1", "reason": "moved to another city"}, token_from=url).status_code
        == 302
    )
    assert _donor("D-0001").status == "retired"
    (row,) = audit_rows(app, entity="donor", field="status", new_value="retired")
    assert row.reason == "moved to another city"
    r = tech.post(f"{url}/screenings", {}, token_from=url)
    assert "is retired and cannot be screened" in tech.get(url).get_data(as_text=True)
