"""`station attach`, `station attachments` and `station attachment …`: files on records."""

from __future__ import annotations

from pathlib import Path

import click

from station.attachments import Attachments, open_with_viewer
from station.cli.common import Context, emit
from station.store import Store


@click.command()
@click.argument("entity")
@click.argument("record_id")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", help="what the file shows (sealed like other notes)")
@click.option("--keep-original", is_flag=True,
              help="a photo is shrunk to the longest-side setting; also keep it as taken")
@click.pass_obj
def attach(obj: Context, entity: str, record_id: str, file: Path, note: str | None,
           keep_original: bool) -> None:
    """Add a file to a record; prints what was stored (its sha256 first of all) as JSON."""
    for stored in Attachments(obj.unlocked()).attach(entity, record_id, file, note, keep_original):
        emit(stored)


@click.command()
@click.argument("entity")
@click.argument("record_id")
@click.pass_obj
def attachments(obj: Context, entity: str, record_id: str) -> None:
    """A record's attachments as JSON lines: name, size, type, whether here and at the hub."""
    store = obj.unlocked()
    store.get(entity, record_id)  # a clear error for a record that is not there
    for row in Attachments(store).of(record_id):
        emit(row)


@click.group()
def attachment() -> None:
    """One attachment: write it out or open it (fetched from the hub when not here yet)."""


def _here(store: Store, attachment_id: str) -> str:
    """The attachment's SHA-256 once its bytes are here (see `station.syncer.fetch_now`)."""
    from station.syncer import fetch_now

    fetch_now(store, attachment_id)
    return str(Attachments(store).get(attachment_id)["sha256"])


@attachment.command("get")
@click.argument("attachment_id")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="where to write it (created readable by its owner only)")
@click.pass_obj
def attachment_get(obj: Context, attachment_id: str, out: Path) -> None:
    """Write an attachment out (fetching it from the hub first when it is not here)."""
    store = obj.unlocked()
    _here(store, attachment_id)
    emit(Attachments(store).write_out(attachment_id, out))


@attachment.command("open")
@click.argument("attachment_id")
@click.pass_obj
def attachment_open(obj: Context, attachment_id: str) -> None:
    """Show an attachment with the system viewer (fetching it first when not here)."""
    store = obj.unlocked()
    sha256 = _here(store, attachment_id)
    info = Attachments(store).get(attachment_id)
    emit({"id": attachment_id, "opened": open_with_viewer(Attachments(store).read(sha256),
                                                         str(info["name"]))})
