"""Finding inputs: files, directories (``-r``), quoted globs, ``--files-from`` lists and ``-`` (stdin).

Only regular files are read, and never more than ``max_file_size`` bytes: a FIFO, a device (a symlink
to ``/dev/zero``) or a socket named as an input is a one-line :class:`InputError`; met in a directory
walk or a glob it is skipped and counted (:attr:`Inputs.special_files`).
"""

from __future__ import annotations

import glob
import os
import re
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from itertools import takewhile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from optik.errors import InputError, UsageError
from optik.preprocess.headers import IMAGE_EXTENSIONS

if TYPE_CHECKING:
    from optik.preprocess.decode import Image

STDIN = "-"
DEFAULT_MAX_FILE_SIZE = 2 << 30  # 2 GiB
_READ_CHUNK = 1 << 20


def size_text(size: int) -> str:
    """A byte count for a message: "512 bytes", "3.5 MiB", "2 GiB"."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} byte{'s' if size != 1 else ''}"


_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _special_kind(mode: int) -> str | None:
    """What a special file (FIFO, device, socket) is, in words; None for regular files and directories."""
    return next((words for test, words in _SPECIAL_KINDS if test(mode)), None)


def _read_at_most(stream: BinaryIO, expected: int, limit: int) -> bytes | None:
    """Everything ``stream`` holds, or None when that is more than ``limit`` bytes.

    ``expected`` (the size ``fstat`` reported) is read in one go; more is read in chunks, so a file
    that grows, or claims to be empty like those in /proc, is still bounded.
    """
    parts = [stream.read(min(expected, limit) + 1)]
    total = len(parts[0])
    while total <= limit and (chunk := stream.read(min(_READ_CHUNK, limit + 1 - total))):
        parts.append(chunk)
        total += len(chunk)
    if total > limit:
        return None
    return parts[0] if len(parts) == 1 else b"".join(parts)


def read_regular_file(path: str, max_size: int = DEFAULT_MAX_FILE_SIZE) -> bytes:
    """The bytes of the regular file at ``path`` (symlinks followed); a one-line :class:`InputError` otherwise.

    Opened without blocking (a FIFO never hangs) and checked with ``fstat`` on the open descriptor before a
    byte is read, so nothing can be swapped in between the check and the read.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        broken = os.path.islink(path)
        raise InputError(f"{path}: {'broken symbolic link' if broken else 'no such file'}") from None
    except OSError as exc:
        try:  # a socket cannot be opened at all (ENXIO): say what it is
            kind = _special_kind(os.stat(path).st_mode)
        except OSError:
            kind = None
        if kind:
            raise InputError(f"{path}: is {kind}; only regular files are read") from None
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with open(descriptor, "rb", buffering=0) as stream:
        info = os.fstat(descriptor)
        mode, size = info.st_mode, info.st_size
        if stat.S_ISDIR(mode):
            raise InputError(f"{path}: is a directory (pass it as a directory input, -r to recurse)")
        if not stat.S_ISREG(mode):
            target = f" (a link to {os.path.realpath(path)})" if os.path.islink(path) else ""
            kind = _special_kind(mode) or "not a regular file"
            raise InputError(f"{path}: is {kind}{target}; only regular files are read")
        if size > max_size:
            raise InputError(
                f"{path}: {size_text(size)} is over the file size limit of {size_text(max_size)} "
                "(raise it with --max-file-size)"
            )
        try:
            data = _read_at_most(stream, size, max_size)
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if data is None:
        raise InputError(f"{path}: grew past the file size limit of {size_text(max_size)} while being read")
    return data


@dataclass(frozen=True)
class InputItem:
    """One input: where it is read from, how it is named in records, where its output goes below ``-o DIR``."""

    source: str  # a file path, or "-" for stdin
    relative: Path  # mirrored below an output directory
    max_file_size: int = field(default=DEFAULT_MAX_FILE_SIZE, compare=False)

    @property
    def is_stdin(self) -> bool:
        return self.source == STDIN

    def read(self) -> bytes:
        """The raw bytes, at most ``max_file_size`` of them; a one-line :class:`InputError` when they cannot be read."""
        if not self.is_stdin:
            return read_regular_file(self.source, self.max_file_size)
        data = _read_at_most(sys.stdin.buffer, 0, self.max_file_size)
        if data is None:
            raise InputError(f"stdin: more than the file size limit of {size_text(self.max_file_size)}")
        return data

    def load(self, max_pixels: int, min_side: int | None) -> Image:
        """The decoded image (see :func:`~optik.preprocess.decode.decode` for ``min_side``)."""
        from optik.preprocess.decode import decode  # OpenCV: not needed to find the inputs

        return decode(self.read(), self.source, max_pixels, min_side)


class Inputs(list[InputItem]):
    """The inputs found, in order (a plain list of :class:`InputItem`), and what was skipped on the way.

    ``special_files``: FIFOs, devices and sockets with image names met in directory walks and globs;
    never read, so never an input — the CLI reports how many.
    """

    def __init__(self, items: Iterable[InputItem] = (), special_files: Iterable[str] = ()) -> None:
        super().__init__(items)
        self.special_files = list(special_files)


#: ``s3://``, ``gs://``, ``file://`` …: a file named through a filesystem that pyarrow (``--engine ray``) reads.
URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(text: str) -> bool:
    """Whether ``text`` names a file through a URI scheme (``s3://…``, ``file:///…``) rather than a local path."""
    return bool(URI_SCHEME.match(text))


