"""Issue 17, done-when: every label stock prints a dose unit in each effective state - released, quarantined,
thawed, expired, held (and recalled) - as PDF and as ZPL (203 and 300 dpi) through ``POST /labels/print``; the ZPL is rendered
offline (zplkit) and every text box fits its field; the code decodes after blur and contrast loss; the label says
the state and the use-by minute the unit page shows.

The cryovial stock is for retained samples: a unit ID does not fit on it and is refused in both formats (covered
with its message in tests/manufacturing/test_labels_http.py); here it must be refused too, never cut.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

from pypdf import PdfReader

from lims.clock import utcnow
from lims.labels.layouts import all_layouts
from lims.timefmt import to_lab
from tests.clinical.conftest import UNITS, clinic, craft_unit, quarantined_batch  # noqa: F401 - fixture
from tests.conftest import page_text
from tests.labels import zplcheck
from tests.lookback.test_lookback_recall import esbl_positive, hold
from tests.manufacturing.conftest import fast_password_hashing, mfg  # noqa: F401 - fixtures
from tests.manufacturing.flow import ok

RELEASED, THAWED, EXPIRED = UNITS[0], UNITS[1], UNITS[2]
QUARANTINED = "FMT-20261123-02-01"
# What the label's status line starts with (English then Chinese), and whether it adds DO NOT USE.
STATUS = {
    "released": ("RELEASED 已放行", False),
    "quarantined": ("QUARANTINE 待放行", False),
    "thawed": ("RELEASED 已放行", False),
    "expired": ("EXPIRED 已过期", True),
    "held": ("ON HOLD 暂停使用", True),
    "recalled": ("RECALLED 已召回", True),
}


def page_use_by(browser, unit) -> str:
    """The minute the unit page prints as its use-by (id="unit-use-by")."""
    html = browser.get(f"/units/{unit}").get_data(as_text=True)
    cell = re.search(r'id="unit-use-by">\s*([^<·]+)', html)
    assert cell, html[:2000]
    return cell.group(1).strip()


def _print(browser, unit, layout, fmt):
    page = f"/units/{unit}"
    return browser.post(
        "/labels/print",
        {"kind": "DU", "code": unit, "layout": layout, "format": fmt, "reason": "state check"},
        token_from=page,
        headers={"Referer": f"http://localhost{page}"},
    )


def _latin(job: str) -> str:
    """The text a ZPL job sends in ^FD fields (Chinese goes as ^GFA bitmaps in the default mode)."""
    return " ".join(re.findall(r"\^FD(.*?)\^FS", job))


def check_unit_on_every_stock(app, browser, unit, state):
    """Print ``unit`` on every stock in PDF and ZPL; returns the stocks that refused it (the same way in both)."""
    use_by = page_use_by(browser, unit)
    word = "USE BY" if state == "thawed" else "EXP"
    status, do_not_use = STATUS[state]
    refused = []
    for code, layout in all_layouts().items():
        r = _print(browser, unit, code, "pdf")
        if layout.release_only and state in ("quarantined", "expired", "held", "recalled"):
            assert r.status_code == 302, (unit, code)  # a release label is never printed for an unusable unit
            assert "printed only for released dose units" in page_text(browser.get(r.headers["Location"]))
            continue
        if r.status_code == 302:
            message = page_text(browser.get(r.headers["Location"]))
            assert "does not fit on the" in message, (unit, code)
            for dots in (8, 12):
                app.config["ZPL_DOTS_PER_MM"] = dots
                assert _print(browser, unit, code, "zpl").status_code == 302, (unit, code, dots)
            app.config["ZPL_DOTS_PER_MM"] = 8
            refused.append(code)
            continue
        assert r.status_code == 200, (unit, code, page_text(r)[:500])
        text = "".join(PdfReader(io.BytesIO(r.data)).pages[0].extract_text().split())
        assert "".join(f"{word} {use_by}".split()) in text, (unit, code, text)
        assert "".join(status.split()) in text, (unit, code, text)
        assert ("DONOTUSE禁止使用" in text) == do_not_use, (unit, code, text)
        assert ("-80°C" in text) == (state not in ("thawed",)), (unit, code, text)  # thawed: kept at 2-8 °C
        for dpi in (203, 300):
            assert f"LIMS:DU:{unit}" in zplcheck.pdf_decodes_frosted(r.data, layout.symbology, dpi), (unit, code, dpi)
        for dots in (8, 12):
            app.config["ZPL_DOTS_PER_MM"] = dots
            z = _print(browser, unit, code, "zpl")
            assert z.status_code == 200, (unit, code, dots)
            job = z.data.decode()
            zplcheck.check_zpl_fits(layout, job, dots)
            assert zplcheck.zpl_decodes_frosted(job, layout.symbology, dots)[0] == [f"LIMS:DU:{unit}"]
            latin = _latin(job)
            assert f"{word} {use_by}" in latin and status.split()[0] in latin, (unit, code, dots, latin)
            assert ("DO NOT USE" in latin) == do_not_use, (unit, code, dots)
        app.config["ZPL_DOTS_PER_MM"] = 8
    return refused


def test_every_stock_prints_each_effective_state_in_pdf_and_zpl(app, clinic):
    tech = clinic.tech
    quarantined_batch(clinic)
    now = to_lab(utcnow())
    ok(
        tech.post(
            f"/units/{THAWED}/thaw", {"thaw-thawed_at": now.strftime("%Y-%m-%dT%H:%M")}, token_from=f"/units/{THAWED}"
        )
    )
    craft_unit(EXPIRED, expires_at=utcnow() - timedelta(minutes=1))
    assert page_use_by(tech, THAWED) == (now + timedelta(hours=6)).strftime("%Y-%m-%d %H:%M CST")
    for unit, state in ((RELEASED, "released"), (QUARANTINED, "quarantined"), (THAWED, "thawed"), (EXPIRED, "expired")):
        assert check_unit_on_every_stock(app, tech, unit, state) == ["cryovial_25x13"], (unit, state)
    # The donor's ESBL result: QA's hold keeps the unreleased batch on hold and recalls the released one.
    ok(hold(clinic, esbl_positive(clinic)))
    assert check_unit_on_every_stock(app, tech, "FMT-20261123-02-02", "held") == ["cryovial_25x13"]
    assert check_unit_on_every_stock(app, tech, UNITS[3], "recalled") == ["cryovial_25x13"]
