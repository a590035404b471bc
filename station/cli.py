"""`station`: the command line of the contract in DESIGN.md.

A thin layer: each command turns its options into calls of `station.Store` and prints what
comes back. JSON goes to stdout, messages to stderr; any error is one line and a non-zero exit.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TextIO

import click

from station import keys
from station.store import Store
from sync.errors import TownshipError, ValidationError

DEFAULT_HOME = Path.home() / ".local" / "share" / "township-station"
KDF_PROFILES = {"argon2id": keys.STANDARD_KDF, "scrypt": keys.SCRYPT_KDF, "fast": keys.FAST_KDF}


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"station: {message}", err=True)
    sys.exit(code)


def _emit(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")))


class _Context:
    def __init__(self, home: Path) -> None:
        self.home = home
        self._store: Store | None = None

    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.home)
        return self._store

    def unlocked(self) -> Store:
        store = self.store()
        if not store.unlocked:
            store.unlock(_passphrase("STATION_PASSPHRASE", "口令 / passphrase"),
                         os.environ.get("STATION_CLERK") or None)
        return store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _passphrase(env: str, prompt: str, confirm: bool = False) -> str:
    value = os.environ.get(env)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise ValidationError(env, "required", f"需要口令：请设置 {env} 或在终端中运行",
                              f"a passphrase is needed: set {env} or run in a terminal")
    again = "再输入一次 / repeat" if confirm else False
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=again))


class _Group(click.Group):
    """Maps every error of ours (and the few of the layers below that reach here) to one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TownshipError as exc:
            _fail(str(exc))
        except BrokenPipeError:
            # The reader went away (`station export | head`): not an error of ours.
            sys.stderr.close()
            sys.exit(0)
        except sqlite3.Error as exc:
            _fail(f"数据库错误 (database error): {exc}")
        except OSError as exc:
            _fail(f"文件错误 (file error): {exc.strerror or exc} {exc.filename or ''}".rstrip())
        finally:
            obj = ctx.find_object(_Context)
            if obj is not None:
                obj.close()


@click.group(cls=_Group)
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="STATION_HOME",
              default=DEFAULT_HOME, show_default=True, help="station home directory")
@click.pass_context
def main(ctx: click.Context, home: Path) -> None:
    """Township Station: the encrypted local store of a township station.

    The clerk passphrase comes from STATION_PASSPHRASE or a prompt; STATION_CLERK picks the
    clerk when several share a store.
    """
    ctx.obj = _Context(home)


@main.command()
@click.option("--township", required=True, help="9-digit township code")
@click.option("--name", required=True, help="station name, e.g. 某某镇综治中心")
@click.option("--clerk", required=True, help="first clerk's name")
@click.option("--kdf", type=click.Choice(sorted(KDF_PROFILES)), envvar="STATION_KDF",
              default="argon2id", show_default=True,
              help="passphrase key derivation; 'fast' is weak, for tests and demos only")
@click.option("--county-key", "county_key", help="county recovery public key (64 hex digits)")
@click.pass_obj
def init(obj: _Context, township: str, name: str, clerk: str, kdf: str,
         county_key: str | None) -> None:
    """Create the encrypted store."""
    public = _county_key(county_key) if county_key else None
    passphrase = _passphrase("STATION_PASSPHRASE", "新口令 / new passphrase", confirm=True)
    store = Store.create(obj.home, township=township, name=name, clerk=clerk,
                         passphrase=passphrase, kdf=KDF_PROFILES[kdf], county_public_key=public)
    _emit({"home": str(obj.home.resolve()), "station_id": store.station_id, "township": township})
    store.close()


