"""Finding inputs: files, directories (``-r``), quoted globs, ``--files-from`` lists and ``-`` (stdin)."""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path

from optik.errors import InputError, UsageError
from optik.preprocess.decode import IMAGE_EXTENSIONS

STDIN = "-"


@dataclass(frozen=True)
class InputItem:
    """One input: where it is read from, how it is named in records, where its output goes below ``-o DIR``."""

    source: str  # a file path, or "-" for stdin
    relative: Path  # mirrored below an output directory

    @property
    def is_stdin(self) -> bool:
        return self.source == STDIN

    def read(self) -> bytes:
        """The raw bytes; a one-line :class:`InputError` when they cannot be read."""
        if self.is_stdin:
            return sys.stdin.buffer.read()
        try:
            return Path(self.source).read_bytes()
        except FileNotFoundError:
            raise InputError(f"{self.source}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{self.source}: is a directory (pass it as a directory input, -r to recurse)") from None
        except OSError as exc:
            raise InputError(f"{self.source}: cannot read ({exc.strerror or exc})") from None


def is_image_name(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _walk(directory: Path, recursive: bool) -> Iterable[Path]:
    if recursive:
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            yield from (Path(root) / name for name in sorted(files))
    else:
        yield from sorted(p for p in directory.iterdir() if p.is_file())


def _expand(argument: str, recursive: bool) -> list[InputItem]:
    if argument == STDIN:
        return [InputItem(STDIN, Path("stdin"))]
    path = Path(argument)
    if path.is_dir():
        return [InputItem(str(p), p.relative_to(path)) for p in _walk(path, recursive) if is_image_name(p)]
    if path.exists() or not glob.has_magic(argument):
        return [InputItem(argument, Path(path.name))]  # a named file: decoded (or refused) whatever its name
    parts = Path(argument).parts[:-1]
    base = Path(*takewhile(lambda part: not glob.has_magic(part), parts)) if parts else Path()
    matches = sorted(glob.glob(argument, recursive=True))
    return [InputItem(m, Path(os.path.relpath(m, base))) for m in matches if os.path.isfile(m) and is_image_name(m)]


def discover(arguments: Iterable[str], recursive: bool = False, files_from: str | None = None) -> list[InputItem]:
    """Every input, in the order given, without duplicates; no match at all is a usage error."""
    arguments = list(arguments)
    if files_from is not None:
        stream = sys.stdin if files_from == STDIN else open(files_from, encoding="utf-8")  # noqa: SIM115
        with stream:
            arguments += [line.strip() for line in stream if line.strip() and not line.startswith("#")]
    if not arguments:
        raise UsageError("no inputs given (files, directories, quoted globs, --files-from LIST or - for stdin)")
    if arguments.count(STDIN) > 1 or (files_from == STDIN and STDIN in arguments):
        raise UsageError("stdin (-) can be read only once")
    items: list[InputItem] = []
    seen: set[str] = set()
    for argument in arguments:
        for item in _expand(argument, recursive):
            key = item.source if item.is_stdin else os.path.realpath(item.source)
            if key not in seen:
                seen.add(key)
                items.append(item)
    if not items:
        raise UsageError(f"no images matched {' '.join(arguments[:5])}{' …' if len(arguments) > 5 else ''}")
    return items
