"""Which stations the hub speaks with: the protocol version a request names, checked.

The hub accepts its own protocol and the one before (`OLDEST_PROTOCOL`), so a county upgrades
its hub first and its stations as they come online. A request that names none comes from a
release before versions were sent: protocol 1. Anything else — older, newer, or not a number —
is refused before the request is read any further, with a message that names both versions
and says which side to upgrade. The software version is only recorded (`county station list`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sync.errors import ProtocolRefused, ValidationError
from sync.version import (
    OLDEST_PROTOCOL,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    SOFTWARE_HEADER,
    UNNAMED_PROTOCOL,
    software_version,
)

_NUMBER = re.compile(r"[0-9]{1,9}")
# A release as a station names it: "0.2.0", "0.3.0rc1", "0.2.0+deb12".
_SOFTWARE = re.compile(r"[0-9A-Za-z.+_-]{1,64}")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lower = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lower), None)


def protocol_of(headers: Mapping[str, str]) -> int:
    """The protocol a request speaks, or ProtocolRefused when the hub does not speak it."""
    named = _header(headers, PROTOCOL_HEADER)
    if named is None:
        return UNNAMED_PROTOCOL
    accepted = f"{OLDEST_PROTOCOL}–{PROTOCOL_VERSION}"
    hub = software_version()
    if not _NUMBER.fullmatch(named.strip()):
        shown = repr(named[:20])
        raise ProtocolRefused(
            f"无法识别本站发来的同步协议版本 {shown}（县级平台 {hub} 接受协议 {accepted}）：请升级本站软件",
            f"the station's sync protocol version {shown} is not one the hub knows"
            f" (hub {hub} accepts protocols {accepted}): upgrade the station's software")
    version = int(named)
    if version < OLDEST_PROTOCOL:
        raise ProtocolRefused(
            f"本站的同步协议版本 {version} 过旧（县级平台 {hub} 接受协议 {accepted}）：请升级本站软件",
            f"this station speaks sync protocol {version}, too old"
            f" (hub {hub} accepts protocols {accepted}): upgrade the station's software")
    if version > PROTOCOL_VERSION:
        raise ProtocolRefused(
            f"本站的同步协议版本 {version} 比县级平台新（县级平台 {hub} 接受协议 {accepted}）："
            "请升级县级平台软件",
            f"this station speaks sync protocol {version}, newer than the hub's"
            f" (hub {hub} accepts protocols {accepted}): upgrade the hub's software")
    return version


def software_of(headers: Mapping[str, str]) -> str | None:
    """The release a request names (None for protocol 1, which names none), checked so the
    hub's tables and pages only ever hold a short release number."""
    named = _header(headers, SOFTWARE_HEADER)
    if named is None:
        return None
    if not _SOFTWARE.fullmatch(named):
        raise ValidationError(SOFTWARE_HEADER, "release", "应为版本号（至多 64 个字母、数字或 .+_-）",
                              "must be a release number (at most 64 letters, digits or .+_-)")
    return named
