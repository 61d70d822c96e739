"""The reports read what the lab and the clinic produce: their fixtures, shared by every report test."""

from tests.clinical.conftest import clinic  # noqa: F401 - fixture
from tests.manufacturing.conftest import fast_password_hashing, mfg  # noqa: F401 - fixtures
