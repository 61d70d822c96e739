"""Checks on rendered labels shared by the label tests: ZPL rendered offline with zplkit, codes decoded frosted.

zplkit draws every ZPL field as one SVG path; a field of the job (the commands
after its ^FX marker) is rendered alone to get its ink box, so a box is known
to belong to its field even when a bitmap run is blank.
"""

from __future__ import annotations

import io
import re

import pypdfium2
import zplkit
import zxingcpp
from PIL import Image, ImageEnhance, ImageFilter

from lims.labels.fit import PT_MM

DPI = {8: 203, 12: 300}
FORMATS = {"qr": zxingcpp.BarcodeFormat.QRCode, "datamatrix": zxingcpp.BarcodeFormat.DataMatrix}
# A frosted vial: a Gaussian blur of 0.18 mm and the contrast down to 35 %. The cryovial's old 0.36 mm QR modules
# fail this at 203 and 300 dpi (0 of 18 DN payloads); its Data Matrix at 0.55 mm decodes 18 of 18.
FROST_BLUR_MM, FROST_CONTRAST = 0.18, 0.35


def formats(job: str) -> list[str]:
    return re.findall(r"\^XA.*?\^XZ", job, re.S)


def parts(label: str) -> tuple[list[str], str, dict[str, list[str]]]:
    """(header commands, the code's command, {field: its commands}) of one ^XA...^XZ format."""
    header, code, fields, current = [], "", {}, None
    for line in label.splitlines():
        marker = re.fullmatch(r"\^FX(\w+)\^FS", line)
        if marker:
            current = marker.group(1)
            fields[current] = []
        elif line == "^XZ":
            break
        elif current is not None:
            fields[current].append(line)
        elif "^BQ" in line or "^BX" in line:
            code = line
        else:
            header.append(line)
    return header, code, fields


def ink_box(header: list[str], commands: list[str], dots_per_mm: int):
    """(x0, y0, x1, y1) in dots of everything ``commands`` draw on the label, or None when they draw nothing."""
    scene = zplkit.render("\n".join(header + commands + ["^XZ"]), zplkit.Options(dpi=DPI[dots_per_mm])).labels[0]
    points = [
        (float(x), float(y))
        for path in re.findall(r'<path[^>]*d="([^"]*)"', scene.svg().decode())
        for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", path)
    ]
    if not points:
        return None
    return (min(p[0] for p in points), min(p[1] for p in points), max(p[0] for p in points), max(p[1] for p in points))


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def check_zpl_fits(layout, job: str, dots_per_mm: int) -> list[dict]:
    """Every text box inside its field's box and the label, the code inside its square, no two boxes overlapping.

    Returns per label {field: box}; raises AssertionError naming the label, field and boxes otherwise."""
    d = dots_per_mm
    width, height = layout.width_mm * d, layout.height_mm * d
    out = []
    for n, label in enumerate(formats(job)):
        zplkit.render(label, zplkit.Options(dpi=DPI[d]))  # the whole label renders: no glyph font 0 lacks as text
        header, code, fields = parts(label)
        boxes = {"code": ink_box(header, [code], d)}
        q = (
            layout.qr_x_mm * d,
            layout.qr_y_mm * d,
            (layout.qr_x_mm + layout.qr_size_mm) * d,
            (layout.qr_y_mm + layout.qr_size_mm) * d,
        )
        c = boxes["code"]
        assert c and q[0] - 0.5 <= c[0] and q[1] - 0.5 <= c[1] and c[2] <= q[2] + 0.5 and c[3] <= q[3] + 0.5, (
            n,
            "code",
            c,
            q,
        )
        specs = {f.field: f for f in layout.fields}
        for name, commands in fields.items():
            box = ink_box(header, commands, d)
            if box is None:
                continue
            f = specs[name]
            em = f.font_pt * PT_MM * d  # nominal size: a shrunk field is smaller still
            allowed = (
                f.x_mm * d - 0.5,
                f.y_mm * d - 1.05 * em - 1,
                (f.x_mm + f.max_width_mm) * d + 0.5,
                f.y_mm * d + 0.35 * em + 1,
            )
            assert allowed[0] <= box[0] and allowed[1] <= box[1] and box[2] <= allowed[2] and box[3] <= allowed[3], (
                n,
                name,
                box,
                allowed,
            )
            assert 0 <= box[0] and 0 <= box[1] and box[2] <= width and box[3] <= height, (n, name, box, "label")
            boxes[name] = box
        names = sorted(boxes)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                assert not overlap(boxes[a], boxes[b]), (n, a, boxes[a], b, boxes[b])
        out.append(boxes)
    return out


def frosted(image: Image.Image, dpi: int) -> Image.Image:
    image = image.convert("L").filter(ImageFilter.GaussianBlur(radius=FROST_BLUR_MM * dpi / 25.4))
    return ImageEnhance.Contrast(image).enhance(FROST_CONTRAST)


def read(image: Image.Image, symbology: str) -> list[str]:
    return sorted(r.text for r in zxingcpp.read_barcodes(image) if r.format == FORMATS[symbology])


def zpl_decodes_frosted(job: str, symbology: str, dots_per_mm: int) -> list[list[str]]:
    """The payloads decoded from each label of a ZPL job, rendered by zplkit and frosted."""
    out = []
    for label in formats(job):
        scene = zplkit.render(label, zplkit.Options(dpi=DPI[dots_per_mm])).labels[0]
        out.append(read(frosted(Image.open(io.BytesIO(scene.png())), DPI[dots_per_mm]), symbology))
    return out


def pdf_decodes_frosted(document: bytes, symbology: str, dpi: int, page: int = 0) -> list[str]:
    image = pypdfium2.PdfDocument(document)[page].render(scale=dpi / 72).to_pil()
    return read(frosted(image, dpi), symbology)
