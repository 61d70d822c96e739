"""The embedded report font: one TrueType face with Latin and Chinese glyphs, subset into each PDF.

Embedding (rather than a viewer's CID font) keeps Chinese text printable on any
machine and extractable by copy-paste and pdf text tools.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT = "LimsSans"


class FontMissing(RuntimeError):
    pass


def font_path() -> Path:
    from flask import current_app, has_app_context

    from config import INSTANCE_DIR

    configured = current_app.config.get("REPORT_FONT") if has_app_context() else None
    return Path(configured) if configured else INSTANCE_DIR / "fonts" / "wqy-microhei.ttc"


@cache
def _register(path: str) -> str:
    if not Path(path).is_file():
        raise FontMissing(f"the report font {path} is missing: run bash scripts/setup.sh")
    pdfmetrics.registerFont(TTFont(FONT, path, subfontIndex=0))
    for bold in (0, 1):  # one face: <b> keeps the glyphs (the face has no bold cut)
        for italic in (0, 1):
            addMapping(FONT, bold, italic, FONT)
    return FONT


def register() -> str:
    return _register(str(font_path()))
