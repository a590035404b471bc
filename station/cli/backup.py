"""`station backup …` and `station restore`: litestream replication of the station's store."""

from __future__ import annotations

import os
from pathlib import Path

import click

from station.cli.clerks import KDF_PROFILES, kdf_option, read_recovery_key
from station.cli.common import Context, ask_passphrase, emit
from station.cli.progress import Bars, progress_option, wanted
from sync.errors import ValidationError


@click.group()
def backup() -> None:
    """Continuous backup of the store to a USB stick, a NAS mount or an S3-compatible store."""


@backup.command("setup")
@click.option("--replica", required=True,
              help="an absolute path (mounted disk), file://PATH or s3://BUCKET/PATH?endpoint=…")
@click.option("--credentials", type=click.Path(dir_okay=False, path_type=Path),
              help="S3 keys as LITESTREAM_ACCESS_KEY_ID=… lines, in a 0600 file "
                   "(default: the same names from the environment)")
@click.option("--retention", default="24h", show_default=True,
              help="how long the replica keeps what was replaced (a snapshot as often): 24h, 90m")
@click.pass_obj
def backup_setup(obj: Context, replica: str, credentials: Path | None, retention: str) -> None:
    """Choose where the backup goes and write litestream's configuration (0600)."""
    from station.backup import setup

    emit(setup(obj.home, replica, credentials, retention))


@backup.command("run")
@click.pass_obj
def backup_run(obj: Context) -> None:
    """Replicate in the foreground until stopped (what the backup service runs)."""
    from station.backup import run_command

    command, env = run_command(obj.home)
    click.echo(f"备份进行中 (replicating; Ctrl-C stops): {' '.join(command)}", err=True)
    os.execve(command[0], command, env)  # litestream gets the service manager's signals itself


@backup.command("status")
@click.pass_obj
def backup_status(obj: Context) -> None:
    """The replica's position against the database: transactions behind, seconds of lag."""
    from station.backup import status

    emit(status(obj.home))


@click.command()
@click.option("--from", "replica", required=True, help="the replica: a path, file://PATH or s3://…")
@click.option("--to", "to", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="an empty directory for the restored station home")
@click.option("--credentials", type=click.Path(dir_okay=False, path_type=Path),
              help="S3 keys file (0600), as for backup setup")
@click.option("--recovery-key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
              help="open it with the county's recovery.key instead, and give STATION_CLERK the"
                   " passphrase STATION_PASSPHRASE (a backup of a box that destroyed its keys)")
@kdf_option()
@progress_option
def restore(replica: str, to: Path, credentials: Path | None, key_file: Path | None, kdf: str,
            progress: bool | None) -> None:
    """Restore a station from its replica, check the database, and unlock it with a clerk's
    passphrase (STATION_PASSPHRASE, STATION_CLERK); its next sync recovers from the hub what it
    had sent since the replica's position."""
    from station.backup import Recovery
    from station.backup import restore as bring_back

    clerk = os.environ.get("STATION_CLERK") or None
    recovery = None
    if key_file is not None:
        if clerk is None:
            raise ValidationError("STATION_CLERK", "required",
                                  "用恢复密钥恢复时须用 STATION_CLERK 指定办事员",
                                  "a restore with the recovery key needs STATION_CLERK:"
                                  " whose passphrase to set")
        recovery = Recovery(read_recovery_key(key_file), KDF_PROFILES[kdf])
    passphrase = ask_passphrase("STATION_PASSPHRASE", "口令 / passphrase", confirm=recovery is not None)
    with Bars(wanted(progress)) as bars:
        restored = bring_back(replica, to, passphrase, clerk, credentials, on_progress=bars,
                              recovery=recovery)
    emit(restored)
