"""The keyslots table: who can unwrap the station's data key.

Table work only; the store decides when (inside its transactions) and keeps the key in memory.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from station import keys, settings
from station.roles import CLERK_GRANT, Grant
from sync.crypto_suite import CryptoSuite, suite_named
from sync.errors import ClerkError, RekeyError, WrongPassphrase


@dataclass(frozen=True)
class Opened:
    """A clerk's slot opened by their passphrase."""

    data_key: bytes
    clerk: str
    kek: bytes
    legacy: bool  # made before rotation: no key pair yet (`Keyring.upgrade_slot`)


def _open(slot: dict[str, Any], kek: bytes) -> Opened:
    """The data key of a slot, under the KEK its passphrase made (WrongPassphrase if not)."""
    if slot["public_key"] is None:
        return Opened(keys.unwrap(kek, slot["wrapped"]), str(slot["clerk"]), kek, True)
    private = keys.unwrap(kek, slot["wrapped_private"])
    data_key = keys.unwrap_with_private(private, slot["ephemeral_public"], slot["wrapped"],
                                        keys.CLERK_PURPOSE)
    return Opened(data_key, str(slot["clerk"]), kek, False)


def _no_clerk(clerk: str) -> ClerkError:
    return ClerkError(f"没有名为 {clerk} 的办事员", f"no clerk named {clerk}")


