"""Files on a mounted USB stick, for the kiosk to pick from with the keyboard alone.

Where sticks appear: /media and /mnt (what Debian's automounters and a clerk's `mount` use)
and the folders of the `usb_roots` setting (`station settings set usb_roots DIR[:DIR…]`).
The walk is bounded in depth and count, skips hidden folders and never follows a link out,
so a stick holding a whole disk's copy cannot stall the screen.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOTS = (Path("/media"), Path("/mnt"))
SETTING = "usb_roots"
MAX_DEPTH = 4  # /media/USER/LABEL/folder/file: a stick's folder or two
MAX_FILES = 500
SHEET_SUFFIXES = (".xlsx", ".csv")


@dataclass(frozen=True)
class Found:
    """A file on a stick: where it is, its size and when it was last changed (epoch s)."""

    path: Path
    root: Path
    size: int
    modified: float

    @property
    def shown(self) -> str:
        """The path as the list shows it: from its root, which the clerk recognises."""
        return str(self.path.relative_to(self.root))


def configured_roots(settings: Mapping[str, str]) -> list[Path]:
    """The `usb_roots` setting's folders first (what the station was set up with), then the
    defaults; each once."""
    extra = [Path(p) for p in (settings.get(SETTING) or "").split(os.pathsep) if p.strip()]
    roots: list[Path] = []
    for root in (*extra, *DEFAULT_ROOTS):
        if root not in roots:
            roots.append(root)
    return roots


def check_roots(value: str) -> list[str]:
    """The folders of a `usb_roots` value, or the one that is not absolute (as ValueError)."""
    parts = [p.strip() for p in value.split(os.pathsep) if p.strip()]
    for part in parts:
        if not os.path.isabs(part):
            raise ValueError(part)
    return parts


def files_under(roots: Iterable[Path], suffixes: tuple[str, ...] = SHEET_SUFFIXES, *,
                max_depth: int = MAX_DEPTH, limit: int = MAX_FILES) -> list[Found]:
    """Files ending in `suffixes` under each root, newest first; a root that is missing or
    unreadable gives nothing."""
    found: list[Found] = []
    for root in roots:
        found += _walk(root, suffixes, max_depth, limit - len(found))
        if len(found) >= limit:
            break
    return sorted(found, key=lambda f: (-f.modified, str(f.path)))


def _walk(root: Path, suffixes: tuple[str, ...], max_depth: int, limit: int) -> list[Found]:
    found: list[Found] = []
    for folder, dirs, files in os.walk(root, onerror=lambda _exc: None):
        depth = len(Path(folder).relative_to(root).parts)
        dirs[:] = [] if depth >= max_depth else sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith((".", "~$")) or not name.lower().endswith(suffixes):
                continue  # Excel's ~$ lock files and macOS's ._ twins are not sheets
            path = Path(folder) / name
            try:
                info = path.stat()
            except OSError:
                continue
            found.append(Found(path, root, info.st_size, info.st_mtime))
            if len(found) >= limit:
                return found
    return found
