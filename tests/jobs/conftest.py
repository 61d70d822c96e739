"""The jobs tests build on the manufacturing lab (``mfg``) and the clinic (``clinic``)."""
from tests.clinical.conftest import clinic  # noqa: F401 - fixture
from tests.manufacturing.conftest import fast_password_hashing, mfg  # noqa: F401 - fixtures

__all__ = ["clinic", "fast_password_hashing", "mfg"]
