"""A creating form sent twice creates one record; the replay shows the record created the first time
(issue 16, "A double-submitted donation receipt creates two donations")."""

from __future__ import annotations

import re

from lims.manufacturing.models import Deviation, Donation
from tests.conftest import page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import fast_password_hashing, mfg  # noqa: F401 - fixtures
from tests.manufacturing.flow import RECEIPT


def _token(browser, page="/donations/", name="once"):
    html = browser.get(page).get_data(as_text=True)
    return re.search(rf'name="{name}" type="hidden" value="([^"]+)"', html).group(1)


def test_the_same_receipt_sent_twice_is_saved_once_and_the_replay_shows_it(app, mfg):
    token = _token(mfg.tech)
    first = mfg.tech.post("/donations/", {**RECEIPT, "once": token}, token_from="/donations/")
    second = mfg.tech.post("/donations/", {**RECEIPT, "once": token}, token_from="/donations/")
    assert first.status_code == second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"] == "/donations/DN-20261123-01"
    assert [d.code for d in flow.rows(Donation)] == ["DN-20261123-01"]
    assert "already sent" in page_text(mfg.tech.get(second.headers["Location"]))


def test_a_refused_form_keeps_its_token_unspent(app, mfg):
    token = _token(mfg.tech)
    refused = mfg.tech.post("/donations/", {**RECEIPT, "mass_g": "40.0", "once": token}, token_from="/donations/")
    assert refused.status_code == 422 and f'value="{token}"' in refused.get_data(as_text=True)
    assert mfg.tech.post("/donations/", {**RECEIPT, "once": token}, token_from="/donations/").status_code == 302
    assert len(flow.rows(Donation)) == 1


def test_a_creating_form_without_its_token_is_refused(app, mfg):
    for bad in ("", "x" * 65, "../../etc", "short"):
        r = mfg.tech.post("/donations/", {**RECEIPT, "once": bad}, token_from="/donations/")
        assert r.status_code == 400 and "one-time token" in page_text(r)
    assert flow.rows(Donation) == []


def test_a_deviation_opened_twice_from_one_form_is_one_deviation(app, mfg):
    flow.to_quarantine(mfg)
    page = f"/batches/{flow.LOT}"
    token = _token(mfg.tech, page, "dev-once")
    for _ in range(2):
        r = mfg.tech.post(f"{page}/deviations", {"dev-description": "door ajar", "dev-once": token}, token_from=page)
        assert r.status_code == 302
    assert len(flow.rows(Deviation)) == 1
