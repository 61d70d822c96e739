"""The bounded fuzz sweep (issue 16 item 12): every POST route and every GET with parameters, as each role, with
malformed, oversized, wrong-type, NUL, invalid UTF-8 and hostile values, on the demo lab. No 5xx; no stored change
after a refusal. Seeded (LIMS_FUZZ_SEED, default 16): the same seed sends the same requests."""

from __future__ import annotations

import os

import pytest

from lims.db import Actor, transaction
from lims.demo import DEMO_PASSWORD, load_demo
from tests.conftest import Browser
from tests.fuzz.conftest import FIGURES
from tests.fuzz.sweep import Sweep

SEED = int(os.environ.get("LIMS_FUZZ_SEED", "16"))
ROLES = ["tech", "qa", "clinician", "admin"]  # admin last: its changes to accounts cannot cut the others short


@pytest.fixture
def demo_app(app, monkeypatch):
    from argon2 import PasswordHasher

    monkeypatch.setattr("lims.auth.passwords._hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    with transaction(Actor(None, "demo")) as s:
        load_demo(s)
    return app


def test_fuzz_sweep(demo_app, backend):
    app = demo_app
    sweep = Sweep(app, seed=SEED)
    post_rules = sum(1 for r in app.url_map.iter_rules() if "POST" in (r.methods or ()))
    get_rules = sum(1 for r in app.url_map.iter_rules() if "GET" in (r.methods or ()) and r.endpoint != "static")

    anonymous = app.test_client()
    pages = sweep.crawl(anonymous)
    pages.update({"/login": anonymous.get("/login").get_data(as_text=True)})
    sweep.fuzz_forms(anonymous, pages, "wrong password")
    sweep.fuzz_gets(anonymous, pages)

    for username in ROLES:
        b = Browser(app.test_client())
        r = b.login(username, DEMO_PASSWORD)
        assert r.status_code == 302, f"{username} could not sign in"
        pages = sweep.crawl(b.client)
        csrf = b.token("/")
        sweep.fuzz_forms(b.client, pages, DEMO_PASSWORD)
        sweep.fuzz_gets(b.client, pages)
        sweep.fuzz_unreached_posts(b.client, DEMO_PASSWORD, csrf)
        sweep.fuzz_unreached_gets(b.client)

    fig = sweep.fig
    FIGURES.append(fig.line(backend, post_rules, get_rules))
    assert fig.server_errors == [], "\n".join(map(str, fig.server_errors[:20]))
    assert fig.changed_after_refusal == [], "\n".join(map(str, fig.changed_after_refusal[:20]))
    assert len(fig.post_endpoints) >= post_rules - 1  # every POST route but logout was sent hostile input
    assert len(fig.get_endpoints) == get_rules
