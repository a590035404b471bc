"""Spreadsheets in: a township's Excel or CSV sheet read, its columns matched to a schema
entity, and every cell checked by the same rules as any other entry (`sync.validate`).

Pure apart from opening the file: `read_sheet` turns bytes into a `Sheet`; `parse_map`,
`match_columns` and `check_sheet` are functions of data. `station.imports` runs them against a
store and writes the good rows in one transaction.

Row numbers are the spreadsheet's own (the header is row 1) and columns are letters with their
header, so a clerk finds the bad cell where Excel or WPS shows it.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from sync.errors import ValidationError
from sync.schema import EntityDef, FieldDef, Schema
from sync.validate import validate_record, validate_value

# Given an entity and a row's checked values, the id of a record already registered with the
# same identity (ID number, credit code), or None. Wired by the lead to the duplicate finder;
# the import only reports what it returns.
Duplicates = Callable[[str, dict[str, object]], str | None]
ScopeCheck = Callable[[EntityDef, Mapping[str, object]], None]

SKIP = "-"  # a map entry `表头 = -` leaves that column out on purpose
LIST_SEPARATORS = re.compile(r"[、，,；;\n]+")  # how clerks put several values in one cell
# Dates as clerks type them in a text cell: 1990年1月2日, 1990.1.2, 1990/1/2.
LOOSE_DATE = re.compile(r"([0-9]{4})\s*[年./-]\s*([0-9]{1,2})\s*[月./-]\s*([0-9]{1,2})\s*日?")
REQUIRED_MARKS = "*＊ "  # a template's "姓名*": the mark says required, the name is 姓名


@dataclass(frozen=True)
class Sheet:
    """The header and the non-empty rows of a sheet, each with its spreadsheet row number."""

    headers: tuple[str, ...]
    rows: tuple[tuple[int, tuple[object, ...]], ...]


@dataclass(frozen=True)
class Column:
    """A column of the sheet that feeds a field."""

    index: int
    header: str
    field: FieldDef

    @property
    def letter(self) -> str:
        return column_letter(self.index)


@dataclass(frozen=True)
class CellError:
    """A bad cell: where it is (row, column letter and header; no column when a required
    field has none) and the rule it broke."""

    row: int
    column: str | None
    header: str | None
    error: ValidationError

    @property
    def zh(self) -> str:
        where = f"第 {self.row} 行 {self.column} 列（{self.header}）" if self.column else \
            f"第 {self.row} 行"
        return f"{where}：字段 {self.error.field}：{self.error.detail_zh}（规则 {self.error.rule}）"

    @property
    def en(self) -> str:
        where = f"row {self.row}, column {self.column} ({self.header})" if self.column else \
            f"row {self.row}"
        return f"{where}: field {self.error.field}: {self.error.detail_en} (rule {self.error.rule})"

    def short(self, lang: str) -> str:
        """Where and what, without the field's and the rule's code names: for a kiosk's
        report, read by a clerk who knows the column, not the schema."""
        if lang == "zh":
            where = f"第 {self.row} 行 {self.column} 列（{self.header}）" if self.column else \
                f"第 {self.row} 行（{self.error.field}）"
            return f"{where}：{self.error.detail_zh}"
        where = f"row {self.row}, column {self.column} ({self.header})" if self.column else \
            f"row {self.row} ({self.error.field})"
        return f"{where}: {self.error.detail_en}"

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"


@dataclass(frozen=True)
class Duplicate:
    """A row whose person or organisation is already registered, as record `existing`."""

    row: int
    existing: str

    @property
    def zh(self) -> str:
        return f"第 {self.row} 行：已登记为记录 {self.existing}（重复）"

    @property
    def en(self) -> str:
        return f"row {self.row}: already registered as record {self.existing} (duplicate)"

    def short(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"


@dataclass
class Report:
    """What a check of the whole sheet found: the rows ready to write, the bad cells, the
    duplicates. Nothing may be written unless both lists are empty."""

    good: list[tuple[int, dict[str, object]]] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.duplicates

    @property
    def rows(self) -> int:
        return len(self.good) + len({e.row for e in self.errors} | {d.row for d in self.duplicates})


class SheetError(ValidationError):
    """The file or the map cannot be read as a sheet of that entity (before any cell)."""


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA: the column as a spreadsheet names it."""
    name = ""
    n = index + 1
    while n:
        n, rest = divmod(n - 1, 26)
        name = chr(65 + rest) + name
    return name


# ---------------------------------------------------------------------- reading

