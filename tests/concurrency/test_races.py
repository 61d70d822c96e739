"""Truly concurrent posts behind a barrier, 20 repetitions per race, on SQLite and PostgreSQL (issue 16).

Two signed-in people post at the same instant (two threads, each with its own client and database
connection, released together by a ``threading.Barrier``). Every race must end with no server error, no lost
or duplicated write, and a loser who is told why: a rule refusal, or "changed by X at T".
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import date

from sqlmodel import select

from lims.audit.models import Signature
from lims.db import Actor, transaction
from lims.lookback.models import LookbackCase, LookbackHold
from lims.manufacturing.models import Batch, BatchDisposition, Deviation, Donation, DoseUnit, QcResult
from tests.concurrency.builders import releasable_batches, reviewed_by
from tests.conftest import PASSWORD, csrf_from, page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import fast_password_hashing, mfg  # noqa: F401 - fixtures
from tests.manufacturing.flow import LOT

REPS = 20
CHANGED_BY = re.compile(
    r"changed (?:by|since you opened it \(last change by) ([A-Z][a-z]+ [A-Z][a-z]+) at (\d{4}-\d\d-\d\d \d\d:\d\d)"
)


def race(*posts):
    """Run the prepared ``(client, url, data)`` posts at the same instant; their responses, in order."""
    barrier = threading.Barrier(len(posts))
    out: list = [None] * len(posts)

    def go(i, client, url, data):
        barrier.wait()
        try:
            out[i] = client.post(url, data=data)
        except Exception as exc:
            out[i] = exc

    threads = [threading.Thread(target=go, args=(i, *p)) for i, p in enumerate(posts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for r in out:
        assert not isinstance(r, Exception), repr(r)
        assert r.status_code < 500, page_text(r)[:3000]
    return out


def prepared(browser, page, **fields):
    """Form fields as the page would post them: its CSRF token and the hidden fields the test names."""
    html = browser.get(page).get_data(as_text=True)
    data = {"csrf_token": csrf_from(html)}
    for name, value in fields.items():
        if value is HIDDEN:
            m = re.search(rf'name="{re.escape(name)}" type="hidden" value="([^"]*)"', html)
            assert m, f"no hidden {name} on {page}"
            value = m.group(1)
        data[name] = value
    return data


HIDDEN = object()


def loser_told_who(resp) -> tuple[str, str]:
    m = CHANGED_BY.search(" ".join(page_text(resp).split()))
    assert m, page_text(resp)[:3000]
    return m.group(1), m.group(2)


def _count(model, **where):
    with transaction(Actor(None, "t"), write=False) as s:
        q = select(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return len(s.exec(q).all())


def _sign_fields(prefix, **extra):
    return {
        f"{prefix}-password": PASSWORD,
        f"{prefix}-comment": "",
        f"{prefix}-content": HIDDEN,
        **{f"{prefix}-{k}": v for k, v in extra.items()},
    }


def test_release_against_a_lookback_hold(app, mfg, clock):
    from lims.lookback import cases
    from tests.manufacturing.conftest import act

    lots = releasable_batches(mfg, REPS)
    codes = [
        act(
            "qa2",
            lambda s, u, lot=lot: (
                cases.open_manual(s, "", lot, date(2026, 11, 23), "infection traced back", date(2026, 11, 23)).code
            ),
        )
        for lot in lots
    ]
    flow.clear_donor(mfg, clock)  # a negative re-screen lifts the suspension the cases set; the cases stay open
    reviewed_by("qa1", lots)
    outcomes = Counter()
    for lot, code in zip(lots, codes):
        release = prepared(mfg.qa, f"/batches/{lot}", **_sign_fields("release"))
        version = flow.row(LookbackCase, code=code).version
        fields = {
            "hold-version": str(version),
            "hold-reason": "recipient infection",
            "hold-password": PASSWORD,
            "hold-comment": "",
            "hold-content": HIDDEN,
        }
        hold = prepared(mfg.qa2, f"/lookback/{code}", **fields)
        r_release, r_hold = race(
            (mfg.qa.client, f"/batches/{lot}/release", release), (mfg.qa2.client, f"/lookback/{code}/hold", hold)
        )
        if r_release.status_code == 302:
            # Released first: the hold form showed the batch in quarantine, so the hold is refused as stale
            # (nothing held); QA signs again over the page as it is now.
            if r_hold.status_code != 302:
                assert r_hold.status_code == 409 and "changed since you opened it" in page_text(r_hold)
                assert _count(LookbackHold, case_code=code) == 0
                r_hold = mfg.qa2.client.post(
                    f"/lookback/{code}/hold", data=prepared(mfg.qa2, f"/lookback/{code}", **fields)
                )
        assert r_hold.status_code == 302, page_text(r_hold)[:2000]
        batch = flow.row(Batch, lot=lot)
        units = {u.status for u in flow.rows(DoseUnit, lot=lot)}
        if r_release.status_code == 302:  # released first: the hold put it on hold and recalled every unit
            outcomes["release first"] += 1
            assert batch.status == "on_hold" and units == {"recalled"}
        else:  # held first: the release was refused naming the case, nothing released
            outcomes["hold first"] += 1
            assert r_release.status_code in (409, 422)
            assert code in page_text(r_release) or "changed since you opened it" in page_text(r_release)
            assert batch.status == "quarantine" and units == {"quarantine"}
            assert _count(LookbackHold, case_code=code, kind="batch", active=True) == 1
        assert "available" not in units
    assert sum(outcomes.values()) == REPS


def test_release_against_a_deviation(app, mfg, clock):
    lots = releasable_batches(mfg, REPS)
    flow.clear_donor(mfg, clock)
    reviewed_by("qa1", lots)
    for lot in lots:
        release = prepared(mfg.qa, f"/batches/{lot}", **_sign_fields("release"))
        deviation = prepared(
            mfg.tech, f"/batches/{lot}", **{"dev-description": "freezer door ajar", "dev-once": HIDDEN}
        )
        r_release, r_dev = race(
            (mfg.qa.client, f"/batches/{lot}/release", release),
            (mfg.tech.client, f"/batches/{lot}/deviations", deviation),
        )
        batch = flow.row(Batch, lot=lot)
        deviations = flow.rows(Deviation, lot=lot)
        if r_release.status_code == 302:
            assert batch.status == "released" and deviations == [] and r_dev.status_code == 422
            assert "Deviations are opened while the batch is being made or in quarantine" in page_text(r_dev)
        else:
            assert r_dev.status_code == 302 and batch.status == "quarantine"
            assert [d.status for d in deviations] == ["open"]
            assert r_release.status_code in (409, 422)
            if r_release.status_code == 409:
                loser_told_who(r_release)


def test_two_releases_of_one_batch(app, mfg, clock):
    lots = releasable_batches(mfg, REPS)
    flow.clear_donor(mfg, clock)
    reviewed_by("qa1", lots)
    reviewed_by("qa2", lots)
    for lot in lots:
        first = prepared(mfg.qa, f"/batches/{lot}", **_sign_fields("release"))
        second = prepared(mfg.qa2, f"/batches/{lot}", **_sign_fields("release"))
        responses = race(
            (mfg.qa.client, f"/batches/{lot}/release", first), (mfg.qa2.client, f"/batches/{lot}/release", second)
        )
        assert sorted(r.status_code for r in responses) == [302, 409]
        loser = next(r for r in responses if r.status_code == 409)
        who, _when = loser_told_who(loser)
        assert who in ("Li Na", "Zhou Min")
        assert flow.row(Batch, lot=lot).status == "released"
        batch_id = flow.row(Batch, lot=lot).id
        assert [d.decision for d in flow.rows(BatchDisposition, batch_id=batch_id)] == ["released"]
    assert _count(Signature, meaning="released") == REPS


def test_two_corrections_of_one_qc_result(app, mfg):
    flow.to_quarantine(mfg)
    page = f"/batches/{LOT}"
    for n in range(REPS):
        versions = flow.qc_versions(mfg.tech)
        mine = prepared(
            mfg.tech,
            page,
            qc_COUNT=f"1.{n:02d}1e13",
            tested_on="2026-11-23",
            method="QC lab",
            reason=f"recount {n} by Zhang",
            **versions,
        )
        theirs = prepared(
            mfg.tech2,
            page,
            qc_COUNT=f"1.{n:02d}3e13",
            tested_on="2026-11-23",
            method="QC lab",
            reason=f"recount {n} by Chen",
            **versions,
        )
        r1, r2 = race((mfg.tech.client, f"{page}/qc", mine), (mfg.tech2.client, f"{page}/qc", theirs))
        assert sorted((r1.status_code, r2.status_code)) == [302, 409]
        winner, loser = (r1, r2) if r1.status_code == 302 else (r2, r1)
        who, _when = loser_told_who(loser)
        stored = flow.row(QcResult, lot=LOT, item_code="COUNT").value
        expected = f"1.{n:02d}1 × 10^13" if winner is r1 else f"1.{n:02d}3 × 10^13"
        assert stored == expected and who == ("Zhang Wei" if winner is r1 else "Chen Jing")
    from tests.conftest import audit_rows

    changes = [
        r
        for r in audit_rows(app, entity="qc_result", field="value", action="update")
        if r.record_id.endswith("QC-COUNT")
    ]
    assert len(changes) == REPS  # one correction per race: none lost, none doubled


def test_two_moves_of_one_unit(app, mfg):
    flow.to_quarantine(mfg)
    unit = f"{LOT}-01"
    targets = [("A2", "A3"), ("B1", "B2"), ("B3", "C1"), ("C2", "C3")]
    moves = 0
    for n in range(REPS):
        a, b = targets[n % len(targets)]
        version = flow.unit_version(mfg.tech, unit)
        mine = prepared(
            mfg.tech,
            f"/units/{unit}",
            **{"place-box": "BOX-F1", "place-position": a, "place-note": "", "place-version": version},
        )
        theirs = prepared(
            mfg.tech2,
            f"/units/{unit}",
            **{"place-box": "BOX-F1", "place-position": b, "place-note": "", "place-version": version},
        )
        r1, r2 = race(
            (mfg.tech.client, f"/units/{unit}/place", mine), (mfg.tech2.client, f"/units/{unit}/place", theirs)
        )
        assert sorted((r1.status_code, r2.status_code)) == [302, 409]
        winner = a if r1.status_code == 302 else b
        loser_told_who(r2 if r1.status_code == 302 else r1)
        assert flow.row(DoseUnit, code=unit).position == winner
        moves += 1
    from tests.conftest import audit_rows

    assert (
        len([r for r in audit_rows(app, entity="dose_unit", record_id=unit, action="update") if r.field == "position"])
        == moves
    )


def test_a_donation_receipt_sent_twice_at_once(app, mfg):
    for n in range(REPS):
        data = prepared(mfg.tech, "/donations/", once=HIDDEN, **{k: v for k, v in flow.RECEIPT.items()})
        r1, r2 = race((mfg.tech.client, "/donations/", data), (mfg.tech.client, "/donations/", dict(data)))
        assert r1.status_code == r2.status_code == 302
        assert r1.headers["Location"] == r2.headers["Location"]
        assert _count(Donation) == n + 1
