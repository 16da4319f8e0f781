"""What ``dedupe --move-to`` and ``--delete`` do to a duplicate, and nothing else.

A file is moved or deleted only if it is still the file that was examined (same size and modification time),
and a move never replaces a file: the duplicate goes to ``DIR/<its path below the inputs' common folder>``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from optik.errors import InputError


def common_root(paths: list[str]) -> Path:
    """The deepest folder that holds every one of ``paths``."""
    return Path(os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths])) if paths else Path("/")


def _check_unchanged(path: str, size: int, mtime_ns: int) -> None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no longer there") from None
    if (info.st_size, info.st_mtime_ns) != (size, mtime_ns):
        raise InputError(f"{path}: changed since it was examined; left alone")


def moved_path(path: str, destination: Path, root: Path) -> Path:
    """Where :func:`move_aside` puts ``path``: ``destination / (path relative to root)``."""
    return destination / os.path.relpath(os.path.abspath(path), root)


def move_aside(path: str, size: int, mtime_ns: int, destination: Path, root: Path) -> Path:
    """Move ``path`` to :func:`moved_path`; refuse an existing target."""
    _check_unchanged(path, size, mtime_ns)
    target = moved_path(path, destination, root)
    if target.exists():
        raise InputError(f"{path}: {target} exists; left alone")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, target)
    return target


def delete(path: str, size: int, mtime_ns: int) -> None:
    """Delete ``path`` (a regular file only)."""
    _check_unchanged(path, size, mtime_ns)
    if not os.path.isfile(path) or os.path.islink(path):
        raise InputError(f"{path}: not a regular file; left alone")
    os.unlink(path)
