"""`station`: the command line of the contract in DESIGN.md (docs/CLI.md lists every command).

This module builds the group and adds each command from the module of its group; what they
share (the context, `emit`, the error mapping, the options) is in `station.cli.common`. The
kiosk app's `station tui` and `station demo` are added by `tui.cli`, the entry point, so that
the layers hold (station never imports the TUI).
"""

from __future__ import annotations

from pathlib import Path

import click

from station.cli import (
    attachments,
    audit,
    backup,
    cases,
    clerks,
    conflicts,
    duty,
    imports,
    records,
    reveals,
    settings,
    status,
    sync,
    volunteers,
)
from station.cli.common import DEFAULT_HOME, Context, StationGroup
from sync.version import PROTOCOL_VERSION, software_version

COMMANDS: tuple[click.Command, ...] = (
    clerks.init, clerks.clerk, clerks.rekey,
    records.add, records.update, records.delete, records.get, records.export, records.search,
    records.list_records,
    records.demo_data, imports.import_,
    status.status, status.report,
    sync.enroll, sync.sync, sync.rejected, sync.export_changes, sync.import_return,
    sync.load_seed,
    conflicts.conflicts,
    cases.incident, cases.dispute,
    volunteers.volunteer,
    duty.duty,
    backup.backup, backup.restore,
    attachments.attach, attachments.attachments, attachments.attachment,
    settings.settings,
    reveals.reveals,
    audit.audit,
)


def print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """`--version`: the release and the sync protocol it speaks (what county IT asks first)."""
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"station {software_version()} (protocol {PROTOCOL_VERSION})")
    ctx.exit()


@click.group(cls=StationGroup)
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="STATION_HOME",
              default=DEFAULT_HOME, show_default=True, help="station home directory")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=print_version,
              help="Show the version and exit.")
@click.pass_context
def main(ctx: click.Context, home: Path) -> None:
    """Township Station: the encrypted local store of a township station.

    The clerk passphrase comes from STATION_PASSPHRASE or a prompt; STATION_CLERK picks the
    clerk when several share a store.
    """
    ctx.obj = Context(home)


for command in COMMANDS:
    main.add_command(command)

__all__ = ["main"]
