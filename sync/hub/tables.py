"""Tables out of the hub for people: CSV, XLSX (openpyxl) and SVG bar charts, nothing fetched
(county networks are closed), and values as the pages show them. Pure: rows in, bytes or text
out."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sync.validate import CHINA_TZ

Row = Sequence[object]


def to_csv(headers: Row, rows: Sequence[Row]) -> bytes:
    """UTF-8 with a byte-order mark, which is how Excel on a county PC knows it is UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(page: Any, value: object) -> object:
    """A figure stays a number Excel can sum; anything else is text, and text stays text even
    when it begins with "=" (a station's name must not run as a formula on a county PC)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    cell = WriteOnlyCell(page, value=ILLEGAL_CHARACTERS_RE.sub("", str(value)))
    cell.data_type = "s"
    return cell


def to_xlsx(sheet: str, headers: Row, rows: Sequence[Row]) -> bytes:
    """A one-sheet workbook written by openpyxl (what Excel and WPS open), the same library
    the station reads township spreadsheets with."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    page = book.create_sheet(title=_sheet_title(sheet))
    page.append([_cell(page, v) for v in headers])
    for row in rows:
        page.append([_cell(page, v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_title(name: str) -> str:
    """Excel's rule for a sheet name: at most 31 characters, none of []:*?/\\."""
    return "".join("_" if c in "[]:*?/\\" else c for c in name)[:31] or "Sheet1"


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
