"""The home page agrees with the record: expired units are listed as expired, still in stock, with the way to
discard them, and never as "expiring within 7 days" (issue 16, item 5)."""

from __future__ import annotations

from datetime import timedelta

from lims.clock import utcnow
from lims.jobs import runner
from tests.clinical.conftest import UNITS, craft_unit, unit_row
from tests.jobs.test_jobs import section
from tests.manufacturing.flow import ok


def test_an_expired_unit_is_listed_as_expired_with_the_discard_link_not_as_expiring(app, clinic):
    now = utcnow()
    craft_unit(UNITS[0], expires_at=now - timedelta(minutes=1))  # expired, the job has not run yet
    craft_unit(UNITS[1], expires_at=now + timedelta(days=3), expiry_date=(now + timedelta(days=2)).date())
    home = clinic.tech.get("/")
    expired, expiring = section(home, "due-expired"), section(home, "due-expiring")
    assert UNITS[0] in expired and f"/units/{UNITS[0]}#discard" in " ".join(home.get_data(as_text=True).split())
    assert UNITS[0] not in expiring
    assert UNITS[1] in expiring and UNITS[1] not in expired

    runner.run("expire", now)  # marked expired by the job: still in stock, still listed
    assert unit_row(UNITS[0]).status == "expired"
    assert UNITS[0] in section(clinic.tech.get("/"), "due-expired")

    ok(clinic.tech.post(f"/units/{UNITS[0]}/discard", {"discard-reason": "expired"}, token_from=f"/units/{UNITS[0]}"))
    assert UNITS[0] not in section(clinic.tech.get("/"), "due-expired")


def test_a_unit_expiring_exactly_now_is_expired(app, clinic):
    now = utcnow()
    craft_unit(UNITS[2], expires_at=now, expiry_date=(now - timedelta(days=1)).date())
    home = clinic.tech.get("/")
    assert UNITS[2] in section(home, "due-expired") and UNITS[2] not in section(home, "due-expiring")
