"""`station audit`: the station's audit trail, and the check of its hash chain."""

from __future__ import annotations

from datetime import datetime

import click

from station import audit_log
from station.cli.common import Context, emit, fail
from sync.audit_chain import ACTIONS
from sync.validate import CHINA_TZ


@click.group()
def audit() -> None:
    """The audit trail: who did what to which record, when (never a value)."""


@audit.command("list")
@click.option("--after", type=click.IntRange(0), default=0, help="only the entries after this seq")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: seq, at, clerk, role, action,"
              " target, detail, prev, hash")
@click.pass_obj
def audit_list(obj: Context, after: int, as_json: bool) -> None:
    """The entries, oldest first; Beijing time and Chinese words unless --json."""
    for entry in obj.unlocked().audit_trail(after):
        if as_json:
            emit(entry.as_json())
            continue
        when = datetime.fromisoformat(entry.at).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")
        zh, en = ACTIONS[entry.action]
        click.echo(f"{entry.seq}  {when}  {entry.clerk or '-'}  {zh} ({en})  {entry.target}"
                   f"  {entry.detail if entry.detail != '{}' else ''}".rstrip())


@audit.command("verify")
@click.pass_obj
def audit_verify(obj: Context) -> None:
    """Check the chain: whole, or the first entry edited, taken out or moved (exit status 1).
    Needs no passphrase: an entry holds no personal value."""
    store = obj.store()
    count, broken = audit_log.verify(store.conn)
    if broken is not None:
        emit({"whole": False, "entries": count, "broken_at": broken.seq, "why": broken.why})
        fail(f"审计记录链断裂：{broken.line('zh')} (the audit chain is broken: {broken.line('en')})")
    emit({"whole": True, "entries": count})
