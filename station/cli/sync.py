"""`station enroll`, `station sync` and `station rejected …`: the station and its county hub."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from station.cli.common import Context, as_json_option, emit
from station.cli.progress import Bars, progress_option, wanted

# The daemon's exit status once the county revoked the station: its unit's
# RestartPreventExitStatus= keeps systemd from starting it again, to be refused again.
REVOKED_STATUS = 3

if TYPE_CHECKING:
    from station.store import Store


@click.command()
@click.option("--hub", "hub_url", required=True, help="https://HOST:PORT of the county hub")
@click.option("--code", required=True, help="the one-time code from `county station add`")
@click.option("--fingerprint", help="the hub certificate's SHA-256, to check what is pinned")
@click.option("--replacement", is_flag=True,
              help="this box replaces the station whose backup it was restored from; the code"
                   " is the one `county station replace` gave")
@click.pass_obj
def enroll(obj: Context, hub_url: str, code: str, fingerprint: str | None, replacement: bool) -> None:
    """Join a county hub: pin its certificate, register this station's key."""
    from station.syncer import enroll as join

    emit(join(obj.unlocked(), hub_url, code, fingerprint, replacement=replacement))


@click.command()
@click.option("--once", "mode", flag_value="once", default=True, help="one round (the default)")
@click.option("--daemon", "mode", flag_value="daemon",
              help="keep syncing: soon after local writes, backing off while the hub is away")
@progress_option
@click.pass_obj
def sync(obj: Context, mode: str, progress: bool | None) -> None:
    """Push the outbox (each change gets a receipt or a rejection), then pull what changed."""
    import time

    from station.daemon import Loop, patiently
    from station.syncer import KeptConnection, sync_once
    from sync.errors import HubBusy

    store = obj.unlocked()
    if mode == "daemon":
        from sync import log_lines

        log_lines.to_stderr("station")  # one line per round (station/daemon.py)
        click.echo("同步守护进程已启动 (sync daemon running; Ctrl-C stops it)", err=True)
        def reopen(_: Store) -> None:  # the data key changed under it: the passphrase again
            obj.unlocked()

        loop = Loop(store, KeptConnection(), time.sleep, reopen=reopen)
        try:
            loop.run()
        except KeyboardInterrupt:
            click.echo("已停止 (stopped)", err=True)
        if loop.outcome == "revoked":  # its unit does not restart it for status 3
            click.echo(store.settings().get("last_error", ""), err=True)
            sys.exit(REVOKED_STATUS)
        return
    def busy(exc: HubBusy, wait: float) -> None:
        click.echo(f"县级平台繁忙，{wait:.0f} 秒后自动重试 (the county hub is busy;"
                   f" retrying in {wait:.0f} s)", err=True)

    estimate = _first_sync_estimate(store, wanted(progress))
    with Bars(wanted(progress)) as bars:  # a first sync of a full township takes minutes
        try:
            result = patiently(lambda: sync_once(store, report=lambda p: bars(p.stage, p.done, p.total)),
                               time.sleep, busy)
        except HubBusy as exc:  # still busy after minutes: not an error, the daemon goes on
            click.echo(str(exc), err=True)
            emit({"outcome": "busy", "pending": store.status()["pending"]})
            return
    if result.waiting is not None:  # the round's byte budget ran out: the rest goes next round
        click.echo(f"{result.waiting.line('zh')} ({result.waiting.line('en')})", err=True)
    emit({"outcome": "done", "pushed": result.pushed, "rejected": result.rejected, "batches": result.batches,
          "pulled": result.pulled, "pending": store.status()["pending"],
          "conflicts": store.status()["conflicts"], "files_sent": result.files_sent,
          "files_fetched": result.files_fetched, "files_pending": store.status()["files_pending"],
          "bytes": result.bytes}
         | ({"waiting": result.waiting.as_json()} if result.waiting else {})
         | ({"estimate": estimate} if estimate else {}))


def _first_sync_estimate(store: Store, say: bool) -> dict[str, Any] | None:
    """Before the first pull over the link, its bytes and time, for the JSON and, beside the
    progress bars (`say`), on stderr in both languages; None when it is not a first sync, and
    {"unknown": why} when the hub cannot say (an older release, or the link failed)."""
    from station import first_sync
    from station.syncer import client_for
    from sync.errors import TownshipError

    if not first_sync.is_first(store):
        return None
    try:
        estimate = first_sync.measure(store, client_for(store))
    except TownshipError as exc:
        if say:
            click.echo(f"{first_sync.unknown_line(exc.message('zh'), 'zh')}"
                       f" ({first_sync.unknown_line(exc.message('en'), 'en')})", err=True)
        return {"unknown": exc.message("en")}
    if say:
        click.echo(f"{estimate.line('zh')} ({estimate.line('en')})", err=True)
    return estimate.as_json()


@click.command("export-changes")
@click.option("--to", "folder", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="the folder on the USB stick")
@click.pass_obj
def export_changes(obj: Context, folder: Path) -> None:
    """Write the outbox to a USB stick for county IT (no link): sealed to the county, signed."""
    from station.sneakernet import export_changes as write

    emit(write(obj.unlocked(), folder))


@click.command("import-return")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def import_return(obj: Context, file: Path) -> None:
    """Apply the county's return file: receipts, rejections, schema bundles and the pull."""
    from station.sneakernet import import_return as apply

    emit(apply(obj.unlocked(), file))


@click.command("load-seed")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_text", envvar="STATION_SEED_KEY", prompt="初始数据密钥 (seed key)",
              hide_input=True, help="the one-time key county IT gave with the enrollment code")
@progress_option
@click.pass_obj
def load_seed(obj: Context, file: Path, key_text: str, progress: bool | None) -> None:
    """First sync from a USB stick: the township's data from `county seed`, after enrolling."""
    from station import sneakernet

    with Bars(wanted(progress)) as bars:  # a whole township: minutes on a kiosk
        emit(sneakernet.load_seed(obj.unlocked(), file, key_text,
                                  lambda p: bars(p.stage, p.done, p.total)))


@click.group()
def rejected() -> None:
    """Changes the county hub refused: see why, fix the record, send them again."""


@rejected.command("list")
@as_json_option()
@click.pass_obj
def rejected_list(obj: Context, as_json: bool) -> None:
    """Refused changes as JSON lines: seq, record, entity, op, fields, the hub's reason."""
    for row in obj.store().rejected():
        emit(row)


@rejected.command("resend")
@click.argument("seq", type=int)
@click.pass_obj
def rejected_resend(obj: Context, seq: int) -> None:
    """Send a refused change again as the record stands now (fix the record first)."""
    emit({"resent": seq, "as": obj.unlocked().resend(seq)})
