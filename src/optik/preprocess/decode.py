"""Decoding and encoding with OpenCV: orientation, colour order, alpha, 8/16-bit, a pixel limit."""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np

from optik.errors import InputError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"})
DEFAULT_MAX_PIXELS = 100_000_000
_ORIENT_OPS = {  # EXIF orientation → (transpose first?, flip code or None)
    2: (False, 1),
    3: (False, -1),
    4: (False, 0),
    5: (True, None),
    6: (True, 1),
    7: (True, -1),
    8: (True, 0),
}


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


def _probe(data: bytes) -> tuple[int, int, int, str]:
    """Width, height, EXIF orientation and Pillow's mode from the header alone (0 × 0 when it cannot tell)."""
    from PIL import Image as PILImage  # Pillow comes with torchvision; it only reads the header here

    PILImage.MAX_IMAGE_PIXELS = None  # our own limit applies, not Pillow's warning
    try:
        with PILImage.open(io.BytesIO(data)) as probe:
            width, height, mode = *probe.size, probe.mode
            try:
                orientation = int(probe.getexif().get(0x0112, 1))
            except Exception:
                orientation = 1
    except Exception:
        return 0, 0, 1, ""
    return width, height, orientation, mode


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


def _reduction(data: bytes, width: int, height: int, min_side: int | None) -> int:
    """The JPEG DCT-domain scale-down (1, 2, 4 or 8) that keeps the shorter side ≥ ``min_side``."""
    if not min_side or not data.startswith(b"\xff\xd8"):
        return 1
    return max((k for k in (8, 4, 2) if min(width, height) // k >= min_side), default=1)


def decode(data: bytes, name: str = "-", max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int | None = None) -> Image:
    """Decode PNG/JPEG/WebP/TIFF/BMP bytes; raise :class:`InputError` with a one-line reason.

    ``min_side``: the caller needs no more than this many pixels on the shorter side, so a large
    JPEG may be decoded at 1/2, 1/4 or 1/8 scale in the DCT domain (much faster, and a proper
    anti-aliased reduction); ``Image.original_size`` keeps the stored size.
    """
    if not data:
        raise InputError(f"{name}: empty file")
    width, height, orientation, mode = _probe(data)
    if width * height > max_pixels:
        raise InputError(
            f"{name}: {width}×{height} is {width * height / 1e6:.0f} megapixels, over the limit of "
            f"{max_pixels / 1e6:.0f} (raise it with --max-pixels)"
        )
    buffer = np.frombuffer(data, np.uint8)
    factor = _reduction(data, width, height, min_side)
    array = None
    if factor > 1:
        array = cv2.imdecode(buffer, _REDUCED[factor][mode == "L"] | cv2.IMREAD_IGNORE_ORIENTATION)
    if array is None:
        factor = 1
        array = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if array is None or array.size == 0:
        raise InputError(f"{name}: not a readable image (corrupt, truncated or an unsupported format)")
    if array.shape[0] * array.shape[1] > max_pixels:
        raise InputError(f"{name}: {array.shape[1]}×{array.shape[0]} is over the pixel limit")
    if array.dtype not in (np.uint8, np.uint16):
        if array.dtype == np.float32:
            array = (array.clip(0, 1) * 65535 + 0.5).astype(np.uint16)
        else:
            raise InputError(f"{name}: unsupported sample type {array.dtype}")
    array = _orient(array, orientation)
    if array.ndim == 2 or array.shape[2] == 1:
        gray = array.reshape(array.shape[0], array.shape[1])
        image = Image(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), None, True, name)
    elif array.shape[2] == 4:
        image = Image(cv2.cvtColor(array, cv2.COLOR_BGRA2RGB), np.ascontiguousarray(array[:, :, 3]), False, name)
    else:
        image = Image(cv2.cvtColor(array, cv2.COLOR_BGR2RGB), None, False, name)
    if factor > 1:
        image.source_size = (height, width) if _ORIENT_OPS.get(orientation, (False,))[0] else (width, height)
    return image


def encode(image: Image, extension: str, quality: int = 95) -> bytes:
    """Encode with OpenCV for ``extension`` (".png", ".jpg" …), keeping gray, alpha and 16-bit."""
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
    ok, buffer = cv2.imencode(extension, array, params)
    if not ok:
        raise InputError(f"cannot encode an image as {extension}")
    return buffer.tobytes()


def _convert_depth(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype == np.uint16:
        return array.astype(np.uint16) * 257
    return ((array.astype(np.float32) + 128.0) / 257.0).clip(0, 255).astype(np.uint8)
