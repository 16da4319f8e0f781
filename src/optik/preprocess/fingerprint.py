"""Cheap facts about a picture that find copies of it: a perceptual hash, and how sharp it is.

:func:`perceptual_hash` is the DCT hash (pHash, Zauner 2010): the gray image shrunk to 32x32, its 8x8
lowest-frequency DCT coefficients, one bit each for whether it is above their median. Re-encoding, resizing,
small colour and brightness changes move few of the 64 bits; crops, mirror images and other pictures move
about half. :func:`hash_distance` counts the bits that differ.

:func:`sharpness` is the variance of the Laplacian of the gray image at a common size (the shorter side
scaled to :data:`SHARPNESS_SIDE`), so that copies of one picture at different sizes compare fairly: a blurred
or upscaled copy scores lower.
"""

from __future__ import annotations

import cv2
import numpy as np

HASH_BITS = 64
SHARPNESS_SIDE = 256


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb


def perceptual_hash(rgb: np.ndarray) -> int:
    """The 64-bit DCT hash of an RGB (or gray) uint8 image."""
    small = cv2.resize(_gray(rgb), (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].ravel()
    bits = low > np.median(low[1:])  # the DC term (overall brightness) does not set the median
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def hash_distance(a: int | np.ndarray, b: int | np.ndarray) -> int | np.ndarray:
    """How many of the 64 bits differ (arrays of ``uint64`` hashes broadcast)."""
    if isinstance(a, int) and isinstance(b, int):
        return (a ^ b).bit_count()
    return np.bitwise_count(np.bitwise_xor(np.asarray(a, np.uint64), np.asarray(b, np.uint64)))


def _common_size(gray: np.ndarray) -> np.ndarray:
    """``gray`` with its shorter side at :data:`SHARPNESS_SIDE` (area when shrinking, bilinear when enlarging)."""
    scale = SHARPNESS_SIDE / min(gray.shape[:2])
    if scale == 1:
        return gray
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(gray, None, fx=scale, fy=scale, interpolation=interpolation)


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the Laplacian with the shorter side at :data:`SHARPNESS_SIDE` px (larger: sharper)."""
    return float(cv2.Laplacian(_common_size(_gray(rgb)), cv2.CV_32F).var())


def fingerprints(rgb: np.ndarray) -> tuple[int, float]:
    """:func:`perceptual_hash` and :func:`sharpness` from one gray copy at the common size (the hash of that
    copy is the hash of the image: both shrink to 32x32 by area)."""
    gray = _common_size(_gray(rgb))
    return perceptual_hash(gray), float(cv2.Laplacian(gray, cv2.CV_32F).var())
