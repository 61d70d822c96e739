from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..core.once import OnceField
from ..forms import ReasonMixin, VersionedForm

KIND_CHOICES = [
    ("purification_device", _l("Purification device")),
    ("centrifuge", _l("Centrifuge")),
    ("biosafety_cabinet", _l("Biosafety cabinet")),
    ("freezer", _l("Freezer")),
    ("refrigerator", _l("Refrigerator")),
    ("water_bath", _l("Water bath")),
    ("balance", _l("Balance")),
    ("other", _l("Other")),
]
STATUS_CHOICES = [
    ("in_service", _l("In service")),
    ("out_of_service", _l("Out of service")),
    ("retired", _l("Retired")),
]
KIND_LABELS = dict(KIND_CHOICES)
STATUS_LABELS = dict(STATUS_CHOICES)


class EquipmentFields(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Type"), choices=KIND_CHOICES)
    location = StringField(_l("Location"), validators=[Optional(), Length(max=200)])
    serial_number = StringField(_l("Serial number"), validators=[Optional(), Length(max=100)])
    status = SelectField(_l("Status"), choices=STATUS_CHOICES)
    calibration_due = DateField(_l("Calibration due"), validators=[Optional()])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=4000)])

    def data_dict(self) -> dict:
        return {
            "name": self.name.data.strip(),
            "kind": self.kind.data,
            "location": (self.location.data or "").strip(),
            "serial_number": (self.serial_number.data or "").strip(),
            "status": self.status.data,
            "calibration_due": self.calibration_due.data,
            "notes": (self.notes.data or "").strip() or None,
        }


class CreateEquipmentForm(EquipmentFields):
    once = OnceField()  # one record per form, however often it is sent (lims.core.once)
    code = StringField(_l("Equipment code"), validators=[DataRequired(), Length(max=40)])


class EditEquipmentForm(EquipmentFields, VersionedForm, ReasonMixin):
    pass
