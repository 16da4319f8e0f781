"""Decoding and encoding with OpenCV: orientation, colour order, alpha, 8/16-bit, a pixel limit.

Nothing is handed to a decoder before its header (:mod:`optik.preprocess.headers`) has told the image's
size, so the pixel limit holds before any allocation; a format optik cannot size is not decoded at all.
What OpenCV and the codec libraries under it say never reaches stderr: a failure becomes a one-line
:class:`InputError` whose ``__cause__`` (a :class:`CodecMessage`) keeps their original words for ``-v``.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import cv2
import numpy as np

from optik.errors import InputError
from optik.preprocess.headers import Header, HeaderError, read_header

DEFAULT_MAX_PIXELS = 100_000_000
OPENCV_MAX_PIXELS = 1 << 30  # imdecode refuses more (OPENCV_IO_MAX_IMAGE_PIXELS), with an assertion
# With IMREAD_UNCHANGED OpenCV leaves JPEG, PNG and WebP EXIF orientation alone, but its TIFF decoder applies the
# orientation tag itself (OpenCV 4.x): optik orients everything else, once.
ORIENTED_BY_OPENCV = frozenset({"TIFF"})
_ORIENT_OPS = {  # EXIF orientation → (transpose first?, flip code or None)
    2: (False, 1),
    3: (False, -1),
    4: (False, 0),
    5: (True, None),
    6: (True, 1),
    7: (True, -1),
    8: (True, 0),
}

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # its [ WARN ] / [ERROR] lines: see _LibraryOutput


class CodecMessage(Exception):
    """What OpenCV or a codec library said about an image, kept as the ``__cause__`` of an :class:`InputError`."""


@dataclass
class Image:
    """A decoded image: colour pixels in RGB order, alpha kept aside, original depth kept.

    ``pixels`` is H×W×3 uint8 or uint16 (gray input is expanded; ``gray`` remembers it);
    ``alpha`` is H×W of the same dtype, or None.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    gray: bool = False
    name: str = "-"
    source_size: tuple[int, int] | None = None  # (width, height) in the file, when decoded reduced
    decode_warnings: tuple[str, ...] = ()  # what the codec library warned about while decoding (for -v)

    @property
    def original_size(self) -> tuple[int, int]:
        """(width, height) of the image as stored (after orientation), whatever the decode scale."""
        return self.source_size or (self.width, self.height)

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    def rgb8(self) -> np.ndarray:
        """The colour pixels as RGB uint8 (16-bit input scaled down with rounding)."""
        if self.pixels.dtype == np.uint8:
            return self.pixels
        return ((self.pixels.astype(np.float32) + 128.0) / 257.0).clip(0, 255).astype(np.uint8)

    @classmethod
    def from_array(cls, array: np.ndarray, name: str = "<array>") -> Image:
        """Wrap an RGB, RGBA or gray uint8/uint16 array (the Python API's input)."""
        array = np.asarray(array)
        if array.dtype not in (np.uint8, np.uint16):
            raise InputError(f"{name}: expected a uint8 or uint16 image array, got {array.dtype}")
        if array.ndim == 2:
            return cls(np.repeat(array[:, :, None], 3, axis=2), None, True, name)
        if array.ndim != 3 or array.shape[2] not in (3, 4):
            raise InputError(f"{name}: expected an H×W, H×W×3 or H×W×4 array, got shape {array.shape}")
        alpha = array[:, :, 3].copy() if array.shape[2] == 4 else None
        return cls(np.ascontiguousarray(array[:, :, :3]), alpha, False, name)


