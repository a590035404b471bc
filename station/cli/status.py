"""`station status` and `station report`: what the station holds and where it stands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from station.cli.common import Context, as_json_option, beijing_time, emit


@click.command()
@as_json_option("machine-readable")
@click.pass_obj
def status(obj: Context, as_json: bool) -> None:
    """Pending changes, last sync, schema version, open conflicts (no passphrase needed)."""
    store = obj.store()
    facts = store.status()
    if as_json:
        emit(facts)
        return
    lines: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
        ("站点 station", lambda f: f"{f['name']} ({f['township']})"),
        ("待同步 pending", lambda f: f["pending"]),
        ("被拒绝 rejected", lambda f: f["rejected"]),
        ("待上传附件 files to send", lambda f: f["files_pending"]),
        ("冲突 conflicts", lambda f: f["conflicts"]),
        ("上次同步 last sync", lambda f: beijing_time(f["last_sync"], store.clock.now()) or "从未 never"),
        ("数据版本 schema", lambda f: f["schema_version"]),
        ("密码体系 crypto", lambda f: f["crypto"]),
        ("记录 records", lambda f: ", ".join(f"{k} {v}" for k, v in f["records"].items()) or "0"),
    ]
    for label, value in lines:
        click.echo(f"{label}: {value(facts)}")


@click.command()
@as_json_option()
@click.pass_obj
def report(obj: Context, as_json: bool) -> None:
    """Incidents and disputes reported and closed, closure rates, base-data counts, volunteers."""
    from station.report import report as build

    emit(build(obj.store()))
