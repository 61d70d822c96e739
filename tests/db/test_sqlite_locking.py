"""Concurrent read-then-write transactions never fail with "database is locked".

Each worker reads the counter record, waits so the others read too, then
writes it. With deferred transactions SQLite would refuse the upgrade from
read to write (SQLITE_BUSY, no retry); the app opens write transactions with
BEGIN IMMEDIATE, so the workers queue instead and every increment lands.
"""

import threading
import time

from lims.audit.trail import change_reason
from lims.db import Actor, transaction
from lims.equipment import operations as eq_ops
from lims.equipment.models import Equipment

DATA = {
    "name": "counter",
    "kind": "other",
    "location": "0",
    "serial_number": "",
    "status": "in_service",
    "calibration_due": None,
    "notes": None,
}


def test_parallel_read_then_write_all_succeed(app, backend):
    with transaction(Actor(None, "setup")) as s:
        eid = eq_ops.create(s, "EQ-CNT-01", dict(DATA)).id
    errors, workers = [], 6

    def worker(n):
        try:
            with app.app_context():
                with transaction(Actor(None, f"worker {n}")) as s:
                    eq = s.get(Equipment, eid, with_for_update=True)
                    value = int(eq.location)
                    time.sleep(0.05)
                    with change_reason(s, f"increment by worker {n}"):
                        eq.location = str(value + 1)
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with transaction(Actor(None, "check"), write=False) as s:
        eq = s.get(Equipment, eid)
        assert eq.location == str(workers) and eq.version == workers + 1
