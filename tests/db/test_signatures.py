"""Electronic signatures: password every time, meaning, binding to version and content, four-eyes."""

import pytest
from sqlalchemy import text

from lims.audit.signatures import four_eyes, sign, signature_state, signatures_for
from lims.auth.models import User
from lims.db import Actor, transaction
from lims.equipment import operations as eq_ops
from lims.equipment.models import Equipment
from lims.errors import SignatureRefused
from tests.conftest import PASSWORD, audit_rows

DATA = {
    "name": "GenFMTer",
    "kind": "purification_device",
    "location": "Suite A",
    "serial_number": "G1",
    "status": "in_service",
    "calibration_due": None,
    "notes": None,
}


@pytest.fixture
def setup(app, make_user):
    tech = make_user("tech1", name="Tech One")
    qa = make_user("qa1", roles=["qa"], name="QA One")
    with transaction(Actor(tech, "Tech One")) as s:
        eid = eq_ops.create(s, "EQ-GFM-01", dict(DATA)).id
    return tech, qa, eid


def _sign(uid, eid, password=PASSWORD, meaning="approved", performers=()):
    with transaction(Actor(uid, "x")) as s:
        return sign(s, s.get(Equipment, eid), meaning, s.get(User, uid), password, performers=performers).id


def test_signature_stores_meaning_version_hash_and_printed_name(app, setup, clock):
    tech, qa, eid = setup
    _sign(qa, eid, performers=(tech,))
    with transaction(Actor(qa, "x"), write=False) as s:
        (view,) = signatures_for(s, s.get(Equipment, eid))
    sig = view.signature
    assert (sig.meaning, sig.user_name, sig.record_type, sig.record_id, sig.record_version) == (
        "approved",
        "QA One",
        "equipment",
        str(eid),
        1,
    )
    assert len(sig.content_hash) == 64 and sig.signed_at == clock.now() and view.valid
    (row,) = audit_rows(app, action="sign")
    assert row.new_value == "approved" and row.user_id == qa and row.record_version == 1


def test_wrong_password_is_refused_audited_and_counts_toward_lockout(app, setup):
    tech, qa, eid = setup
    with pytest.raises(SignatureRefused):
        _sign(qa, eid, password="not-the-password")
    with transaction(Actor(qa, "x"), write=False) as s:
        assert signatures_for(s, s.get(Equipment, eid)) == []
        assert s.get(User, qa).failed_attempts == 1
    assert [r.action for r in audit_rows(app, user_id=qa) if r.action == "signature_failed"] == ["signature_failed"]


def test_five_wrong_signature_passwords_lock_the_account(app, setup):
    tech, qa, eid = setup
    for _ in range(5):
        with pytest.raises(SignatureRefused):
            _sign(qa, eid, password="wrong-wrong-wrong")
    with transaction(Actor(qa, "x"), write=False) as s:
        assert s.get(User, qa).locked_at is not None
    assert audit_rows(app, action="lockout")
    with pytest.raises(SignatureRefused):  # even the right password is refused while locked
        _sign(qa, eid)


def test_unknown_meaning_is_refused(app, setup):
    tech, qa, eid = setup
    with pytest.raises(SignatureRefused):
        _sign(qa, eid, meaning="liked")


def test_four_eyes_refuses_the_performer(app, setup):
    tech, qa, eid = setup
    with pytest.raises(SignatureRefused) as err:
        _sign(tech, eid, meaning="verified", performers=(tech,))
    assert "Four-eyes" in err.value.message
    with transaction(Actor(tech, "x"), write=False) as s:
        assert signatures_for(s, s.get(Equipment, eid)) == []
    assert audit_rows(app, action="signature_refused")


def test_four_eyes_rule():
    assert four_eyes(2, [1]) and four_eyes(2, [1, None])
    assert not four_eyes(1, [1]) and not four_eyes(1, [3, 1])


def test_signature_becomes_invalid_when_the_record_changes(app, setup):
    tech, qa, eid = setup
    _sign(qa, eid, performers=(tech,))
    with transaction(Actor(tech, "Tech One")) as s:
        eq_ops.update(s, s.get(Equipment, eid), f"{eid}@1", dict(DATA, location="Suite B"), "moved")
    with transaction(Actor(qa, "x"), write=False) as s:
        (view,) = signatures_for(s, s.get(Equipment, eid))
    assert not view.valid and "signed version 1, now 2" in view.problem


def test_signature_detects_content_changed_behind_the_applications_back(app, setup):
    tech, qa, eid = setup
    _sign(qa, eid, performers=(tech,))
    with app.extensions["lims_db"].engine.begin() as conn:  # same version, different content
        conn.execute(text("UPDATE equipment SET serial_number = 'FORGED' WHERE id = :i"), {"i": eid})
    with transaction(Actor(qa, "x"), write=False) as s:
        eq = s.get(Equipment, eid)
        (view,) = signatures_for(s, eq)
        assert eq.version == 1
    assert not view.valid and "content" in view.problem


def test_resigning_after_change_gives_a_valid_current_signature(app, setup, make_user):
    tech, qa, eid = setup
    _sign(qa, eid, performers=(tech,))
    with transaction(Actor(tech, "Tech One")) as s:
        eq_ops.update(s, s.get(Equipment, eid), f"{eid}@1", dict(DATA, location="Suite B"), "moved")
    _sign(qa, eid, performers=(tech,))
    with transaction(Actor(qa, "x"), write=False) as s:
        eq = s.get(Equipment, eid)
        views = signatures_for(s, eq)
        assert [v.valid for v in views] == [False, True]
        assert signature_state(views[-1].signature, eq).valid
