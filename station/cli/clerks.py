"""`station init` and `station clerk …`: the store and the keyslots that open it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from station import keys, roles
from station import rekey as rekey_steps
from station.cli.common import Context, Decorated, ask_passphrase, emit, fail
from station.cli.progress import Bars, progress_option, wanted
from station.store import Store
from sync.crypto_suite import INTL, SUITES
from sync.errors import ValidationError

KDF_PROFILES = {"argon2id": keys.STANDARD_KDF, "scrypt": keys.SCRYPT_KDF, "fast": keys.FAST_KDF}


def kdf_option(help: str | None = None) -> Callable[[Decorated], Decorated]:
    """`--kdf`: how a passphrase becomes a key-encryption key (STATION_KDF)."""
    return click.option("--kdf", type=click.Choice(sorted(KDF_PROFILES)), envvar="STATION_KDF",
                        default="argon2id", show_default=True, help=help)


@click.command()
@click.option("--township", required=True, help="9-digit township code")
@click.option("--name", required=True, help="station name, e.g. 某某镇综治中心")
@click.option("--clerk", required=True, help="first clerk's name")
@kdf_option("passphrase key derivation; 'fast' is weak, for tests and demos only")
@click.option("--county-key", "county_key", help="county recovery public key (64 hex digits)")
@click.option("--crypto", type=click.Choice(sorted(SUITES)), default=INTL, show_default=True,
              help="crypto suite, fixed from now on; must be the county's: intl (AES-256-GCM,"
                   " SHA-256, Ed25519) or gm (SM4-GCM, SM3, SM2)")
@click.pass_obj
def init(obj: Context, township: str, name: str, clerk: str, kdf: str,
         county_key: str | None, crypto: str) -> None:
    """Create the encrypted store."""
    public = county_public_key(county_key) if county_key else None
    passphrase = ask_passphrase("STATION_PASSPHRASE", "新口令 / new passphrase", confirm=True)
    store = Store.create(obj.home, township=township, name=name, clerk=clerk,
                         passphrase=passphrase, kdf=KDF_PROFILES[kdf], county_public_key=public,
                         crypto=crypto)
    emit({"home": str(obj.home.resolve()), "station_id": store.station_id, "township": township,
          "crypto": crypto})
    store.close()


def county_public_key(text: str) -> bytes:
    """The `--county-key` as the 32 bytes of an X25519 public key."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ValidationError("county-key", "x25519_public_key", "县级恢复公钥应为 64 位十六进制",
                              "the county recovery key is 64 hex digits")
    return key


@click.group()
def clerk() -> None:
    """Clerks who can unlock the store (one keyslot each)."""


@clerk.command("list")
@click.pass_obj
def clerk_list(obj: Context) -> None:
    """List the keyslots: name, role, grids, volunteer (no passphrase needed)."""
    for row in obj.store().clerks():
        emit(row)


def new_passphrase(name: str) -> str:
    return ask_passphrase("STATION_NEW_PASSPHRASE", f"{name} 的新口令", True)


@clerk.command("add")
@click.argument("name")
@kdf_option()
@click.option("--role", type=click.Choice(sorted(roles.table().roles)), default=roles.CLERK,
              show_default=True, help="what the slot may do (station/roles.json)")
@click.option("--grids", default="", help="a gridworker's grid codes, comma-separated")
@click.option("--volunteer", "volunteer_id", help="a volunteer's own volunteer record id")
@click.pass_obj
def clerk_add(obj: Context, name: str, kdf: str, role: str, grids: str,
              volunteer_id: str | None) -> None:
    """Add a keyslot (a clerk, or with --role a gridworker or a volunteer); its passphrase
    comes from STATION_NEW_PASSPHRASE or a prompt. Only a clerk may."""
    grant = roles.checked_grant(role, grids.split(","), volunteer_id)
    store = obj.unlocked()
    store.require("admin", roles.ADMIN_ENTITY)  # before the new passphrase is asked for
    if grant.volunteer is not None:
        store.get("volunteer", grant.volunteer)  # NotFound unless such a volunteer is here
    store.add_clerk(name, new_passphrase(name), KDF_PROFILES[kdf], grant)
    click.echo(f"已添加{roles.label(role)} {name} ({roles.label(role, 'en')} added)", err=True)