class Keyring:
    def __init__(self, connection: Callable[[], sqlite3.Connection]) -> None:
        # The store's connection of the calling thread: its writer inside a transaction.
        self._connection = connection

    @property
    def conn(self) -> sqlite3.Connection:
        return self._connection()

    def _slots(self, where: str, *args: Any) -> list[dict[str, Any]]:
        cursor = self.conn.execute(f"SELECT * FROM keyslots WHERE {where} ORDER BY id", args)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def clerks(self) -> list[dict[str, Any]]:
        """Names and slot facts; never a secret."""
        return [
            {"clerk": r["clerk"], "kdf": json.loads(r["kdf_params"]), "created_at": r["created_at"],
             **_grant_json(Grant.of(r.get("role"), r.get("grids"), r.get("volunteer")))}
            for r in self._slots("kind = 'passphrase'")
        ]

    def grant_of(self, clerk: str | None) -> Grant:
        """What the slot of `clerk` may do (None, the county's recovery key: a clerk's all)."""
        if clerk is None:
            return CLERK_GRANT
        slots = self._slots("kind = 'passphrase' AND clerk = ?", clerk)
        if not slots:
            raise _no_clerk(clerk)
        r = slots[0]
        return Grant.of(r.get("role"), r.get("grids"), r.get("volunteer"))

    def has_clerk(self, clerk: str) -> bool:
        return bool(self._slots("kind = 'passphrase' AND clerk = ?", clerk))

    def open_with_passphrase(self, passphrase: str, clerk: str | None) -> tuple[bytes, str]:
        """(data key, clerk) from the first slot the passphrase opens, or WrongPassphrase."""
        opened = self.open_slot(passphrase, clerk)
        return opened.data_key, opened.clerk

    def open_slot(self, passphrase: str, clerk: str | None) -> Opened:
        """The first slot the passphrase opens, or WrongPassphrase."""
        slots = self._slots("kind = 'passphrase'")
        if clerk is not None:
            slots = [s for s in slots if s["clerk"] == clerk]
            if not slots:
                raise _no_clerk(clerk)
        for slot in slots:
            params = keys.params_from_json(json.loads(slot["kdf_params"]))
            kek = keys.derive_kek(passphrase, slot["salt"], params)
            try:
                return _open(slot, kek)
            except WrongPassphrase:
                continue
        raise WrongPassphrase("口令不正确", "wrong passphrase")

    def upgrade_slot(self, opened: Opened) -> None:
        """Give a slot made before rotation (the data key wrapped straight under the KEK) its
        clerk's key pair, so a rekey can reach it: done at the clerk's first unlock since."""
        private, public = keys.new_clerk_pair()
        ephemeral, wrapped = keys.wrap_to_public(opened.data_key, public, keys.CLERK_PURPOSE,
                                                 self._suite())
        self.conn.execute(
            "UPDATE keyslots SET public_key = ?, wrapped_private = ?, ephemeral_public = ?,"
            " wrapped = ? WHERE kind = 'passphrase' AND clerk = ?",
            (public, keys.wrap(opened.kek, private, self._suite()), ephemeral, wrapped, opened.clerk))

    def not_rotatable(self) -> list[str]:
        """The clerks whose slots cannot take a new data key without their passphrase."""
        return [str(s["clerk"]) for s in self._slots("kind = 'passphrase' AND public_key IS NULL")]

    def give_new_key(self, data_key: bytes, now: str) -> int:
        """Seal `data_key` to every clerk's public key and to the county's recovery key, in
        place of the old one (a rotation); how many clerk slots took it."""
        missing = self.not_rotatable()
        if missing:
            names = "、".join(missing)
            raise RekeyError(
                f"办事员 {names} 的密钥槽是旧格式，需其本人先解锁一次（或先删除该办事员），才能更换数据密钥",
                f"the slots of {', '.join(missing)} predate rotation: each must unlock once"
                " (or be removed) before the data key can be changed")
        slots = self._slots("kind = 'passphrase'")
        for slot in slots:
            ephemeral, wrapped = keys.wrap_to_public(data_key, slot["public_key"], keys.CLERK_PURPOSE,
                                                     self._suite())
            self.conn.execute("UPDATE keyslots SET ephemeral_public = ?, wrapped = ? WHERE id = ?",
                              (ephemeral, wrapped, slot["id"]))
        county = settings.get(self.conn, "county_public_key")
        if county:
            self.set_county_key(data_key, bytes.fromhex(county), now)
        return len(slots)

    def open_with_county_key(self, county_private_key: bytes) -> bytes:
        slots = self._slots("kind = 'recovery'")
        if not slots:
            raise ClerkError("此站点没有县级恢复密钥槽", "this station has no county recovery slot")
        return keys.unwrap_as_county(county_private_key, slots[0]["ephemeral_public"],
                                     slots[0]["wrapped"])

    def _suite(self) -> CryptoSuite:
        """The store's suite (its `crypto` setting): a clerk's slot is wrapped with its cipher."""
        return suite_named(settings.get(self.conn, "crypto"))

    def add_clerk(self, clerk: str, passphrase: str, data_key: bytes, kdf: keys.KdfParams,
                  now: str, grant: Grant = CLERK_GRANT) -> None:
        if self.has_clerk(clerk):
            raise ClerkError(f"办事员 {clerk} 已存在", f"clerk {clerk} already exists")
        salt = keys.new_salt()
        kek = keys.derive_kek(passphrase, salt, kdf)
        private, public = keys.new_clerk_pair()
        ephemeral, wrapped = keys.wrap_to_public(data_key, public, keys.CLERK_PURPOSE, self._suite())
        self.conn.execute(
            "INSERT INTO keyslots (kind, clerk, kdf, kdf_params, salt, wrapped, created_at,"
            " public_key, wrapped_private, ephemeral_public)"
            " VALUES ('passphrase', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (clerk, kdf.kdf, json.dumps(keys.params_to_json(kdf), sort_keys=True), salt, wrapped,
             now, public, keys.wrap(kek, private, self._suite()), ephemeral),
        )
        if grant != CLERK_GRANT:
            self.conn.execute(
                "UPDATE keyslots SET role = ?, grids = ?, volunteer = ? WHERE kind = 'passphrase'"
                " AND clerk = ?", (grant.role, json.dumps(sorted(grant.grids)) if grant.grids else None,
                                   grant.volunteer, clerk))

    def remove_clerk(self, clerk: str, *, keep_one: bool = True) -> None:
        if not self.has_clerk(clerk):
            raise _no_clerk(clerk)
        if keep_one and len(self._slots("kind = 'passphrase'")) <= 1:
            raise ClerkError("不能删除最后一名办事员：否则无人能打开数据",
                             "cannot remove the last clerk: nobody could open the store")
        self.conn.execute("DELETE FROM keyslots WHERE kind = 'passphrase' AND clerk = ?", (clerk,))

    def set_county_key(self, data_key: bytes, county_public_key: bytes, now: str) -> None:
        """Add or replace the recovery slot sealed to the county's X25519 public key."""
        ephemeral, wrapped = keys.wrap_for_county(data_key, county_public_key)
        self.conn.execute("DELETE FROM keyslots WHERE kind = 'recovery'")
        self.conn.execute(
            "INSERT INTO keyslots (kind, ephemeral_public, wrapped, created_at)"
            " VALUES ('recovery', ?, ?, ?)",
            (ephemeral, wrapped, now),
        )
        settings.put(self.conn, county_public_key=county_public_key.hex())

    def destroy_clerk_slots(self) -> int:
        """Delete every clerk's slot (the county's recovery slot stays); how many went."""
        return int(self.conn.execute("DELETE FROM keyslots WHERE kind = 'passphrase'").rowcount)

    def count(self) -> int:
        return len(self._slots("kind = 'passphrase'"))


def _grant_json(grant: Grant) -> dict[str, Any]:
    return {"role": grant.role, "grids": sorted(grant.grids), "volunteer": grant.volunteer}
