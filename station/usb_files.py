"""Files a clerk can pick on the kiosk: what is on a mounted USB stick or in a camera folder.

The folders looked in are the `usb_roots` station setting (a JSON list of paths), by default
/media and /mnt (where a stick is mounted) and ~/Pictures (where a camera's DCIM folder is
copied or mounted). Under each root only files whose name says they may be of an accepted
type are listed: the type is still read from the bytes when the file is attached
(station.attachments), so a renamed file is refused then, naming the rule.

The walk is bounded (depth and entries looked at), because a stick may hold a whole
backup, and it never follows a link out of its root.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sync.errors import ValidationError

SETTING = "usb_roots"
DEFAULT_ROOTS = ("/media", "/mnt", "~/Pictures")
# Names a file of each media type may have (the bytes decide; this only narrows the list).
SUFFIXES = {"image/jpeg": (".jpg", ".jpeg"), "image/png": (".png",),
            "application/pdf": (".pdf",)}
MAX_DEPTH = 6  # /media/USER/STICK/DCIM/100CANON/IMG_0001.JPG is 4 below /media
MAX_SEEN = 20_000  # directory entries looked at across every root, at most
MAX_LISTED = 500  # files listed, at most (newest first)


@dataclass(frozen=True)
class Found:
    """A file that may be attached: where it is, under which root, how big, when changed."""

    path: Path
    root: Path
    size: int
    mtime: float

    @property
    def shown(self) -> str:
        """The file relative to its root, as a list of sheets shows it."""
        return str(self.path.relative_to(self.root))

    @property
    def shown_folder(self) -> str:
        """The folder relative to its root (a stick's own name first), '.' at the root."""
        return str(self.path.parent.relative_to(self.root))


def parse_roots(value: str) -> list[str]:
    """A `usb_roots` value checked: a JSON list of absolute paths (or ~ paths)."""
    try:
        roots = json.loads(value)
    except ValueError:
        roots = None
    if not isinstance(roots, list) or not all(
            isinstance(r, str) and (r.startswith("/") or r.startswith("~")) for r in roots):
        raise ValidationError(SETTING, "json_list",
                              f"{SETTING} 应为路径的 JSON 列表，如 [\"/media\", \"/mnt\"]",
                              f'{SETTING} must be a JSON list of absolute paths,'
                              ' e.g. ["/media", "/mnt"]')
    return roots


def roots_of(settings: Mapping[str, str]) -> list[Path]:
    """The folders to look in, from the station's settings (the defaults when unset)."""
    value = settings.get(SETTING)
    roots = parse_roots(value) if value else list(DEFAULT_ROOTS)
    return [Path(r).expanduser() for r in roots]


def suffixes_for(media_types: Iterable[str]) -> tuple[str, ...]:
    """The file-name endings listed for these media types (a rule's types)."""
    return tuple(s for t in media_types for s in SUFFIXES.get(t, ()))


def find_files(roots: Iterable[Path], suffixes: tuple[str, ...], *, max_depth: int = MAX_DEPTH,
               max_seen: int = MAX_SEEN, max_listed: int = MAX_LISTED) -> list[Found]:
    """Files under the roots whose names end in one of `suffixes` (any case), newest first;
    hidden files and folders are skipped, and links are not followed."""
    found: list[Found] = []
    seen = 0
    for root in roots:
        if not root.is_dir():
            continue  # nothing mounted there today
        for top, dirs, names in os.walk(root, followlinks=False):
            depth = len(Path(top).relative_to(root).parts)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth < max_depth else []
            seen += len(dirs) + len(names)
            for name in sorted(names):
                # Hidden files, and the ~$ lock file Excel and WPS keep beside an open book.
                if name.startswith((".", "~$")) or not name.lower().endswith(suffixes):
                    continue
                path = Path(top) / name
                try:
                    st = path.stat(follow_symlinks=False)
                except OSError:
                    continue  # pulled out while listing
                if path.is_file() and not path.is_symlink():
                    found.append(Found(path, root, st.st_size, st.st_mtime))
            if seen >= max_seen:
                break
        if seen >= max_seen:
            break
    found.sort(key=lambda f: (-f.mtime, str(f.path)))
    return found[:max_listed]
