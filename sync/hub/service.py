"""`county serve`: the hub under uvicorn, as a person runs it or as systemd does
(deploy/systemd/township-county.service).

Everything is checked before anything starts (the config, the database and its storage
version); then one process serves, or several workers do. Several workers share one
directory of prometheus-client's multiprocess mode, made fresh for this start and removed at
its end, so /metrics in any of them tells the sums (sync/hub/metrics.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import click
import uvicorn

from sync import log_lines
from sync.hub import county
from sync.hub.config import CountyConfig
from sync.hub.http import CONFIG_ENV, KEEP_ALIVE_S, SHUTDOWN_S, app_for, limit_from_environment
from sync.hub.metrics import MULTIPROCESS_ENV


def serve(home: Path, settings: CountyConfig, config_file: Path | None = None) -> None:
    # A COUNTY_MAX_IN_FLIGHT that is not a number, then a database of a newer release or one
    # that does not answer, stops the hub here in one line.
    limit_from_environment()
    county.migrate(home, settings)
    log = log_lines.to_stderr("county")
    click.echo(f"county hub on https://{settings.host}:{settings.port}/v1/ (Ctrl-C to stop)", err=True)
    log.info(log_lines.line("start", host=settings.host, port=settings.port, workers=settings.workers,
                            engine=settings.database.split(":", 1)[0], pool_size=settings.pool_size))
    tls = {"ssl_certfile": str(home / "tls.crt"), "ssl_keyfile": str(home / "tls.key")}
    common = {"host": settings.host, "port": settings.port, "log_level": "warning",
              "timeout_keep_alive": KEEP_ALIVE_S, "timeout_graceful_shutdown": SHUTDOWN_S, **tls}
    if settings.workers == 1:
        uvicorn.run(app_for(home, settings), **common)  # type: ignore[arg-type]
        return
    # Each worker opens the hub itself, from the same home and config file.
    os.environ["COUNTY_HOME"] = str(home.resolve())
    if config_file is not None:
        os.environ[CONFIG_ENV] = str(config_file.resolve())
    # Under systemd: its RuntimeDirectory (/run/township-county), emptied at each start.
    shared = tempfile.mkdtemp(prefix="metrics-", dir=os.environ.get("RUNTIME_DIRECTORY"))
    os.environ[MULTIPROCESS_ENV] = shared
    try:
        uvicorn.run("sync.hub.http:app_from_environment", factory=True, workers=settings.workers,
                    **common)  # type: ignore[arg-type]
    finally:
        shutil.rmtree(shared, ignore_errors=True)
