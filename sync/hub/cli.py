"""`county`: the county platform's command line (the hub).

Every command takes `--home DIR` (or COUNTY_HOME). JSON goes to stdout, messages to stderr,
and any error is one line with a non-zero exit.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import click

from sync.errors import TownshipError, ValidationError
from sync.hub import county
from sync.pinning import fingerprint
from sync.version import PROTOCOL_VERSION, release, software_version

DEFAULT_HOME = Path.home() / ".local" / "share" / "township-county"


def _emit(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")))


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TownshipError as exc:
            click.echo(f"county: {exc}", err=True)
            sys.exit(1)
        except (sqlite3.Error, OSError) as exc:
            click.echo(f"county: {type(exc).__name__}: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
# The protocol beside the release: what county IT compares with a station's when one is refused.
@click.version_option(software_version(), prog_name="county",
                      message=f"%(prog)s %(version)s (protocol {PROTOCOL_VERSION})")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="COUNTY_HOME",
              default=DEFAULT_HOME, show_default=True, help="county home directory")
@click.pass_context
def main(ctx: click.Context, home: Path) -> None:
    """Township Station county platform: the hub stations sync with."""
    ctx.obj = home


@main.command()
@click.option("--database", help="postgresql://… (default: SQLite in the county home)")
@click.option("--host", "hosts", multiple=True, default=("127.0.0.1", "localhost"),
              show_default=True, help="names and addresses the TLS certificate is valid for")
@click.pass_obj
def init(home: Path, database: str | None, hosts: tuple[str, ...]) -> None:
    """Create the county keys, TLS certificate and database."""
    county.init(home, database, hosts)
    _emit({"home": str(home.resolve()), "database": county.load_config(home).database,
           "fingerprint": fingerprint((home / "tls.crt").read_bytes())})


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8443, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="worker processes (more than one wants PostgreSQL: SQLite takes one writer)")
@click.pass_obj
def serve(home: Path, host: str, port: int, workers: int) -> None:
    """Serve the hub over HTTPS (API under /v1/)."""
    import os

    import uvicorn

    from sync.hub.http import KEEP_ALIVE_S, SHUTDOWN_S, limit_from_environment, make_app

    # Before any worker starts: a database of a newer release stops the hub here, in one line
    # (and so does a COUNTY_MAX_IN_FLIGHT that is not a number).
    county.migrate(home)
    in_flight = limit_from_environment()
    click.echo(f"county hub on https://{host}:{port}/v1/ (Ctrl-C to stop)", err=True)
    cert, key = str(home / "tls.crt"), str(home / "tls.key")
    if workers == 1:
        uvicorn.run(make_app(county.open_hub(home), home, in_flight), host=host, port=port,
                    log_level="warning", ssl_certfile=cert, ssl_keyfile=key,
                    timeout_keep_alive=KEEP_ALIVE_S, timeout_graceful_shutdown=SHUTDOWN_S)
        return
    os.environ["COUNTY_HOME"] = str(home.resolve())  # each worker opens the hub itself
    uvicorn.run("sync.hub.http:app_from_environment", factory=True, workers=workers, host=host,
                port=port, log_level="warning", ssl_certfile=cert, ssl_keyfile=key,
                timeout_keep_alive=KEEP_ALIVE_S, timeout_graceful_shutdown=SHUTDOWN_S)


@main.group()
def station() -> None:
    """Stations: enrollment codes, the list with versions, revocation."""


@station.command("add")
@click.option("--township", required=True, help="9-digit township code")
@click.option("--grid", "grids", multiple=True, help="limit the station to these grids")
@click.pass_obj
def station_add(home: Path, township: str, grids: tuple[str, ...]) -> None:
    """Print a one-time enrollment code bound to this scope."""
    if not (len(township) == 9 and township.isdigit()):
        raise ValidationError("township", "township_code", "乡镇代码应为 9 位数字",
                              "a township code is 9 digits")
    for grid in grids:
        if not (len(grid) == 12 and grid.isdigit() and grid.startswith(township)):
            raise ValidationError("grid", "grid_code", "网格代码应为本乡镇的 12 位代码",
                                  "a grid code is 12 digits inside the township")
    code = county.open_hub(home).add_enrollment(township, list(grids))
    _emit({"code": code, "township": township, "grids": list(grids),
           "fingerprint": fingerprint((home / "tls.crt").read_bytes())})


@station.command("list")
@click.option("--older-than", "older_than", metavar="VERSION",
              help="only the stations (not revoked) whose last request came from a release"
                   " before VERSION, e.g. 0.2.0, or from one that names none (0.1.x)")
@click.pass_obj
def station_list(home: Path, older_than: str | None) -> None:
    """Every station as JSON lines, newest enrollment first: scope, last seen, and the protocol
    and software versions of its latest signed request."""
    before = None
    if older_than is not None:
        before = release(older_than)
        if before is None:
            raise ValidationError("older-than", "release", "应为版本号，如 0.2.0",
                                  "must be a release number such as 0.2.0")
    for row in county.open_hub(home).stations(before):
        _emit(row)


@station.command("grids")
@click.argument("station_id")
@click.option("--grid", "grids", multiple=True, help="the grids it keeps (none: the whole township)")
@click.pass_obj
def station_grids(home: Path, station_id: str, grids: tuple[str, ...]) -> None:
    """Change an enrolled station's grids. Its next sync takes records of other grids away;
    what it wrote before it heard of the change still counts."""
    changed = county.open_hub(home).set_grids(station_id, list(grids))
    _emit({"station": changed.id, "township": changed.township, "grids": list(changed.grids),
           "scope_version": changed.scope_version})


@station.command("revoke")
@click.argument("station_id")
@click.pass_obj
def station_revoke(home: Path, station_id: str) -> None:
    """Refuse every later request of a station."""
    if not county.open_hub(home).revoke(station_id):
        raise ValidationError("station", "unknown", "没有这个站点或已吊销",
                              "no such station, or already revoked")
    click.echo("已吊销 (revoked)", err=True)


@main.group()
def user() -> None:
    """County IT accounts for the dashboard at https://HUB/."""