class _LibraryOutput:
    """Catches what OpenCV and the C codec libraries print on file descriptor 2 while decodes run.

    OpenCV's log is silent outside decodes. Concurrent decodes share one catch: the first to start
    points fd 2 at a temporary file and lets OpenCV log warnings, the last to finish silences OpenCV,
    points fd 2 back and passes on every line that is not a library's (what other threads write
    meanwhile is delayed, never lost). Each decode gets the library lines written while it ran, which
    may include a concurrent decode's.
    """

    LINE = re.compile(
        rb"\[ ?(WARN|ERROR|INFO|DEBUG|FATAL|VERB)[:\]]|> |\s*$|"  # OpenCV's log, its multi-line checks, blank lines
        rb"libpng (error|warning)|Corrupt JPEG data|Premature end of JPEG file|Invalid SOS parameters|"
        rb"Inconsistent progression sequence|Unknown Adobe color transform|Application transferred too|"
        rb"Warning: (unknown JFIF|thumbnail image size)|JPEG datastream contains no image"
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved_fd = -1
        self._file: BinaryIO | None = None

    @contextmanager
    def catch(self) -> Iterator[list[str]]:
        """Yields a list that holds, once the block is left, the library lines printed during it."""
        lines: list[str] = []
        with self._lock:
            if self._users == 0:
                self._start()
            self._users += 1
            start = os.lseek(self._file.fileno(), 0, os.SEEK_CUR) if self._file else 0
        try:
            yield lines
        finally:
            with self._lock:
                if self._file:
                    end = os.lseek(self._file.fileno(), 0, os.SEEK_CUR)
                    caught = os.pread(self._file.fileno(), end - start, start).splitlines()
                    lines += [line.decode(errors="replace").strip() for line in caught if self._is_library(line)]
                self._users -= 1
                if self._users == 0:
                    self._stop()

    @classmethod
    def _is_library(cls, line: bytes) -> bool:
        return bool(line.strip()) and cls.LINE.match(line) is not None

    def _start(self) -> None:
        try:
            saved_fd = os.dup(2)
        except OSError:  # no stderr at all: nothing to protect
            return
        if sys.stderr is not None:
            sys.stderr.flush()
        self._saved_fd, self._file = saved_fd, tempfile.TemporaryFile()  # noqa: SIM115 (closed in _stop)
        os.dup2(self._file.fileno(), 2)
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_WARNING)

    def _stop(self) -> None:
        if self._file is None:
            return
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        if sys.stderr is not None:
            sys.stderr.flush()
        os.dup2(self._saved_fd, 2)
        os.close(self._saved_fd)
        self._file.seek(0)
        others = b"".join(line for line in self._file.read().splitlines(keepends=True) if not self.LINE.match(line))
        self._file.close()
        self._file = None
        while others:
            others = others[os.write(2, others) :]


_LIBRARY_OUTPUT = _LibraryOutput()


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    transpose, flip = _ORIENT_OPS.get(orientation, (False, None))
    if transpose:
        array = cv2.transpose(array)
    if flip is not None:
        array = cv2.flip(array, flip)
    return array


