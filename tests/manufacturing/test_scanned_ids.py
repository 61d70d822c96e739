"""Every field that takes an ID accepts the scanned payload and the bare ID, through one parser (issue 16, item 4).

Before: the donation receipt's donor field refused ``LIMS:DO:D-0004`` (a USB scanner types the QR payload).
"""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from lims.core.scan import scanned_id
from lims.errors import RuleViolation
from lims.manufacturing.models import Donation, StorageLocation
from tests.conftest import page_text
from tests.manufacturing import flow
from tests.manufacturing.flow import LOT, ok


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("LIMS:DO:D-0004", "D-0004"),
        ("lims:do:D-0004", "D-0004"),
        ("  D-0004 ", "D-0004"),
        ("d-0004", "D-0004"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_the_parser_takes_a_payload_or_a_bare_id(typed, expected):
    assert scanned_id(typed, "DO") == expected


def test_a_label_of_another_kind_is_refused_by_name(app):
    with pytest.raises(RuleViolation) as err:
        scanned_id("LIMS:LOT:FMT-20261123-01", "DO")
    assert "is a batch label; this field takes a donor" in err.value.message
    with pytest.raises(RuleViolation) as err:
        scanned_id("LIMS:DO:D 0004", "DO")
    assert "not a valid LIMS code" in err.value.message


def test_the_donation_receipt_takes_the_scanned_donor_label(app, mfg):
    ok(flow.receive(mfg, donor="LIMS:DO:D-0001"))
    assert [d.code for d in flow.rows(Donation)] == ["DN-20261123-01"]


def test_the_donation_receipt_refuses_another_kind_of_label_and_keeps_the_input(app, mfg):
    r = flow.receive(mfg, donor="LIMS:LOT:FMT-20261123-01", appearance="brown, formed, typed")
    assert r.status_code == 422
    text = page_text(r)
    assert "is a batch label; this field takes a donor" in text and "brown, formed, typed" in text
    assert flow.rows(Donation) == []


def test_lists_filter_by_a_scanned_donor_label(app, mfg):
    flow.to_quarantine(mfg)
    assert f'href="/batches/{LOT}"' in page_text(mfg.tech.get("/batches/?donor=LIMS:DO:D-0001"))
    assert f'href="/batches/{LOT}"' not in page_text(mfg.tech.get("/batches/?donor=LIMS:LOT:FMT-20261123-01"))
    assert "D-0001" in page_text(mfg.nurse.get("/donors/?code=LIMS:DO:D-0001"))


def test_a_new_location_takes_its_parent_by_scan(app, mfg):
    r = mfg.tech.post(
        "/storage",
        {
            "loc-code": "BOX-F2",
            "loc-name": "",
            "loc-kind": "box",
            "loc-parent": "LIMS:LOC:FRZ-T-R1",
            "loc-rows": "9",
            "loc-cols": "9",
        },
        token_from="/storage",
    )
    assert r.status_code == 302
    assert flow.row(StorageLocation, code="BOX-F2").parent_id == flow.row(StorageLocation, code="FRZ-T-R1").id


def test_a_label_prints_from_a_scanned_payload(app, mfg):
    flow.to_quarantine(mfg)
    r = mfg.tech.post(
        "/labels/print",
        {"kind": "DU", "code": f"LIMS:DU:{LOT}-02", "layout": "tube_50x30", "format": "pdf"},
        token_from=f"/units/{LOT}-02",
    )
    assert r.status_code == 200 and f"{LOT}-02" in PdfReader(io.BytesIO(r.data)).pages[0].extract_text()
