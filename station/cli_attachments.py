"""`station attach`, `station attachments`, `station attachment …` and `station settings …`."""

from __future__ import annotations

from pathlib import Path

import click

from station.attachments import Attachments, open_with_viewer
from station.cli import _Context, _emit, main
from station.store import Store
from sync import attachments as files
from sync.errors import ValidationError


@main.command()
@click.argument("entity")
@click.argument("record_id")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", help="what the file shows (sealed like other notes)")
@click.option("--keep-original", is_flag=True,
              help="a photo is shrunk to the longest-side setting; also keep it as taken")
@click.pass_obj
def attach(obj: _Context, entity: str, record_id: str, file: Path, note: str | None,
           keep_original: bool) -> None:
    """Add a file to a record; prints what was stored (its sha256 first of all) as JSON."""
    for stored in Attachments(obj.unlocked()).attach(entity, record_id, file, note, keep_original):
        _emit(stored)


@main.command()
@click.argument("entity")
@click.argument("record_id")
@click.pass_obj
def attachments(obj: _Context, entity: str, record_id: str) -> None:
    """A record's attachments as JSON lines: name, size, type, whether here and at the hub."""
    store = obj.unlocked()
    store.get(entity, record_id)  # a clear error for a record that is not there
    for row in Attachments(store).of(record_id):
        _emit(row)


@main.group()
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
def attachment_get(obj: _Context, attachment_id: str, out: Path) -> None:
    """Write an attachment out (fetching it from the hub first when it is not here)."""
    store = obj.unlocked()
    _here(store, attachment_id)
    _emit(Attachments(store).write_out(attachment_id, out))


@attachment.command("open")
@click.argument("attachment_id")
@click.pass_obj
def attachment_open(obj: _Context, attachment_id: str) -> None:
    """Show an attachment with the system viewer (fetching it first when not here)."""
    store = obj.unlocked()
    sha256 = _here(store, attachment_id)
    info = Attachments(store).get(attachment_id)
    _emit({"id": attachment_id, "opened": open_with_viewer(Attachments(store).read(sha256),
                                                          str(info["name"]))})


# ---------------------------------------------------------------------- settings

# What a clerk or county IT may set, with the rule each value must keep.
SETTINGS = {
    "attach_longest_side": (320, 10_000, "照片存入时最长边的像素数",
                            "pixels of a photo's longest side when it is stored"),
    "attachment_budget": (0, 10**12, "每次同步最多传送的附件字节数（0 为不限）",
                          "attachment bytes one sync may move (0: no limit)"),
}


@main.group()
def settings() -> None:
    """Station settings a clerk may change (attachment size and per-sync budget)."""


@settings.command("list")
@click.pass_obj
def settings_list(obj: _Context) -> None:
    """The settable settings: value, rule and meaning, as JSON lines."""
    current = obj.store().settings()
    for key, (low, high, zh, en) in SETTINGS.items():
        _emit({"key": key, "value": current.get(key), "min": low, "max": high, "zh": zh, "en": en})


@settings.command("set")
@click.argument("key")
@click.argument("value")
@click.pass_obj
def settings_set(obj: _Context, key: str, value: str) -> None:
    """Set one setting (see `station settings list`)."""
    if key not in SETTINGS:
        raise ValidationError(key, "setting", f"没有可设置的 {key}（可设置：{', '.join(SETTINGS)}）",
                              f"no settable setting {key!r} (known: {', '.join(SETTINGS)})")
    low, high, zh, en = SETTINGS[key]
    number = int(value) if value.strip().isdigit() else -1
    if not low <= number <= high:
        raise ValidationError(key, "range", f"{zh}应为 {low} 到 {high} 的整数",
                              f"{key} ({en}) must be a whole number from {low} to {high}")
    if key == "attachment_budget" and 0 < number < files.CHUNK_BYTES:
        raise ValidationError(key, "min_chunk",
                              f"预算至少一块（{files.CHUNK_BYTES} 字节），否则附件永远传不完",
                              f"a budget below one chunk ({files.CHUNK_BYTES} bytes) would never"
                              " move a file")
    store = obj.unlocked()
    with store.atomic() as writes:
        writes.put_settings(**{key: str(number)})
    _emit({"key": key, "value": str(number)})
