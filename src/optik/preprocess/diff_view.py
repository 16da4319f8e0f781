"""Pictures of a comparison: the difference heat map, and the new | golden | difference sheet."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from optik.preprocess.metrics import YIQ_MAX_DELTA, PixelDiff

ANTIALIASED = (0, 255, 255)  # cyan: over the tolerance, excused as anti-aliasing
_FADE = 0.1  # how much of the golden image shows under the heat map (pixelmatch's faded gray)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_CAPTION = 26  # px above each panel
_GAP = 8


def heatmap(golden: np.ndarray, delta: np.ndarray, diff: PixelDiff, tolerance: float) -> np.ndarray:
    """RGB uint8: the golden image (RGB uint8) faded to a light gray, and over it every pixel that differs at
    all, coloured by its YIQ distance ``sqrt(delta / 35215)`` in the inferno colour map (dark just above 0,
    yellow from twice the tolerance) and as opaque as the distance is close to the tolerance; pixels excused
    as anti-aliasing are cyan."""
    faded = 255 - (255 - cv2.cvtColor(golden, cv2.COLOR_RGB2GRAY).astype(np.float32)) * _FADE
    canvas = np.repeat(faded[:, :, None], 3, axis=2)
    distance = np.sqrt(delta / YIQ_MAX_DELTA)
    scale = max(tolerance, 1e-3)
    levels = (np.clip(distance / (2 * scale), 0, 1) * 255).astype(np.uint8)
    colours = cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB).astype(np.float32)
    opacity = np.where(delta > 0, np.clip(distance / scale, 0.15, 1), 0)[:, :, None].astype(np.float32)
    canvas = canvas * (1 - opacity) + colours * opacity
    canvas[diff.antialiased] = ANTIALIASED
    return (canvas + 0.5).astype(np.uint8)


def _caption(panel_width: int, text: str) -> np.ndarray:
    strip = np.full((_CAPTION, panel_width, 3), 255, np.uint8)
    text = text.encode("ascii", "replace").decode()
    while len(text) > 4 and cv2.getTextSize(text, _FONT, 0.5, 1)[0][0] > panel_width - 4:
        text = "..." + text[4:]  # keep the end of a long path: the file name
    cv2.putText(strip, text, (2, 18), _FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def sheet(panels: Sequence[tuple[np.ndarray, str]]) -> np.ndarray:
    """RGB uint8 panels of one height side by side on white, each under its caption."""
    columns = [np.concatenate([_caption(pixels.shape[1], text), pixels]) for pixels, text in panels]
    gap = np.full((columns[0].shape[0], _GAP, 3), 255, np.uint8)
    parts = [part for column in columns for part in (column, gap)][:-1]
    return np.concatenate(parts, axis=1)
