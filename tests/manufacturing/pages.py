"""Reading what a page says: the error box, typed values kept in a form, refusals."""

from __future__ import annotations

import html
import re

from tests.conftest import page_text


def error_of(resp) -> str:
    """The refusal shown in the page's error box."""
    m = re.search(r'<div class="flash flash-error" role="alert">(.*?)</div>', page_text(resp), re.S)
    assert m, "no error box in the page:\n" + page_text(resp)[:3000]
    return " ".join(m.group(1).split())


def forbidden(resp):
    assert resp.status_code == 403, page_text(resp)[:3000]
    assert "Your roles do not allow this." in page_text(resp)


def refused(resp, status, *sentences) -> str:
    """The response has this status and its error box says each sentence."""
    assert resp.status_code == status, page_text(resp)[:3000]
    err = error_of(resp)
    for s in sentences:
        assert s in err, (s, err)
    return err


def input_value(resp, name) -> str:
    m = re.search(rf'<input\b[^>]*\bname="{re.escape(name)}"[^>]*>', resp.get_data(as_text=True))
    assert m, f"no <input name={name}> in the page"
    v = re.search(r'\bvalue="([^"]*)"', m.group(0))
    return html.unescape(v.group(1)) if v else ""


def textarea_value(resp, name) -> str:
    m = re.search(
        rf'<textarea\b[^>]*\bname="{re.escape(name)}"[^>]*>(.*?)</textarea>', resp.get_data(as_text=True), re.S
    )
    assert m, f"no <textarea name={name}> in the page"
    return html.unescape(m.group(1)).strip()
