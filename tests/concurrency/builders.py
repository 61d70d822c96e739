"""Batches ready for release, built through the operations (not page by page): the races need dozens."""

from __future__ import annotations

from datetime import date

from lims.clock import utcnow
from lims.donors import operations as donor_ops
from lims.manufacturing import batches, donations, qc, release
from tests.conftest import PASSWORD
from tests.manufacturing.conftest import DONATION_DAY, act, lab
from tests.manufacturing.flow import QC_PASS, STEPS


def _receipt(n: int) -> dict:
    from decimal import Decimal

    return {
        "collected_at": lab(DONATION_DAY, 8, 0),
        "received_at": lab(DONATION_DAY, 8, 30),
        "receipt_temp_c": Decimal("4.0"),
        "mass_g": Decimal("150.0"),
        "bristol": 4,
        "appearance": "brown, formed",
        "retained_location": f"rack R{n}",
    }


def quarantined_batch(n: int) -> str:
    """One donation of D-0001 made into a batch, every step verified and QC entered and verified (quarantine)."""

    def make(s, user):
        d = donations.receive(s, donor_ops.get(s, "D-0001"), _receipt(n), user, utcnow())
        b = batches.start(s, d, "EQ-GFM-01", f"RUN-{n}", lab(DONATION_DAY, 9, 0), user, utcnow())
        start = b.started_at
        for position, ((hh, mm), fields) in enumerate(STEPS, start=1):
            end = lab(DONATION_DAY, hh, mm)
            batches.record_step(s, b, position, fields, start, end, user, utcnow())
            start = end
        qc.record(s, b, dict(QC_PASS), date(2026, 11, 23), "QC lab", None, date(2026, 11, 23))
        return b.lot

    lot = act("tech1", make)
    act("tech2", lambda s, u: batches.verify_steps(s, batches.get(s, lot), u, PASSWORD, None, "test"))
    act("tech2", lambda s, u: qc.verify(s, batches.get(s, lot), u, PASSWORD, None, "test"))
    return lot


def releasable_batches(lab_, n: int) -> list[str]:
    """``n`` quarantined batches of the lab's donor (released once the donor is cleared and QA reviewed them)."""
    return [quarantined_batch(i) for i in range(1, n + 1)]


def reviewed_by(username: str, lots: list[str]) -> None:
    for lot in lots:
        act(username, lambda s, u, lot=lot: release.record_review(s, batches.get(s, lot), u, PASSWORD, None, "test"))
