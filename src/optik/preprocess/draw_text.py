"""Drawing text that was read: each line outlined on the image, beside a white panel that writes the
line's text where it was found (as OCR tools show their results)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import cv2
import numpy as np

from optik.preprocess.draw import colour

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def drawable(text: str) -> str:
    """``text`` in the ASCII that OpenCV's Hershey fonts draw: accents dropped, other characters as ``?``."""
    plain = unicodedata.normalize("NFKD", text)
    return "".join(c if c.isascii() else "?" for c in plain if not unicodedata.combining(c))


def annotate_lines(pixels: np.ndarray, polygons: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray:
    """RGB uint8 ``pixels`` with each 4-point ``polygon`` outlined, and to its right a white panel of the
    same size with each text written inside its polygon's bounding box (scaled to fit, in the outline's
    colour, horizontally even for rotated lines)."""
    height, width = pixels.shape[:2]
    image = np.ascontiguousarray(pixels.copy())
    panel = np.full_like(image, 255)
    thickness = max(1, round(max(height, width) / 600))
    for index, (polygon, text) in enumerate(zip(polygons, texts, strict=True)):
        rgb = colour(index)
        points = np.round(np.asarray(polygon, np.float64)).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(image, [points], True, rgb, thickness, cv2.LINE_AA)
        cv2.polylines(panel, [points], True, rgb, 1, cv2.LINE_AA)
        x0, y0 = points[:, 0].min(0)
        x1, y1 = points[:, 0].max(0)
        words = drawable(text)
        (text_w, text_h), baseline = cv2.getTextSize(words, _FONT, 1.0, 1)
        scale = min(0.8 * (y1 - y0) / max(1, text_h + baseline), 0.95 * (x1 - x0) / max(1, text_w))
        if scale <= 0.1:
            continue  # too small to read
        ink = tuple(int(c * 0.6) for c in rgb)  # darker than the outline, readable on white
        bottom = int(y0 + (y1 - y0 + text_h * scale) / 2)
        cv2.putText(panel, words, (int(x0 + 2), bottom), _FONT, scale, ink, max(1, round(scale)), cv2.LINE_AA)
    return np.concatenate([image, panel], axis=1)
