"""`station conflicts …`: concurrent edits for a person to settle."""

from __future__ import annotations

import json

import click

from station.cli.common import Context, as_json_option, emit
from sync.errors import ValidationError


@click.group()
def conflicts() -> None:
    """Concurrent edits to settle: list them, keep one side or enter a new value."""


@conflicts.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="also the settled ones")
@as_json_option()
@click.pass_obj
def conflicts_list(obj: Context, include_resolved: bool, as_json: bool) -> None:
    """Open conflicts as JSON lines: the record, the field, the value shown and the others."""
    from station.conflicts import Conflicts

    for row in Conflicts(obj.unlocked()).list(include_resolved):
        emit(row)


@conflicts.command("resolve")
@click.argument("conflict_id")
@click.option("--keep", type=click.Choice(["local", "remote", "deleted", "edited"]),
              help="which side to keep (deleted/edited: for a delete that missed an edit)")
@click.option("--value", "value_json", help="or a new value, as JSON")
@click.pass_obj
def conflicts_resolve(obj: Context, conflict_id: str, keep: str | None,
                      value_json: str | None) -> None:
    """Settle a conflict; the choice is an ordinary change that syncs everywhere."""
    from station.conflicts import Conflicts

    value = None
    if value_json is not None:
        try:
            value = json.loads(value_json)
        except json.JSONDecodeError:
            raise ValidationError("--value", "json", "不是有效的 JSON", "not valid JSON") from None
    Conflicts(obj.unlocked()).resolve(conflict_id, keep, value)
    click.echo("已解决 (settled)", err=True)


@conflicts.command("merge")
@click.argument("conflict_id")
@click.option("--take", "take", multiple=True, metavar="FIELD",
              help="take the other record's value of this field (repeatable); otherwise the"
                   " kept record's own value stays where both differ")
@click.pass_obj
def conflicts_merge(obj: Context, conflict_id: str, take: tuple[str, ...]) -> None:
    """Merge the two records of a "same person" conflict into the one with the lower id;
    prints its id. Every record that named the other now names it; the other is deleted."""
    from station.duplicates import Duplicates

    kept = Duplicates(obj.unlocked()).merge(conflict_id, take)
    click.echo(kept)
    click.echo(f"已合并到 {kept} (merged into {kept})", err=True)
