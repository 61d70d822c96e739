"""A batch made on the live server's database through the domain operations (no clicking).

Shared by the browser modules that need dose units to scan: a donor registered
and screened, a donation-day check, the receipt two days ago, the batch start
and its seven steps; the fill creates the units in quarantine.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from lims.clock import utcnow
from tests.manufacturing import flow
from tests.manufacturing.conftest import act, lab

from .test_manufacturing import DEVICE, _day_check, _pass_screening, _years_before


def filled_lot(
    today: date, *, sex: str, years: int, name: str, id_prefix: str, run: str, mass_g: str
) -> tuple[str, str]:
    """(donor code, lot) of a batch donated two days ago, processed through every step.

    Each caller gives its own national-ID prefix: the register refuses a duplicate, and
    the browser modules share one live server."""
    from lims.donors import operations as donor_ops
    from lims.manufacturing import batches, donations

    day = today - timedelta(days=2)
    registered = today - timedelta(days=20)
    donor = act(
        "clin",
        lambda s, u: (
            donor_ops.register(
                s,
                {
                    "sex": sex,
                    "date_of_birth": _years_before(today, years) - timedelta(days=11),
                    "height_cm": "170.0",
                    "weight_kg": "60.0",
                    "measured_on": registered,
                    "notes": None,
                },
                {
                    "full_name": name,
                    "national_id": id_prefix + uuid.uuid4().hex[: 18 - len(id_prefix)].upper(),
                    "phone": "",
                },
                registered,
            ).code
        ),
    )
    _pass_screening(donor, today - timedelta(days=16), today - timedelta(days=14))
    _day_check(donor, day)

    def receive(s, u):
        return donations.receive(
            s,
            donor_ops.get(s, donor),
            {
                "collected_at": lab(day, 8, 0),
                "received_at": lab(day, 8, 25),
                "receipt_temp_c": "4.0",
                "mass_g": mass_g,
                "bristol": 4,
                "appearance": "brown, formed",
                "retained_location": "FRG-T retained-sample rack",
            },
            u,
            utcnow(),
        ).code

    donation = act("tech", receive)
    lot = act(
        "tech", lambda s, u: batches.start(s, donations.get(s, donation), DEVICE, run, lab(day, 9, 0), u, utcnow()).lot
    )
    started = (9, 0)
    for position, (ended, fields) in enumerate(flow.STEPS, start=1):
        act(
            "tech",
            lambda s, u, p=position, f=fields, a=started, b=ended: batches.record_step(
                s, batches.get(s, lot), p, f, lab(day, *a), lab(day, *b), u, utcnow()
            ),
        )
        started = ended
    return donor, lot
