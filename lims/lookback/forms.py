"""The lookback forms: open by hand, widen the scope (signed), hold (signed), notify, re-test, close (signed).

Creating forms carry a one-time token (lims.core.once); signature forms a content fingerprint of the case page
(lims.lookback.actions.case_fingerprint)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..core.once import OnceField
from ..forms import SignatureForm
from ..manufacturing.forms import LabTime

METHOD_CHOICES = [
    ("", ""),
    ("in_person", _l("in person")),
    ("phone", _l("phone")),
    ("letter", _l("letter")),
    ("email", _l("email")),
    ("other", _l("other")),
]
RETEST_CHOICES = [
    ("", ""),
    ("negative", _l("negative")),
    ("positive", _l("positive")),
    ("inconclusive", _l("inconclusive")),
]
OUTCOME_CHOICES = [
    ("confirmed", _l("Confirmed: the finding stands; held products are recalled and stay out of use")),
    ("unfounded", _l("Unfounded: held products are released back (issued units stay recalled)")),
]


class OpenCaseForm(FlaskForm):
    once = OnceField()  # one case per form, however often it is sent (lims.core.once)
    donor = StringField(_l("Donor code"), validators=[Optional(), Length(max=40)])
    lot = StringField(_l("or batch (lot)"), validators=[Optional(), Length(max=40)])
    finding_date = DateField(
        _l("Date of the finding (sample or report)"),
        validators=[DataRequired(message=_l("Enter the date of the finding."))],
    )
    reason = TextAreaField(
        _l("Reason (what was found, by whom)"),
        validators=[DataRequired(message=_l("A reason is required to open a lookback case.")), Length(max=2000)],
    )


class HoldForm(SignatureForm):
    reason = TextAreaField(
        _l("Reason for the hold"), validators=[DataRequired(message=_l("A reason is required.")), Length(max=1000)]
    )


class WidenForm(SignatureForm):
    targets = StringField(
        _l("Donations or batches to add (scan or type; several separated by spaces)"),
        validators=[
            DataRequired(message=_l("Name the donations or batches to add to the scope (scan or type their codes).")),
            Length(max=1000),
        ],
    )
    reason = TextAreaField(
        _l("Reason for widening the scope"),
        validators=[DataRequired(message=_l("A reason is required to widen the scope.")), Length(max=1000)],
    )


class CloseForm(SignatureForm):
    outcome = RadioField(
        _l("Case outcome"),
        choices=OUTCOME_CHOICES,
        validators=[DataRequired(message=_l("Choose the outcome: confirmed or unfounded."))],
    )
    conclusion = TextAreaField(
        _l("Conclusion"),
        validators=[DataRequired(message=_l("A conclusion is required to close the case.")), Length(max=4000)],
    )


class NotifyForm(FlaskForm):
    once = OnceField()
    recipient = SelectField(
        _l("Recipient"),
        choices=[],
        validate_choice=False,
        validators=[DataRequired(message=_l("Choose the recipient."))],
    )
    informed_person = StringField(
        _l("Who was informed (or whom you tried to reach)"),
        validators=[DataRequired(message=_l("Enter who was informed (or whom you tried to reach).")), Length(max=200)],
    )
    informed_at = LabTime(_l("When"))
    method = SelectField(
        _l("How"),
        choices=METHOD_CHOICES,
        validate_choice=False,
        validators=[DataRequired(message=_l("Choose how they were informed."))],
    )
    reached = RadioField(
        _l("Reached?"),
        choices=[("yes", _l("informed")), ("no", _l("attempt, not reached"))],
        default="yes",
        validators=[DataRequired(message=_l("Say whether they were reached."))],
    )
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


class RetestForm(FlaskForm):
    once = OnceField()
    donation = SelectField(
        _l("Retained sample of donation"),
        choices=[],
        validate_choice=False,
        validators=[DataRequired(message=_l("Choose the donation."))],
    )
    test = StringField(_l("Test"), validators=[DataRequired(message=_l("Enter the test.")), Length(max=200)])
    result = SelectField(
        _l("Result"),
        choices=RETEST_CHOICES,
        validate_choice=False,
        validators=[DataRequired(message=_l("Choose the result: negative, positive or inconclusive."))],
    )
    tested_on = DateField(_l("Tested on"), validators=[DataRequired(message=_l("Enter the test date."))])
    laboratory = StringField(
        _l("Laboratory"), validators=[DataRequired(message=_l("Enter the laboratory.")), Length(max=200)]
    )
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
