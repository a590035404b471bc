"""`station reveals`: who revealed which masked personal value on the kiosk, and when."""

from __future__ import annotations

from datetime import datetime

import click

from station.cli.common import Context, as_json_option, emit
from sync.validate import CHINA_TZ


@click.command()
@as_json_option("JSON lines: seq, at (UTC, ISO 8601), record, entity, field, clerk")
@click.pass_obj
def reveals(obj: Context, as_json: bool) -> None:
    """Every reveal of a masked field, oldest first (the audit trail takes them over)."""
    store = obj.unlocked()
    found = store.reveals()
    if as_json:
        for row in found:
            emit(row)
        return
    for row in found:
        entity = store.schema.entities.get(row["entity"])
        f = entity.by_name.get(row["field"]) if entity else None
        when = datetime.fromisoformat(row["at"]).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")
        what = f"{entity.label_zh if entity else row['entity']} {row['record']}"
        click.echo(f"{when}  {row['clerk']}  {what}  {f.label_zh if f else row['field']}"
                   f" ({row['field']})")
    click.echo(f"共 {len(found)} 次查看 ({len(found)} reveals, Beijing time)", err=True)
