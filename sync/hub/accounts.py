"""County IT accounts for the dashboard: password hashing and the rules a password follows.

Passwords are hashed with Argon2id (RFC 9106's second recommended profile: 64 MiB, three
passes, one lane) under a random salt, and stored as
`argon2id$v=19$m=65536,t=3,p=1$SALT$HASH` (base64 without padding, the PHC string format).
Pure: no storage, no I/O; `sync.hub.dashboard` keeps the accounts and sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from functools import lru_cache

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from sync.errors import ValidationError

MEMORY_KIB = 64 * 1024
PASSES = 3
LANES = 1
MIN_LENGTH = 10
_NAME = re.compile(r"[0-9A-Za-z_.\-\u4e00-\u9fff]{1,32}")

# Admin: accounts, enrollment, revocation, schema publishing, the audit page. Viewer: every
# page and export, nothing that changes the hub.
ADMIN, VIEWER = "admin", "viewer"
ROLES = {ADMIN: ("管理员", "admin"), VIEWER: ("查看员", "viewer")}


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, memory: int, passes: int, lanes: int) -> bytes:
    return Argon2id(salt=salt, length=32, iterations=passes, lanes=lanes,
                    memory_cost=memory).derive(password.encode("utf-8"))


def hash_password(password: str, memory: int = MEMORY_KIB, passes: int = PASSES) -> str:
    salt = os.urandom(16)
    digest = _derive(password, salt, memory, passes, LANES)
    return f"argon2id$v=19$m={memory},t={passes},p={LANES}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from; False for a malformed hash."""
    try:
        kind, _version, params, salt, digest = stored.split("$")
        cost = dict(item.split("=") for item in params.split(","))
        expected = _unb64(digest)
        got = _derive(password, _unb64(salt), int(cost["m"]), int(cost["t"]), int(cost["p"]))
    except (ValueError, KeyError):
        return False
    return kind == "argon2id" and hmac.compare_digest(got, expected)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash to check against when the account does not exist, so a wrong name takes as long
    as a wrong password and the login page does not tell which names are accounts."""
    return hash_password(os.urandom(16).hex())


def check_account(name: str, password: str) -> None:
    """The rules for a new account: a short name, a password of at least MIN_LENGTH."""
    if not _NAME.fullmatch(name):
        raise ValidationError("name", "account_name", "账号名为 1–32 个字母、数字、汉字或 _.-",
                              "an account name is 1-32 letters, digits, Chinese characters or _.-")
    if len(password) < MIN_LENGTH:
        raise ValidationError("password", "min_length", f"密码至少 {MIN_LENGTH} 个字符",
                              f"a password has at least {MIN_LENGTH} characters")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationError("role", "role", "角色应为 admin（管理员）或 viewer（查看员）",
                              "a role is admin or viewer")


def token_hash(token: str) -> str:
    """What the hub stores of a session token: a stolen copy of its database opens nothing."""
    return hashlib.sha256(token.encode()).hexdigest()
