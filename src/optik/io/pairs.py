"""Pairs of images for ``optik compare``: a new image and its golden (reference) counterpart, found as two files,
as mirrored trees (``NEW_DIR GOLDEN_DIR``) or as any inputs mirrored into a golden directory (``--against``).

A pair is one pipeline item whose :meth:`PairItem.load` decodes both images. In mirrored trees a new image
without a golden one is ``added`` and a golden image without a new one ``removed``: both are items too, so
that they are reported, never skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from optik.errors import UsageError
from optik.io.inputs import DEFAULT_MAX_FILE_SIZE, STDIN, InputItem, discover
from optik.preprocess.decode import Image

Status = Literal["compared", "added", "removed"]


@dataclass
class LoadedPair:
    """Both images of a pair, decoded; None for the side an added or removed pair lacks."""

    new: Image | None
    golden: Image | None


@dataclass(frozen=True)
class PairItem:
    """A new image and its golden counterpart. ``source`` and ``counterpart`` name them in records (also where
    the missing one would be); ``relative`` places the pair's diff images below ``-o DIR``."""

    source: str
    counterpart: str
    relative: Path
    new: Any = None  # an InputItem or MemoryItem: anything with .load(max_pixels, min_side)
    golden: Any = None

    @property
    def is_stdin(self) -> bool:
        return self.source == STDIN

    @property
    def status(self) -> Status:
        if self.golden is None:
            return "added"
        return "removed" if self.new is None else "compared"

    def load(self, max_pixels: int, min_side: int | None) -> LoadedPair:
        """Both images, decoded (the pixel limit holds for each)."""
        return LoadedPair(
            None if self.new is None else self.new.load(max_pixels, min_side),
            None if self.golden is None else self.golden.load(max_pixels, min_side),
        )


def _file_item(path: str, max_file_size: int) -> InputItem | None:
    """The input for a golden file, or None when there is none (a directory there is an error)."""
    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory where a golden file was expected")
    return InputItem(path, Path(Path(path).name), max_file_size) if os.path.lexists(path) else None


def find_pairs(new: list[str], golden: str, recursive: bool = False, files_from: str | None = None) -> list[PairItem]:
    """The pairs for the new images ``new`` (files, directories, globs, ``-``, ``files_from``) and ``golden``
    (see :func:`pair_up`)."""
    return pair_up(discover(new, recursive, files_from), new, golden, recursive, files_from is not None)


def pair_up(
    items: list[InputItem], arguments: list[str], golden: str, recursive: bool = False, listed: bool = False
) -> list[PairItem]:
    """The pairs for the new images ``items``, found from ``arguments`` (and a ``--files-from`` list when
    ``listed``), and ``golden``.

    ``golden`` a file (or a path that does not exist yet, with one new file): the one pair. ``golden`` a
    directory (or ending in ``/``, or not there yet with several inputs or a directory): each input's golden
    image has the same path below it as the input below its argument (as ``-o DIR`` mirrors); when the inputs
    are one directory, golden images below ``golden`` that no input matches are ``removed`` pairs, listed
    after the others.
    """
    limit = items[0].max_file_size if items else DEFAULT_MAX_FILE_SIZE
    one_directory = len(arguments) == 1 and not listed and os.path.isdir(arguments[0])
    many = len(items) != 1 or len(arguments) != 1 or listed or one_directory
    golden_is_dir = os.path.isdir(golden) or golden.endswith(("/", os.sep)) or (many and not os.path.exists(golden))
    if not golden_is_dir:
        if many:
            raise UsageError(f"{golden} is a file: compare one image with it, or give a golden directory")
        item = items[0]
        return [PairItem(item.source, golden, item.relative, item, _file_item(golden, limit))]
    if any(item.is_stdin for item in items):
        raise UsageError("stdin (-) has no name to find its golden image by: compare - GOLDEN_FILE")
    pairs = []
    for item in items:
        counterpart = os.path.join(golden, item.relative)
        pairs.append(PairItem(item.source, counterpart, item.relative, item, _file_item(counterpart, limit)))
    if one_directory and os.path.isdir(golden):
        matched = {item.relative for item in items}
        for reference in _images_below(golden, recursive, limit):
            if reference.relative not in matched:
                source = os.path.join(arguments[0], reference.relative)
                pairs.append(PairItem(source, reference.source, reference.relative, None, reference))
    return pairs


def _images_below(directory: str, recursive: bool, max_file_size: int) -> list[InputItem]:
    """The images in a golden directory, found as inputs are (none is no error here)."""
    try:
        return list(discover([directory], recursive, max_file_size=max_file_size))
    except UsageError:
        return []
