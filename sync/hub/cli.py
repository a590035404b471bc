"""`county`: the county platform's command line (the hub).

Every command takes `--home DIR` (or COUNTY_HOME). JSON goes to stdout, messages to stderr,
and any error is one line with a non-zero exit.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sync.crypto_suite import INTL, SUITES
from sync.errors import TownshipError, ValidationError
from sync.hub import config, county
from sync.hub.config import MAX_WORKERS
from sync.pinning import fingerprint
from sync.version import PROTOCOL_VERSION, release, software_version

if TYPE_CHECKING:
    from sync.hub.access import Access
    from sync.hub.rules import Hub

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


def _audited(hub: Hub, action: str, target: str, outcome: str = "ok") -> None:
    """A row of the audit trail for what county IT did here (sync.hub.audit)."""
    from sync.hub.access import Access
    from sync.hub.audit import Actor

    Access(hub, hub.clock.wall_ms).record(Actor.command_line(), action, target, outcome)


@main.command()
@click.option("--database", help="postgresql://… (default: SQLite in the county home)")
@click.option("--host", "hosts", multiple=True, default=("127.0.0.1", "localhost"),
              show_default=True, help="names and addresses the TLS certificate is valid for")
@click.option("--crypto", type=click.Choice(sorted(SUITES)), default=INTL, show_default=True,
              help="crypto suite of the whole county, fixed from now on: intl (AES-256-GCM,"
                   " SHA-256, Ed25519) or gm (SM4-GCM, SM3, SM2); every station must match")
@click.pass_obj
def init(home: Path, database: str | None, hosts: tuple[str, ...], crypto: str) -> None:
    """Create the county keys, TLS certificate and database."""
    county.init(home, database, hosts, crypto)
    settings = county.load_config(home)
    _emit({"home": str(home.resolve()), "database": settings.database,
           "fingerprint": fingerprint((home / "tls.crt").read_bytes()), "crypto": settings.crypto})


@main.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="a county.toml whose keys go over the home's (host, port, workers, database,"
                   " pool_size, max_in_flight, metrics_token)")
@click.option("--host", help="address to listen on  [default: the config's, else 127.0.0.1]")
@click.option("--port", type=click.IntRange(1, 65535), help="[default: the config's, else 8443]")
@click.option("--workers", type=click.IntRange(1, MAX_WORKERS),
              help="worker processes (more than one wants PostgreSQL: SQLite takes one writer)"
                   "  [default: the config's, else 1]")
@click.pass_obj
def serve(home: Path, config_file: Path | None, host: str | None, port: int | None,
          workers: int | None) -> None:
    """Serve the hub over HTTPS (API under /v1/, metrics at /metrics)."""
    from sync.hub import service

    # The options over the config file over the home's county.toml, all checked before
    # anything starts: a bad value stops here, in one line that names its key.
    settings = county.load_config(home, config_file)
    given = {k: v for k, v in (("host", host), ("port", port), ("workers", workers)) if v is not None}
    settings = config.parse(given, settings)
    service.serve(home, settings, config_file)


@main.group()
def station() -> None:
    """Stations: enrollment codes, the list with versions, revocation."""


def _check_scope(township: str, grids: tuple[str, ...]) -> None:
    if not (len(township) == 9 and township.isdigit()):
        raise ValidationError("township", "township_code", "乡镇代码应为 9 位数字",
                              "a township code is 9 digits")
    for grid in grids:
        if not (len(grid) == 12 and grid.isdigit() and grid.startswith(township)):
            raise ValidationError("grid", "grid_code", "网格代码应为本乡镇的 12 位代码",
                                  "a grid code is 12 digits inside the township")


@station.command("add")
@click.option("--township", required=True, help="9-digit township code")
@click.option("--grid", "grids", multiple=True, help="limit the station to these grids")
@click.pass_obj
def station_add(home: Path, township: str, grids: tuple[str, ...]) -> None:
    """Print a one-time enrollment code bound to this scope."""
    _check_scope(township, grids)
    hub = county.open_hub(home)
    code = hub.add_enrollment(township, list(grids))
    _audited(hub, "enroll", " ".join([township, *grids]))
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
    hub = county.open_hub(home)
    changed = hub.set_grids(station_id, list(grids))
    _audited(hub, "grids", f"{station_id}: {' '.join(grids) or 'township'}")
    _emit({"station": changed.id, "township": changed.township, "grids": list(changed.grids),
           "scope_version": changed.scope_version})


@station.command("revoke")
@click.argument("station_id")
@click.option("--wipe", is_flag=True,
              help="also tell the box, at its next contact, to push what it can and then destroy"
                   " its keyslots (a lost or stolen box)")
@click.pass_obj
def station_revoke(home: Path, station_id: str, wipe: bool) -> None:
    """Refuse every later request of a station; the box locks when it next hears of it."""
    hub = county.open_hub(home)
    revoked = hub.revoke(station_id, wipe)
    _audited(hub, "revoke_wipe" if wipe else "revoke", station_id, "ok" if revoked else "refused")
    if not revoked:
        raise ValidationError("station", "unknown", "没有这个站点或已吊销",
                              "no such station, or already revoked")
    click.echo("已吊销，并将销毁本机密钥 (revoked; the box will destroy its keys)" if wipe
               else "已吊销 (revoked)", err=True)


@station.command("replace")
@click.argument("station_id")
@click.pass_obj
def station_replace(home: Path, station_id: str) -> None:
    """Print a one-time code for the box that replaces STATION_ID, restored from its backup
    (`station restore`, then `station enroll --replacement --code CODE`). The station is
    revoked first if it is not yet: the old box's key is refused from then on."""
    hub = county.open_hub(home)
    code = hub.add_replacement(station_id)
    _audited(hub, "replace", station_id)
    _emit({"code": code, "replaces": station_id,
           "fingerprint": fingerprint((home / "tls.crt").read_bytes())})


