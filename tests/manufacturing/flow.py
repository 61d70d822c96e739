"""The manufacturing workflow through HTTP, step by step, for the tests to compose."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from lims.db import Actor, transaction
from tests.conftest import PASSWORD, page_text
from tests.manufacturing.conftest import DONATION_DAY, local, pass_screening

RECEIPT = {
    "donor": "D-0001",
    "collected_at": local(DONATION_DAY, 8, 0),
    "received_at": local(DONATION_DAY, 8, 30),
    "receipt_temp_c": "4.0",
    "mass_g": "150.0",
    "bristol": "4",
    "appearance": "brown, formed",
    "retained_location": "FRG-T retained rack",
}
# (end time on the donation day, form fields); step 1 starts when processing started (09:00).
STEPS = [
    ((9, 7), {"diluent": "0.9 % saline", "volume_ml": "1000"}),
    ((9, 19), {"mesh_um": "2000, 500, 100"}),
    ((9, 26), {"g_force": "1100", "minutes": "3", "temperature_c": "25"}),
    ((9, 33), {"g_force": "1100", "minutes": "3", "temperature_c": "25"}),
    ((9, 41), {"g_force": "1100", "minutes": "3", "temperature_c": "25"}),
    (
        (9, 50),
        {"volume_ml": "800", "diluent": "0.9 % saline", "cryoprotectant": "glycerol", "cryoprotectant_pct": "10"},
    ),
    ((9, 58), {"dose_count": "6", "unit_volume_ml": "120", "storage": "frozen"}),
]
QC_PASS = {
    "PURITY": "99.5",
    "COUNT": "1.2e13",
    "CDIFF": "negative",
    "ENTERIC": "negative",
    "MDRO": "negative",
    "VOLUME": "120",
    "APPEARANCE": "conforms",
}
LOT = "FMT-20261123-01"
DONATION = "DN-20261123-01"


def ok(resp):
    assert resp.status_code == 302, page_text(resp)[:4000]
    return resp


def receive(lab, **overrides):
    return lab.tech.post("/donations/", {**RECEIPT, **overrides}, token_from="/donations/")


def start(lab, donation=DONATION, started=local(DONATION_DAY, 9, 0), device="EQ-GFM-01", run="RUN-1"):
    return lab.tech.post(
        f"/donations/{donation}/start",
        {"device": device, "run_number": run, "started_at": started},
        token_from=f"/donations/{donation}",
    )


def step_form(position, fields, start_hm=None, end_hm=None, day=DONATION_DAY, prefix="step"):
    data = {f"{prefix}-position": str(position), f"{prefix}-ended_at": local(day, *end_hm)}
    if start_hm:
        data[f"{prefix}-started_at"] = local(day, *start_hm)
    data.update({f"{prefix}-{k}": v for k, v in fields.items()})
    return data


def record_step(lab, position, lot=LOT, fields=None, start_hm=None, end_hm=None, who=None):
    (end, default_fields) = STEPS[position - 1]
    if start_hm is None and position > 1:
        start_hm = STEPS[position - 2][0]
    return (who or lab.tech).post(
        f"/batches/{lot}/steps",
        step_form(position, fields or default_fields, start_hm, end_hm or end),
        token_from=f"/batches/{lot}",
    )


def record_steps(lab, upto=7, lot=LOT):
    for position in range(1, upto + 1):
        ok(record_step(lab, position, lot))


def sign(browser, url, prefix, page, password=PASSWORD, **extra):
    """Sign as from ``page``. When the page shows no form for this signature (e.g. release while blockers remain),
    the post carries the content fingerprint the page's other signature forms show: what the signer saw."""
    import re

    data = {f"{prefix}-password": password, f"{prefix}-comment": "", **{f"{prefix}-{k}": v for k, v in extra.items()}}
    if f"{prefix}-content" not in data:
        html = browser.get(page).get_data(as_text=True)
        own = re.search(rf'name="{re.escape(prefix)}-content" type="hidden" value="([^"]*)"', html)
        any_ = re.search(r'name="[^"]+-content" type="hidden" value="([^"]*)"', html)
        if own or any_:
            data[f"{prefix}-content"] = (own or any_).group(1)
    return browser.post(url, data, token_from=page)


def verify_steps(lab, lot=LOT, who=None):
    return sign(who or lab.tech2, f"/batches/{lot}/verify-steps", "verify_steps", f"/batches/{lot}")


def qc_versions(browser, lot=LOT) -> dict:
    """The versions of the stored QC results that the batch page's QC form carries (hidden qcv_ fields)."""
    import re

    html = browser.get(f"/batches/{lot}").get_data(as_text=True)
    return dict(re.findall(r'name="(qcv_[A-Z_]+)" value="(\d+)"', html))


def enter_qc(lab, lot=LOT, values=None, tested_on="2026-11-23", reason="", who=None, versions=None):
    browser = who or lab.tech
    data = {f"qc_{k}": v for k, v in (values or QC_PASS).items()}
    data.update({"tested_on": tested_on, "method": "QC lab", "reason": reason})
    data.update(qc_versions(browser, lot) if versions is None else versions)
    return browser.post(f"/batches/{lot}/qc", data, token_from=f"/batches/{lot}")


def verify_qc(lab, lot=LOT, who=None):
    return sign(who or lab.tech2, f"/batches/{lot}/verify-qc", "verify_qc", f"/batches/{lot}")


def clear_donor(lab, clock, sample_day=date(2026, 11, 24), decided_on=date(2026, 11, 25)):
    """The re-screening that clears the donation (every sample after the donation day); staff sign in again."""
    clock.set(clock.now().replace(year=decided_on.year, month=decided_on.month, day=decided_on.day))
    pass_screening("D-0001", sample_day, decided_on)
    relogin(lab)


def relogin(lab):
    """After the clock jumped past the idle timeout, everyone signs in again."""
    for browser, username in (
        (lab.tech, "tech1"),
        (lab.tech2, "tech2"),
        (lab.qa, "qa1"),
        (lab.qa2, "qa2"),
        (lab.nurse, "nurse1"),
    ):
        assert browser.login(username).status_code == 302


def review(browser, lot=LOT):
    return sign(browser, f"/batches/{lot}/review", "review", f"/batches/{lot}")


def release(browser, lot=LOT, password=PASSWORD):
    return sign(browser, f"/batches/{lot}/release", "release", f"/batches/{lot}", password=password)


def to_quarantine(lab, lot=LOT):
    """Receipt, start, all steps, verification, QC entered and verified: the batch waits in quarantine."""
    ok(receive(lab))
    ok(start(lab))
    record_steps(lab)
    ok(verify_steps(lab))
    ok(enter_qc(lab))
    ok(verify_qc(lab))


def unit_version(browser, unit) -> str:
    """The version token the unit page's store/move form carries."""
    import re

    html = browser.get(f"/units/{unit}").get_data(as_text=True)
    m = re.search(r'name="place-version" type="hidden" value="([^"]*)"', html)
    return m.group(1) if m else ""


def place(browser, unit, box, position, version=None):
    return browser.post(
        f"/units/{unit}/place",
        {
            "place-box": box,
            "place-position": position,
            "place-note": "",
            "place-version": unit_version(browser, unit) if version is None else version,
        },
        token_from=f"/units/{unit}",
    )


def row(model, **where):
    with transaction(Actor(None, "t"), write=False) as s:
        q = select(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return s.exec(q).first()


def rows(model, **where):
    with transaction(Actor(None, "t"), write=False) as s:
        q = select(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return list(s.exec(q.order_by(model.id)).all())
