from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Optional


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form: it changes nothing

    entity = SelectField(_l("Record type"), choices=[], validators=[Optional()])
    record_id = StringField(_l("Record id"), validators=[Optional()])
    user = SelectField(_l("User"), choices=[], validators=[Optional()])
    action = SelectField(_l("Action"), choices=[], validators=[Optional()])
    date_from = DateField(_l("From (lab date)"), validators=[Optional()])
    date_to = DateField(_l("To (lab date)"), validators=[Optional()])
