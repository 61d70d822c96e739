"""Recipient forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..core.once import OnceField
from ..forms import ReasonMixin, VersionedForm
from .rules import STAGES

SEX_CHOICES = [("male", _l("male")), ("female", _l("female"))]


class RecipientFields(FlaskForm):
    study = StringField(
        _l("Study / protocol"),
        default="WMT-TORI (FMT + toripalimab, exploratory)",
        validators=[DataRequired(), Length(max=80)],
    )
    sex = SelectField(
        _l("Sex"), choices=[("", "")] + SEX_CHOICES, validators=[DataRequired(message=_l("Choose the sex."))]
    )
    date_of_birth = DateField(_l("Date of birth"), validators=[DataRequired(message=_l("Enter the date of birth."))])
    diagnosis = StringField(
        _l("Diagnosis"), validators=[DataRequired(message=_l("Enter the diagnosis.")), Length(max=200)]
    )
    stage = SelectField(
        _l("Stage"),
        choices=[("", "")] + [(s, s) for s in STAGES],
        validators=[DataRequired(message=_l("Choose the stage."))],
    )
    tnm = StringField(_l("TNM (e.g. T3N1M1)"), validators=[Optional(), Length(max=40)])
    metastasis_sites = StringField(_l("Sites of metastasis"), validators=[Optional(), Length(max=300)])
    ecog = IntegerField(
        _l("ECOG performance status (0-5)"), validators=[InputRequired(message=_l("Enter the ECOG score."))]
    )
    prior_lines = IntegerField(
        _l("Prior treatment lines"),
        validators=[InputRequired(message=_l("Enter the number of prior treatment lines."))],
    )
    consent_date = DateField(
        _l("Informed consent signed on"), validators=[DataRequired(message=_l("Enter the date of informed consent."))]
    )
    notes = TextAreaField(_l("Notes (no identifying data)"), validators=[Optional(), Length(max=2000)])

    def facts(self) -> dict:
        return {
            k: getattr(self, k).data
            for k in (
                "study",
                "sex",
                "date_of_birth",
                "diagnosis",
                "stage",
                "tnm",
                "metastasis_sites",
                "ecog",
                "prior_lines",
                "consent_date",
                "notes",
            )
        }


class RegisterRecipientForm(RecipientFields):
    once = OnceField()  # one record per form, however often it is sent (lims.core.once)
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    hospital_number = StringField(_l("Hospital number"), validators=[DataRequired(), Length(max=40)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])

    def identity(self) -> dict:
        return {
            "full_name": self.full_name.data,
            "hospital_number": self.hospital_number.data,
            "phone": self.phone.data,
        }


class EditRecipientForm(RecipientFields, VersionedForm, ReasonMixin):
    pass


class EditIdentityForm(VersionedForm, ReasonMixin):
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    hospital_number = StringField(_l("Hospital number"), validators=[DataRequired(), Length(max=40)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])

    def identity(self) -> dict:
        return {
            "full_name": self.full_name.data,
            "hospital_number": self.hospital_number.data,
            "phone": self.phone.data,
        }
