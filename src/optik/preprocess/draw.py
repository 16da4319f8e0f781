"""Drawing on images and hiding parts of them: annotated boxes, and blur / pixelate / fill redaction."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

Box = Sequence[float]  # x1, y1, x2, y2 in pixels
REDACT_MODES = ("blur", "pixelate", "fill")

# Colours that stay readable on photos and under a caption in black or white (RGB).
_PALETTE = (
    (255, 56, 56),
    (255, 157, 151),
    (255, 112, 31),
    (255, 178, 29),
    (207, 210, 49),
    (72, 249, 10),
    (146, 204, 23),
    (61, 219, 134),
    (26, 147, 52),
    (0, 212, 187),
    (44, 153, 168),
    (0, 194, 255),
    (52, 69, 147),
    (100, 115, 255),
    (0, 24, 236),
    (132, 56, 255),
    (82, 0, 133),
    (203, 56, 255),
    (255, 149, 200),
    (255, 55, 199),
)


def colour(index: int) -> tuple[int, int, int]:
    """A stable, distinct RGB colour for class ``index``."""
    return _PALETTE[index % len(_PALETTE)]


def pixel_region(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """The whole pixels a box touches: ``(x0, y0, x1, y1)`` for ``pixels[y0:y1, x0:x1]``, clipped."""
    x0, y0 = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
    x1, y1 = min(width, math.ceil(box[2])), min(height, math.ceil(box[3]))
    return x0, y0, max(x0, x1), max(y0, y1)


def annotate(
    pixels: np.ndarray,
    boxes: Sequence[Box],
    captions: Sequence[str],
    colours: Sequence[tuple[int, int, int]],
    points: Sequence[np.ndarray | None] = (),
) -> np.ndarray:
    """A copy of RGB uint8 ``pixels`` with each box outlined and captioned; line width and font follow the
    image size. ``points`` (K×2 per box, optional) are drawn as dots (e.g. face landmarks)."""
    canvas = np.ascontiguousarray(pixels.copy())
    height, width = canvas.shape[:2]
    side = max(height, width)
    thickness = max(1, round(side / 320))
    font_scale = max(0.4, side / 1100)
    font_thickness = max(1, round(font_scale * 1.6))
    font = cv2.FONT_HERSHEY_SIMPLEX
    placed: list[tuple[int, int, int, int]] = []
    for box, rgb in zip(boxes, colours, strict=True):
        cv2.rectangle(
            canvas, (round(box[0]), round(box[1])), (round(box[2]), round(box[3])), rgb, thickness, cv2.LINE_AA
        )
    for index, (box, caption, rgb) in enumerate(zip(boxes, captions, colours, strict=True)):
        x0, y0 = round(box[0]), round(box[1])
        (text_w, text_h), baseline = cv2.getTextSize(caption, font, font_scale, font_thickness)
        pad = max(1, thickness)
        label_h, label_w = text_h + baseline + 2 * pad, text_w + 2 * pad
        top = y0 - label_h if y0 - label_h >= 0 else y0  # above the box, or inside it at the top edge
        left = min(max(0, x0), max(0, width - label_w))
        while any(
            left < x1 and left + label_w > x0_ and top < y1 and top + label_h > y0_ for x0_, y0_, x1, y1 in placed
        ):
            top += label_h  # below a caption already there (boxes that share a corner)
        placed.append((left, top, left + label_w, top + label_h))
        bottom = top + label_h
        cv2.rectangle(canvas, (left, top), (left + text_w + 2 * pad, bottom), rgb, cv2.FILLED)
        ink = (0, 0, 0) if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140 else (255, 255, 255)
        cv2.putText(
            canvas, caption, (left + pad, bottom - baseline - pad), font, font_scale, ink, font_thickness, cv2.LINE_AA
        )
        if index < len(points) and points[index] is not None:
            for x, y in np.asarray(points[index]):
                cv2.circle(canvas, (round(x), round(y)), thickness + 1, (0, 255, 255), cv2.FILLED, cv2.LINE_AA)
    return canvas


def redact(pixels: np.ndarray, boxes: Sequence[Box], mode: str) -> np.ndarray:
    """A copy of ``pixels`` (H×W or H×W×C, uint8 or uint16) with every box hidden; nothing outside a box
    changes. ``blur``: a Gaussian with sigma a sixth of the box's longer side; ``pixelate``: about ten
    blocks along it; ``fill``: black."""
    if mode not in REDACT_MODES:
        raise ValueError(f"unknown redaction {mode!r} (use {', '.join(REDACT_MODES)})")
    out = pixels.copy()
    height, width = out.shape[:2]
    for box in boxes:
        x0, y0, x1, y1 = pixel_region(box, width, height)
        if x1 <= x0 or y1 <= y0:
            continue
        region = out[y0:y1, x0:x1]
        w, h = x1 - x0, y1 - y0
        if mode == "fill":
            region[...] = 0
        elif mode == "blur":
            sigma = max(2.0, max(w, h) / 6)
            region[...] = cv2.GaussianBlur(region, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        else:
            block = max(2, max(w, h) // 10)
            small = cv2.resize(region, (max(1, -(-w // block)), max(1, -(-h // block))), interpolation=cv2.INTER_AREA)
            region[...] = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST).reshape(region.shape)
    return out
