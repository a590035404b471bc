"""A spreadsheet into the store, all or nothing: what `station import` and the kiosk's import
screen both call. The sheet is read and every row checked (`station.spreadsheet`) before
anything is written; the good rows then go through the store's one write path in a single
transaction, so a refusal, or a failure half-way through the write, leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from station.scope import Scope
from station.spreadsheet import (
    CellError,
    Duplicate,
    Duplicates,
    Report,
    check_sheet,
    match_columns,
    parse_map,
    read_sheet,
)
from station.store import Store
from sync.errors import TownshipError
from sync.schema import EntityDef

# (stage, done, total): stage is "read", "check" or "write"; a progress bar's feed.
OnProgress = Callable[[str, int, int], None]
PROGRESS_STEPS = 200


def _quiet(stage: str, done: int, total: int) -> None:
    pass


def _worth_saying(done: int, total: int) -> bool:
    """At most PROGRESS_STEPS reports a stage, and its end: a report per row of a 20,000-row
    sheet would redraw a terminal's bar 20,000 times and queue as many kiosk messages."""
    return done == total or done % max(1, total // PROGRESS_STEPS) == 0


def duplicate_finder(store: Store) -> Duplicates | None:
    """The duplicate hook both the CLI and the kiosk pass to `import_file`: a row whose ID
    number or credit code is already registered names that record (`Store.registered`, the
    key's blind index), so the sheet is refused with the row before anything is written."""
    def registered_as(entity: str, values: dict[str, object]) -> str | None:
        found = store.registered(entity, values)
        return None if found is None else str(found["id"])
    return registered_as


class ImportRefused(TownshipError):
    """Some cells are bad or some rows are duplicates: nothing of the sheet was saved."""

    def __init__(self, report: Report) -> None:
        problems = len(report.errors) + len(report.duplicates)
        first: CellError | Duplicate = report.errors[0] if report.errors else report.duplicates[0]
        super().__init__(f"{first.zh}；共 {problems} 处问题，未保存任何记录",
                         f"{first.en}; {problems} problem(s) in all, nothing was saved")
        self.report = report


@dataclass
class ImportResult:
    """The check's report, and the ids written (none on a dry run)."""

    report: Report
    ids: list[str] = field(default_factory=list)
    dry_run: bool = False


def import_file(store: Store, entity_name: str, path: Path, map_text: str | None = None, *,
                dry_run: bool = False, duplicates: Duplicates | None = None,
                on_progress: OnProgress = _quiet) -> ImportResult:
    """Read, check and (unless `dry_run`) write a .xlsx or .csv sheet of `entity_name`.

    `duplicates` is the hook for the duplicate finder (issue 22, point 5): each checked row's
    values go to it, and a row it names an existing record for is reported, not written.
    Raises ImportRefused (nothing saved) when any cell is bad or any row is a duplicate."""
    entity = store.schema.entity(entity_name)
    on_progress("read", 0, 1)
    sheet = read_sheet(path)
    columns = match_columns(entity, sheet.headers,
                            parse_map(map_text, entity) if map_text is not None else None)
    on_progress("read", 1, 1)
    scope = Scope.of(store.settings())

    def in_scope(checked: EntityDef, values: Mapping[str, object]) -> None:
        f = checked.by_name.get(checked.scope_field or "")
        grid = values.get(f.name) if f is not None else None
        if f is not None and isinstance(grid, str):
            scope.check(f, grid)

    total = len(sheet.rows)
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if _worth_saying(done, total):
            on_progress("check", done, total)

    on_progress("check", 0, total)
    report = check_sheet(entity, store.schema, sheet, columns, today=store.clock.today(),
                         scope=in_scope, duplicates=duplicates, step=step)
    if dry_run:
        return ImportResult(report, dry_run=True)
    if not report.ok:
        raise ImportRefused(report)
    return ImportResult(report, _write(store, entity_name, report, on_progress))


def _write(store: Store, entity_name: str, report: Report, on_progress: OnProgress) -> list[str]:
    total = len(report.good)

    def rows() -> Iterator[tuple[int, dict[str, object]]]:
        for n, row in enumerate(report.good, start=1):
            yield row
            if _worth_saying(n, total):
                on_progress("write", n, total)

    on_progress("write", 0, total)
    return store.add_lines(entity_name, rows(), action="import")
