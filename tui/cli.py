"""The `station` command with the kiosk app on it: `station tui`.

The store and its command line live in `station.cli`, below this package; the app's command
is added here so that the layers hold (station never imports the TUI).
"""

from __future__ import annotations

from pathlib import Path

import click

from station.cli import main
from station.cli.common import Context
from station.cli.progress import Bars, progress_option, wanted


@main.command()
@click.option("--idle-lock", default=300, show_default=True, type=click.IntRange(min=10),
              help="seconds without a key or a click before the app locks itself")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--web", is_flag=True,
              help="serve the app to a browser on this box (http://127.0.0.1:PORT) instead")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535),
              help="with --web: the port on 127.0.0.1")
@click.pass_obj
def tui(obj: Context, idle_lock: int, lang: str, web: bool, port: int) -> None:
    """The kiosk app: unlock, home, and the station's work (F1 lists the keys)."""
    store = obj.store()  # a missing or broken store is said here, not in a browser
    if web:
        from tui.web import HOST, serve

        store.close()
        click.echo(f"浏览器打开 Open in the browser: http://{HOST}:{port}/  (Ctrl+C 停止 stops)", err=True)
        serve(obj.home, port, lang, idle_lock)
        return
    from tui.app import make_app

    make_app(store, idle_lock=idle_lock, lang=lang).run()


@main.command()
@click.option("--home", "demo_home", type=click.Path(file_okay=False, path_type=Path),
              help="keep the demo here (default: a new temporary directory)")
@click.option("--no-tui", is_flag=True, help="set up and sync, print where, and stop")
@progress_option
def demo(demo_home: Path | None, no_tui: bool, progress: bool | None) -> None:
    """See the whole thing on one machine: a county hub on 127.0.0.1, an enrolled station
    with demo data, one sync, then the kiosk app (clerk and passphrase are printed)."""
    import json

    from tui.demo import CLERK, PASSPHRASE, kiosk_app, set_up

    click.echo("正在准备演示：县级平台、工作站、演示数据、同步…… (setting up the demo)", err=True)
    with Bars(wanted(progress)) as bars:
        running = set_up(demo_home, on_progress=bars)
    try:
        click.echo(json.dumps({"home": str(running.home), "hub": running.hub_url, "clerk": CLERK,
                               "passphrase": PASSPHRASE, "status": running.store.status()},
                              ensure_ascii=False))
        if not no_tui:
            kiosk_app(running).run()
    finally:
        running.stop()


__all__ = ["main"]

if __name__ == "__main__":  # `python -m tui.cli`: how `station tui --web` starts each app
    main()
