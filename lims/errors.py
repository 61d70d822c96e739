"""Errors that speak to the user.

Operations raise these; the request layer turns them into a message on the
page (and a 4xx status, so the request's transaction is rolled back).
"""

from __future__ import annotations


class LimsError(Exception):
    """A refused action; ``message`` is already translated for the user."""

    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class RuleViolation(LimsError):
    status_code = 422


class ReasonRequired(LimsError):
    status_code = 422


class PermissionDenied(LimsError):
    status_code = 403


class NotFound(LimsError):
    status_code = 404


class StaleRecord(LimsError):
    """The form was based on an older version of the record.

    ``changes`` lists (field label, value the user saw, value now stored) so
    the page can show both and nothing is silently overwritten.
    """

    status_code = 409

    def __init__(self, message: str, changed_by: str | None, changed_at, changes=None):
        super().__init__(message)
        self.changed_by = changed_by
        self.changed_at = changed_at
        self.changes = changes or []


class SignatureRefused(LimsError):
    status_code = 422
