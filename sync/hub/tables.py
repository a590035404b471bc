"""Tables out of the hub for people: CSV, XLSX and SVG bar charts, made here with no library
and nothing fetched (county networks are closed), and values as the pages show them. Pure:
rows in, bytes or text out."""

from __future__ import annotations

import csv
import html
import io
import zipfile
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from sync.validate import CHINA_TZ

Row = Sequence[object]


def to_csv(headers: Row, rows: Sequence[Row]) -> bytes:
    """UTF-8 with a byte-order mark, which is how Excel on a county PC knows it is UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _column(n: int) -> str:
    name = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        name = chr(65 + rest) + name
    return name


def _cell(ref: str, value: object) -> str:
    if isinstance(value, bool) or value is None:
        value = "" if value is None else str(value)
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(str(value))}</t></is></c>'


def to_xlsx(sheet: str, headers: Row, rows: Sequence[Row]) -> bytes:
    """A one-sheet workbook (Office Open XML, inline strings): what Excel and WPS open."""
    lines = []
    for r, row in enumerate([headers, *rows], start=1):
        cells = "".join(_cell(f"{_column(c)}{r}", v) for c, v in enumerate(row))
        lines.append(f'<row r="{r}">{cells}</row>')
    parts = {
        "[Content_Types].xml":
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels":
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml":
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheets><sheet name="{escape(sheet[:31])}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels":
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml":
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f'<sheetData>{"".join(lines)}</sheetData></worksheet>',
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in parts.items():
            book.writestr(name, text)
    return out.getvalue()


def bars(items: Sequence[tuple[str, float]], top: float, unit: str = "", width: int = 560) -> str:
    """A horizontal bar chart as inline SVG: one bar per (label, value), scaled to `top`."""
    row, label_w = 26, 170
    height = row * len(items) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" class="chart">']
    for n, (label, value) in enumerate(items):
        y = 5 + n * row
        length = 0 if top <= 0 else max(0.0, min(1.0, value / top)) * (width - label_w - 70)
        shown = f"{value:.1f}{unit}" if isinstance(value, float) else f"{value}{unit}"
        parts.append(f'<text x="0" y="{y + 16}" font-size="13">{html.escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="16" fill="#1d4e89"/>'
                     f'<text x="{label_w + length + 6:.1f}" y="{y + 16}" font-size="13">'
                     f'{html.escape(shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def when(iso: str | None) -> str:
    """A stored UTC time as county IT reads it: Beijing time, to the second."""
    if not iso:
        return "—"
    at = datetime.fromisoformat(iso).astimezone(CHINA_TZ)
    return at.strftime("%Y-%m-%d %H:%M:%S")


def shown(value: Any) -> str:
    """A figure in a table: a rate (a float up to 1) as a percentage, nothing as a dash."""
    if isinstance(value, float):
        return f"{value * 100:.1f} %" if value <= 1 else f"{value:.1f}"
    return "—" if value is None else str(value)
