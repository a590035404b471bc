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
