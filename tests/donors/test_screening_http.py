"""Screening workflow through HTTP: full panel -> verification -> signed decision."""

import json
from datetime import date

import pytest
from sqlmodel import func, select

from lims.db import Actor, transaction
from lims.donors.models import Donor
from lims.donors.screening_models import EligibilityDecision, ScreeningResult
from tests.conftest import PASSWORD, audit_rows
from tests.donors.test_registry_http import FORM

TODAY = date(2026, 11, 23)  # the clock fixture's lab date


def _default_items():
    data = json.load(open("lims/donors/default_protocol.json"))
    return [i for i in data["items"] if i["kind"] != "donation_day"]


def full_panel(overrides=None):
    """Form fields for a full normal panel: negatives, 'no' answers, numbers mid-range."""
    values = {}
    for it in _default_items():
        if it["result_type"] == "qualitative":
            values[it["code"]] = "negative"
        elif it["result_type"] == "yes_no":
            values[it["code"]] = "no"
        else:
            lo = float(it["normal_min"] or 0)
            hi = float(it["normal_max"])
            values[it["code"]] = f"{(lo + hi) / 2:.1f}"
    values.update(overrides or {})
    return {f"v_{k}": v for k, v in values.items()}


def _register_and_start(staff):
    staff["nurse"].post("/donors/new", FORM)
    r = staff["tech"].post("/donors/D-0001/screenings", {}, token_from="/donors/D-0001")
    assert r.status_code == 302, r.get_data(as_text=True)
    return r.headers["Location"]


def _count(model):
    with transaction(Actor(None, "t"), write=False) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def _donor():
    with transaction(Actor(None, "t"), write=False) as s:
        return s.exec(select(Donor).where(Donor.code == "D-0001")).one()


def test_candidate_to_signed_eligible_decision(app, staff, protocol):
    url = _register_and_start(staff)
    assert _donor().status == "in_screening"
    panel = {"panel-sample_date": "2026-11-20", "panel-method": "hospital laboratory"}
    r = staff["tech"].post(f"{url}/results", {**panel, **full_panel()}, token_from=url)
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    page = staff["tech"].get(url).get_data(as_text=True)
    assert "49 results wait for verification" in page and "incomplete" in page
    # four-eyes: the technician who entered them cannot verify
    r = staff["tech"].post(f"{url}/verify", {"verify-password": PASSWORD}, token_from=url)
    assert r.status_code == 422 and "Four-eyes" in r.get_data(as_text=True)
    r = staff["tech2"].post(f"{url}/verify", {"verify-password": PASSWORD}, token_from=url)
    assert r.status_code == 302
    assert len(audit_rows(app, action="sign")) == 49
    page = staff["nurse"].get(url).get_data(as_text=True)
    assert "eligible" in page and "until 2027-01-19" in page  # sample 2026-11-20 + 60 days
    r = staff["nurse"].post(
        f"{url}/decision", {"decide-password": PASSWORD, "decide-comment": "all clear"}, token_from=url
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/donors/D-0001")
    d = _donor()
    assert (d.status, d.status_until) == ("eligible", date(2027, 1, 19))
    with transaction(Actor(None, "t"), write=False) as s:
        dec = s.exec(select(EligibilityDecision)).one()
        assert (dec.outcome, dec.protocol_label, dec.as_of) == ("eligible", "CN-WMT v1", TODAY)
    page = staff["nurse"].get("/donors/D-0001").get_data(as_text=True)
    assert "Decision: eligible" in page and "Approved by Dr. Liu Yang" in page and "valid through 2027-01-19" in page


def test_positive_stool_result_defers_the_donor_with_the_reason(app, staff, protocol):
    url = _register_and_start(staff)
    panel = {"panel-sample_date": "2026-11-20"}
    staff["tech"].post(f"{url}/results", {**panel, **full_panel({"S_ESBL": "positive"})}, token_from=url)
    staff["tech2"].post(f"{url}/verify", {"verify-password": PASSWORD}, token_from=url)
    page = staff["nurse"].get(url).get_data(as_text=True)
    assert "temporarily deferred" in page
    assert (
        "MDRO: ESBL-producing Enterobacterales: positive  on 2026-11-20 defers the donor until 2027-05-19"
        in page.replace("\n", " ")
        or "ESBL-producing Enterobacterales: positive on 2026-11-20 defers the donor until 2027-05-19" in page
    )
    r = staff["nurse"].post(f"{url}/decision", {"decide-password": PASSWORD}, token_from=url)
    assert r.status_code == 302
    d = _donor()
    assert (d.status, d.status_until) == ("deferred", date(2027, 5, 19))
    page = staff["nurse"].get("/donors/D-0001").get_data(as_text=True)
    assert "Decision: temporarily deferred" in page and "defers the donor until 2027-05-19" in page


def test_incomplete_decision_cannot_be_approved(app, staff, protocol):
    url = _register_and_start(staff)
    r = staff["nurse"].post(f"{url}/decision", {"decide-password": PASSWORD}, token_from=url)
    assert r.status_code == 422 and "incomplete and cannot be approved" in r.get_data(as_text=True)
    assert _count(EligibilityDecision) == 0 and _donor().status == "in_screening"


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"panel-sample_date": "2026-11-24", "v_S_CDIFF": "negative"}, "The sample date 2026-11-24 is in the future."),
        ({"panel-sample_date": "2026-11-20", "v_S_CDIFF": "maybe"}, "is not a valid result"),
        ({"panel-sample_date": "2026-11-20", "v_B_CRP": "high"}, "is not a valid result"),
        ({"panel-sample_date": "2026-11-20"}, "Enter at least one result."),
        ({"panel-sample_date": "", "v_S_CDIFF": "negative"}, "Enter the sample date."),
    ],
)
def test_bad_results_store_nothing_and_keep_what_was_typed(app, staff, protocol, fields, message):
    url = _register_and_start(staff)
    before = len(audit_rows(app))
    r = staff["tech"].post(
        f"{url}/results", {**fields, "v_S_SALMONELLA": "negative"} if "v_S_CDIFF" in fields else fields, token_from=url
    )
    html = r.get_data(as_text=True)
    assert r.status_code in (400, 422) and message in html
    if "v_S_CDIFF" in fields:
        assert '<option value="negative" selected>' in html  # S_SALMONELLA kept
    assert _count(ScreeningResult) == 0 and len(audit_rows(app)) == before


