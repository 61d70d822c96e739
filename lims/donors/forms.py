from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..core.once import OnceField
from ..forms import ReasonMixin, VersionedForm

SEX_CHOICES = [("male", _l("male")), ("female", _l("female"))]
STATUS_LABELS = {
    "candidate": _l("candidate"),
    "in_screening": _l("in screening"),
    "eligible": _l("eligible"),
    "deferred": _l("temporarily deferred"),
    "excluded": _l("permanently excluded"),
    "retired": _l("retired"),
    "screening_expired": _l("screening expired (re-screen)"),
    "suspended": _l("suspended"),
}


class FactsFields(FlaskForm):
    sex = SelectField(
        _l("Sex"), choices=[("", "")] + SEX_CHOICES, validators=[DataRequired(message=_l("Choose the donor's sex."))]
    )
    date_of_birth = DateField(_l("Date of birth"), validators=[DataRequired(message=_l("Enter the date of birth."))])
    height_cm = DecimalField(
        _l("Height (cm)"), places=1, validators=[InputRequired(message=_l("Enter the height in cm."))]
    )
    weight_kg = DecimalField(
        _l("Weight (kg)"), places=1, validators=[InputRequired(message=_l("Enter the weight in kg."))]
    )
    measured_on = DateField(
        _l("Height and weight measured on"), validators=[DataRequired(message=_l("Enter the measurement date."))]
    )
    notes = TextAreaField(_l("Notes (no identifying data)"), validators=[Optional(), Length(max=2000)])

    def facts(self) -> dict:
        return {
            "sex": self.sex.data,
            "date_of_birth": self.date_of_birth.data,
            "height_cm": self.height_cm.data,
            "weight_kg": self.weight_kg.data,
            "measured_on": self.measured_on.data,
            "notes": self.notes.data,
        }


class IdentityFields(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    national_id = StringField(_l("National ID number"), validators=[DataRequired(), Length(max=40)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])

    def identity(self) -> dict:
        return {"full_name": self.full_name.data, "national_id": self.national_id.data, "phone": self.phone.data}


class RegisterDonorForm(FactsFields, IdentityFields):
    once = OnceField()  # one record per form, however often it is sent (lims.core.once)
    pass


class EditFactsForm(FactsFields, VersionedForm, ReasonMixin):
    pass


class EditIdentityForm(IdentityFields, VersionedForm, ReasonMixin):
    pass


class DonorFilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(_l("Status"), choices=[("", _l("all"))] + list(STATUS_LABELS.items()), validators=[Optional()])
    code = StringField(_l("Donor code"), validators=[Optional(), Length(max=80)])