def _county_key(text: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ValidationError("county-key", "x25519_public_key", "县级恢复公钥应为 64 位十六进制",
                              "the county recovery key is 64 hex digits")
    return key


# ---------------------------------------------------------------------- clerks

@main.group()
def clerk() -> None:
    """Clerks who can unlock the store (one keyslot each)."""


@clerk.command("list")
@click.pass_obj
def clerk_list(obj: _Context) -> None:
    """List the clerks (no passphrase needed)."""
    for row in obj.store().clerks():
        _emit(row)


@clerk.command("add")
@click.argument("name")
@click.option("--kdf", type=click.Choice(sorted(KDF_PROFILES)), envvar="STATION_KDF",
              default="argon2id", show_default=True)
@click.pass_obj
def clerk_add(obj: _Context, name: str, kdf: str) -> None:
    """Add a clerk; their passphrase comes from STATION_NEW_PASSPHRASE or a prompt."""
    store = obj.unlocked()
    store.add_clerk(name, _passphrase("STATION_NEW_PASSPHRASE", f"{name} 的新口令", True),
                    KDF_PROFILES[kdf])
    click.echo(f"已添加办事员 {name} (clerk added)", err=True)


@clerk.command("remove")
@click.argument("name")
@click.pass_obj
def clerk_remove(obj: _Context, name: str) -> None:
    """Remove a clerk's keyslot; the other clerks keep working."""
    obj.unlocked().remove_clerk(name)
    click.echo(f"已删除办事员 {name} (clerk removed)", err=True)


@clerk.command("passwd")
@click.argument("name")
@click.option("--kdf", type=click.Choice(sorted(KDF_PROFILES)), envvar="STATION_KDF",
              default="argon2id", show_default=True)
@click.pass_obj
def clerk_passwd(obj: _Context, name: str, kdf: str) -> None:
    """Change a clerk's passphrase (new one from STATION_NEW_PASSPHRASE or a prompt)."""
    store = obj.unlocked()
    store.change_passphrase(name, _passphrase("STATION_NEW_PASSPHRASE", f"{name} 的新口令", True),
                            KDF_PROFILES[kdf])
    click.echo(f"已更改 {name} 的口令 (passphrase changed)", err=True)


@clerk.command("recover")
@click.argument("name")
@click.option("--recovery-key", "key_file", required=True, type=click.Path(path_type=Path),
              help="the county's recovery.key (from county IT, 32 bytes)")
@click.option("--kdf", type=click.Choice(sorted(KDF_PROFILES)), envvar="STATION_KDF",
              default="argon2id", show_default=True)
@click.pass_obj
def clerk_recover(obj: _Context, name: str, key_file: Path, kdf: str) -> None:
    """Every clerk forgot their passphrase: open the store with the county's recovery key and
    give NAME a new passphrase (STATION_NEW_PASSPHRASE or a prompt)."""
    try:
        key = key_file.read_bytes()
    except OSError as exc:
        _fail(f"读不到恢复密钥文件 {key_file}：{exc.strerror} (cannot read the recovery key {key_file})")
    if len(key) != 32:
        _fail(f"恢复密钥文件 {key_file} 应为 32 字节，实为 {len(key)} 字节 "
              f"(the recovery key {key_file} must be 32 bytes, it is {len(key)})")
    store = obj.store()
    store.unlock_with_recovery(key)
    passphrase = _passphrase("STATION_NEW_PASSPHRASE", f"{name} 的新口令", True)
    if store.keyring.has_clerk(name):
        store.change_passphrase(name, passphrase, KDF_PROFILES[kdf])
    else:
        store.add_clerk(name, passphrase, KDF_PROFILES[kdf])
    click.echo(f"已用县级恢复密钥为 {name} 设置新口令 (recovered: {name} has a new passphrase)", err=True)


# ---------------------------------------------------------------------- records

def _json_object(text: str, line: int = 0) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        err = ValidationError("json", "json", f"不是有效的 JSON（第 {exc.colno} 列）",
                              f"not valid JSON (column {exc.colno})")
        raise err.at_line(line) if line else err from None
    if not isinstance(value, dict):
        err = ValidationError("json", "json_object", "应为 JSON 对象 {…}", "expected a JSON object {…}")
        raise err.at_line(line) if line else err
    return value


def _jsonl(stream: TextIO) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield number, _json_object(line, number)


@main.command()
@click.argument("entity")
@click.option("--json", "json_text", help="one record as a JSON object")
@click.option("--file", "file", type=click.File("r", encoding="utf-8"),
              help="records as JSON lines ('-' for stdin); all or nothing")
@click.pass_obj
def add(obj: _Context, entity: str, json_text: str | None, file: TextIO | None) -> None:
    """Add records; prints the new id(s), one per line."""
    if (json_text is None) == (file is None):
        raise ValidationError("--json/--file", "required", "请给出 --json 或 --file 之一",
                              "give exactly one of --json or --file")
    store = obj.unlocked()
    if json_text is not None:
        ids = [store.add(entity, _json_object(json_text))]
    else:
        assert file is not None
        ids = store.add_lines(entity, _jsonl(file))
    click.echo("\n".join(ids))
    click.echo(f"已添加 {len(ids)} 条记录 (added {len(ids)})", err=True)


@main.command()
@click.argument("entity")
@click.argument("record_id")
@click.option("--json", "json_text", required=True, help="the fields to change; null clears one")
@click.pass_obj
def update(obj: _Context, entity: str, record_id: str, json_text: str) -> None:
    """Change fields of a record."""
    changed = obj.unlocked().update(entity, record_id, _json_object(json_text))
    click.echo("已更新 (updated)" if changed else "没有变化 (nothing changed)", err=True)


@main.command()
@click.argument("entity")
@click.argument("record_id")
@click.pass_obj
def delete(obj: _Context, entity: str, record_id: str) -> None:
    """Delete a record (a tombstone that syncs)."""
    obj.unlocked().delete(entity, record_id)
    click.echo("已删除 (deleted)", err=True)


@main.command()
@click.argument("entity")
@click.argument("record_id")
@click.pass_obj
def get(obj: _Context, entity: str, record_id: str) -> None:
    """One record as JSON."""
    _emit(obj.unlocked().get(entity, record_id))


@main.command()
@click.argument("entity", required=False)
@click.pass_obj
def export(obj: _Context, entity: str | None) -> None:
    """Current records as JSON lines sorted by id (diff-able)."""
    failed: list[str] = []

    def report(record_id: str, exc: TownshipError) -> None:
        failed.append(record_id)
        click.echo(f"station: {exc}", err=True)

    for record in obj.unlocked().export(entity, on_error=report):
        _emit(record)
    if failed:
        _fail(f"{len(failed)} 条记录无法打开，其余已导出 ({len(failed)} records could not be opened;"
              " the rest were exported)")


@main.command()
@click.argument("term")
@click.option("--entity", help="only this entity")
@click.pass_obj
def search(obj: _Context, term: str, entity: str | None) -> None:
    """Exact search by ID number, phone or name (blind indexes); JSON lines."""
    for record in obj.unlocked().search(term, entity):
        _emit(record)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable")
@click.pass_obj
def status(obj: _Context, as_json: bool) -> None:
    """Pending changes, last sync, schema version, open conflicts (no passphrase needed)."""
    facts = obj.store().status()
    if as_json:
        _emit(facts)
        return
    lines: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
        ("站点 station", lambda f: f"{f['name']} ({f['township']})"),
        ("待同步 pending", lambda f: f["pending"]),
        ("被拒绝 rejected", lambda f: f["rejected"]),
        ("待上传附件 files to send", lambda f: f["files_pending"]),
        ("冲突 conflicts", lambda f: f["conflicts"]),
        ("上次同步 last sync", lambda f: f["last_sync"] or "从未 never"),
        ("数据版本 schema", lambda f: f["schema_version"]),
        ("记录 records", lambda f: ", ".join(f"{k} {v}" for k, v in f["records"].items()) or "0"),
    ]
    for label, value in lines:
        click.echo(f"{label}: {value(facts)}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable (the only form for now)")
