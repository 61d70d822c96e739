"""Label layouts are data: one JSON file per label stock in the top-level ``labels/`` folder.

A layout names its size in mm, the code's square (position, size, symbology
and the longest payload it must carry) and the fields it prints with their
positions (mm from the label's top-left corner to the text baseline) and
fonts. A new stock is a new file; a malformed file is refused with a message
naming the file and the field, and so is a code square in which the longest
payload would get modules below 0.5 mm (lims/labels/codes.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import codes

LAYOUT_DIR = Path(__file__).resolve().parent.parent.parent / "labels"
FIELDS = (
    "product",
    "product_zh",
    "id",
    "donor",
    "dates",
    "date",
    "expiry",
    "volume_storage",
    "status",
    "statement",
    "keep_until",
    "name",
    "location",
)


# The longest payload a stock carries unless its file says otherwise: LIMS:DU:FMT-20261123-01-03 and its kin
# with room to spare; storage-location codes can be longer and print on a stock whose code square holds them.
DEFAULT_MAX_PAYLOAD = 32


class LayoutError(ValueError):
    """A malformed layout file; the message names the file and the field."""


@dataclass(frozen=True)
class FieldSpec:
    field: str
    x_mm: float
    y_mm: float
    font_pt: float
    bold: bool
    max_width_mm: float


@dataclass(frozen=True)
class Sheet:
    page_width_mm: float
    page_height_mm: float
    columns: int
    rows: int
    left_mm: float
    top_mm: float
    gap_x_mm: float
    gap_y_mm: float


@dataclass(frozen=True)
class Layout:
    code: str  # the file name without .json
    name: str
    width_mm: float
    height_mm: float
    qr_x_mm: float
    qr_y_mm: float
    qr_size_mm: float
    fields: tuple[FieldSpec, ...]
    sheet: Sheet | None = None
    release_only: bool = False  # a release label: dose units print on it only once released
    name_zh: str = ""  # the stock's name for zh_CN users (the English name when empty)
    symbology: str = "qr"  # "qr" or "datamatrix", the same in PDF and ZPL
    max_payload_chars: int = DEFAULT_MAX_PAYLOAD

    def display_name(self, locale: str | None) -> str:
        """The name a user of ``locale`` reads in the stock chooser."""
        return self.name_zh if self.name_zh and (locale or "").startswith("zh") else self.name


def _num(data: dict, key: str, where: str, integer: bool = False):
    """A number from the file: sizes, fonts and counts above zero, positions zero or more."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LayoutError(f"{where}: '{key}' must be a number")
    if integer and int(value) != value:
        raise LayoutError(f"{where}: '{key}' must be a whole number")
    positive = integer or not (key.startswith(("x_", "y_", "left_", "top_", "gap_")))
    if value < 0 or (positive and value == 0):
        raise LayoutError(f"{where}: '{key}' must be {'above zero' if positive else 'zero or more'} (is {value})")
    return int(value) if integer else float(value)