@clerk.command("remove")
@click.argument("name")
@click.option("--rotate", is_flag=True,
              help="also change the data key, so what NAME once unwrapped opens nothing new")
@progress_option
@click.pass_obj
def clerk_remove(obj: Context, name: str, rotate: bool, progress: bool | None) -> None:
    """Remove a clerk's keyslot; the other clerks keep working."""
    store = obj.unlocked()
    if not rotate:
        store.remove_clerk(name)
        click.echo(f"已删除办事员 {name} (clerk removed)", err=True)
        return
    generation = store.start_rekey(remove=name)
    click.echo(f"已删除办事员 {name}，已换用第 {generation} 代数据密钥 "
               f"(clerk removed; data key generation {generation})", err=True)
    _finish_rekey(store, progress)


@click.command()
@click.option("--resume", is_flag=True, help="only go on with a change of key that was cut off")
@click.option("--batch", type=click.IntRange(1, 100_000), default=rekey_steps.BATCH,
              show_default=True, help="rows sealed again per transaction")
@progress_option
@click.pass_obj
def rekey(obj: Context, resume: bool, batch: int, progress: bool | None) -> None:
    """Change the data key: every value sealed again under a new one, in resumable steps."""
    store = obj.unlocked()
    if store.rekey_state() is None:
        if resume:
            fail("没有未完成的数据密钥更换 (no change of data key is under way)")
        generation = store.start_rekey()
        click.echo(f"已换用第 {generation} 代数据密钥，正在重新加密 "
                   f"(data key generation {generation}; sealing again)", err=True)
    _finish_rekey(store, progress, batch)


def _finish_rekey(store: Store, progress: bool | None, batch: int = rekey_steps.BATCH) -> None:
    with Bars(wanted(progress), labels={"rekey": "重新加密 sealing again"}) as bars:
        store.continue_rekey(lambda done, total: bars("rekey", done, total), batch)
    emit({"key_generation": store.key_generation, "rekey": "done",
          "not_opened": store.rekey_skipped()})


@clerk.command("passwd")
@click.argument("name")
@kdf_option()
@click.pass_obj
def clerk_passwd(obj: Context, name: str, kdf: str) -> None:
    """Change a clerk's passphrase (new one from STATION_NEW_PASSPHRASE or a prompt)."""
    store = obj.unlocked()
    store.change_passphrase(name, new_passphrase(name), KDF_PROFILES[kdf])
    click.echo(f"已更改 {name} 的口令 (passphrase changed)", err=True)


def read_recovery_key(key_file: Path) -> bytes:
    """The county's recovery key from its file (32 bytes), or a one-line failure."""
    try:
        key = key_file.read_bytes()
    except OSError as exc:
        fail(f"读不到恢复密钥文件 {key_file}：{exc.strerror} (cannot read the recovery key {key_file})")
    if len(key) != 32:
        fail(f"恢复密钥文件 {key_file} 应为 32 字节，实为 {len(key)} 字节 "
             f"(the recovery key {key_file} must be 32 bytes, it is {len(key)})")
    return key


@clerk.command("recover")
@click.argument("name")
@click.option("--recovery-key", "key_file", required=True, type=click.Path(path_type=Path),
              help="the county's recovery.key (from county IT, 32 bytes)")
@kdf_option()
@click.pass_obj
def clerk_recover(obj: Context, name: str, key_file: Path, kdf: str) -> None:
    """Every clerk forgot their passphrase: open the store with the county's recovery key and
    give NAME a new passphrase (STATION_NEW_PASSPHRASE or a prompt)."""
    key = read_recovery_key(key_file)
    store = obj.store()
    store.unlock_with_recovery(key)
    passphrase = new_passphrase(name)
    if store.keyring.has_clerk(name):
        store.change_passphrase(name, passphrase, KDF_PROFILES[kdf])
    else:
        store.add_clerk(name, passphrase, KDF_PROFILES[kdf])
    click.echo(f"已用县级恢复密钥为 {name} 设置新口令 (recovered: {name} has a new passphrase)", err=True)
