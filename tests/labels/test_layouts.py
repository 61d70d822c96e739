"""Layouts are data: every shipped file loads; a malformed one names the file and the field."""

import json

import pytest

from lims.labels.layouts import LayoutError, all_layouts, load_layout, parse_layout

GOOD = {
    "name": "Test 50 x 30",
    "width_mm": 50,
    "height_mm": 30,
    "qr": {"x_mm": 1, "y_mm": 1, "size_mm": 22},
    "fields": [{"field": "id", "x_mm": 24, "y_mm": 10, "font_pt": 7, "bold": True, "max_width_mm": 25}],
}


def test_shipped_layouts_load_with_their_sizes():
    layouts = all_layouts()
    assert {k: (v.width_mm, v.height_mm) for k, v in layouts.items()} == {
        "tube_50x30": (50, 30),
        "cryovial_25x13": (25, 13),
        "dosebag_100x60": (100, 60),
        "a4_sheet_50x30": (50, 30),
    }
    assert layouts["a4_sheet_50x30"].sheet.columns * layouts["a4_sheet_50x30"].sheet.rows == 36
    assert layouts["dosebag_100x60"].release_only and not layouts["tube_50x30"].release_only


def test_a_new_stock_is_a_new_file(tmp_path):
    (tmp_path / "bag_70x40.json").write_text(
        json.dumps({**GOOD, "name": "Bag 70 x 40", "width_mm": 70, "height_mm": 40})
    )
    assert all_layouts(tmp_path)["bag_70x40"].width_mm == 70


def _broken(**changes):
    data = json.loads(json.dumps(GOOD))
    for path, value in changes.items():
        target = data
        keys = path.split("__")
        for k in keys[:-1]:
            target = target[int(k)] if k.isdigit() else target[k]
        target[keys[-1]] = value
    return data


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"name": ""}, "bad.json: 'name' must be a non-empty text"),
        ({"width_mm": "50"}, "bad.json: 'width_mm' must be a number"),
        ({"height_mm": 0}, "bad.json: 'height_mm' must be above zero"),
        ({"qr__size_mm": 40}, "bad.json: qr: the 40 mm code at (1, 1) does not fit the 50 x 30 mm label"),
        ({"fields__0__field": "colour"}, "bad.json: field 1: unknown field 'colour'"),
        ({"fields__0__font_pt": -1}, "bad.json: field 'id': 'font_pt' must be above zero"),
        ({"fields__0__x_mm": 30}, "bad.json: field 'id': does not fit the 50 x 30 mm label"),
        ({"fields__0__y_mm": 1}, "bad.json: field 'id': the text would stick out above the label"),
        ({"fields": []}, "bad.json: 'fields' must be a non-empty list"),
        ({"release_only": "yes"}, "bad.json: 'release_only' must be true or false"),
        ({"name_zh": 5}, "bad.json: 'name_zh' must be a text"),
        ({"qr__symbology": "aztec"}, "bad.json: qr: 'symbology' must be one of qr, datamatrix"),
        ({"qr__max_payload_chars": 0}, "bad.json: qr: 'max_payload_chars' must be above zero"),
        # the old cryovial: a 12 mm QR for 22 characters (byte mode at worst: version 3 and its 4-module quiet zone)
        (
            {"qr__size_mm": 12, "qr__max_payload_chars": 22},
            "bad.json: qr: a 22-character payload needs 37 modules: at 12 mm they would be 0.32 mm, 2 dots at 203 dpi",
        ),
        (
            {
                "sheet": {
                    "page_width_mm": 210,
                    "page_height_mm": 297,
                    "columns": 5,
                    "rows": 9,
                    "left_mm": 5,
                    "top_mm": 10,
                    "gap_x_mm": 0,
                    "gap_y_mm": 0,
                }
            },
            "bad.json: sheet: 5 x 9 labels do not fit the page",
        ),
        (
            {
                "sheet": {
                    "page_width_mm": 210,
                    "page_height_mm": 297,
                    "columns": 2.5,
                    "rows": 9,
                    "left_mm": 5,
                    "top_mm": 10,
                    "gap_x_mm": 0,
                    "gap_y_mm": 0,
                }
            },
            "bad.json: sheet: 'columns' must be a whole number",
        ),
    ],
)
def test_malformed_layout_names_the_file_and_the_field(changes, message):
    with pytest.raises(LayoutError) as err:
        parse_layout("bad", _broken(**changes), "bad.json")
    assert str(err.value).startswith(message), str(err.value)


def test_invalid_json_names_the_file_and_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"name": "x",\n "width_mm": }')
    with pytest.raises(LayoutError, match=r"broken.json: not valid JSON \(line 2"):
        load_layout(path)


def test_the_code_square_must_give_half_millimetre_modules_for_the_longest_payload():
    """At the boundary: 20 x 20 Data Matrix + quiet zone = 22 modules, 11 mm is 0.5 mm and 4 / 6 whole dots."""
    data = json.loads(json.dumps(GOOD))
    data["qr"] = {"x_mm": 1, "y_mm": 1, "size_mm": 11, "symbology": "datamatrix", "max_payload_chars": 22}
    assert parse_layout("dm", data, "dm.json").symbology == "datamatrix"
    data["qr"]["size_mm"] = 10.9
    with pytest.raises(LayoutError, match=r"dm.json: qr: a 22-character payload needs 22 modules: at 10.9 mm"):
        parse_layout("dm", data, "dm.json")
    data["qr"] = {"x_mm": 1, "y_mm": 1, "size_mm": 11, "symbology": "datamatrix", "max_payload_chars": 23}
    with pytest.raises(LayoutError, match="a 23-character payload needs 24 modules"):  # the next symbol, 22 x 22
        parse_layout("dm", data, "dm.json")


def test_every_shipped_stock_has_a_chinese_name_shown_to_zh_users():
    for layout in all_layouts().values():
        assert layout.name_zh and layout.display_name("zh_CN") == layout.name_zh
        assert layout.display_name("en") == layout.name
    plain = parse_layout("plain", GOOD, "plain.json")  # name_zh is optional: zh users read the English name
    assert plain.name_zh == "" and plain.display_name("zh_CN") == "Test 50 x 30"
