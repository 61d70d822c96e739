"""Labels as ZPL II for Zebra printers (one ^XA...^XZ format per label).

Positions come from the same layout as the PDF, converted at the printer's
dots per mm (8 = 203 dpi, 12 = 300 dpi). Text is sent as UTF-8 (^CI28) with
field hex escapes (^FH) so a caret or tilde in data cannot become a command;
Chinese text needs a CJK font on the printer (LIMS_ZPL_FONT).
"""
from __future__ import annotations

from .layouts import Layout
from .qr import QUIET_ZONE
from .qr import modules as qr_modules

PT_MM = 0.3528


def _escape(text: str) -> str:
    out = []
    for ch in text:
        if ch in "^~_":
            out.append("_%02X" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def send(job: str, address: str, timeout: float = 5.0) -> None:
    """Send a job to a Zebra printer's raw port (host:9100). Raises OSError when the printer does not take it."""
    import socket

    host, _sep, port = address.rpartition(":")
    with socket.create_connection((host or address, int(port or 9100)), timeout=timeout) as conn:
        conn.sendall(job.encode("utf-8"))


def render(layout: Layout, contents: list, dots_per_mm: int = 8, font: str = "0") -> str:
    labels = []
    for content in contents:
        modules = qr_modules(content.payload)
        size_dots = layout.qr_size_mm * dots_per_mm
        magnification = max(1, min(10, int(size_dots // (modules + 2 * QUIET_ZONE))))
        quiet = QUIET_ZONE * magnification
        qx = round(layout.qr_x_mm * dots_per_mm) + quiet
        qy = round(layout.qr_y_mm * dots_per_mm) + quiet
        lines = ["^XA", "^CI28", f"^PW{round(layout.width_mm * dots_per_mm)}", f"^LL{round(layout.height_mm * dots_per_mm)}",
                 # ^BQ's field origin sits ~10 dots above the symbol on Zebra firmware; the quiet zone is left blank
                 f"^FO{qx},{max(0, qy - 10)}^BQN,2,{magnification}^FDQA,{content.payload}^FS"]
        for f in layout.fields:
            text = content.texts.get(f.field) or ""
            if not text:
                continue
            h = max(10, round(f.font_pt * PT_MM * dots_per_mm * 1.1))
            y = max(0, round(f.y_mm * dots_per_mm) - h)
            width = round(f.max_width_mm * dots_per_mm)
            font_cmd = f"^A{font}N,{h},{h}" if font != "@" else f"^A@N,{h},{h}"
            lines.append(f"^FO{round(f.x_mm * dots_per_mm)},{y}{font_cmd}^FB{width},1,0,L^FH_^FD{_escape(text)}^FS")
        lines.append("^XZ")
        labels.append("\n".join(lines))
    return "\n".join(labels) + "\n"
