"""A commit that fails says "nothing was saved" and keeps the typed input; no success message over an error
(issue 16, "Commit failures lie")."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from lims.manufacturing.models import Donation
from tests.conftest import page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import fast_password_hashing, mfg  # noqa: F401 - fixtures


@pytest.fixture
def failing_commit(monkeypatch):
    """The next commit of a session that has something to write fails as a full disk would."""
    real = Session.commit
    state = {"armed": True}

    def commit(self):
        if state["armed"] and self.info.get("request") and self.info.get("_wrote"):
            state["armed"] = False
            raise OperationalError("COMMIT", {}, Exception("database or disk is full"))
        return real(self)

    def flush_marker(self, *a, **kw):
        if self.new or self.dirty or self.deleted:
            self.info["_wrote"] = True
        return real_flush(self, *a, **kw)

    real_flush = Session.flush
    monkeypatch.setattr(Session, "flush", flush_marker)
    monkeypatch.setattr(Session, "commit", commit)
    return state


def test_a_receipt_whose_commit_fails_says_nothing_was_saved_and_keeps_the_input(app, mfg, failing_commit):
    r = flow.receive(mfg, appearance="brown, formed, typed before the disk filled")
    assert r.status_code == 503
    text = page_text(r)
    assert "Nothing was saved" in text and "brown, formed, typed before the disk filled" in text
    assert "received from donor" not in text
    assert flow.rows(Donation) == []
    home = page_text(mfg.tech.get("/donations/"))
    assert "received from donor" not in home  # no success message queued for the next page
    # the same form sent again once the disk has room: saved once
    assert flow.receive(mfg).status_code == 302 and len(flow.rows(Donation)) == 1


def test_a_view_whose_commit_fails_after_the_response_shows_no_success(app, mfg, failing_commit):
    """The donation-day check is not a form_action view: its commit happens after the view answered."""
    r = mfg.nurse.post(
        "/donors/D-0001/donation-day",
        {f"dd_{c}": "no" for c in ("DD_GI_SYMPTOMS", "DD_FEVER", "DD_ANTIBIOTICS", "DD_TRAVEL", "DD_NEW_RISK")},
        token_from="/donors/D-0001",
    )
    assert r.status_code == 503 and "Nothing was saved" in page_text(r)
    assert "may donate today" not in page_text(mfg.nurse.get("/donors/D-0001"))
