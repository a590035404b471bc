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
# What Excel and WPS read as the start of a formula (OWASP's CSV injection list).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Percent(float):
    """A rate already in percent (75.0 for 3 of 4): shown "75.0 %", exported to CSV as
    "75.0%" (which Excel and WPS read as the number 0.75) and to XLSX as 0.75 in a % format.
    A type of its own, so that no page or export has to guess whether a float is a fraction."""

    def __str__(self) -> str:
        return f"{float(self):.1f} %"


class Label(str):
    """A code shown by its label: the Chinese text, with the English (or the code) kept for
    the page to put beneath it and for the exports ("公安 Police"); `code` for ids and links."""

    en: str
    code: str

    def __new__(cls, zh: str, en: str, code: str) -> Label:
        made = super().__new__(cls, zh)
        made.en, made.code = en, code
        return made

    def both(self) -> str:
        return f"{self} {self.en}" if self.en and self.en != self else str(self)


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, Percent):
        return f"{float(value):.1f}%"
    if isinstance(value, Label):
        value = value.both()
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value  # text, not a formula, in Excel and WPS (OWASP)
    return value


def to_csv(headers: Row, rows: Sequence[Row]) -> bytes:
    """UTF-8 with a byte-order mark, which is how Excel on a county PC knows it is UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_csv_value(v) for v in headers])
    writer.writerows([_csv_value(v) for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(page: Any, value: object) -> object:
    """A figure stays a number Excel can sum; anything else is text, and text stays text even
    when it begins with "=" (a station's name must not run as a formula on a county PC)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:
        return None
    if isinstance(value, Percent):
        rate = WriteOnlyCell(page, value=round(float(value) / 100, 4))
        rate.number_format = PERCENT_FORMAT
        return rate
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = value.both() if isinstance(value, Label) else str(value)
    cell = WriteOnlyCell(page, value=ILLEGAL_CHARACTERS_RE.sub("", text))
    cell.data_type = "s"
    return cell


PERCENT_FORMAT = "0.0%"


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
    """A figure in a table: a rate as a percentage (`Percent`), nothing as a dash."""
    if isinstance(value, float) and not isinstance(value, Percent):
        return f"{value:.1f}"
    return "—" if value is None else str(value)