def is_image_name(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _candidates(directory: Path, recursive: bool) -> Iterable[Path]:
    """Every non-directory entry with an image name, sorted; ``-r``: in sub-directories too (not hidden ones)."""
    if recursive:
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            yield from (Path(root) / name for name in sorted(files) if is_image_name(name))
    else:
        yield from sorted(p for p in directory.iterdir() if is_image_name(p.name))


def _is_input(path: str | Path, special: list[str]) -> bool:
    """Whether a file met in a walk or glob is an input: regular files and broken links (reported when read).

    Special files are added to ``special``; directories are not inputs. ``stat`` never blocks, even on a FIFO.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return True  # a broken or looping link: its read error is the record
    if stat.S_ISREG(mode):
        return True
    if not stat.S_ISDIR(mode):
        special.append(str(path))
    return False


def _expand(argument: str, recursive: bool, special: list[str]) -> list[tuple[str, Path]]:
    """(source, relative path) for every input one argument names."""
    if argument == STDIN:
        return [(STDIN, Path("stdin"))]
    path = Path(argument)
    if path.is_dir():
        return [(str(p), p.relative_to(path)) for p in _candidates(path, recursive) if _is_input(p, special)]
    if os.path.lexists(argument) or not glob.has_magic(argument):
        return [(argument, Path(path.name))]  # a named file: decoded (or refused) whatever its name or kind
    parts = Path(argument).parts[:-1]
    base = Path(*takewhile(lambda part: not glob.has_magic(part), parts)) if parts else Path()
    matches = sorted(m for m in glob.glob(argument, recursive=True) if is_image_name(m))
    return [(m, Path(os.path.relpath(m, base))) for m in matches if _is_input(m, special)]


def read_path_list(stream: BinaryIO, nul: bool = False) -> list[str]:
    """The paths in a ``--files-from`` list: one per line, or NUL-separated (``nul``, as ``find -print0`` writes).

    A name is every byte up to the separator — leading and trailing spaces and a leading ``#`` included
    (there is no comment syntax); only empty entries are dropped. Bytes that are not UTF-8 are kept as
    the file system's own (``os.fsdecode``), so every name on disk can be listed.
    """
    separator = b"\0" if nul else b"\n"
    return [os.fsdecode(name) for name in stream.read().split(separator) if name]


def _listed_paths(files_from: str, nul: bool) -> list[str]:
    if files_from == STDIN:
        return read_path_list(sys.stdin.buffer, nul)
    try:
        with open(files_from, "rb") as stream:  # may be a pipe (<(find …)): read as it comes
            return read_path_list(stream, nul)
    except OSError as exc:
        raise UsageError(f"--files-from {files_from}: cannot read ({exc.strerror or exc})") from None


def _identity(source: str) -> object:
    """What makes two inputs the same file: the inode (hard links, symlinks), else the real path."""
    if source == STDIN:
        return source
    try:
        info = os.stat(source)
    except OSError:
        return os.path.realpath(source)
    return (info.st_dev, info.st_ino)


def _inside(relative: Path) -> Path:
    """``relative`` without ``..``, ``.`` or a root: a path that stays below the directory it is joined to."""
    parts = [part for part in relative.parts if part not in ("..", ".", relative.anchor)]
    return Path(*parts) if parts else Path("image")


def _distinct_relatives(inputs: list[InputItem]) -> None:
    """Make every input's relative path (its place below an output directory) stay inside it and differ
    from the others': inputs that would share one (``a/coffee.png b/coffee.png``) mirror their own tree
    below their common folder instead."""
    by_relative: dict[Path, list[int]] = {}
    for index, item in enumerate(inputs):
        inputs[index] = replace(item, relative=_inside(item.relative))
        by_relative.setdefault(inputs[index].relative, []).append(index)
    for indices in by_relative.values():
        if len(indices) < 2:
            continue
        paths = [os.path.abspath(inputs[i].source) for i in indices if not inputs[i].is_stdin]
        common = os.path.commonpath([os.path.dirname(path) for path in paths]) if paths else ""
        for i in indices:
            if not inputs[i].is_stdin:
                mirrored = Path(os.path.relpath(os.path.abspath(inputs[i].source), common))
                inputs[i] = replace(inputs[i], relative=_inside(mirrored))


def discover(
    arguments: Iterable[str],
    recursive: bool = False,
    files_from: str | None = None,
    *,
    files_from_nul: bool = False,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
) -> Inputs:
    """Every input, in the order given, without duplicates; no match at all is a usage error.

    ``files_from``: a list of paths (``-``: stdin), newline- or, with ``files_from_nul``, NUL-separated
    (see :func:`read_path_list`). ``max_file_size`` bounds each later :meth:`InputItem.read`.
    """
    arguments = list(arguments)
    if files_from is not None:
        arguments += _listed_paths(files_from, files_from_nul)
    if not arguments:
        raise UsageError("no inputs given (files, directories, quoted globs, --files-from LIST or - for stdin)")
    if arguments.count(STDIN) > 1 or (files_from == STDIN and STDIN in arguments):
        raise UsageError("stdin (-) can be read only once")
    inputs = Inputs()
    seen: set[object] = set()
    for argument in arguments:
        for source, relative in _expand(argument, recursive, inputs.special_files):
            key = _identity(source)
            if key not in seen:
                seen.add(key)
                inputs.append(InputItem(source, relative, max_file_size))
    if not inputs:
        skipped = f" ({len(inputs.special_files)} special files skipped)" if inputs.special_files else ""
        given = f"{' '.join(arguments[:5])}{' …' if len(arguments) > 5 else ''}"
        raise UsageError(f"no images matched {given}{skipped}")
    _distinct_relatives(inputs)
    missing = [item.source for item in inputs if not item.is_stdin and not os.path.lexists(item.source)]
    if len(missing) == len(inputs):  # nothing to work on: a usage error before any model loads
        raise UsageError(f"no such file: {' '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
    return inputs
