"""Inputs for ``optik check``: each image decoded together with what its file says (format, size in bytes,
EXIF orientation, ICC profile, colour space), and its place in the batch (near-duplicates are looked for
among the images before it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optik.io.inputs import InputItem
from optik.io.memory import MemoryItem
from optik.preprocess.decode import Image
from optik.preprocess.headers import read_header
from optik.preprocess.profiles import color_space, icc_profile


@dataclass(frozen=True)
class FileFacts:
    """What the file holding an image says about it."""

    format: str  # "JPEG", "PNG", "WebP", "TIFF" …
    file_size: int  # bytes
    orientation: int  # EXIF orientation, 1 (none) to 8
    icc: bool  # an ICC profile is embedded
    color_space: str  # "sRGB", "gray", "CMYK" or the profile's description


@dataclass
class Inspected:
    """One decoded image and its file's facts (None for an image given already decoded)."""

    image: Image
    facts: FileFacts | None


@dataclass(frozen=True)
class InspectItem:
    """An input with its position in the batch."""

    item: Any  # an InputItem or MemoryItem
    index: int

    @property
    def source(self) -> str:
        return self.item.source

    @property
    def relative(self) -> Path:
        return self.item.relative

    @property
    def is_stdin(self) -> bool:
        return bool(getattr(self.item, "is_stdin", False))

    def load(self, max_pixels: int, min_side: int | None) -> Inspected:
        """The decoded image and, when its bytes are at hand, what the file says."""
        if isinstance(self.item, InputItem):
            data = self.item.read()
        elif isinstance(self.item, MemoryItem) and self.item.data is not None:
            data = self.item.data
        else:
            return Inspected(self.item.load(max_pixels, min_side), None)
        image = MemoryItem(self.source, self.relative, data=data).load(max_pixels, min_side)
        header = read_header(data)
        profile = icc_profile(data, header)
        space = color_space(header, profile, image.gray)
        return Inspected(image, FileFacts(header.format, len(data), header.orientation, profile is not None, space))


def inspect_items(items: list[Any]) -> list[InspectItem]:
    """The pipeline inputs of ``optik check``, numbered in input order."""
    return [InspectItem(item, index) for index, item in enumerate(items)]
