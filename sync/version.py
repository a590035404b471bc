"""Which release this is, and which sync protocol it speaks.

The protocol version goes on every request; the hub accepts `PROTOCOL_VERSION` and the one
before it (`OLDEST_PROTOCOL`), so a county can upgrade its hub first and its stations as they
come online. A request that names no version comes from a release before versions were sent:
protocol 1.
"""

from __future__ import annotations

from importlib import metadata

# 1: the releases up to 0.1.0 (no version on the wire, replies as Content-Encoding: zstd).
# 2: versions on the wire; zstd bodies as a content type of their own (application/zstd).
PROTOCOL_VERSION = 2
OLDEST_PROTOCOL = PROTOCOL_VERSION - 1
UNNAMED_PROTOCOL = 1  # what a request without a version header speaks


def software_version() -> str:
    """The installed package's version (pyproject.toml), or "unknown" when run from a tree
    that was never installed."""
    try:
        return metadata.version("township-station")
    except metadata.PackageNotFoundError:
        return "unknown"


# The headers a request names its versions in (covered by its signature: sync/signing.py).
PROTOCOL_HEADER = "X-Township-Protocol"
SOFTWARE_HEADER = "X-Township-Software"
# The zstd dictionaries a side holds (sync/dictionary.py), by id: on a station's request, the
# ones it holds (signed, once the hub has named its own: sync/signing.py); on the hub's reply,
# the hub's. A body is compressed with one only when its receiver named it.
DICTIONARIES_HEADER = "X-Township-Dictionaries"
# Protocol 2's media type for a zstd JSON body, both ways. Not Content-Encoding: an HTTP
# library that can decode zstd (urllib3 with Python 3.14's compression.zstd or backports-zstd)
# decodes that by itself, and what reaches the caller is no longer what was sent.
ZSTD_MEDIA_TYPE = "application/zstd"


def wire_headers() -> dict[str, str]:
    """What every request of this release says of itself."""
    software = software_version()
    return {PROTOCOL_HEADER: str(PROTOCOL_VERSION), SOFTWARE_HEADER: software,
            "User-Agent": f"township-station/{software} (protocol {PROTOCOL_VERSION})"}


def release(text: str) -> tuple[int, ...] | None:
    """A release number as a tuple to compare ("0.2.0" -> (0, 2, 0)), or None when it is not
    dotted whole numbers (a pre-release suffix is ignored: "0.3.0rc1" -> (0, 3, 0))."""
    parts = []
    for part in text.strip().split("."):
        digits = part[:len(part) - len(part.lstrip("0123456789"))]
        if not digits:
            return None
        parts.append(int(digits))
        if digits != part:  # "0rc1": the number ends here
            break
    return tuple(parts)


def older(software: str | None, than: tuple[int, ...]) -> bool:
    """Whether a station's release is before `than`. A station that names none (protocol 1:
    0.1.x) or none we can read counts as older: it is one county IT has to look at."""
    mine = release(software) if software else None
    if mine is None:
        return True
    width = max(len(mine), len(than))
    return mine + (0,) * (width - len(mine)) < than + (0,) * (width - len(than))
