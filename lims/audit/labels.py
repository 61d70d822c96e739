"""Human labels for audit actions and record types (codes stay in the data)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

ACTION_LABELS = {
    "create": _l("created"),
    "update": _l("changed"),
    "delete": _l("deleted"),
    "login": _l("signed in"),
    "login_failed": _l("failed sign-in"),
    "logout": _l("signed out"),
    "session_timeout": _l("session timed out"),
    "lockout": _l("account locked"),
    "unlock": _l("account unlocked"),
    "sign": _l("e-signature"),
    "signature_failed": _l("failed signature password"),
    "signature_refused": _l("signature refused (four-eyes)"),
    "password_change_failed": _l("failed password change"),
    "restore": _l("database restored"),
    "print": _l("label printed"),
    "administration_refused": _l("administration refused (bedside check)"),
    "report": _l("report printed"),
    "deadline_missed": _l("SAE report deadline missed"),
}

# Each domain adds its record types here when it is imported.
ENTITY_LABELS = {
    "app_user": _l("User account"),
    "equipment": _l("Equipment"),
    "database": _l("Database"),
    "donor": _l("Donor"),
    "donor_identity": _l("Donor identity"),
    "screening_protocol": _l("Screening protocol"),
    "protocol_item": _l("Protocol item"),
    "screening": _l("Screening"),
    "screening_result": _l("Screening result"),
    "eligibility_decision": _l("Eligibility decision"),
    "donation_day_check": _l("Donation-day check"),
    "manufacturing_spec": _l("Manufacturing specification"),
    "qc_spec_item": _l("QC specification item"),
    "donation": _l("Donation"),
    "batch": _l("Batch"),
    "batch_step": _l("Batch step"),
    "qc_result": _l("QC result"),
    "deviation": _l("Deviation"),
    "batch_review": _l("Audit-trail review"),
    "batch_disposition": _l("Batch disposition"),
    "storage_location": _l("Storage location"),
    "dose_unit": _l("Dose unit"),
    "recipient": _l("Recipient"),
    "recipient_identity": _l("Recipient identity"),
    "course_template": _l("Course template"),
    "course": _l("FMT course"),
    "administration": _l("Dose (administration)"),
    "postponement": _l("Postponement"),
    "observation": _l("Post-infusion observation"),
    "co_therapy": _l("Co-therapy"),
    "adverse_event": _l("Adverse event"),
    "retained_disposal": _l("Retained-sample disposal"),
    "lookback_case": _l("Lookback case"),
    "lookback_action": _l("Lookback action"),
    "lookback_hold": _l("Lookback hold"),
    "lookback_notification": _l("Lookback notification"),
    "lookback_retest": _l("Lookback re-test"),
}


def action_label(code: str) -> str:
    return str(ACTION_LABELS.get(code, code))


def entity_label(code: str) -> str:
    return str(ENTITY_LABELS.get(code, code))
