"""Masks at full resolution: edge-aware upsampling, compositing and measuring, in bounded memory.

A network sees the image at a few hundred pixels; its mask is brought back to the original size
with a fast guided filter (He & Sun 2015): the linear coefficients ``q = a·I + b`` that explain the
mask by the colour image are fitted at the network's resolution (``cv2.boxFilter``), upsampled
bilinearly, and applied to the full-resolution colour image band by band. Edges follow the photo
instead of the coarse grid, and no full-size float image is ever held: a 24-megapixel photo costs a
uint8 alpha plane plus one band of float32 work.
"""

from __future__ import annotations

import cv2
import numpy as np

from optik.preprocess.geometry import Affine, unmap_mask

BAND_ROWS = 256  # full-resolution rows processed at once
RADIUS = 1  # guided-filter window radius, in low-resolution pixels
EPS = 1e-3  # guided-filter regularisation (guide in [0, 1]): smaller follows the photo's edges more

Colour = tuple[int, int, int]


def to_image_geometry(
    mask: np.ndarray, affine: Affine, width: int, height: int, interpolation: int = cv2.INTER_LINEAR
) -> np.ndarray:
    """The part of a network-resolution ``mask`` that covers the image, at about the network's resolution.

    ``affine`` maps network pixels to original pixels (as returned by ``transforms.prepare``); the
    result has the image's geometry (letterbox padding cut away) but keeps the network's pixel
    density, at most the original ``width`` × ``height``. Use ``cv2.INTER_NEAREST`` for label maps.
    """
    low_w = max(1, min(width, round(width * affine.scale_x)))
    low_h = max(1, min(height, round(height * affine.scale_y)))
    scaled = Affine(affine.scale_x * width / low_w, affine.scale_y * height / low_h, affine.offset_x, affine.offset_y)
    return unmap_mask(np.ascontiguousarray(mask, dtype=np.float32), scaled, low_w, low_h, interpolation)


