"""Fixtures shared by the donor tests: the seeded default protocol and the screening staff."""

import pytest

from lims.db import Actor, transaction
from lims.donors.protocols import seed_default_protocol


@pytest.fixture
def protocol(app):
    with transaction(Actor(None, "seed")) as s:
        seed_default_protocol(s)


@pytest.fixture
def staff(as_user):
    return {
        "nurse": as_user("nurse1", roles=["clinician"], name="Dr. Liu Yang"),
        "tech": as_user("tech1", roles=["technician"], name="Zhang Wei"),
        "tech2": as_user("tech2", roles=["technician"], name="Chen Jing"),
    }
