"""Form pieces shared by every domain: version, reason and signature fields."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


def field_labels(form) -> dict:
    """Field name -> label shown, so a stale-form conflict names fields as the page does."""
    return {f.short_name: f.label.text for f in form}


class VersionedForm(FlaskForm):
    """Carries the version of the record the form was built from."""

    version = HiddenField()


class ReasonMixin:
    reason = TextAreaField(
        _l("Reason for change"),
        validators=[DataRequired(message=_l("A reason is required to change an existing record.")), Length(max=1000)],
    )


class SignatureForm(FlaskForm):
    """The signature partial: the password again, every time, and an optional comment.

    ``content`` carries the fingerprint of what the page showed (lims.audit.fingerprint): a signature over
    content that changed since is refused."""

    version = HiddenField()
    content = HiddenField()
    password = PasswordField(_l("Your password"), validators=[DataRequired(message=_l("Enter your password to sign."))])
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=1000)])