@user.command("add")
@click.argument("name")
@click.pass_obj
def user_add(home: Path, name: str) -> None:
    """Add an account; the password comes from COUNTY_PASSWORD or a prompt (asked twice)."""
    import os

    from sync.hub.dashboard import Dashboard

    password = os.environ.get("COUNTY_PASSWORD") or click.prompt(
        "密码 / password", hide_input=True, confirmation_prompt=True)
    if not Dashboard(county.open_hub(home)).add_account(name, password):
        raise ValidationError("name", "taken", f"账号 {name} 已存在", f"the account {name} exists already")
    click.echo(f"已添加账号 {name} (account added)", err=True)


@user.command("list")
@click.pass_obj
def user_list(home: Path) -> None:
    """The accounts (names and when they were made; never a password)."""
    with county.open_hub(home).storage.transaction() as tx:
        for name, created in tx.accounts():
            _emit({"name": name, "created_at": created})


@main.command()
@click.argument("entity", required=False)
@click.pass_obj
def export(home: Path, entity: str | None) -> None:
    """Current records as JSON lines sorted by id, as `station export` prints them."""
    for record in county.open_hub(home).export(entity):
        _emit(record)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable (the only form for now)")
@click.pass_obj
def conflicts(home: Path, as_json: bool) -> None:
    """Open conflicts the hub holds, as JSON lines: the record, the field, the base value,
    the value shown and the ones that lost. Stations settle them; this is for oversight."""
    for row in county.open_hub(home).conflicts():
        _emit(row)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable (the only form for now)")
@click.pass_obj
def duplicates(home: Path, as_json: bool) -> None:
    """The same person (organisation) registered twice and not merged yet, as JSON lines: the
    entity, the ID number (credit code) masked, and its records, the one a merge keeps first.
    A clerk merges them (`station conflicts merge`)."""
    for row in county.open_hub(home).duplicates():
        _emit(row)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable (the only form for now)")
@click.option("--month", help="a month, YYYY-MM (Beijing time)")
@click.option("--from", "first", help="first day, YYYY-MM-DD (Beijing time, included)")
@click.option("--to", "last", help="last day, YYYY-MM-DD (included)")
@click.option("--from-records", is_flag=True,
              help="read every record instead of the kept figures (slow: a check of them)")
@click.pass_obj
def report(home: Path, as_json: bool, month: str | None, first: str | None, last: str | None,
           from_records: bool) -> None:
    """Closure rates and counts, per township and for the county (the station report's shape);
    for a period, the cases reported within it as they stood at its end, overdue counted
    under the 1/3/5-minute deadlines, and the volunteers' check-ins and points."""
    from datetime import datetime

    from sync.report import period_of
    from sync.validate import CHINA_TZ

    period = period_of(month, first, last)
    hub = county.open_hub(home)
    figures = hub.report_from_records if from_records else hub.report
    _emit(figures() if period is None else figures(now=datetime.now(CHINA_TZ), period=period))


@main.group()
def schema() -> None:
    """Schema bundles: publish county IT's changes, watch the rollout."""


@schema.command("push")
@click.argument("bundle_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def schema_push(home: Path, bundle_file: Path) -> None:
    """Check a bundle against the current schema, sign it with the county key, publish it."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes((home / "signing.key").read_bytes())
    bundle = county.open_hub(home).publish(bundle_file.read_bytes(), key)
    _emit({"version": bundle.version, "name": bundle.name, "operations": len(bundle.operations),
           "renames": [f"{r.entity}.{r.old} -> {r.new}" for r in bundle.renames]})


@schema.command("list")
@click.option("--json", "as_json", is_flag=True, help="machine-readable (the only form for now)")
@click.pass_obj
def schema_list(home: Path, as_json: bool) -> None:
    """Versions, when each was published, and how many stations run it."""
    for row in county.open_hub(home).schema_versions():
        _emit(row)


@main.group()
def attachment() -> None:
    """Files stations attached to records (photos, scans), kept sealed at the hub."""


@attachment.command("get")
@click.argument("sha256")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="where to write the file (created readable by its owner only)")
@click.pass_obj
def attachment_get(home: Path, sha256: str, out: Path) -> None:
    """Write out the file with this SHA-256, once the hub has it whole."""
    from sync.private import write_private

    data = county.open_hub(home).blobs.read(sha256.strip().lower())
    write_private(out, data)
    _emit({"sha256": sha256.strip().lower(), "size": len(data), "out": str(out)})


if __name__ == "__main__":
    main()
