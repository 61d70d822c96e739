"""The QA audit-trail page: filters, paging and CSV export."""

import csv
import io

from tests.http.test_equipment import FORM


def test_qa_sees_and_filters_the_trail(app, as_user):
    tech = as_user("tech1", name="Zhang Wei")
    qa = as_user("qa1", roles=["qa"])
    tech.post("/equipment/new", FORM)
    page = qa.get("/audit/").get_data(as_text=True)
    assert "EQ-CEN-02" in page and "Zhang Wei" in page and "login" in page
    filtered = qa.get("/audit/", query_string={"entity": "equipment", "action": "create"}).get_data(as_text=True)
    assert "EQ-CEN-02" in filtered and "<td>login</td>" not in filtered
    other_day = qa.get("/audit/", query_string={"date_from": "2026-11-24"}).get_data(as_text=True)
    assert "No audit rows match" in other_day
    same_day = qa.get("/audit/", query_string={"date_from": "2026-11-23", "date_to": "2026-11-23"}).get_data(
        as_text=True
    )
    assert "EQ-CEN-02" in same_day


def test_csv_export_has_every_row_with_lab_time(app, as_user):
    tech = as_user("tech1")
    qa = as_user("qa1", roles=["qa"])
    tech.post("/equipment/new", dict(FORM, notes='=HYPERLINK("x")'))
    r = qa.get("/audit/export.csv", query_string={"entity": "equipment"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert {row["field"] for row in rows} >= {"code", "name", "notes"}
    assert all(row["timestamp_lab"].endswith("CST") for row in rows)
    notes = next(row for row in rows if row["field"] == "notes")
    assert notes["new_value"].startswith("'=")  # a formula is neutralised for spreadsheets


def test_paging_with_older_rows_link(app, as_user):
    qa = as_user("qa1", roles=["qa"])
    tech = as_user("tech1")
    for i in range(12):  # 12 equipment x 8 fields > one page of 100
        tech.post("/equipment/new", dict(FORM, code=f"EQ-CEN-{i:02d}"))
    page = qa.get("/audit/").get_data(as_text=True)
    assert "Older rows" in page
    import re

    before = re.search(r"before=(\d+)", page).group(1)
    older = qa.get("/audit/", query_string={"before": before}).get_data(as_text=True)
    assert f"<td>{int(before) - 1}</td>" in older
