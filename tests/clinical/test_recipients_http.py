"""Recipient registry through HTTP: registration, refusals that store nothing, identity restricted, corrections."""

import pytest
from sqlmodel import func, select

from lims.clinical.models import Recipient, RecipientIdentity
from lims.db import Actor, transaction
from tests.conftest import audit_rows, page_text

FORM = {
    "study": "WMT-TORI",
    "sex": "male",
    "date_of_birth": "1944-01-01",
    "diagnosis": "Sigmoid colon adenocarcinoma",
    "stage": "IV",
    "tnm": "T3N1M1",
    "metastasis_sites": "liver",
    "ecog": "3",
    "prior_lines": "7",
    "consent_date": "2019-04-08",
    "notes": "",
    "full_name": "Xu Ming",
    "hospital_number": "H2019-0122",
    "phone": "",
}


def count(model):
    with transaction(Actor(None, "t"), write=False) as s:
        return s.exec(select(func.count()).select_from(model)).one()


@pytest.fixture
def staff(as_user):
    return {"nurse": as_user("nurse1", roles=["clinician"]), "tech": as_user("tech1", roles=["technician"])}


def test_register_then_see_identity_only_with_a_clinical_role(app, staff):
    r = staff["nurse"].post("/recipients/new", FORM)
    assert r.status_code == 302 and r.headers["Location"].endswith("/recipients/P-0001")
    page = page_text(staff["nurse"].get("/recipients/P-0001"))
    assert "Sigmoid colon adenocarcinoma" in page and "Xu Ming" in page and "H2019-0122" in page
    tech_page = page_text(staff["tech"].get("/recipients/P-0001"))
    assert "Sigmoid colon adenocarcinoma" in tech_page and "Xu Ming" not in tech_page and "H2019-0122" not in tech_page
    assert {row.entity for row in audit_rows(app, action="create")} >= {"recipient", "recipient_identity"}
    r = staff["tech"].get("/scan?code=LIMS:PT:P-0001")
    assert r.status_code == 302 and r.headers["Location"].endswith("/recipients/P-0001")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"ecog": "6"}, "The ECOG score must be a whole number from 0 to 5 (was 6)."),
        ({"consent_date": "2030-01-01"}, "The consent date 2030-01-01 is in the future."),
        ({"date_of_birth": "2010-01-01"}, "the study enrols adults (18 or older)"),
        ({"tnm": "stage four"}, "is not a TNM classification"),
        ({"prior_lines": "31"}, "Prior treatment lines must be a whole number from 0 to 30 (was 31)."),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_stored(app, staff, changes, message):
    r = staff["nurse"].post("/recipients/new", {**FORM, **changes})
    assert r.status_code == 422 and message in page_text(r)
    for value in changes.values():
        assert f'value="{value}"' in r.get_data(as_text=True)  # the typed input survives
    assert count(Recipient) == 0 and count(RecipientIdentity) == 0


def test_duplicate_hospital_number_names_the_existing_recipient(app, staff):
    assert staff["nurse"].post("/recipients/new", FORM).status_code == 302
    r = staff["nurse"].post("/recipients/new", {**FORM, "hospital_number": "h2019-0122 "})
    assert r.status_code == 422 and "already registered as recipient P-0001" in page_text(r)
    assert count(Recipient) == 1


def test_technician_cannot_register(app, staff):
    r = staff["tech"].post("/recipients/new", FORM, token_from="/recipients/")
    assert r.status_code == 403 and count(Recipient) == 0


