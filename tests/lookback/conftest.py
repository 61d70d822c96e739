"""Lookback tests read the lab and clinic the other suites build."""

from tests.clinical.conftest import clinic  # noqa: F401 - fixture
from tests.manufacturing.conftest import fast_password_hashing, mfg  # noqa: F401 - fixtures
