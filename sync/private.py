"""Files only their owner may read: keys, backup settings, attachments written out."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write `data` to `path` with mode 0600 from the first byte (never readable by others,
    not even briefly). `exclusive`: refuse to replace a file that exists (a key). Otherwise
    written beside it and renamed over it, so a reader never sees half a file."""
    if exclusive:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