@click.pass_obj
def report(obj: _Context, as_json: bool) -> None:
    """Incidents and disputes reported and closed, closure rates, base-data counts, volunteers."""
    from station.report import report as build

    _emit(build(obj.store()))


@main.command("demo-data")
@click.option("--scale", type=click.Choice(["small", "seed"]), default="small", show_default=True,
              help="seed: the county's scale (160,000 base records, 11,302 incidents …); small: 1 %")
@click.option("--seed", "seed", type=int, default=0, show_default=True, help="same seed, same data")
@click.pass_obj
def demo_data(obj: _Context, scale: str, seed: int) -> None:
    """Fill the store with realistic synthetic records (no real person's data)."""
    from station.demo import SCALES, DemoData

    added = DemoData(obj.unlocked(), SCALES[scale], seed).fill()
    _emit(added)
    click.echo(f"已生成 {sum(added.values())} 条演示记录 (demo records added)", err=True)


@main.command()
@click.option("--hub", "hub_url", required=True, help="https://HOST:PORT of the county hub")
@click.option("--code", required=True, help="the one-time code from `county station add`")
@click.option("--fingerprint", help="the hub certificate's SHA-256, to check what is pinned")
@click.pass_obj
def enroll(obj: _Context, hub_url: str, code: str, fingerprint: str | None) -> None:
    """Join a county hub: pin its certificate, register this station's key."""
    from station.syncer import enroll as join

    _emit(join(obj.unlocked(), hub_url, code, fingerprint))


