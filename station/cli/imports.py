"""`station import ENTITY FILE`: a township's spreadsheet (.xlsx or .csv) in, all or nothing."""

from __future__ import annotations

from pathlib import Path

import click

from station.cli.common import Context, emit, fail
from station.cli.progress import Bars, progress_option, wanted
from station.imports import ImportRefused, duplicate_finder, import_file
from station.spreadsheet import Report, decode_csv


def _problems(report: Report) -> None:
    """Every bad cell and duplicate as JSON lines on stdout, in words (zh, en) too: stderr keeps
    the one line every error gets."""
    for error in report.errors:
        emit({"kind": "cell", "row": error.row, "column": error.column, "header": error.header,
              "field": error.error.field, "rule": error.error.rule, "zh": error.zh,
              "en": error.en})
    for duplicate in report.duplicates:
        emit({"kind": "duplicate", "row": duplicate.row, "existing": duplicate.existing})


@click.command("import")
@click.argument("entity")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--map", "map_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="which column feeds which field: lines of 'header = field_name' ('header = -'"
                   " leaves a column out)")
@click.option("--dry-run", is_flag=True, help="check every cell and list the bad ones; save nothing")
@progress_option
@click.pass_obj
def import_(obj: Context, entity: str, file: Path, map_file: Path | None, dry_run: bool,
            progress: bool | None) -> None:
    """Import a spreadsheet (.xlsx, or .csv in UTF-8 or GB18030) of ENTITY in one transaction;
    prints the new ids, one per line. Any bad cell, named by row and column, saves nothing."""
    store = obj.unlocked()
    map_text = decode_csv(map_file.read_bytes()) if map_file is not None else None
    with Bars(wanted(progress)) as bars:
        try:
            result = import_file(store, entity, file, map_text, dry_run=dry_run,
                                 duplicates=duplicate_finder(store), on_progress=bars)
        except ImportRefused as refused:
            bars.close()
            _problems(refused.report)
            raise
    report = result.report
    if dry_run:
        _problems(report)
        if not report.ok:
            fail(f"{len(report.errors)} 个单元格有误，{len(report.duplicates)} 行重复；未保存 "
                 f"({len(report.errors)} bad cell(s), {len(report.duplicates)} duplicate row(s);"
                 " nothing saved)")
        click.echo(f"检查通过，可导入 {len(report.good)} 条 (dry run: {len(report.good)} rows"
                   " would be imported; nothing saved)", err=True)
        return
    if result.ids:
        click.echo("\n".join(result.ids))
    click.echo(f"已导入 {len(result.ids)} 条记录 (imported {len(result.ids)})", err=True)