def to_uint8(values: np.ndarray) -> np.ndarray:
    """[0, 1] floats → uint8, rounded and clipped."""
    return np.clip(values * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _box(values: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(values, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def _upsample_band(values: np.ndarray, width: int, height: int, top: int, rows: int) -> np.ndarray:
    """Rows ``top … top + rows`` of ``values`` resized bilinearly (pixel centres aligned) to ``width`` × ``height``.

    Horizontal: ``cv2.resize`` of just the low-resolution rows the band needs; vertical: weights from
    each output row's global position, so the bands of any size join into exactly the whole.
    """
    low_h = values.shape[0]
    ys = np.clip((np.arange(top, top + rows) + 0.5) * (low_h / height) - 0.5, 0, low_h - 1)
    upper = np.floor(ys).astype(np.intp)
    lower = np.minimum(upper + 1, low_h - 1)
    weight = (ys - upper).astype(np.float32)[(slice(None),) + (None,) * (values.ndim - 1)]
    first, last = int(upper[0]), int(lower[-1])
    strip = cv2.resize(values[first : last + 1], (width, last + 1 - first), interpolation=cv2.INTER_LINEAR)
    above, below = strip[upper - first], strip[lower - first]
    return above + (below - above) * weight


def upsample_bilinear(mask: np.ndarray, width: int, height: int, band: int = BAND_ROWS) -> np.ndarray:
    """Plain bilinear upsampling of a [0, 1] mask to a uint8 alpha (the baseline the guided filter beats)."""
    mask = np.ascontiguousarray(mask, dtype=np.float32)
    alpha = np.empty((height, width), np.uint8)
    for top in range(0, height, band):
        rows = min(band, height - top)
        alpha[top : top + rows] = to_uint8(_upsample_band(mask, width, height, top, rows))
    return alpha


def guided_upsample(
    mask: np.ndarray, guide: np.ndarray, radius: int = RADIUS, eps: float = EPS, band: int = BAND_ROWS
) -> np.ndarray:
    """A [0, 1] ``mask`` (any size, the image's geometry) → uint8 alpha at the size of ``guide`` (RGB uint8).

    A mask already as large as the image is only resized (area) — there is nothing to refine.
    """
    height, width = guide.shape[:2]
    mask = np.ascontiguousarray(mask, dtype=np.float32)
    low_h, low_w = mask.shape
    if low_w >= width and low_h >= height:
        return to_uint8(cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA))
    coeffs = _guided_coefficients(mask, cv2.resize(guide, (low_w, low_h), interpolation=cv2.INTER_AREA), radius, eps)
    alpha = np.empty((height, width), np.uint8)
    for top in range(0, height, band):
        rows = min(band, height - top)
        ab = _upsample_band(coeffs, width, height, top, rows)  # rows × width × 4: a_r, a_g, a_b, b
        pixels = guide[top : top + rows].astype(np.float32) * np.float32(1 / 255)
        q = np.einsum("ijc,ijc->ij", ab[:, :, :3], pixels) + ab[:, :, 3]
        alpha[top : top + rows] = to_uint8(q)
    return alpha


def _guided_coefficients(mask: np.ndarray, guide: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Colour guided filter at low resolution: the box-averaged ``a`` (3 channels) and ``b``, stacked."""
    image = guide.astype(np.float32) * np.float32(1 / 255)
    mean_i = _box(image, radius)
    mean_p = _box(mask, radius)
    cov_ip = _box(image * mask[:, :, None], radius) - mean_i * mean_p[:, :, None]
    pairs = {
        (i, j): _box(image[:, :, i] * image[:, :, j], radius) - mean_i[:, :, i] * mean_i[:, :, j]
        for i in range(3)
        for j in range(i, 3)
    }
    rr, rg, rb = pairs[0, 0] + eps, pairs[0, 1], pairs[0, 2]
    gg, gb, bb = pairs[1, 1] + eps, pairs[1, 2], pairs[2, 2] + eps
    # (Σ + εI)⁻¹ by cofactors; Σ + εI is symmetric positive definite
    inv = (
        gg * bb - gb * gb,
        gb * rb - rg * bb,
        rg * gb - gg * rb,
        rr * bb - rb * rb,
        rg * rb - rr * gb,
        rr * gg - rg * rg,
    )
    det = rr * inv[0] + rg * inv[1] + rb * inv[2]
    cr, cg, cb = cov_ip[:, :, 0], cov_ip[:, :, 1], cov_ip[:, :, 2]
    a = np.stack(
        [
            (inv[0] * cr + inv[1] * cg + inv[2] * cb) / det,
            (inv[1] * cr + inv[3] * cg + inv[4] * cb) / det,
            (inv[2] * cr + inv[4] * cg + inv[5] * cb) / det,
        ],
        axis=2,
    )
    b = mean_p - np.einsum("ijc,ijc->ij", a, mean_i)
    return np.ascontiguousarray(_box(np.dstack([a, b]).astype(np.float32), radius))


def composite(
    foreground: np.ndarray | Colour, background: np.ndarray | Colour, alpha: np.ndarray, band: int = BAND_ROWS
) -> np.ndarray:
    """``foreground · α + background · (1 − α)`` as RGB uint8; either side is an H×W×3 uint8 image or a colour."""
    height, width = alpha.shape
    out = np.empty((height, width, 3), np.uint8)
    for top in range(0, height, band):
        rows = slice(top, min(top + band, height))
        weight = alpha[rows, :, None].astype(np.float32) * np.float32(1 / 255)
        front, back = (
            np.float32(side[rows]) if isinstance(side, np.ndarray) else np.array(side, np.float32)
            for side in (foreground, background)
        )
        out[rows] = np.clip(back + (front - back) * weight + 0.5, 0, 255).astype(np.uint8)
    return out


def cover(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """``pixels`` scaled to cover ``width`` × ``height`` (aspect kept) and centre-cropped to it."""
    scale = max(width / pixels.shape[1], height / pixels.shape[0])
    new_w, new_h = max(width, round(pixels.shape[1] * scale)), max(height, round(pixels.shape[0] * scale))
    resized = cv2.resize(pixels, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    left, top = (new_w - width) // 2, (new_h - height) // 2
    return np.ascontiguousarray(resized[top : top + height, left : left + width])


def threshold_level(threshold: float) -> int:
    """The uint8 alpha from which a pixel counts as foreground (0.5 → 128)."""
    return int(np.ceil(threshold * 255.0))


def measure(alpha: np.ndarray, threshold: float = 0.5) -> tuple[float, list[int] | None]:
    """Foreground fraction and ``[x1, y1, x2, y2]`` box (exclusive ends; None when empty) of ``alpha ≥ threshold``."""
    binary = alpha >= threshold_level(threshold)
    count = int(np.count_nonzero(binary))
    if not count:
        return 0.0, None
    cols, rows = np.flatnonzero(binary.any(axis=0)), np.flatnonzero(binary.any(axis=1))
    return count / binary.size, [int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1]


def polygons(alpha: np.ndarray, threshold: float = 0.5, min_area: float = 5e-4) -> list[list[list[int]]]:
    """Outer contours of ``alpha ≥ threshold``, simplified (Douglas-Peucker, 0.1 % of the image diagonal),
    largest first; regions under ``min_area`` of the image are left out."""
    binary = (alpha >= threshold_level(threshold)).astype(np.uint8)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    tolerance = max(1.0, 1e-3 * float(np.hypot(*alpha.shape)))
    kept = [c for c in contours if cv2.contourArea(c) >= min_area * alpha.size]
    kept.sort(key=cv2.contourArea, reverse=True)
    return [cv2.approxPolyDP(c, tolerance, True).reshape(-1, 2).tolist() for c in kept]
