"""Adverse events through HTTP: CTCAE grading, relatedness, SAE reporting clocks, corrections with a reason.

Forms are posted the way the browser sends them where it matters (the SAE report
form is read from the page, hidden fields and all).
"""

from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta

from lims.clinical.ae_models import AdverseEvent
from tests.clinical.conftest import FEVER, NAUSEA, TODAY, UNITS, administer, dose_row, issue, plan, reserve
from tests.conftest import audit_rows, page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import lab, local
from tests.manufacturing.flow import ok
from tests.manufacturing.pages import forbidden, refused

D1 = "P-0001-C1-D1"
NEW = f"/aes/new/P-0001?term={FEVER}"


def given_dose(clinic):
    """Day 1 of P-0001's course given at 10:00; the clock then reads 12:00."""
    ok(plan(clinic.nurse, "P-0001", TODAY))
    ok(reserve(clinic.nurse, D1, UNITS[0]))
    ok(issue(clinic.tech, UNITS[0]))
    ok(administer(clinic.nurse, D1, UNITS[0], local(TODAY, 10, 0)))
    clinic.at(TODAY, 12, 0)
    return dose_row(D1)


def ae_form(**changes):
    data = {
        "term_code": FEVER,
        "grade": "1",
        "description": "38.4 °C",
        "onset_date": TODAY.isoformat(),
        "resolved_date": "",
        "expected": "",
        "attribution_fmt": "unrelated",
        "attribution_cotherapy": "unrelated",
        "administration_id": "",
        "action_taken": "none",
        "outcome": "recovering",
        "aware_at": local(TODAY, 11, 0),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def record(browser, url=NEW, **changes):
    return browser.post(url, ae_form(**changes), token_from=url)


def count_aes():
    return len(flow.rows(AdverseEvent))


def browser_form(resp, action: str) -> list[tuple[str, str]]:
    """The (name, value) pairs a browser would send from the page's form posting to ``action`` (hidden inputs)."""
    page = resp.get_data(as_text=True)
    for m in re.finditer(r'<form\b[^>]*action="([^"]*)"[^>]*>(.*?)</form>', page, re.S):
        if htmllib.unescape(m.group(1)) == action:
            pairs = []
            for tag in re.findall(r"<input\b[^>]*>", m.group(2)):
                name = re.search(r'\bname="([^"]*)"', tag)
                if name is None or 'type="hidden"' not in tag:
                    continue
                value = re.search(r'\bvalue="([^"]*)"', tag)
                pairs.append((htmllib.unescape(name.group(1)), htmllib.unescape(value.group(1)) if value else ""))
            return pairs
    raise AssertionError(f"no form posting to {action}")


def send_report(browser, code, to, reported_at):
    """Press "Record as sent" on the event page's ethics or regulatory row, as a browser would."""
    page = browser.get(f"/aes/{code}")
    forms = [
        m.group(0)
        for m in re.finditer(
            r'<form\b[^>]*action="/aes/%s/report"[^>]*>.*?</form>' % code, page.get_data(as_text=True), re.S
        )
    ]
    chosen = next(f for f in forms if f'value="{to}"' in f)

    class _One:
        def get_data(self, as_text=True):
            return chosen

    data: dict[str, list[str]] = {}
    for name, value in browser_form(_One(), f"/aes/{code}/report"):
        data.setdefault(name, []).append(value)
    data["reported_at"] = [reported_at]
    return browser.client.post(f"/aes/{code}/report", data=data)


# --- refusals ----------------------------------------------------------------------------------------


def test_grade_not_defined_for_the_term_is_refused(app, clinic):
    url = f"/aes/new/P-0001?term={NAUSEA}"
    page = clinic.nurse.get(url)
    assert page.status_code == 200 and "Nausea" in page_text(page)
    grades = re.findall(r'name="grade"[^>]*value="(\d)"|value="(\d)"[^>]*name="grade"', page.get_data(as_text=True))
    assert sorted(a or b for a, b in grades) == ["1", "2", "3"]  # Nausea has no grade 4 or 5 in CTCAE v5.0
    r = clinic.nurse.post(url, ae_form(term_code=NAUSEA, grade="4"), token_from=url)
    refused(r, 422, "Grade 4 is not defined for this term.")
    assert count_aes() == 0 and audit_rows(app, entity="adverse_event") == []


def test_fmt_related_event_must_name_the_administration(app, clinic):
    a = given_dose(clinic)
    r = record(clinic.nurse, attribution_fmt="possible")
    refused(r, 422, "An event related to FMT must name the administration it followed.")
    assert count_aes() == 0
    r = record(
        clinic.nurse,
        attribution_fmt="possible",
        onset_date=(TODAY - timedelta(days=1)).isoformat(),
        administration_id=str(a.id),
    )
    refused(r, 422, f"The onset is before the administration on {TODAY}.")
    assert count_aes() == 0
    ok(record(clinic.nurse, attribution_fmt="possible", administration_id=str(a.id)))
    assert flow.row(AdverseEvent, code="AE-0001").administration_id == a.id


def test_technician_cannot_record_an_adverse_event(app, clinic):
    r = clinic.tech.post(NEW, ae_form(), token_from="/aes/")
    forbidden(r)
    assert count_aes() == 0


# --- SAE reporting -------------------------------------------------------------------------------------


def test_serious_unexpected_related_event_has_reporting_clocks_until_reported(app, clinic):
    a = given_dose(clinic)
    r = record(
        clinic.nurse,
        grade="4",
        description="40.6 °C for over 24 h, septic shock suspected",
        seriousness=["life_threatening", "hospitalisation"],
        expected="no",
        attribution_fmt="probable",
        administration_id=str(a.id),
        action_taken="fmt_stopped",
        aware_at=local(TODAY, 11, 0),
    )
    assert r.status_code == 302, page_text(r)[:3000]
    ae = flow.row(AdverseEvent, code="AE-0001")
    aware = lab(TODAY, 11, 0)
    assert ae.aware_at == aware and ae.serious
    assert ae.ethics_due_at == aware + timedelta(hours=24)
    assert ae.regulatory_due_at == aware + timedelta(days=7)  # life-threatening SUSAR: 7 days

    home = " ".join(page_text(clinic.nurse.get("/")).split())
    assert "SAE reports due" in home
    section = home[home.index('id="sae-due"') :]
    assert "AE-0001" in section and "ethics committee" in section and "regulatory authority" in section
    assert "2026-11-26 11:00" in section and "2026-12-02 11:00" in section
    detail = page_text(clinic.nurse.get("/aes/AE-0001"))
    assert "Ethics committee" in detail and "Regulatory authority (expedited)" in detail

    # A report time in the future or before awareness is refused.
    r = send_report(clinic.nurse, "AE-0001", "ethics", local(TODAY, 13, 0))
    refused(r, 422, "The time is in the future.")
    r = send_report(clinic.nurse, "AE-0001", "ethics", local(TODAY, 10, 0))
    refused(r, 422, "The report cannot be before the site became aware of the event.")
    assert flow.row(AdverseEvent, code="AE-0001").ethics_reported_at is None

    r = send_report(clinic.nurse, "AE-0001", "ethics", local(TODAY, 11, 45))
    assert r.status_code == 302, page_text(r)[:3000]
    ae = flow.row(AdverseEvent, code="AE-0001")
    assert ae.ethics_reported_at == lab(TODAY, 11, 45) and ae.regulatory_reported_at is None
    section = " ".join(page_text(clinic.nurse.get("/")).split())
    section = section[section.index('id="sae-due"') :]
    assert "regulatory authority" in section and "ethics committee" not in section

    # The regulatory report is overdue a week later, then sent.
    clinic.at(TODAY + timedelta(days=8), 9, 0)
    home = " ".join(page_text(clinic.nurse.get("/")).split())
    assert "AE-0001" in home[home.index('id="sae-due"') :] and "overdue" in home
    r = send_report(clinic.nurse, "AE-0001", "regulatory", local(TODAY + timedelta(days=8), 8, 30))
    assert r.status_code == 302, page_text(r)[:3000]
    home = " ".join(page_text(clinic.nurse.get("/")).split())
    due = home[home.index('id="sae-due"') :]
    due = due[: due.index("</section>")]
    assert "AE-0001" not in due and 'class="badge">0<' in due and "None." in due
    sent = [x for x in audit_rows(app, entity="adverse_event", record_id="AE-0001", action="update")]
    assert {(x.field, x.reason) for x in sent} >= {
        ("ethics_reported_at", "ethics report sent"),
        ("regulatory_reported_at", "regulatory report sent"),
    }


def test_serious_event_not_related_goes_to_ethics_only(app, clinic):
    given_dose(clinic)
    ok(
        record(
            clinic.nurse,
            grade="3",
            seriousness=["hospitalisation"],
            expected="no",
            attribution_fmt="unrelated",
            attribution_cotherapy="unlikely",
        )
    )
    ae = flow.row(AdverseEvent, code="AE-0001")
    assert ae.ethics_due_at == lab(TODAY, 11, 0) + timedelta(hours=24) and ae.regulatory_due_at is None
    r = record(clinic.nurse, grade="3", seriousness=["hospitalisation"], expected="")
    refused(r, 422, "A serious event needs its expectedness")
    assert count_aes() == 1


# --- corrections ---------------------------------------------------------------------------------------


def test_grade_correction_needs_a_reason_keeps_history_and_refuses_stale_forms(app, clinic):
    a = given_dose(clinic)
    ok(record(clinic.nurse, attribution_fmt="possible", administration_id=str(a.id)))
    ae = flow.row(AdverseEvent, code="AE-0001")
    edit = {**ae_form(attribution_fmt="possible", administration_id=str(a.id), grade="2"), "version": str(ae.version)}
    r = clinic.nurse.post("/aes/AE-0001/edit", edit, token_from="/aes/AE-0001")
    assert r.status_code == 400 and "A reason is required to change an existing record." in page_text(r)
    assert flow.row(AdverseEvent, code="AE-0001").grade == 1
    reason = "39.2 °C measured at 18:00: grade 2"
    ok(clinic.nurse.post("/aes/AE-0001/edit", {**edit, "reason": reason}, token_from="/aes/AE-0001"))
    ae2 = flow.row(AdverseEvent, code="AE-0001")
    assert ae2.grade == 2 and ae2.version == ae.version + 1
    rows = audit_rows(app, entity="adverse_event", record_id="AE-0001", field="grade", action="update")
    assert [(x.old_value, x.new_value, x.reason) for x in rows] == [("1", "2", reason)]
    detail = " ".join(page_text(clinic.nurse.get("/aes/AE-0001")).split())
    assert reason in detail
    # A form opened before the correction is refused, with who changed it.
    r = clinic.nurse.post("/aes/AE-0001/edit", {**edit, "grade": "3", "reason": "typo"}, token_from="/aes/AE-0001")
    assert r.status_code == 409 and "changed by Dr. Liu Yang" in page_text(r)
    assert flow.row(AdverseEvent, code="AE-0001").grade == 2
    # The summary counts the recipient once, under his worst grade.
    summary = " ".join(page_text(clinic.nurse.get("/aes/summary")).split())
    m = re.search(r"<td>Fever</td>(.*?)</tr>", summary)
    assert re.findall(r"<td>(.*?)</td>", m.group(1))[:5] == ["", "1", "", "", ""]


# --- finding terms -------------------------------------------------------------------------------------


def test_term_search_and_catalogue(app, clinic):
    r = clinic.nurse.get("/aes/new/P-0001?q=fever")
    assert r.status_code == 200
    results = page_text(r)
    results = results[results.index('id="term-results"') :]
    assert f"term={FEVER}" in results and ">Fever<" in results
    r = clinic.nurse.get("/aes/new/P-0001?q=zzzz-no-such-term")
    assert r.status_code == 200 and 'No term matches "zzzz-no-such-term"' in page_text(r)
    r = clinic.nurse.get(NEW)
    assert r.status_code == 200 and 'id="ae-form"' in page_text(r)
    cat = clinic.tech.get("/aes/terms")
    assert cat.status_code == 200
    text = page_text(cat)
    assert "Fever" in text and FEVER in text and "Nausea" in text
    found = page_text(clinic.tech.get("/aes/terms?q=nausea"))
    assert NAUSEA in found and FEVER not in found
    assert clinic.tech.get("/aes/").status_code == 200 and clinic.tech.get("/aes/summary").status_code == 200


def test_the_listing_pages_by_keyset_and_keeps_its_filter(app, clinic, monkeypatch):
    from lims.clinical import ae_views

    monkeypatch.setattr(ae_views, "PAGE", 2)
    clinic.at(TODAY, 12, 0)
    for _ in range(3):
        ok(record(clinic.nurse))
    first = clinic.nurse.get("/aes/?recipient=P-0001").get_data(as_text=True)
    assert "AE-0003" in first and "AE-0002" in first and "AE-0001" not in first
    link = re.search(r'href="(/aes/\?[^"]+)">Next page', first).group(1)
    assert "recipient=P-0001" in link and "after=2" in htmllib.unescape(link)
    second = clinic.nurse.get(htmllib.unescape(link)).get_data(as_text=True)
    assert "AE-0001" in second and "AE-0002" not in second and "Next page" not in second
