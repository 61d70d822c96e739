"""QA creates a new protocol version, edits the draft, a second QA officer approves it."""

import re

from sqlmodel import select

from lims.db import Actor, transaction
from lims.donors.models import ProtocolItem, ScreeningProtocol
from lims.donors.screening_models import Screening
from tests.conftest import PASSWORD, audit_rows
from tests.donors.test_registry_http import FORM


def _protocols():
    with transaction(Actor(None, "t"), write=False) as s:
        return {p.protocol_version: p for p in s.exec(select(ScreeningProtocol)).all()}


def _item(protocol_id, code):
    with transaction(Actor(None, "t"), write=False) as s:
        return s.exec(
            select(ProtocolItem).where(ProtocolItem.protocol_id == protocol_id, ProtocolItem.code == code)
        ).one()


def _form_of(page: str) -> dict:
    """Every input and selected option of the draft form, as a browser would send it."""
    data = {}
    for name, value in re.findall(r'<input type="text"[^>]*name="([^"]+)" value="([^"]*)"', page):
        data[name] = value
    for name, value in re.findall(r'<input type="text" id="[^"]+" name="([^"]+)" value="([^"]*)"', page):
        data[name] = value
    for name, body in re.findall(r'<select name="([^"]+)">(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]+)" selected', body)
        data[name] = chosen.group(1) if chosen else ""
    data["version"] = re.search(r'name="version" value="(\d+)"', page).group(1)
    return data


def test_new_version_edit_and_four_eyes_approval(app, as_user, protocol):
    li = as_user("qa1", roles=["qa"], name="Li Na")
    zhou = as_user("qa2", roles=["qa"], name="Zhou Min")
    nurse = as_user("nurse1", roles=["clinician"])
    tech = as_user("tech1", roles=["technician"])
    nurse.post("/donors/new", FORM)
    tech.post("/donors/D-0001/screenings", {}, token_from="/donors/D-0001")  # started under v1
    v1 = _protocols()[1]
    r = li.post(f"/protocols/{v1.id}/new-version", {}, token_from=f"/protocols/{v1.id}")
    assert r.status_code == 302
    v2 = _protocols()[2]
    assert v2.status == "draft" and _item(v2.id, "S_ESBL").defer_days == 180
    url = f"/protocols/{v2.id}"
    data = _form_of(li.get(url).get_data(as_text=True))
    data.update(
        {"rescreen_days": "56", "i__S_ESBL__defer_days": "365", "reason": "bank policy 2027: longer MDRO deferral"}
    )
    r = li.post(f"{url}/edit", data, token_from=url)
    assert r.status_code == 302, r.get_data(as_text=True)[-3000:]
    assert _protocols()[2].rescreen_days == 56 and _item(v2.id, "S_ESBL").defer_days == 365
    assert _item(v1.id, "S_ESBL").defer_days == 180  # the version in use never changes
    # the editor may not approve her own draft
    version = str(_protocols()[2].version)
    r = li.post(f"{url}/approve", {"sign-version": version, "sign-password": PASSWORD}, token_from=url)
    assert r.status_code == 422 and "Four-eyes" in r.get_data(as_text=True)
    r = zhou.post(f"{url}/approve", {"sign-version": version, "sign-password": PASSWORD}, token_from=url)
    assert r.status_code == 302
    versions = _protocols()
    assert (versions[1].status, versions[2].status) == ("retired", "active")
    # the open screening keeps v1; a new donor's screening uses v2
    nurse.post("/donors/new", dict(FORM, national_id="220105200101011234"))
    tech.post("/donors/D-0002/screenings", {}, token_from="/donors/D-0002")
    with transaction(Actor(None, "t"), write=False) as s:
        used = {sc.donor_id: sc.protocol_id for sc in s.exec(select(Screening)).all()}
    assert sorted(used.values()) == [v1.id, v2.id]
    assert "CN-WMT v1" in tech.get("/screenings/1").get_data(as_text=True)
    rows = audit_rows(app, entity="protocol_item", field="defer_days", action="update")
    assert [(r.old_value, r.new_value, r.reason) for r in rows] == [
        ("180", "365", "bank policy 2027: longer MDRO deferral")
    ]


def test_bad_draft_values_store_nothing(app, as_user, protocol):
    li = as_user("qa1", roles=["qa"])
    v1 = _protocols()[1]
    li.post(f"/protocols/{v1.id}/new-version", {}, token_from=f"/protocols/{v1.id}")
    v2 = _protocols()[2]
    url = f"/protocols/{v2.id}"
    base = _form_of(li.get(url).get_data(as_text=True))
    for change, message in (
        ({"rescreen_days": "-5"}, "must be between"),
        ({"age_min": "40"}, "minimum age is above the maximum"),
        ({"i__B_CRP__normal_min": "20"}, "lower limit is above the upper limit"),
        ({"i__S_ESBL__defer_days": ""}, "must be a whole number"),
        ({"reason": ""}, "A reason is required"),
    ):
        before = len(audit_rows(app))
        r = li.post(f"{url}/edit", {**base, "reason": "x", **change}, token_from=url)
        html = r.get_data(as_text=True)
        assert r.status_code in (400, 422) and message in html, (change, html[-2000:])
        assert len(audit_rows(app)) == before
    assert _protocols()[2].rescreen_days == 60 and _item(v2.id, "S_ESBL").defer_days == 180


def test_only_qa_manages_protocols_and_active_versions_are_read_only(app, as_user, protocol):
    tech = as_user("tech1", roles=["technician"])
    li = as_user("qa1", roles=["qa"])
    v1 = _protocols()[1]
    assert tech.post(f"/protocols/{v1.id}/new-version", {}, token_from="/protocols/").status_code == 403
    r = li.post(
        f"/protocols/{v1.id}/edit", {"version": "1", "reason": "x", "rescreen_days": "30"}, token_from="/protocols/"
    )
    assert r.status_code == 422 and "Only a draft version can be changed" in r.get_data(as_text=True)
    assert _protocols()[1].rescreen_days == 60
    assert "CN-WMT" in tech.get("/protocols/").get_data(as_text=True)
