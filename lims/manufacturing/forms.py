"""Manufacturing forms. Times are typed in the lab's zone and stored as UTC."""

from __future__ import annotations

from datetime import UTC

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DateTimeLocalField,
    DecimalField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from ..core.once import OnceField
from ..forms import SignatureForm, VersionedForm
from ..timefmt import lab_zone, to_lab
from .explain import BATCH_STATUS_LABELS, LOCATION_KINDS, STORAGE_LABELS

DT_FORMAT = "%Y-%m-%dT%H:%M"


def as_utc(value):
    """A datetime-local value (lab zone, naive) -> aware UTC."""
    return None if value is None else value.replace(tzinfo=lab_zone()).astimezone(UTC)


def as_local(value):
    """Aware UTC -> the naive lab-zone value a datetime-local input shows."""
    return None if value is None else to_lab(value).replace(tzinfo=None, second=0, microsecond=0)


# Rendered in whole minutes; a browser or scanner may send seconds (a value copied from a page, a field whose
# value had seconds), and that must not be "Not a valid datetime value".
DT_INPUT_FORMATS = [DT_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


def LabTime(label, required=True):
    validators = [DataRequired(message=_l("Enter the date and time."))] if required else [Optional()]
    return DateTimeLocalField(label, format=DT_INPUT_FORMATS, validators=validators)


class ReceiveDonationForm(FlaskForm):
    once = OnceField()  # one record per form, however often it is sent (lims.core.once)
    donor = StringField(
        _l("Donor code (scan or type)"), validators=[DataRequired(message=_l("Enter the donor code.")), Length(max=80)]
    )
    collected_at = LabTime(_l("Collected at"))
    received_at = LabTime(_l("Received in the lab at"))
    receipt_temp_c = DecimalField(
        _l("Temperature on receipt (°C)"),
        places=1,
        validators=[InputRequired(message=_l("Enter the temperature on receipt.")), NumberRange(-30, 45)],
    )
    mass_g = DecimalField(
        _l("Stool mass (g)"),
        places=1,
        validators=[InputRequired(message=_l("Enter the mass in g.")), NumberRange(0, 5000)],
    )
    bristol = SelectField(
        _l("Bristol stool form"),
        choices=[("", "")] + [(str(i), str(i)) for i in range(1, 8)],
        validators=[DataRequired(message=_l("Choose the Bristol stool form (1-7)."))],
    )
    appearance = StringField(
        _l("Appearance"), validators=[DataRequired(message=_l("Describe the appearance.")), Length(max=200)]
    )
    retained_location = StringField(
        _l("Retained sample (2 mL) stored at"),
        validators=[DataRequired(message=_l("Enter where the 2 mL retained sample is stored.")), Length(max=120)],
    )

    def data_dict(self) -> dict:
        return {
            "collected_at": as_utc(self.collected_at.data),
            "received_at": as_utc(self.received_at.data),
            "receipt_temp_c": self.receipt_temp_c.data,
            "mass_g": self.mass_g.data,
            "bristol": int(self.bristol.data),
            "appearance": self.appearance.data,
            "retained_location": self.retained_location.data,
        }


class StartBatchForm(FlaskForm):
    once = OnceField()  # one record per form, however often it is sent (lims.core.once)
    device = SelectField(
        _l("Purification device"), validators=[DataRequired(message=_l("Choose the purification device."))]
    )
    run_number = StringField(
        _l("Device run number"), validators=[DataRequired(message=_l("Enter the device run number.")), Length(max=40)]
    )
    started_at = LabTime(_l("Processing (homogenisation) started at"))


class StepForm(VersionedForm):
    """Every step's fields; the page shows those of the step's kind. Numbers are parsed by the rules."""

    position = HiddenField(
        validators=[Optional(), Regexp(r"^\d{1,3}$", message=_l("The form does not name a step; reload the page."))]
    )
    diluent = StringField(_l("Diluent"), validators=[Optional(), Length(max=100)])
    volume_ml = StringField(_l("Volume (mL)"), validators=[Optional(), Length(max=20)])
    mesh_um = StringField(_l("Mesh size of each stage (µm, coarse to fine)"), validators=[Optional(), Length(max=100)])
    g_force = StringField(_l("g-force (× g)"), validators=[Optional(), Length(max=20)])
    minutes = StringField(_l("Minutes"), validators=[Optional(), Length(max=20)])
    temperature_c = StringField(_l("Temperature (°C)"), validators=[Optional(), Length(max=20)])
    cryoprotectant = StringField(_l("Cryoprotectant"), validators=[Optional(), Length(max=60)])
    cryoprotectant_pct = StringField(_l("Cryoprotectant (%)"), validators=[Optional(), Length(max=20)])
    dose_count = StringField(_l("Number of dose units"), validators=[Optional(), Length(max=5)])
    unit_volume_ml = StringField(_l("Volume per unit (mL)"), validators=[Optional(), Length(max=20)])
    storage = SelectField(_l("Storage"), choices=[("", "")] + list(STORAGE_LABELS.items()), validators=[Optional()])
    started_at = LabTime(_l("Started at"), required=False)
    ended_at = LabTime(_l("Ended at"))
    reason = TextAreaField(_l("Reason for correction"), validators=[Optional(), Length(max=1000)])

    def raw(self) -> dict:
        return {
            f.short_name: f.data
            for f in self
            if f.short_name
            in {
                "diluent",
                "volume_ml",
                "mesh_um",
                "g_force",
                "minutes",
                "temperature_c",
                "cryoprotectant",
                "cryoprotectant_pct",
                "dose_count",
                "unit_volume_ml",
                "storage",
            }
        }


class DeviationForm(FlaskForm):
    once = OnceField()  # one record per form, however often it is sent (lims.core.once)
    description = TextAreaField(
        _l("Description"), validators=[DataRequired(message=_l("Describe the deviation.")), Length(max=4000)]
    )


class InvestigationForm(VersionedForm):
    investigation = TextAreaField(_l("Investigation"), validators=[Optional(), Length(max=4000)])
    outcome = TextAreaField(_l("Outcome and actions"), validators=[Optional(), Length(max=4000)])
    reason = TextAreaField(_l("Reason for change"), validators=[Optional(), Length(max=1000)])


class ReasonSignatureForm(SignatureForm):
    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(message=_l("A reason is required.")), Length(max=1000)]
    )


class BatchFilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(
        _l("Status"), choices=[("", _l("all"))] + list(BATCH_STATUS_LABELS.items()), validators=[Optional()]
    )
    donor = StringField(_l("Donor code"), validators=[Optional(), Length(max=80)])
    date_from = DateField(_l("Produced from"), validators=[Optional()])
    date_to = DateField(_l("Produced to"), validators=[Optional()])


class LocationForm(FlaskForm):
    once = OnceField()  # one record per form, however often it is sent (lims.core.once)
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=40)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    kind = SelectField(_l("Type"), choices=list(LOCATION_KINDS.items()))
    parent = StringField(_l("Inside (code)"), validators=[Optional(), Length(max=40)])
    rows = IntegerField(_l("Rows (box)"), validators=[Optional(), NumberRange(1, 26)])
    cols = IntegerField(_l("Columns (box)"), validators=[Optional(), NumberRange(1, 26)])


class PlaceForm(FlaskForm):
    version = HiddenField()  # the unit's version token: a move from a page opened before the unit moved is refused
    box = StringField(
        _l("Box (scan or type)"), validators=[DataRequired(message=_l("Enter the box code.")), Length(max=40)]
    )
    position = StringField(
        _l("Position, e.g. A1"), validators=[DataRequired(message=_l("Enter the position.")), Length(max=4)]
    )
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])


class StoreHereForm(FlaskForm):
    """On a box's page: scan the unit's label, then type or scan the position."""

    unit = StringField(
        _l("Dose unit (scan its label)"),
        validators=[DataRequired(message=_l("Scan the dose unit's label.")), Length(max=80)],
    )
    position = StringField(
        _l("Position, e.g. A1"), validators=[DataRequired(message=_l("Enter the position.")), Length(max=4)]
    )


class StorageSessionForm(FlaskForm):
    """Store a batch's units into a box in one session: scan each unit (a line each), review, sign once.

    The scanner's Enter ends a line in the text box, so a gloved technician scans unit after unit without
    touching the keyboard; a position typed after a scan ("... B2") places that unit there."""

    lot = StringField(
        _l("Batch (scan or type the lot)"),
        validators=[DataRequired(message=_l("Scan or type the batch.")), Length(max=80)],
    )
    start = StringField(_l("First position (optional)"), validators=[Optional(), Length(max=4)])
    scans = TextAreaField(
        _l("Dose units (scan one after another)"),
        validators=[DataRequired(message=_l("Scan the dose units to store, one per line.")), Length(max=6000)],
        render_kw={"rows": 8},
    )
    content = HiddenField()
    password = PasswordField(_l("Your password"), validators=[Optional()])


class ThawForm(FlaskForm):
    thawed_at = LabTime(_l("Thawed at (37 °C water bath)"))


class VerifyLabelForm(FlaskForm):
    """The scan of a just-printed label (the scanner types LIMS:DU:<code> and Enter)."""

    payload = StringField(
        _l("Scan the printed label"), validators=[DataRequired(message=_l("Scan the printed label.")), Length(max=200)]
    )


class DiscardForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for discarding"),
        validators=[DataRequired(message=_l("A reason is required to discard a unit.")), Length(max=1000)],
    )
