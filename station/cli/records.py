"""`station add`, `update`, `delete`, `get`, `export`, `search` and `demo-data`: records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, TextIO

import click

from station.cli.common import Context, emit, fail, json_object, json_option, jsonl
from station.cli.progress import Bars, progress_option, wanted
from sync.errors import TownshipError, ValidationError


@click.command()
@click.argument("entity")
@json_option("one record as a JSON object", required=False)
@click.option("--file", "file", type=click.File("r", encoding="utf-8"),
              help="records as JSON lines ('-' for stdin); all or nothing")
@progress_option
@click.pass_obj
def add(obj: Context, entity: str, json_text: str | None, file: TextIO | None,
        progress: bool | None) -> None:
    """Add records; prints the new id(s), one per line."""
    if (json_text is None) == (file is None):
        raise ValidationError("--json/--file", "required", "请给出 --json 或 --file 之一",
                              "give exactly one of --json or --file")
    store = obj.unlocked()
    if json_text is not None:
        ids = [store.add(entity, json_object(json_text))]
    else:
        assert file is not None
        with Bars(wanted(progress)) as bars:
            ids = store.add_lines(entity, _counted(jsonl(file), _total_lines(file), bars))
    click.echo("\n".join(ids))
    click.echo(f"已添加 {len(ids)} 条记录 (added {len(ids)})", err=True)


def _total_lines(file: TextIO) -> int | None:
    """The lines of a file that can be read twice (for the bar's end); None for a pipe."""
    if not file.seekable():
        return None
    start = file.tell()
    total = sum(1 for line in file if line.strip())
    file.seek(start)
    return total


def _counted(rows: Iterator[tuple[int, dict[str, Any]]], total: int | None,
             bars: Bars) -> Iterator[tuple[int, dict[str, Any]]]:
    for n, row in enumerate(rows, start=1):
        yield row
        if n % 100 == 0 or n == total:
            bars("records", n, total)


@click.command()
@click.argument("entity")
@click.argument("record_id")
@json_option("the fields to change; null clears one")
@click.pass_obj
def update(obj: Context, entity: str, record_id: str, json_text: str) -> None:
    """Change fields of a record."""
    changed = obj.unlocked().update(entity, record_id, json_object(json_text))
    click.echo("已更新 (updated)" if changed else "没有变化 (nothing changed)", err=True)


@click.command()
@click.argument("entity")
@click.argument("record_id")
@click.pass_obj
def delete(obj: Context, entity: str, record_id: str) -> None:
    """Delete a record (a tombstone that syncs)."""
    obj.unlocked().delete(entity, record_id)
    click.echo("已删除 (deleted)", err=True)


@click.command()
@click.argument("entity")
@click.argument("record_id")
@click.pass_obj
def get(obj: Context, entity: str, record_id: str) -> None:
    """One record as JSON."""
    emit(obj.unlocked().get(entity, record_id))


@click.command()
@click.argument("entity", required=False)
@click.pass_obj
def export(obj: Context, entity: str | None) -> None:
    """Current records as JSON lines sorted by id (diff-able)."""
    failed: list[str] = []

    def report(record_id: str, exc: TownshipError) -> None:
        failed.append(record_id)
        click.echo(f"station: {exc}", err=True)

    store = obj.unlocked()
    count = 0
    for record in store.export(entity, on_error=report):
        emit(record)
        count += 1
    store.record("export", entity or "", {"count": count, "to": "json_lines"})
    if failed:
        fail(f"{len(failed)} 条记录无法打开，其余已导出 ({len(failed)} records could not be opened;"
             " the rest were exported)")


@click.command("list")
@click.argument("entity")
@click.option("--after", default="", help="the id the page starts after")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True,
              help="at most this many records")
@click.pass_obj
def list_records(obj: Context, entity: str, after: str, limit: int) -> None:
    """One page of an entity's records in id order, as JSON lines (a gridworker: their
    grids' only)."""
    for record in obj.unlocked().page(entity, after, limit):
        emit(record)


# How a record matched, as the CLI says it (station/search_forms.py, `by`).
_MATCHED = {"whole": ("整值", "whole value"), "surname": ("姓氏", "surname"),
            "initials": ("拼音首字母", "pinyin initials"),
            "initials_alt": ("拼音首字母（多音字）", "pinyin initials, another reading"),
            "last6": ("后 6 位", "last 6"), "last4": ("后 4 位", "last 4")}


@click.command()
@click.argument("term")
@click.option("--entity", help="only this entity")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="at most this many records")
@click.pass_obj
def search(obj: Context, term: str, entity: str | None, limit: int) -> None:
    """Search as clerks do: whole ID number, phone or name, surname, pinyin initials, an ID
    number's last 6 or 4, a phone's last 4; best first, JSON lines with how each matched."""
    found = obj.unlocked().find(term, entity, limit)
    for m in found.matches:
        emit({**m.record, "match": {"field": m.field, "by": m.by, "rank": m.rank}})
    kinds = Counter(m.by for m in found.matches)
    zh = "、".join(f"{_MATCHED[k][0]} {n}" for k, n in kinds.items())
    en = ", ".join(f"{_MATCHED[k][1]} {n}" for k, n in kinds.items())
    n = len(found.matches)
    click.echo(f"找到 {n} 条" + (f"（{zh}）" if zh else "") + f" (found {n}" + (f": {en}" if en else "")
               + ")", err=True)
    if found.more:
        click.echo(f"还有更多，只列出前 {n} 条：请输入更多内容 (more matched; only the first {n}"
                   " are listed: type more of the value)", err=True)


@click.command("demo-data")
@click.option("--scale", type=click.Choice(["small", "seed"]), default="small", show_default=True,
              help="seed: the county's scale (160,000 base records, 11,302 incidents …); small: 1 %")
@click.option("--seed", "seed", type=int, default=0, show_default=True, help="same seed, same data")
@progress_option
@click.pass_obj
def demo_data(obj: Context, scale: str, seed: int, progress: bool | None) -> None:
    """Fill the store with realistic synthetic records (no real person's data)."""
    from station.demo import SCALES, DemoData

    with Bars(wanted(progress)) as bars:
        added = DemoData(obj.unlocked(), SCALES[scale], seed, on_progress=bars).fill()
    emit(added)
    click.echo(f"已生成 {sum(added.values())} 条演示记录 (demo records added)", err=True)