@main.command()
@click.option("--once", "mode", flag_value="once", default=True, help="one round (the default)")
@click.option("--daemon", "mode", flag_value="daemon",
              help="keep syncing: soon after local writes, backing off while the hub is away")
@click.pass_obj
def sync(obj: _Context, mode: str) -> None:
    """Push the outbox (each change gets a receipt or a rejection), then pull what changed."""
    import time

    from station.daemon import Loop
    from station.syncer import KeptConnection, sync_once

    store = obj.unlocked()
    if mode == "daemon":
        click.echo("同步守护进程已启动 (sync daemon running; Ctrl-C stops it)", err=True)
        try:
            Loop(store, KeptConnection(), time.sleep).run()
        except KeyboardInterrupt:
            click.echo("已停止 (stopped)", err=True)
        return
    result = sync_once(store)
    _emit({"pushed": result.pushed, "rejected": result.rejected, "batches": result.batches,
           "pulled": result.pulled, "pending": store.status()["pending"],
           "conflicts": store.status()["conflicts"], "files_sent": result.files_sent,
           "files_fetched": result.files_fetched, "files_pending": store.status()["files_pending"]})


@main.group()
def conflicts() -> None:
    """Concurrent edits to settle: list them, keep one side or enter a new value."""


@conflicts.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="also the settled ones")
@click.option("--json", "as_json", is_flag=True, help="machine-readable (the only form for now)")
@click.pass_obj
def conflicts_list(obj: _Context, include_resolved: bool, as_json: bool) -> None:
    """Open conflicts as JSON lines: the record, the field, the value shown and the others."""
    from station.conflicts import Conflicts

    for row in Conflicts(obj.unlocked()).list(include_resolved):
        _emit(row)


@conflicts.command("resolve")
@click.argument("conflict_id")
@click.option("--keep", type=click.Choice(["local", "remote", "deleted", "edited"]),
              help="which side to keep (deleted/edited: for a delete that missed an edit)")
@click.option("--value", "value_json", help="or a new value, as JSON")
@click.pass_obj
def conflicts_resolve(obj: _Context, conflict_id: str, keep: str | None,
                      value_json: str | None) -> None:
    """Settle a conflict; the choice is an ordinary change that syncs everywhere."""
    from station.conflicts import Conflicts

    value = None
    if value_json is not None:
        try:
            value = json.loads(value_json)
        except json.JSONDecodeError:
            raise ValidationError("--value", "json", "不是有效的 JSON", "not valid JSON") from None
    Conflicts(obj.unlocked()).resolve(conflict_id, keep, value)
    click.echo("已解决 (settled)", err=True)


@main.group()
def rejected() -> None:
    """Changes the county hub refused: see why, fix the record, send them again."""


@rejected.command("list")
@click.option("--json", "as_json", is_flag=True, help="machine-readable (the only form for now)")
@click.pass_obj
def rejected_list(obj: _Context, as_json: bool) -> None:
    """Refused changes as JSON lines: seq, record, entity, op, fields, the hub's reason."""
    for row in obj.store().rejected():
        _emit(row)


@rejected.command("resend")
@click.argument("seq", type=int)
@click.pass_obj
def rejected_resend(obj: _Context, seq: int) -> None:
    """Send a refused change again as the record stands now (fix the record first)."""
    _emit({"resent": seq, "as": obj.unlocked().resend(seq)})


# Command groups that live in their own modules register themselves on `main`.
import station.cli_attachments  # noqa: E402
import station.cli_backup  # noqa: E402
import station.cli_cases  # noqa: E402
import station.cli_duty  # noqa: E402
import station.cli_volunteers  # noqa: E402, F401

if __name__ == "__main__":
    main()