def parse_layout(code: str, data, source: str) -> Layout:
    """A layout from its parsed JSON; ``source`` (the file name) prefixes every error."""
    if not isinstance(data, dict):
        raise LayoutError(f"{source}: the file must hold one JSON object")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise LayoutError(f"{source}: 'name' must be a non-empty text")
    width, height = _num(data, "width_mm", source), _num(data, "height_mm", source)
    qr = data.get("qr")
    if not isinstance(qr, dict):
        raise LayoutError(f"{source}: 'qr' must be an object with x_mm, y_mm and size_mm")
    qx, qy, qs = (
        _num(qr, "x_mm", f"{source}: qr"),
        _num(qr, "y_mm", f"{source}: qr"),
        _num(qr, "size_mm", f"{source}: qr"),
    )
    if qx + qs > width + 1e-9 or qy + qs > height + 1e-9:
        raise LayoutError(
            f"{source}: qr: the {qs:g} mm code at ({qx:g}, {qy:g}) does not fit the {width:g} x {height:g} mm label"
        )
    symbology = qr.get("symbology", "qr")
    if symbology not in codes.SYMBOLOGIES:
        raise LayoutError(f"{source}: qr: 'symbology' must be one of {', '.join(codes.SYMBOLOGIES)}")
    longest = (
        _num(qr, "max_payload_chars", f"{source}: qr", integer=True)
        if "max_payload_chars" in qr
        else DEFAULT_MAX_PAYLOAD
    )
    total = codes.worst_case_modules(longest, symbology) + 2 * codes.quiet_zone(symbology)
    if not codes.large_enough(qs, total):
        raise LayoutError(
            f"{source}: qr: a {longest}-character payload needs {total} modules: at {qs:g} mm they would "
            f"be {qs / total:.2f} mm, {codes.module_dots(qs, total, 8)} dots at 203 dpi and "
            f"{codes.module_dots(qs, total, 12)} at 300 dpi "
            f"(at least {codes.MIN_MODULE_MM:g} mm, 4 and 6 dots)"
        )
    name_zh = data.get("name_zh", "")
    if not isinstance(name_zh, str):
        raise LayoutError(f"{source}: 'name_zh' must be a text")
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise LayoutError(f"{source}: 'fields' must be a non-empty list")
    fields = []
    for i, f in enumerate(raw_fields, start=1):
        where = f"{source}: field {i}"
        if not isinstance(f, dict):
            raise LayoutError(f"{where}: must be an object")
        fname = f.get("field")
        if fname not in FIELDS:
            raise LayoutError(f"{where}: unknown field {fname!r} (known: {', '.join(FIELDS)})")
        where = f"{source}: field '{fname}'"
        spec = FieldSpec(
            fname,
            _num(f, "x_mm", where),
            _num(f, "y_mm", where),
            _num(f, "font_pt", where),
            bool(f.get("bold", False)),
            _num(f, "max_width_mm", where),
        )
        if spec.x_mm + spec.max_width_mm > width + 1e-9 or spec.y_mm > height + 1e-9:
            raise LayoutError(f"{where}: does not fit the {width:g} x {height:g} mm label")
        if spec.y_mm < spec.font_pt * 0.3528 * 0.7:
            raise LayoutError(
                f"{where}: the text would stick out above the label (y_mm {spec.y_mm:g} for {spec.font_pt:g} pt)"
            )
        fields.append(spec)
    sheet = None
    if data.get("sheet") is not None:
        s = data["sheet"]
        if not isinstance(s, dict):
            raise LayoutError(f"{source}: 'sheet' must be an object")
        w = f"{source}: sheet"
        sheet = Sheet(
            _num(s, "page_width_mm", w),
            _num(s, "page_height_mm", w),
            _num(s, "columns", w, integer=True),
            _num(s, "rows", w, integer=True),
            _num(s, "left_mm", w),
            _num(s, "top_mm", w),
            _num(s, "gap_x_mm", w),
            _num(s, "gap_y_mm", w),
        )
        if (
            sheet.left_mm + sheet.columns * width + (sheet.columns - 1) * sheet.gap_x_mm > sheet.page_width_mm + 1e-9
            or sheet.top_mm + sheet.rows * height + (sheet.rows - 1) * sheet.gap_y_mm > sheet.page_height_mm + 1e-9
        ):
            raise LayoutError(f"{w}: {sheet.columns} x {sheet.rows} labels do not fit the page")
    release_only = data.get("release_only", False)
    if not isinstance(release_only, bool):
        raise LayoutError(f"{source}: 'release_only' must be true or false")
    return Layout(
        code,
        name.strip(),
        width,
        height,
        qx,
        qy,
        qs,
        tuple(fields),
        sheet,
        release_only,
        name_zh.strip(),
        symbology,
        longest,
    )


def load_layout(path: Path) -> Layout:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise LayoutError(f"{path.name}: not valid JSON (line {err.lineno}, column {err.colno})") from None
    return parse_layout(path.stem, data, path.name)


def all_layouts(directory: Path = LAYOUT_DIR) -> dict[str, Layout]:
    """Every layout in the folder, by code; one bad file stops with its error (labels must never print wrong)."""
    return {p.stem: load_layout(p) for p in sorted(directory.glob("*.json"))}