_REDUCED = {
    2: (cv2.IMREAD_REDUCED_COLOR_2, cv2.IMREAD_REDUCED_GRAYSCALE_2),
    4: (cv2.IMREAD_REDUCED_COLOR_4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
    8: (cv2.IMREAD_REDUCED_COLOR_8, cv2.IMREAD_REDUCED_GRAYSCALE_8),
}


def _reduction(header: Header, min_side: int | None) -> int:
    """The JPEG DCT-domain scale-down (1, 2, 4 or 8) that keeps the shorter side ≥ ``min_side``."""
    if not min_side or header.format != "JPEG":
        return 1
    return max((k for k in (8, 4, 2) if min(header.width, header.height) // k >= min_side), default=1)


def pixel_count_text(pixels: int) -> str:
    """``pixels`` for a message: "1,200 pixels" below a megapixel, "3.6 megapixels" / "3600 megapixels" above."""
    if pixels < 1_000_000:
        return f"{pixels:,} pixel{'s' if pixels != 1 else ''}"
    megapixels = pixels / 1e6
    text = f"{megapixels:.3g}" if megapixels < 1000 else f"{megapixels:.0f}"
    return f"{text} megapixel{'s' if text != '1' else ''}"


def _check_header(header: Header, name: str, max_pixels: int) -> None:
    """Refuse, before any decoding, what is over the pixel limit or what OpenCV cannot decode."""
    size = f"{header.width}×{header.height}"
    if header.pixels > max_pixels:
        raise InputError(
            f"{name}: {size} is {pixel_count_text(header.pixels)}, over the limit of "
            f"{pixel_count_text(max_pixels)} (raise it with --max-pixels)"
        )
    if header.pixels > OPENCV_MAX_PIXELS:
        raise InputError(f"{name}: {size} is over OpenCV's decoding limit of {pixel_count_text(OPENCV_MAX_PIXELS)}")
    if header.working_pixels > max(max_pixels, header.pixels):
        raise InputError(
            f"{name}: its {header.format} tiles or strips hold {pixel_count_text(header.working_pixels)}, "
            f"over the limit of {pixel_count_text(max_pixels)}"
        )
    if header.format == "TIFF" and not (
        (header.sample_format == "uint" and header.bits_per_sample <= 16)
        or (header.sample_format == "float" and header.bits_per_sample in (32, 64))
    ):
        raise InputError(
            f"{name}: {header.bits_per_sample}-bit {header.sample_format} TIFF samples are not supported "
            "(unsigned integers up to 16 bits and 32/64-bit floats are)"
        )


def _opencv_decode(data: bytes, flags: int, name: str, header: Header) -> tuple[np.ndarray, list[str]]:
    """``cv2.imdecode`` with the codec libraries' output caught; a failure is a one-line :class:`InputError`."""
    failure = ""
    with _LIBRARY_OUTPUT.catch() as messages:
        try:
            array = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
        except cv2.error as exc:
            array, failure = None, str(exc).strip()
    if array is None or array.size == 0:
        detail = "; ".join(message for message in [*messages, failure] if message) or "OpenCV decoded no image"
        raise InputError(f"{name}: not a readable image (corrupt or truncated {header.format} data)") from (
            CodecMessage(detail)
        )
    return array, messages


def _supported_depth(array: np.ndarray, name: str) -> np.ndarray:
    """uint8 and uint16 as they are; floats (0–1, clipped) to uint16 when every sample is finite."""
    if array.dtype in (np.uint8, np.uint16):
        return array
    if array.dtype.kind != "f":
        raise InputError(f"{name}: {array.dtype} samples are not supported (unsigned 8/16-bit or float are)")
    if not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise InputError(f"{name}: {bad:,} of {array.size:,} samples are NaN or infinite")
    return (array.clip(0, 1) * 65535 + 0.5).astype(np.uint16)


def _unpremultiply(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Colour stored multiplied by alpha, divided back (fully transparent pixels stay black)."""
    top = float(np.iinfo(color.dtype).max)
    scale = np.divide(top, alpha, out=np.zeros(alpha.shape, np.float32), where=alpha > 0)
    return (color * scale[:, :, None] + 0.5).clip(0, top).astype(color.dtype)


def _to_image(array: np.ndarray, name: str, premultiplied: bool) -> Image:
    """OpenCV's gray, gray+alpha, BGR or BGRA array as an :class:`Image`."""
    channels = 1 if array.ndim == 2 else array.shape[2]
    if channels == 1:
        gray = array.reshape(array.shape[:2])
        return Image(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), None, True, name)
    if channels == 2:
        return Image(cv2.cvtColor(array[:, :, 0], cv2.COLOR_GRAY2RGB), np.ascontiguousarray(array[:, :, 1]), True, name)
    if channels == 4:
        color, alpha = cv2.cvtColor(array, cv2.COLOR_BGRA2RGB), np.ascontiguousarray(array[:, :, 3])
        return Image(_unpremultiply(color, alpha) if premultiplied else color, alpha, False, name)
    return Image(cv2.cvtColor(array, cv2.COLOR_BGR2RGB), None, False, name)


def decode(data: bytes, name: str = "-", max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int | None = None) -> Image:
    """Decode the bytes of any format in :data:`IMAGE_EXTENSIONS`; raise :class:`InputError` with a one-line reason.

    The format comes from the bytes, not the name. The pixel limit is checked from the header first.
    Orientation (EXIF, PNG eXIf, TIFF) is applied exactly once. Animated GIF/WebP/PNG and multi-page
    TIFF: the first frame. Float images (TIFF, PFM, Radiance) must hold finite values; 0–1 maps to 16 bits.

    ``min_side``: the caller needs no more than this many pixels on the shorter side, so a large
    JPEG may be decoded at 1/2, 1/4 or 1/8 scale in the DCT domain (much faster, and a proper
    anti-aliased reduction); ``Image.original_size`` keeps the stored size.
    """
    if not data:
        raise InputError(f"{name}: empty file")
    try:
        header = read_header(data)
    except HeaderError as exc:
        raise InputError(f"{name}: not a readable image ({exc})") from None
    _check_header(header, name, max_pixels)
    factor = _reduction(header, min_side)
    if factor > 1:
        flags = _REDUCED[factor][header.channels == 1] | cv2.IMREAD_IGNORE_ORIENTATION
    else:
        flags = cv2.IMREAD_UNCHANGED  # never rotates, except in the TIFF decoder (ORIENTED_BY_OPENCV)
    array, messages = _opencv_decode(data, flags, name, header)
    if array.shape[0] * array.shape[1] > max_pixels:  # the header lied: the decoder found a larger image
        raise InputError(f"{name}: {array.shape[1]}×{array.shape[0]} is over the pixel limit")
    array = _supported_depth(array, name)
    if header.format not in ORIENTED_BY_OPENCV:
        array = _orient(array, header.orientation)
    # OpenCV reads 8-bit TIFF through libtiff's RGBA interface, which premultiplies the colour by alpha
    premultiplied = header.format == "TIFF" and (array.dtype == np.uint8 or header.associated_alpha)
    image = _to_image(array, name, premultiplied)
    image.decode_warnings = tuple(messages)
    if factor > 1:
        transposed = _ORIENT_OPS.get(header.orientation, (False,))[0]
        image.source_size = (header.height, header.width) if transposed else (header.width, header.height)
    return image


def encode(image: Image, extension: str, quality: int = 95) -> bytes:
    """Encode with OpenCV for ``extension`` (one of :data:`OUTPUT_EXTENSIONS`), keeping gray, alpha and 16-bit."""
    extension = extension.lower()
    pixels = image.pixels
    if extension in (".jpg", ".jpeg", ".webp", ".bmp") and pixels.dtype == np.uint16:
        pixels = image.rgb8()  # these formats hold 8 bits only
    keeps_alpha = image.alpha is not None and extension in (".png", ".webp", ".tif", ".tiff")
    if image.gray and not keeps_alpha:
        array = pixels[:, :, 0]
    elif keeps_alpha:
        alpha = image.alpha if image.alpha.dtype == pixels.dtype else _convert_depth(image.alpha, pixels.dtype)
        array = np.dstack([cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), alpha])
    else:
        array = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    params = {
        ".jpg": [cv2.IMWRITE_JPEG_QUALITY, quality],
        ".jpeg": [cv2.IMWRITE_JPEG_QUALITY, quality],
        ".webp": [cv2.IMWRITE_WEBP_QUALITY, quality],
    }.get(extension, [])
    with _LIBRARY_OUTPUT.catch() as messages:
        try:
            ok, buffer = cv2.imencode(extension, array, params)
        except cv2.error as exc:
            ok, messages = False, [*messages, str(exc).strip()]
    if not ok:
        raise InputError(f"cannot encode an image as {extension}") from CodecMessage("; ".join(messages))
    return buffer.tobytes()


def _convert_depth(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype == np.uint16:
        return array.astype(np.uint16) * 257
    return ((array.astype(np.float32) + 128.0) / 257.0).clip(0, 255).astype(np.uint8)