@main.group()
def user() -> None:
    """County IT accounts for the dashboard at https://HUB/: admins and viewers."""


def _password() -> str:
    """The new password: COUNTY_PASSWORD, or a prompt asked twice."""
    import os

    return os.environ.get("COUNTY_PASSWORD") or click.prompt(
        "密码 / password", hide_input=True, confirmation_prompt=True)


def _access(home: Path) -> Access:
    from sync.hub.access import Access

    hub = county.open_hub(home)
    return Access(hub, hub.clock.wall_ms)


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "viewer"]),
              help="admin: accounts, enrollment, revocation, schema publishing; viewer: read and"
                   " export. Default: admin for the hub's first account, viewer after")
@click.pass_obj
def user_add(home: Path, name: str, role: str | None) -> None:
    """Add an account; the password comes from COUNTY_PASSWORD or a prompt (asked twice)."""
    from sync.hub.audit import Actor

    password = _password()
    access = _access(home)
    if not access.add_account(name, password, role, Actor.command_line()):
        raise ValidationError("name", "taken", f"账号 {name} 已存在", f"the account {name} exists already")
    with access.hub.storage.transaction() as tx:
        given = (tx.account(name) or ("", "?"))[1]
    click.echo(f"已添加账号 {name}，角色 {given} (account added, role {given})", err=True)


@user.command("remove")
@click.argument("name")
@click.pass_obj
def user_remove(home: Path, name: str) -> None:
    """Remove an account and end its sessions; the last admin cannot be removed."""
    from sync.hub.audit import Actor

    _access(home).remove_account(name, Actor.command_line())
    click.echo(f"已删除账号 {name} (account removed)", err=True)


@user.command("passwd")
@click.argument("name")
@click.pass_obj
def user_passwd(home: Path, name: str) -> None:
    """Set a new password (COUNTY_PASSWORD or a prompt asked twice); the account's sessions
    end and a login lock on its name lifts."""
    from sync.hub.audit import Actor

    _access(home).set_password(name, _password(), Actor.command_line())
    click.echo(f"已修改 {name} 的密码，其登录会话已结束 (password changed, sessions ended)", err=True)