def decode_csv(data: bytes) -> str:
    """UTF-8 with or without a byte-order mark, otherwise GB18030 (what Chinese Excel and WPS
    write when saving "CSV"); GB18030 maps every byte sequence, so a file in neither is
    refused by its replacement characters rather than read as nonsense."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise SheetError("file", "encoding", "无法识别文件编码（应为 UTF-8 或 GB18030）",
                         "the file is neither UTF-8 nor GB18030") from None


def _clean_header(value: object) -> str:
    return unicodedata.normalize("NFKC", "" if value is None else str(value)).strip()


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _sheet(table: Iterator[Sequence[object]]) -> Sheet:
    try:
        header = next(table)
    except StopIteration:
        raise SheetError("file", "header", "表格是空的：第 1 行应为表头",
                         "the sheet is empty: row 1 should hold the headers") from None
    headers = [_clean_header(h) for h in header]
    while headers and not headers[-1]:
        headers.pop()
    rows = []
    for number, row in enumerate(table, start=2):
        cells = tuple(row[: len(headers)]) + (None,) * (len(headers) - len(row))
        if not all(_blank(c) for c in cells):
            rows.append((number, cells))
    return Sheet(tuple(headers), tuple(rows))


def read_csv(data: bytes) -> Sheet:
    return _sheet(iter(csv.reader(io.StringIO(decode_csv(data), newline=""))))


def read_xlsx(data: bytes) -> Sheet:
    """The first sheet of a workbook, cell values as Excel holds them (numbers, dates, text)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise SheetError("file", "xlsx", f"不是有效的 Excel 文件（.xlsx）：{exc}",
                         f"not a valid Excel (.xlsx) file: {exc}") from None
    try:
        return _sheet(iter(book.worksheets[0].iter_rows(values_only=True)))
    finally:
        book.close()


def read_sheet(path: Path) -> Sheet:
    """A .xlsx or .csv file as a Sheet (by its name: .xls, Excel 97, is not read)."""
    kind = path.suffix.lower()
    if kind not in (".xlsx", ".csv"):
        raise SheetError("file", "file_type", f"只能导入 .xlsx 或 .csv 文件，不是 {kind or '无扩展名'}",
                         f"only .xlsx or .csv files can be imported, not {kind or 'no extension'}")
    data = path.read_bytes()
    return read_xlsx(data) if kind == ".xlsx" else read_csv(data)


# ---------------------------------------------------------------------- columns

def parse_map(text: str, entity: EntityDef) -> dict[str, str]:
    """A `--map` file: one `表头 = field_name` a line (`表头 = -` leaves the column out);
    blank lines and lines starting with # are ignored. A bad entry names its line."""
    mapping: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = unicodedata.normalize("NFKC", raw).strip()
        if not line or line.startswith("#"):
            continue
        header, sep, name = (part.strip() for part in line.partition("="))
        if not sep or not header or not name:
            raise SheetError("--map", "map_line", f"第 {number} 行应为“表头 = 字段名”",
                             f"line {number} should read 'header = field_name'")
        if name != SKIP and name not in entity.by_name:
            raise SheetError("--map", "map_field",
                             f"第 {number} 行：“{entity.label_zh}”没有字段 {name}",
                             f"line {number}: {entity.name} has no field {name!r}")
        if header in mapping:
            raise SheetError("--map", "map_repeat", f"第 {number} 行：表头“{header}”已在前面出现",
                             f"line {number}: the header {header!r} is mapped twice")
        mapping[header] = name
    return mapping


def match_columns(entity: EntityDef, headers: Sequence[str],
                  mapping: Mapping[str, str] | None = None) -> list[Column]:
    """Each column's field: from the map first, else by the field's Chinese label, English
    label or name. A column that matches nothing, or a field fed by two columns, is refused
    (naming the column), since a silently dropped column loses a township's data."""
    mapping = mapping or {}
    by_header: dict[str, FieldDef] = {}
    for known in entity.fields:
        for key in (known.label_zh, known.label_en.casefold(), known.name.casefold()):
            by_header.setdefault(key, known)
    missing = sorted(set(mapping) - set(headers))
    if missing:
        raise SheetError("--map", "map_header", f"表格中没有表头“{missing[0]}”",
                         f"the sheet has no header {missing[0]!r}")
    columns: list[Column] = []
    taken: dict[str, Column] = {}
    for index, header in enumerate(headers):
        name = mapping.get(header)
        if name == SKIP or (not header and name is None):
            continue
        bare = header.strip(REQUIRED_MARKS)
        f: FieldDef | None = entity.by_name[name] if name else by_header.get(
            bare) or by_header.get(bare.casefold())
        letter = column_letter(index)
        if f is None:
            raise SheetError(header, "column", f"第 {letter} 列“{header}”对应不到“{entity.label_zh}”"
                             f"的任何字段；请改表头或用 --map（“{header} = -”可略过此列）",
                             f"column {letter} {header!r} matches no field of {entity.name}; rename"
                             f" it or use --map ('{header} = -' leaves it out)")
        if f.name in taken:
            raise SheetError(header, "column", f"第 {taken[f.name].letter} 列和第 {letter} 列都对应"
                             f"字段 {f.name}", f"columns {taken[f.name].letter} and {letter} both"
                             f" feed the field {f.name}")
        taken[f.name] = column = Column(index, header, f)
        columns.append(column)
    return columns