def test_correction_needs_a_reason_and_refuses_stale_forms(app, staff):
    staff["nurse"].post("/recipients/new", FORM)
    fields = {f"facts-{k}": v for k, v in FORM.items() if k not in ("full_name", "hospital_number", "phone")}
    r = staff["nurse"].post(
        "/recipients/P-0001/facts",
        {**fields, "facts-ecog": "2", "facts-version": "P-0001@1"},
        token_from="/recipients/P-0001",
    )
    assert r.status_code == 400 and "A reason is required" in page_text(r)
    r = staff["nurse"].post(
        "/recipients/P-0001/facts",
        {
            **fields,
            "facts-ecog": "2",
            "facts-version": "P-0001@1",
            "facts-reason": "ECOG re-assessed at screening visit",
        },
        token_from="/recipients/P-0001",
    )
    assert r.status_code == 302
    rows = [x for x in audit_rows(app, entity="recipient", action="update") if x.field == "ecog"]
    assert [(x.old_value, x.new_value, x.reason) for x in rows] == [("3", "2", "ECOG re-assessed at screening visit")]
    r = staff["nurse"].post(
        "/recipients/P-0001/facts",
        {**fields, "facts-ecog": "4", "facts-version": "P-0001@1", "facts-reason": "typo"},
        token_from="/recipients/P-0001",
    )
    assert r.status_code == 409 and "changed by" in page_text(r)
    r = staff["nurse"].post(
        "/recipients/P-0001/facts",
        {**fields, "facts-ecog": "7", "facts-version": "P-0001@2", "facts-reason": "x"},
        token_from="/recipients/P-0001",
    )
    assert r.status_code == 422 and "(was 7)" in page_text(r)


def _identity_form(browser, code):
    html = browser.get(f"/recipients/{code}").get_data(as_text=True)
    import re

    version = re.search(r'name="identity-version" type="hidden" value="([^"]+)"', html) or re.search(
        r'id="identity-version" name="identity-version" type="hidden" value="([^"]+)"', html
    )
    return version.group(1)


def test_identity_correction_needs_a_reason_refuses_a_duplicate_and_is_audited(app, staff):
    assert staff["nurse"].post("/recipients/new", FORM).status_code == 302
    assert (
        staff["nurse"]
        .post("/recipients/new", {**FORM, "hospital_number": "H2019-0999", "full_name": "Ma Li"})
        .status_code
        == 302
    )
    version = _identity_form(staff["nurse"], "P-0001")
    base = {
        "identity-version": version,
        "identity-full_name": "Xu Ming",
        "identity-hospital_number": "H2019-0999",
        "identity-phone": "",
        "identity-reason": "typo at registration",
    }
    r = staff["nurse"].post("/recipients/P-0001/identity", base)
    assert r.status_code == 422 and "already registered as recipient P-0002" in page_text(r)
    r = staff["nurse"].post(
        "/recipients/P-0001/identity", {**base, "identity-hospital_number": "H2019-0123", "identity-reason": ""}
    )
    assert r.status_code == 400
    with transaction(Actor(None, "t"), write=False) as s:
        assert (
            s.exec(select(RecipientIdentity.hospital_number).where(RecipientIdentity.recipient_id == 1)).one()
            == "H2019-0122"
        )
    r = staff["nurse"].post("/recipients/P-0001/identity", {**base, "identity-hospital_number": "h2019-0123"})
    assert r.status_code == 302
    rows = [row for row in audit_rows(app, action="update") if row.entity == "recipient_identity"]
    assert [(row.field, row.old_value, row.new_value, row.reason) for row in rows] == [
        ("hospital_number", "H2019-0122", "H2019-0123", "typo at registration")
    ]
    r = staff["nurse"].post("/recipients/P-0001/identity", {**base, "identity-hospital_number": "H2019-0777"})
    assert r.status_code == 409  # the form still carries the old version
    assert staff["tech"].post("/recipients/P-0001/identity", base, token_from="/recipients/").status_code == 403


def test_a_facts_form_of_another_recipient_is_refused(app, staff):
    staff["nurse"].post("/recipients/new", FORM)
    staff["nurse"].post("/recipients/new", {**FORM, "hospital_number": "H2019-0999", "full_name": "Ma Li"})
    fields = {f"facts-{k}": v for k, v in FORM.items() if k not in ("full_name", "hospital_number", "phone")}
    r = staff["nurse"].post(
        "/recipients/P-0002/facts",
        {**fields, "facts-ecog": "2", "facts-version": "P-0001@1", "facts-reason": "re-assessed"},
        token_from="/recipients/P-0002",
    )
    assert r.status_code == 409 and "opened for another record" in page_text(r)
    with transaction(Actor(None, "t"), write=False) as s:
        assert s.exec(select(Recipient.ecog).where(Recipient.code == "P-0002")).one() == 3
