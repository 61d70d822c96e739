"""Forms of courses, dispensing, the bedside record, observations, co-therapy and adverse events.

Times are typed in the lab's zone and stored as UTC. Check boxes that the
rules require (fasting, tube placement, identity) are not HTML-required, so
a refusal names each missing confirmation rather than the browser hiding them.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..admin.forms import MultiCheckboxField
from ..core.once import OnceField
from ..forms import ReasonMixin, VersionedForm
from ..manufacturing.forms import LabTime, as_utc
from . import ae_rules
from .course_rules import POSTPONE_REASONS
from .explain import ACTION_LABELS, ATTRIBUTION_LABELS, OUTCOME_LABELS, POSTPONE_LABELS, SERIOUSNESS_LABELS


class PlanCourseForm(FlaskForm):
    once = OnceField()  # one record per form, however often it is sent (lims.core.once)
    template = SelectField(_l("Course template"), validators=[DataRequired(message=_l("Choose the course template."))])
    day1 = DateField(_l("Day 1 (first FMT)"), validators=[DataRequired(message=_l("Enter the date of day 1."))])
    same_donor = BooleanField(_l("Prefer units of the same donor for every dose"), default=True)


class ScanUnitForm(FlaskForm):
    unit = StringField(
        _l("Dose unit (scan the label)"),
        validators=[DataRequired(message=_l("Scan or type the dose unit code.")), Length(max=200)],
    )


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(message=_l("A reason is required.")), Length(max=1000)]
    )


class ReturnUnitForm(ReasonForm):
    box = StringField(_l("Box"), validators=[DataRequired(message=_l("Scan or type the box.")), Length(max=200)])
    position = StringField(
        _l("Position (e.g. A1)"), validators=[DataRequired(message=_l("Enter the position.")), Length(max=4)]
    )


class AdministerForm(VersionedForm):
    patient = StringField(
        _l("Patient wristband (scan or type the recipient code)"),
        validators=[DataRequired(message=_l("Scan the patient's wristband.")), Length(max=200)],
    )
    identity_confirmed = BooleanField(_l("Name and date of birth confirmed with the patient"))
    tube_confirmed = BooleanField(_l("Nasojejunal tube placement confirmed"))
    tube_date = DateField(_l("Tube placed on"), validators=[Optional()])
    tube_method = StringField(_l("Placement method / confirmation"), validators=[Optional(), Length(max=120)])
    fasting = BooleanField(_l("Patient fasting"))
    unit = StringField(
        _l("Dose unit (scan the label)"), validators=[DataRequired(message=_l("Scan the dose unit.")), Length(max=200)]
    )
    given_at = LabTime(_l("Infusion started at"))
    volume_ml = DecimalField(
        _l("Volume given (mL)"),
        places=1,
        validators=[InputRequired(message=_l("Enter the volume given in mL.")), NumberRange(0, 1000)],
    )
    instructions = MultiCheckboxField(_l("Post-infusion instructions given"), choices=[], validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])

    def data_dict(self) -> dict:
        return {
            "patient": self.patient.data,
            "identity_confirmed": self.identity_confirmed.data,
            "tube_confirmed": self.tube_confirmed.data,
            "tube_date": self.tube_date.data,
            "tube_method": self.tube_method.data,
            "fasting": self.fasting.data,
            "unit": self.unit.data,
            "given_at": as_utc(self.given_at.data),
            "volume_ml": self.volume_ml.data,
            "instructions": tuple(self.instructions.data or ()),
            "note": self.note.data,
        }


class PostponeForm(VersionedForm):
    new_date = DateField(_l("New date"), validators=[DataRequired(message=_l("Enter the new date."))])
    reason_code = SelectField(
        _l("Why"),
        choices=[("", "")] + [(c, POSTPONE_LABELS[c]) for c in POSTPONE_REASONS],
        validators=[DataRequired(message=_l("Choose why the dose is postponed."))],
    )
    reason = TextAreaField(
        _l("Details (e.g. temperature 38.4 °C at 20:00)"),
        validators=[
            DataRequired(message=_l("Describe the reason for the postponement (e.g. the temperature measured).")),
            Length(max=1000),
        ],
    )


class ObservationForm(FlaskForm):
    once = OnceField()  # one record per form, however often it is sent (lims.core.once)
    minutes_after = SelectField(
        _l("Observation time (min after the infusion)"),
        coerce=int,
        choices=[],
        validators=[InputRequired(message=_l("Choose the observation time."))],
    )
    observed_at = LabTime(_l("Observed at"))
    temperature_c = DecimalField(_l("Temperature (°C)"), places=1, validators=[Optional()])
    diarrhoea = BooleanField(_l("Diarrhoea"))
    abdominal_pain = BooleanField(_l("Abdominal pain"))
    nausea_vomiting = BooleanField(_l("Nausea/vomiting"))
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=1000)])

    def data_dict(self) -> dict:
        return {
            "minutes_after": self.minutes_after.data,
            "observed_at": as_utc(self.observed_at.data),
            "temperature_c": self.temperature_c.data,
            "diarrhoea": self.diarrhoea.data,
            "abdominal_pain": self.abdominal_pain.data,
            "nausea_vomiting": self.nausea_vomiting.data,
            "note": self.note.data,
        }


class CoTherapyForm(FlaskForm):
    once = OnceField()  # one record per form, however often it is sent (lims.core.once)
    drug = StringField(_l("Drug"), validators=[DataRequired(message=_l("Enter the drug.")), Length(max=80)])
    dose = StringField(
        _l("Dose amount (e.g. 200 mg)"), validators=[DataRequired(message=_l("Enter the dose.")), Length(max=40)]
    )
    route = StringField(_l("Route"), validators=[DataRequired(message=_l("Enter the route.")), Length(max=20)])
    given_on = DateField(_l("Given on"), validators=[DataRequired(message=_l("Enter the date given."))])
    cycle = IntegerField(_l("Cycle"), validators=[Optional(), NumberRange(1, 200)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=1000)])

    def data_dict(self) -> dict:
        return {k: getattr(self, k).data for k in ("drug", "dose", "route", "given_on", "cycle", "note")}


def _choices(labels, keys, blank=True):
    return ([("", "")] if blank else []) + [(k, labels[k]) for k in keys]


class AdverseEventForm(FlaskForm):
    once = OnceField()  # one record per form, however often it is sent (lims.core.once)
    term_code = HiddenField(validators=[DataRequired(message=_l("Choose the CTCAE term."))])
    grade = RadioField(_l("Grade"), choices=[], validators=[InputRequired(message=_l("Choose the grade."))])
    description = TextAreaField(
        _l("Description (what happened, measurements, treatment)"), validators=[Optional(), Length(max=4000)]
    )
    onset_date = DateField(_l("Onset"), validators=[DataRequired(message=_l("Enter the onset date."))])
    resolved_date = DateField(_l("Resolved on"), validators=[Optional()])
    seriousness = MultiCheckboxField(
        _l("Seriousness criteria (ICH E2A); none ticked: not serious"),
        choices=_choices(SERIOUSNESS_LABELS, ae_rules.SERIOUSNESS, blank=False),
        validators=[Optional()],
    )
    expected = SelectField(
        _l("Expectedness (serious events)"),
        choices=[
            ("", ""),
            ("yes", _l("expected (listed in the reference safety information)")),
            ("no", _l("unexpected")),
        ],
        validators=[Optional()],
    )
    attribution_fmt = SelectField(
        _l("Related to FMT"),
        choices=_choices(ATTRIBUTION_LABELS, ae_rules.ATTRIBUTIONS),
        validators=[DataRequired(message=_l("Choose the attribution to FMT."))],
    )
    attribution_cotherapy = SelectField(
        _l("Related to the co-therapy"),
        choices=_choices(ATTRIBUTION_LABELS, ae_rules.ATTRIBUTIONS),
        validators=[DataRequired(message=_l("Choose the attribution to the co-therapy."))],
    )
    administration_id = SelectField(_l("Administration it followed"), choices=[], validators=[Optional()])
    action_taken = SelectField(
        _l("Action taken"),
        choices=_choices(ACTION_LABELS, ae_rules.ACTIONS),
        validators=[DataRequired(message=_l("Choose the action taken."))],
    )
    outcome = SelectField(
        _l("Outcome"),
        choices=_choices(OUTCOME_LABELS, ae_rules.OUTCOMES),
        validators=[DataRequired(message=_l("Choose the outcome."))],
    )
    aware_at = LabTime(_l("Site became aware at"))

    def data_dict(self) -> dict:
        return {
            "term_code": self.term_code.data,
            "grade": int(self.grade.data) if (self.grade.data or "").isdigit() else None,
            "description": self.description.data,
            "onset_date": self.onset_date.data,
            "resolved_date": self.resolved_date.data,
            "seriousness": tuple(self.seriousness.data or ()),
            "expected": {"yes": True, "no": False}.get(self.expected.data),
            "attribution_fmt": self.attribution_fmt.data,
            "attribution_cotherapy": self.attribution_cotherapy.data,
            "administration_id": int(self.administration_id.data)
            if (self.administration_id.data or "").isdigit()
            else None,
            "action_taken": self.action_taken.data,
            "outcome": self.outcome.data,
            "aware_at": as_utc(self.aware_at.data),
        }


class EditAdverseEventForm(AdverseEventForm, VersionedForm, ReasonMixin):
    pass


class ReportForm(VersionedForm):
    to = HiddenField()
    reported_at = LabTime(_l("Report sent at"))