@user.command("list")
@click.pass_obj
def user_list(home: Path) -> None:
    """The accounts (name, role, when made; never a password)."""
    with county.open_hub(home).storage.transaction() as tx:
        for name, created, role in tx.accounts():
            _emit({"name": name, "role": role, "created_at": created})


@main.command()
@click.option("--township", required=True, help="9-digit township code")
@click.option("--grid", "grids", multiple=True, help="limit the station to these grids")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the seed file to write (on the USB stick)")
@click.option("--days", type=click.IntRange(1, 365), default=30, show_default=True,
              help="how long the seed may be loaded")
@click.pass_obj
def seed(home: Path, township: str, grids: tuple[str, ...], out: Path, days: int) -> None:
    """A new station's first sync on a stick: an enrollment code, its one-time seed key, and
    the seed of everything a station of that scope may see."""
    from sync.hub.sneakernet import make_seed

    _check_scope(township, grids)
    hub = county.open_hub(home)
    made = make_seed(hub, home, township, list(grids), out, days)
    _audited(hub, "seed", " ".join([township, *grids]))
    _emit({**made, "fingerprint": fingerprint((home / "tls.crt").read_bytes())})


@main.command("import-changes")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="where to write the return file (default: beside FILE)")
@click.pass_obj
def import_changes(home: Path, file: Path, out: Path | None) -> None:
    """Apply a station's changes file from a USB stick; write its return file."""
    from sync.hub.sneakernet import import_changes as apply

    hub = county.open_hub(home)
    done = apply(hub, home, file, out)
    _audited(hub, "import_changes", done["station"])
    _emit(done)


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
    A clerk merges them (`station conflicts merge`), or county IT (`county merge`)."""
    for row in county.open_hub(home).duplicates():
        _emit(row)


@main.command()
@click.argument("first")
@click.argument("second")
@click.option("--take", "take", multiple=True, metavar="FIELD",
              help="take the other record's value of FIELD where both hold one (repeatable)")
@click.pass_obj
def merge(home: Path, first: str, second: str, take: tuple[str, ...]) -> None:
    """Merge two records of one ID number (credit code), as `county duplicates` lists them:
    the lower id is kept with every field only the other held, every record naming the other
    points at it, the other is deleted; the stations get it at their next sync (a pair
    registered in two townships reaches no station whole: only the county can merge it).
    Prints the kept id."""
    from sync.hub.merging import merge_pair

    hub = county.open_hub(home)
    try:
        kept = merge_pair(hub, first, second, take)
    except TownshipError:
        _audited(hub, "merge", f"{first} {second}", "refused")
        raise
    _audited(hub, "merge", f"{first} {second}")
    click.echo(kept)


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
    hub = county.open_hub(home)
    key = hub.suite.signing_key((home / "signing.key").read_bytes())
    try:
        bundle = hub.publish(bundle_file.read_bytes(), key)
    except TownshipError:
        _audited(hub, "publish", bundle_file.name[:100], "refused")
        raise
    _audited(hub, "publish", f"v{bundle.version}")
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


@main.group("audit")
def station_audit() -> None:
    """The stations' audit trails, as each sent it with its sync rounds."""


@station_audit.command("verify")
@click.argument("station_id")
@click.pass_obj
def audit_verify(home: Path, station_id: str) -> None:
    """Prove a station's chain whole, or name its first broken link (exit status 1)."""
    count, broken = county.open_hub(home).audit_check(station_id)
    if broken is not None:
        _emit({"station": station_id, "whole": False, "entries": count, "broken_at": broken.seq,
               "why": broken.why})
        click.echo(f"county: 审计记录链断裂：{broken.line('zh')} (the audit chain is broken:"
                   f" {broken.line('en')})", err=True)
        sys.exit(1)
    _emit({"station": station_id, "whole": True, "entries": count})


@station_audit.command("list")
@click.argument("station_id")
@click.pass_obj
def audit_list(home: Path, station_id: str) -> None:
    """A station's entries as JSON lines, oldest first."""
    for entry in county.open_hub(home).audit_trail(station_id):
        _emit(entry.as_json())
