"""The audit trail's hash chain (issue 25 point 2): pure, shared by the station and the hub.

Each entry names who did what to which record, when: never a value. Its hash covers its own
fields and the hash of the entry before it, so an entry edited, taken out or moved shows as
the first link whose hash or predecessor does not match, wherever the chain is checked: on the
station that wrote it, or at the hub that holds its copy. SHA-256 over a canonical JSON form
(SM3 in a GM county, sync/crypto_suite.py: a plain digest in both, not a MAC, so the hub can
check a station's chain without any key of the station's).

Actions (ACTIONS) are a fixed set; `target` is "ENTITY/RECORD-ID" (or an entity alone, or
empty); `detail` is a small JSON object of names and counts (the fields changed, how many
records an import brought), never a field's value or a file's name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sync.crypto_suite import INTL_SUITE, CryptoSuite
from sync.errors import ValidationError

GENESIS = "0" * 64  # what the first entry's `prev` names: no entry before it

# action -> (Chinese, English), as the trail is shown
ACTIONS: dict[str, tuple[str, str]] = {
    "unlock": ("解锁", "unlock"),
    "unlock_failed": ("解锁失败", "failed unlock"),
    "add": ("新增", "add"),
    "update": ("修改", "update"),
    "delete": ("删除", "delete"),
    "reveal": ("查看完整信息", "reveal a masked value"),
    "export": ("导出", "export"),
    "import": ("导入", "import"),
    "settle": ("处理冲突", "settle a conflict"),
    "setting": ("修改设置", "change a setting"),
    "rekey": ("更换数据密钥", "change the data key"),
}
MAX_DETAIL = 2000  # characters of a detail's JSON: names and counts, never a document


@dataclass(frozen=True)
class AuditEntry:
    seq: int  # 1, 2, 3 … on its station
    at: str  # ISO 8601, UTC
    clerk: str  # who (a clerk's slot name, as the unlock screen lists them; "" unknown)
    role: str  # the clerk's role on the station
    action: str  # a key of ACTIONS
    target: str
    detail: str  # canonical JSON of an object
    prev: str  # the hash of entry seq - 1 (GENESIS for the first)
    hash: str

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "clerk": self.clerk, "role": self.role,
                "action": self.action, "target": self.target, "detail": json.loads(self.detail),
                "prev": self.prev, "hash": self.hash}


def canonical(detail: Mapping[str, Any] | None) -> str:
    return json.dumps(dict(detail or {}), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def digest(seq: int, at: str, clerk: str, role: str, action: str, target: str, detail: str,
           prev: str, suite: CryptoSuite = INTL_SUITE) -> str:
    body = json.dumps([seq, at, clerk, role, action, target, detail, prev], ensure_ascii=False,
                      separators=(",", ":"))
    if suite is INTL_SUITE:
        return hashlib.sha256(body.encode()).hexdigest()
    return suite.hexdigest(body.encode())


def following(last: AuditEntry | None, at: str, clerk: str, role: str, action: str,
              target: str = "", detail: Mapping[str, Any] | None = None,
              suite: CryptoSuite = INTL_SUITE) -> AuditEntry:
    """The entry after `last` (None: the first of the chain), hashed with `suite`'s digest."""
    if action not in ACTIONS:
        raise ValueError(f"not an audited action: {action}")
    seq, prev = (1, GENESIS) if last is None else (last.seq + 1, last.hash)
    text = canonical(detail)
    return AuditEntry(seq, at, clerk, role, action, target, text, prev,
                      digest(seq, at, clerk, role, action, target, text, prev, suite))


@dataclass(frozen=True)
class Break:
    seq: int  # the first entry that does not hold
    why: str  # "hash" (edited), "prev" (an entry before it taken out or moved), "seq" (a gap)

    def line(self, lang: str) -> str:
        zh = {"hash": "内容被改动", "prev": "与前一条不衔接（前面的记录被删除或调换）",
              "seq": "编号不连续（记录被删除或调换）"}[self.why]
        en = {"hash": "its content was changed", "prev": "it does not follow the entry before it"
              " (one was taken out or moved)", "seq": "its number breaks the sequence (an entry"
              " was taken out or moved)"}[self.why]
        return f"第 {self.seq} 条{zh}" if lang == "zh" else f"entry {self.seq}: {en}"


def first_break(entries: Iterable[AuditEntry], after: AuditEntry | None = None,
                suite: CryptoSuite = INTL_SUITE) -> Break | None:
    """The first link that does not hold, in the order given (seq order as stored), or None
    when the chain is whole. `after`: the entry the chain continues from (a resumed check)."""
    last = after
    for entry in entries:
        expected = 1 if last is None else last.seq + 1
        if entry.seq != expected:
            return Break(entry.seq, "seq")
        if entry.prev != (GENESIS if last is None else last.hash):
            return Break(entry.seq, "prev")
        if entry.hash != digest(entry.seq, entry.at, entry.clerk, entry.role, entry.action,
                                entry.target, entry.detail, entry.prev, suite):
            return Break(entry.seq, "hash")
        last = entry
    return None


def from_wire(data: Any, where: str = "audit") -> AuditEntry:
    """An entry as a station sent it; ValidationError naming the field and rule otherwise."""
    def bad(name: str, zh: str, en: str) -> ValidationError:
        return ValidationError(f"{where}.{name}", "audit_entry", zh, en)

    if not isinstance(data, dict):
        raise bad("entry", "审计记录应为 JSON 对象", "an audit entry must be a JSON object")
    seq = data.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise bad("seq", "应为正整数", "must be a positive whole number")
    texts = {}
    for name in ("at", "clerk", "role", "action", "target", "detail", "prev", "hash"):
        value = data.get(name)
        if not isinstance(value, str) or len(value) > MAX_DETAIL:
            raise bad(name, f"应为不超过 {MAX_DETAIL} 个字符的文本",
                      f"must be text of at most {MAX_DETAIL} characters")
        texts[name] = value
    if texts["action"] not in ACTIONS:
        raise bad("action", "不是审计所记的操作", "not an audited action")
    return AuditEntry(seq, texts["at"], texts["clerk"], texts["role"], texts["action"],
                      texts["target"], texts["detail"], texts["prev"], texts["hash"])


def to_wire(entry: AuditEntry) -> dict[str, Any]:
    return {"seq": entry.seq, "at": entry.at, "clerk": entry.clerk, "role": entry.role,
            "action": entry.action, "target": entry.target, "detail": entry.detail,
            "prev": entry.prev, "hash": entry.hash}
