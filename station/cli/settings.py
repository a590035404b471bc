"""`station settings …`: what a clerk or county IT may set on the station."""

from __future__ import annotations

import json

import click

from station import priorities, usb_files
from station.cli.common import Context, emit
from sync import attachments as files
from sync.errors import ValidationError
from sync.validate import check_station_name

# What a clerk or county IT may set, with the rule each value must keep.
SETTINGS = {
    "attach_longest_side": (320, 10_000, "照片存入时最长边的像素数",
                            "pixels of a photo's longest side when it is stored"),
    "attachment_budget": (0, 10**12, "每次同步最多传送的附件字节数（0 为不限）",
                          "attachment bytes one sync may move (0: no limit)"),
    "round_budget": (0, 10**12, "每轮同步最多传送的字节数，记录和附件都算（0 为不限，否则至少 65536）",
                     "bytes one sync round may move, records and files alike (0: no limit, else"
                     " at least 65536)"),
    "mask_names": (0, 1, "列表中姓名是否打码（1 为打码，0 为显示全名；身份证号和电话总是打码）",
                   "whether lists mask names (1: masked, 0: whole; ID and phone numbers always are)"),
}
# Settings holding a JSON list rather than a number: where the kiosk looks for files.
LIST_SETTINGS = {
    usb_files.SETTING: ("在这些文件夹下查找U盘和相机里的文件（JSON 列表）",
                        "folders where the kiosk looks for files on a USB stick or camera"
                        " (JSON list)"),
}
# Settings holding text: the station's name, which the county's pages show it by (told to
# the hub at the next sync).
TEXT_SETTINGS = {
    "name": ("站点名称（县级平台按此显示本站，下次同步时告知）",
             "the station's name (the county's pages show it; told at the next sync)"),
}
# What an unset setting means, where it is not a size (those are named in their modules).
DEFAULTS = {"mask_names": "1", usb_files.SETTING: json.dumps(list(usb_files.DEFAULT_ROOTS))}


@click.group()
def settings() -> None:
    """Station settings a clerk may change (attachment size, per-sync budgets, name masking,
    the station's name)."""


@settings.command("list")
@click.pass_obj
def settings_list(obj: Context) -> None:
    """The settable settings: value, rule and meaning, as JSON lines."""
    current = obj.store().settings()
    for key, (low, high, zh, en) in SETTINGS.items():
        emit({"key": key, "value": current.get(key, DEFAULTS.get(key)), "min": low, "max": high,
              "zh": zh, "en": en})
    for key, (zh, en) in {**LIST_SETTINGS, **TEXT_SETTINGS}.items():
        emit({"key": key, "value": current.get(key, DEFAULTS.get(key)), "zh": zh, "en": en})


@settings.command("set")
@click.argument("key")
@click.argument("value")
@click.pass_obj
def settings_set(obj: Context, key: str, value: str) -> None:
    """Set one setting (see `station settings list`)."""
    if key in LIST_SETTINGS:
        value = json.dumps(usb_files.parse_roots(value), ensure_ascii=False)
        with obj.unlocked().atomic() as writes:
            writes.change_setting(key, value)
        emit({"key": key, "value": value})
        return
    if key in TEXT_SETTINGS:
        value = check_station_name(value)
        with obj.unlocked().atomic() as writes:
            writes.change_setting(key, value)
        emit({"key": key, "value": value})
        return
    if key not in SETTINGS:
        known = [*SETTINGS, *LIST_SETTINGS, *TEXT_SETTINGS]
        raise ValidationError(key, "setting", f"没有可设置的 {key}（可设置：{', '.join(known)}）",
                              f"no settable setting {key!r} (known: {', '.join(known)})")
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
    if key == priorities.SETTING:
        priorities.check_round_budget(number)
    store = obj.unlocked()
    with store.atomic() as writes:
        writes.change_setting(key, str(number))
    emit({"key": key, "value": str(number)})
