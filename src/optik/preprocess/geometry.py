"""Letterboxing and the inverse mapping of boxes and masks back to original pixels."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Affine:
    """Axis-aligned map from network-input to original pixels: ``orig = (x - offset) / scale``."""

    scale_x: float
    scale_y: float
    offset_x: float = 0.0
    offset_y: float = 0.0

    def to_original(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (x - self.offset_x) / self.scale_x, (y - self.offset_y) / self.scale_y


def letterbox(
    pixels: np.ndarray, size: tuple[int, int], interpolation: int = cv2.INTER_LINEAR, fill: int = 0
) -> tuple[np.ndarray, Affine]:
    """Resize keeping the aspect ratio into ``size`` (height, width), centred, padded with ``fill``."""
    out_h, out_w = size
    height, width = pixels.shape[:2]
    scale = min(out_w / width, out_h / height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    left, top = (out_w - new_w) // 2, (out_h - new_h) // 2
    canvas = np.full((out_h, out_w, *pixels.shape[2:]), fill, dtype=pixels.dtype)
    canvas[top : top + new_h, left : left + new_w] = cv2.resize(pixels, (new_w, new_h), interpolation=interpolation)
    return canvas, Affine(new_w / width, new_h / height, left, top)


def map_boxes(boxes: np.ndarray, affine: Affine, width: int, height: int) -> np.ndarray:
    """Map N×4 ``x1, y1, x2, y2`` boxes to original pixels, clipped to the image."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x1, y1 = affine.to_original(boxes[:, 0], boxes[:, 1])
    x2, y2 = affine.to_original(boxes[:, 2], boxes[:, 3])
    mapped = np.stack([x1, y1, x2, y2], axis=1)
    mapped[:, 0::2] = mapped[:, 0::2].clip(0, width)
    mapped[:, 1::2] = mapped[:, 1::2].clip(0, height)
    return mapped


def unmap_mask(
    mask: np.ndarray, affine: Affine, width: int, height: int, interpolation: int = cv2.INTER_LINEAR
) -> np.ndarray:
    """Bring a mask computed on the network input back to the original ``width`` × ``height``."""
    sx, sy = affine.scale_x, affine.scale_y  # pixel centres: x_in + 0.5 = (x + 0.5) * s + offset
    matrix = np.array([[sx, 0, affine.offset_x + 0.5 * sx - 0.5], [0, sy, affine.offset_y + 0.5 * sy - 0.5]])
    return cv2.warpAffine(
        mask,
        matrix,
        (width, height),
        flags=interpolation | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def letterbox_warp(
    pixels: np.ndarray, size: tuple[int, int], interpolation: int = cv2.INTER_LINEAR, fill: int = 0
) -> tuple[np.ndarray, Affine]:
    """Keep-ratio affine warp into ``size`` (height, width): scale ``min(out_w/w, out_h/h)`` about the image
    centre onto the canvas centre, sub-pixel offsets (no rounding), border ``fill``.

    NanoDet's validation pipeline (``warpPerspective`` with this matrix) exactly; unlike :func:`letterbox`
    it maps pixel indices, not pixel centres: ``x_in = scale * x + offset``.
    """
    out_h, out_w = size
    height, width = pixels.shape[:2]
    scale = min(out_w / width, out_h / height)
    dx, dy = out_w / 2 - scale * width / 2, out_h / 2 - scale * height / 2
    matrix = np.array([[scale, 0.0, dx], [0.0, scale, dy]])
    warped = cv2.warpAffine(
        pixels, matrix, (out_w, out_h), flags=interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=(fill,) * 4
    )
    return warped, Affine(scale, scale, dx, dy)


def fit_within(pixels: np.ndarray, longest: int, interpolation: int = cv2.INTER_AREA) -> tuple[np.ndarray, Affine]:
    """Downscale keeping the aspect ratio so the longer side is at most ``longest`` (never upscales)."""
    height, width = pixels.shape[:2]
    scale = longest / max(height, width)
    if scale >= 1:
        return pixels, Affine(1.0, 1.0)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = cv2.resize(pixels, (new_w, new_h), interpolation=interpolation)
    return resized, Affine(new_w / width, new_h / height)
