"""The jobs tests build on the manufacturing lab (``mfg``) and the clinic (``clinic``)."""

from tests.clinical.conftest import clinic
from tests.manufacturing.conftest import fast_password_hashing, mfg

__all__ = ["clinic", "fast_password_hashing", "mfg"]
