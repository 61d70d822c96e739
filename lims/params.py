"""Query parameters, parsed one way everywhere.

``request.args.get(name, type=int)`` turns "abc" into None silently and
accepts 10**30, which PostgreSQL refuses deep inside a query (a 500). Each
helper here returns a value a query can use, or refuses the request with a
400 naming the parameter.
"""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _

from .errors import LimsError

ID_MAX = 2**31 - 1  # INTEGER: the largest id most tables hold (the audit trail's are BIGINT: BIG_ID_MAX)
BIG_ID_MAX = 2**63 - 1


class BadParameter(LimsError):
    status_code = 400


def _raw(name: str) -> str | None:
    value = request.args.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def arg_int(name: str, minimum: int = 1, maximum: int = ID_MAX) -> int | None:
    """A whole number in [minimum, maximum], or None when absent or empty."""
    value = _raw(name)
    if value is None:
        return None
    if len(value) > 20 or not value.lstrip("-").isdigit() or not minimum <= int(value) <= maximum:
        raise BadParameter(
            _(
                "The address parameter %(name)s must be a whole number from %(low)s to %(high)s; nothing was changed.",
                name=name,
                low=minimum,
                high=maximum,
            )
        )
    return int(value)
