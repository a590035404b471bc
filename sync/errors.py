"""The one error hierarchy of the project.

Every error carries a message a clerk can read, in Chinese and in English. Errors of the
libraries underneath (sqlite3, cryptography, requests) are mapped into these at the edges,
so callers never catch a dependency's exception.
"""

from __future__ import annotations


class TownshipError(Exception):
    """Something went wrong that a person can be told about in one line."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} ({en})")
        self.zh = zh
        self.en = en

    def message(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


class ValidationError(TownshipError):
    """A value broke a rule of its field; nothing was saved."""

    def __init__(self, field: str, rule: str, zh: str, en: str, *, line: int | None = None) -> None:
        where_zh = f"第 {line} 行，" if line is not None else ""
        where_en = f"line {line}, " if line is not None else ""
        super().__init__(
            f"{where_zh}字段 {field}：{zh}（规则 {rule}）",
            f"{where_en}field {field}: {en} (rule {rule})",
        )
        self.field = field
        self.rule = rule
        self.line = line
        self.detail_zh = zh
        self.detail_en = en

    def at_line(self, line: int) -> ValidationError:
        """The same error, placed on a line of an input file."""
        return ValidationError(self.field, self.rule, self.detail_zh, self.detail_en, line=line)


class AlreadyRegistered(ValidationError):
    """The identifier a register keys by (ID number, credit code) is held by another live
    record: `existing` is its id."""

    def __init__(self, field: str, zh: str, en: str, existing: str, *, line: int | None = None) -> None:
        super().__init__(field, "registered", zh, en, line=line)
        self.existing = existing

    def at_line(self, line: int) -> AlreadyRegistered:
        return AlreadyRegistered(self.field, self.detail_zh, self.detail_en, self.existing, line=line)


class StoreError(TownshipError):
    """The station's local store cannot do what was asked."""


class DiskError(StoreError):
    """The disk under the store refused a write (full, read-only, failing): nothing was saved."""


class NotInitialized(StoreError):
    """There is no store in this home yet."""


class AlreadyInitialized(StoreError):
    """A store already exists in this home."""


class LockedError(StoreError):
    """The store is locked: a passphrase is needed first."""


class KeyRotated(LockedError):
    """The data key was rotated (by another process) since this one unlocked: unlock again."""


class RekeyError(StoreError):
    """A data-key rotation cannot start or go on (a clerk's slot cannot take the new key)."""


class WrongPassphrase(StoreError):
    """No keyslot opened with the passphrase given."""


class WrongPin(WrongPassphrase):
    """The shift PIN did not open its slot; a few more tries are left (station/shift_pin.py)."""


class PinUnavailable(LockedError):
    """No shift PIN can open the store (none set, the shift is over, or too many wrong tries)."""


class StationWiped(LockedError):
    """The box destroyed its clerks' keyslots when county IT revoked it with --wipe."""


class ClerkError(StoreError):
    """A clerk cannot be added, removed or changed as asked."""


class NotFound(StoreError):
    """No record with that id."""


class TamperedError(StoreError):
    """A sealed value failed to open: it was altered, moved or belongs elsewhere."""


class StorageVersionError(TownshipError):
    """A store (the station's or the hub's) is at a storage version this release cannot use."""


class StorageTooNew(StorageVersionError):
    """The store was written by a newer release: opening it here could lose what it added."""

    def __init__(self, what_zh: str, what_en: str, found: int, supported: int, software: str) -> None:
        super().__init__(
            f"{what_zh}的存储版本为 {found}，本软件（{software}）最高只支持存储版本 {supported}："
            "请安装更新的版本，不要用旧版本打开它",
            f"the {what_en} has storage version {found} but this software ({software}) supports"
            f" storage versions up to {supported}: install a newer release; do not open it with"
            " an older one",
        )
        self.found = found
        self.supported = supported


class MigrationFailed(StorageVersionError):
    """A storage migration failed and was rolled back: the store is as it was before."""


class ConfigError(TownshipError):
    """A configuration file or setting is not valid."""


class DatabaseDown(TownshipError):
    """The hub's database did not answer (gone, unreachable, unreadable); `reason` is one line
    for a health check, free of personal data (a driver's message names only the database)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"县级平台数据库不可用：{reason}", f"the hub's database is unavailable: {reason}")
        self.reason = reason


class BackupError(TownshipError):
    """A backup could not be set up, run, read or restored."""


class SchemaError(TownshipError):
    """A schema definition or bundle is not valid."""


class AccessError(TownshipError):
    """The county dashboard refused a login or an action."""


class LoginThrottled(AccessError):
    """Too many wrong passwords for the name or from the address: no password is checked
    until `until_ms` (sync/hub/throttle.py); says when, never whether the account exists."""

    def __init__(self, until_ms: int, shown: str) -> None:
        super().__init__(f"尝试次数过多，请于 {shown}（北京时间）后再试",
                         f"too many tries: try again after {shown} (Beijing time)")
        self.until_ms = until_ms


class AdminOnly(AccessError):
    """A viewer account asked for what only an admin may do."""

    def __init__(self) -> None:
        super().__init__("需要管理员权限：查看员账号只能查看和导出",
                         "admins only: a viewer account can read and export, nothing more")


class SyncError(TownshipError):
    """Sync failed; `retryable` says whether trying again later can help."""

    retryable = False


class HubUnreachable(SyncError):
    """The county hub could not be reached."""

    retryable = True


class HubBusy(SyncError):
    """The hub answered, but turned the request away for now (503): it is past what it can
    take. `retry_after` is the seconds it asked to wait (None when it named none). Not a
    fault of the station or the link: nothing is lost, and the daemon tries again then."""

    retryable = True

    def __init__(self, retry_after: float | None) -> None:
        super().__init__("县级平台繁忙，稍后自动重试", "the county hub is busy; retrying automatically soon")
        self.retry_after = retry_after


class Rejected(SyncError):
    """The hub refused a change, with a reason."""


class StationRevoked(Rejected):
    """County IT revoked this station (`county station revoke`): nothing more is synced, and
    the box locks. With `wipe`, it pushes what it can, then destroys its keyslots."""

    def __init__(self, zh: str, en: str, wipe: bool = False) -> None:
        super().__init__(zh, en)
        self.wipe = wipe


class ProtocolRefused(SyncError):
    """The hub does not speak the sync protocol this station does: one of them needs
    upgrading. Not retryable: asking again changes nothing until someone upgrades."""


class RoleRefused(StoreError):
    """The unlocked slot's role may not do this (station/roles.py); nothing was done."""

    def __init__(self, role: str, action: str, entity: str, zh: str, en: str) -> None:
        super().__init__(zh, en)
        self.role = role
        self.action = action
        self.entity = entity
