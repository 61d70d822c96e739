"""Scan resolution: a QR payload or a typed ID -> the record page.

Payloads are ``LIMS:<TYPE>:<ID>``. Each domain registers a resolver for its
type; the labels issue adds donations, batches and dose units. A resolver
does one indexed lookup and returns a URL or None.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

PAYLOAD_RE = re.compile(r"^LIMS:([A-Z]{1,4}):([A-Za-z0-9._-]{1,60})$")


@dataclass
class Resolver:
    type_code: str
    label: str
    find: Callable  # (session, id) -> url | None
    bare: Callable[[str], bool]  # does a bare typed ID look like this type?


RESOLVERS: dict[str, Resolver] = {}


def register(resolver: Resolver) -> None:
    RESOLVERS[resolver.type_code] = resolver


def parse(code: str) -> tuple[str | None, str | None, str]:
    """(type code, id, problem) for a scanned string; pure."""
    code = (code or "").strip()
    if not code:
        return None, None, "empty"
    if code.upper().startswith("LIMS:"):
        parts = code.split(":", 2)  # prefix and type in any case (a scanner in caps-lock, a hand-typed code)
        m = PAYLOAD_RE.match(":".join([parts[0].upper(), *([parts[1].upper()] if len(parts) > 1 else []), *parts[2:]]))
        if not m:
            return None, None, "malformed"
        return m.group(1), m.group(2), ""
    return None, code, ""


def expect(code: str, type_code: str) -> tuple[str | None, str, str | None]:
    """A scan into a field that wants one kind of record: (id, problem, found type code).

    A payload of another type is refused ("wrong_type") rather than looked up;
    a bare typed ID is taken as is.
    """
    found, ident, problem = parse(code)
    if problem:
        return None, problem, None
    if found is not None and found != type_code:
        return None, "wrong_type", found
    return ident.strip().upper(), "", found


def scanned_id(value: str | None, type_code: str) -> str:
    """The bare ID from a field that wants one kind of record, typed or scanned (``LIMS:DO:D-0004`` or ``d-0004``).

    Every form field that takes an ID goes through here, so a USB scanner's payload is accepted wherever a
    person could type the ID; a label of another kind is refused by name instead of being looked up.
    Returns "" for an empty field."""
    from flask_babel import gettext as _

    from ..errors import RuleViolation

    ident, problem, found = expect(value or "", type_code)
    if problem == "empty":
        return ""
    if problem == "wrong_type":
        label = RESOLVERS[found].label if found in RESOLVERS else found
        want = RESOLVERS[type_code].label if type_code in RESOLVERS else type_code
        raise RuleViolation(
            _(
                "%(code)s is a %(label)s label; this field takes a %(want)s.",
                code=(value or "").strip(),
                label=label,
                want=want,
            )
        )
    if problem:
        raise RuleViolation(_("The code %(code)s is not a valid LIMS code.", code=(value or "").strip()))
    return ident


def resolve(session, code: str):
    """(url, problem): problem is 'empty', 'malformed', 'unknown_type' or 'not_found'."""
    type_code, ident, problem = parse(code)
    if problem:
        return None, problem
    if type_code is not None:
        r = RESOLVERS.get(type_code)
        if r is None:
            return None, "unknown_type"
        url = r.find(session, ident)
        return (url, "" if url else "not_found")
    for r in RESOLVERS.values():
        if r.bare(ident):
            url = r.find(session, ident)
            if url:
                return url, ""
    return None, "not_found"
