"""`lims create-user` obeys the account rules of the screens (segregation of duties, password list)."""

import pytest
from sqlmodel import func, select

from lims.auth.models import User
from lims.db import Actor, transaction


def _users():
    with transaction(Actor(None, "t"), write=False) as s:
        return s.exec(select(func.count()).select_from(User)).one()


def _create(app, *args, password="Very-Long-Password-1"):
    return app.test_cli_runner().invoke(
        args=["lims", "create-user", "wang.jun", "--name", "Wang Jun", *args, "--password", password]
    )


@pytest.mark.parametrize("gmp", ["technician", "qa", "clinician"])
def test_create_user_refuses_admin_with_a_gmp_role(app, gmp):
    r = _create(app, "--role", "admin", "--role", gmp)
    assert r.exit_code != 0
    assert "The administrator role cannot be combined with technician, QA or clinician" in r.output
    assert "Traceback" not in r.output
    assert _users() == 0


def test_create_user_accepts_admin_alone_and_gmp_roles_together(app):
    assert _create(app, "--role", "admin").exit_code == 0
    r = app.test_cli_runner().invoke(
        args=[
            "lims",
            "create-user",
            "li.na",
            "--name",
            "Li Na",
            "--role",
            "qa",
            "--role",
            "technician",
            "--password",
            "Very-Long-Password-1",
        ]
    )
    assert r.exit_code == 0, r.output
    assert _users() == 2


@pytest.mark.parametrize("password", ["qwerty123456", "QWERTY123456", "1q2w3e4r5t6y"])
def test_create_user_refuses_a_common_password(app, password):
    r = _create(app, "--role", "admin", password=password)
    assert r.exit_code != 0 and "list of common or breached passwords" in r.output
    assert _users() == 0