def test_correcting_a_result_needs_a_reason_and_voids_its_verification(app, staff, protocol):
    url = _register_and_start(staff)
    staff["tech"].post(f"{url}/results", {"panel-sample_date": "2026-11-20", "v_S_CDIFF": "negative"}, token_from=url)
    staff["tech2"].post(f"{url}/verify", {"verify-password": PASSWORD}, token_from=url)
    r = staff["tech"].post(
        f"{url}/results", {"panel-sample_date": "2026-11-20", "v_S_CDIFF": "positive"}, token_from=url
    )
    assert r.status_code == 422 and "give a reason for the correction" in r.get_data(as_text=True)
    r = staff["tech"].post(
        f"{url}/results",
        {"panel-sample_date": "2026-11-20", "v_S_CDIFF": "positive", "panel-reason": "transcription error"},
        token_from=url,
    )
    assert r.status_code == 302
    (row,) = audit_rows(app, entity="screening_result", action="update")
    assert (row.old_value, row.new_value, row.reason) == ("negative", "positive", "transcription error")
    assert "1 results wait for verification" in staff["tech"].get(url).get_data(as_text=True)


def test_only_one_open_screening_and_excluded_donors_cannot_be_screened(app, staff, protocol):
    url = _register_and_start(staff)
    r = staff["tech"].post("/donors/D-0001/screenings", {}, token_from="/donors/D-0001")
    assert r.status_code == 303
    assert "already has an open screening" in staff["tech"].get("/donors/D-0001").get_data(as_text=True)
    staff["tech"].post(
        f"{url}/results", {"panel-sample_date": "2026-11-20", **full_panel({"Q_GI_HISTORY": "yes"})}, token_from=url
    )
    staff["tech2"].post(f"{url}/verify", {"verify-password": PASSWORD}, token_from=url)
    staff["nurse"].post(f"{url}/decision", {"decide-password": PASSWORD}, token_from=url)
    assert _donor().status == "excluded"
    r = staff["tech"].post("/donors/D-0001/screenings", {}, token_from="/donors/D-0001")
    assert r.status_code == 303
    assert "cannot be screened" in staff["tech"].get("/donors/D-0001").get_data(as_text=True)


def test_technician_cannot_approve_a_decision(app, staff, protocol):
    url = _register_and_start(staff)
    r = staff["tech"].post(f"{url}/decision", {"decide-password": PASSWORD}, token_from=url)
    assert r.status_code == 403


def test_donor_page_says_what_is_due_after_a_deferral(app, staff, protocol):
    url = _register_and_start(staff)
    staff["tech"].post(
        f"{url}/results", {"panel-sample_date": "2026-11-20", **full_panel({"S_ESBL": "positive"})}, token_from=url
    )
    staff["tech2"].post(f"{url}/verify", {"verify-password": PASSWORD}, token_from=url)
    staff["nurse"].post(f"{url}/decision", {"decide-password": PASSWORD}, token_from=url)
    page = staff["nurse"].get("/donors/D-0001").get_data(as_text=True)
    assert "Deferred until 2027-05-19; a new screening can be approved from 2027-05-20." in page
    assert "No active screening protocol" not in page and "have no valid result yet" not in page


def test_chinese_user_sees_item_names_and_reasons_in_chinese(app, staff, as_user, protocol):
    url = _register_and_start(staff)
    staff["tech"].post(
        f"{url}/results", {"panel-sample_date": "2026-11-20", **full_panel({"S_ESBL": "positive"})}, token_from=url
    )
    staff["tech2"].post(f"{url}/verify", {"verify-password": PASSWORD}, token_from=url)
    li = as_user("qa_zh", roles=["qa"], language="zh_CN")
    page = li.get(url).get_data(as_text=True)
    assert "多重耐药菌：产超广谱β-内酰胺酶肠杆菌目细菌" in page and "近4周内发热、呕吐或腹泻" in page
    assert "结果为 阳性" in page and "暂缓" in page
    english = staff["nurse"].get(url).get_data(as_text=True)
    assert "MDRO: ESBL-producing Enterobacterales" in english and "多重耐药菌" not in english
