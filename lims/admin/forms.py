from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length

from ..forms import ReasonMixin, VersionedForm

ROLE_CHOICES = [
    ("technician", _l("Technician")),
    ("qa", _l("QA officer")),
    ("clinician", _l("Clinician / research nurse")),
    ("admin", _l("Administrator")),
]
LANG_CHOICES = [("en", "English"), ("zh_CN", "简体中文")]


class _GroupCheckbox(widgets.CheckboxInput):
    """No HTML ``required`` per box: the browser would demand every box; the group is checked server-side."""

    validation_attrs = ["disabled"]


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = _GroupCheckbox()


class CreateUserForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    full_name = StringField(_l("Full name (printed on signatures)"), validators=[DataRequired(), Length(max=200)])
    roles = MultiCheckboxField(
        _l("Roles"), choices=ROLE_CHOICES, validators=[DataRequired(message=_l("Choose at least one role."))]
    )
    language = SelectField(_l("Language"), choices=LANG_CHOICES)
    password = PasswordField(_l("Temporary password (must be changed at first login)"), validators=[DataRequired()])


class EditUserForm(VersionedForm, ReasonMixin):
    full_name = StringField(_l("Full name (printed on signatures)"), validators=[DataRequired(), Length(max=200)])
    roles = MultiCheckboxField(
        _l("Roles"), choices=ROLE_CHOICES, validators=[DataRequired(message=_l("Choose at least one role."))]
    )
    language = SelectField(_l("Language"), choices=LANG_CHOICES)


class AccountActionForm(VersionedForm, ReasonMixin):
    """Deactivate, reactivate or unlock: the version and a reason."""


class ResetPasswordForm(VersionedForm, ReasonMixin):
    password = PasswordField(_l("New temporary password"), validators=[DataRequired()])
