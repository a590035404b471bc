"""The `station` command with the kiosk app on it: `station tui`.

The store and its command line live in `station.cli`, below this package; the app's command
is added here so that the layers hold (station never imports the TUI).
"""

from __future__ import annotations

import click

from station.cli import _Context, main


@main.command()
@click.option("--idle-lock", default=300, show_default=True, type=click.IntRange(min=10),
              help="seconds without a key or a click before the app locks itself")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.pass_obj
def tui(obj: _Context, idle_lock: int, lang: str) -> None:
    """The kiosk app: unlock, home, and the station's work (F1 lists the keys)."""
    from tui.app import StationApp

    StationApp(obj.store(), idle_lock, lang).run()


__all__ = ["main"]