# ---------------------------------------------------------------------- cells

def _text_of(value: object) -> str:
    """A cell as text: Excel keeps an ID or phone number typed without a quote as a number
    (13912345678.0), and a date as a datetime."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return unicodedata.normalize("NFKC", str(value)).strip()


def _code_of(f: FieldDef, schema: Schema, value: object) -> object:
    """A code table cell holds the code or its label (性别: 1, 男性 or 男). Excel drops a
    code's leading zero when it was typed as a number (01 → 1); a label may be shortened to
    any beginning that only one label has (男 for 男性). Anything else is left for the code
    table rule to refuse."""
    text = _text_of(value)
    table = schema.code_tables.get(f.code_table or "")
    if table is None or text in table.by_code:
        return text
    current = [entry for entry in table.values if not entry.deprecated]
    if text.isdigit():
        padded = [e.code for e in current if e.code.isdigit() and e.code.lstrip("0") == text]
        return padded[0] if len(padded) == 1 else text
    for entry in current:
        if text == entry.label_zh or text.casefold() == entry.label_en.casefold():
            return entry.code
    starts = [entry.code for entry in current if entry.label_zh.startswith(text)]
    return starts[0] if len(starts) == 1 else text


def cell_value(f: FieldDef, schema: Schema, value: object) -> object:
    """What a spreadsheet cell means for the field, in the form `validate_value` checks."""
    if _blank(value):
        return None
    if f.type in ("codes", "refs", "texts"):
        item = _code_of if f.type == "codes" else (lambda _f, _s, v: _text_of(v))
        return [item(f, schema, part) for part in LIST_SEPARATORS.split(_text_of(value))
                if part.strip()]
    if f.type == "code":
        return _code_of(f, schema, value)
    if f.type in ("integer", "number") and isinstance(value, int | float):
        return value
    if f.type == "boolean":
        text = _text_of(value)
        return {"是": True, "否": False, "1": True, "0": False, "true": True,
                "false": False}.get(text.casefold(), text)
    if f.type == "datetime" and isinstance(value, datetime):
        return value.isoformat()
    if f.type == "date":
        loose = LOOSE_DATE.fullmatch(_text_of(value))
        if loose:
            return f"{loose[1]}-{int(loose[2]):02d}-{int(loose[3]):02d}"
    return _text_of(value)


# ---------------------------------------------------------------------- rows

def _check_row(entity: EntityDef, schema: Schema, number: int, cells: Sequence[object],
               columns: Sequence[Column], today: date, scope: ScopeCheck | None
               ) -> tuple[dict[str, object] | None, list[CellError]]:
    """One row: every cell on its own first (so a dry run lists all of a row's bad cells),
    then the record as a whole (required fields, values derived from the ID number, scope)."""
    raw: dict[str, object] = {}
    errors: list[CellError] = []
    for column in columns:
        value = cell_value(column.field, schema, cells[column.index])
        try:
            validate_value(column.field, value, schema, today=today)
        except ValidationError as exc:
            errors.append(CellError(number, column.letter, column.header, exc))
        if value is not None:
            raw[column.field.name] = value
    if errors:
        return None, errors
    by_field = {c.field.name: c for c in columns}
    try:
        values = validate_record(entity, raw, schema, today=today)
        if scope is not None:
            scope(entity, values)
    except ValidationError as exc:
        at = by_field.get(exc.field)
        return None, [CellError(number, at.letter if at else None, at.header if at else None,
                                exc)]
    return values, []


def check_sheet(entity: EntityDef, schema: Schema, sheet: Sheet, columns: Sequence[Column], *,
                today: date, scope: ScopeCheck | None = None, duplicates: Duplicates | None = None,
                step: Callable[[int], None] | None = None) -> Report:
    """Check every row; `step(1)` after each (a progress bar). Nothing is written here."""
    report = Report()
    for number, cells in sheet.rows:
        values, errors = _check_row(entity, schema, number, cells, columns, today, scope)
        report.errors += errors
        if values is not None:
            existing = duplicates(entity.name, values) if duplicates is not None else None
            if existing is not None:
                report.duplicates.append(Duplicate(number, existing))
            else:
                report.good.append((number, values))
        if step is not None:
            step(1)
    return report
