"""An anomaly map over its image: colour where the map nears or passes the threshold, the region above it outlined."""

from __future__ import annotations

import cv2
import numpy as np

MAX_OPACITY = 0.6
VISIBLE_FROM = 0.8  # share of the threshold from which the map shows (normal images reach 0.7-0.95 of it)


def heat_overlay(rgb: np.ndarray, heat: np.ndarray, threshold: float) -> np.ndarray:
    """RGB uint8 ``rgb`` with ``heat`` (H×W, same size) over it in the JET colour scale from 0 (blue) through the
    threshold (green-yellow) to twice it (red); transparent below :data:`VISIBLE_FROM` of the threshold, growing to
    :data:`MAX_OPACITY` at the threshold; the pixels above the threshold outlined in white."""
    ratio = heat / threshold
    levels = (np.clip(ratio / 2, 0, 1) * 255).astype(np.uint8)
    colours = cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB).astype(np.float32)
    opacity = (np.clip((ratio - VISIBLE_FROM) / (1 - VISIBLE_FROM), 0, 1) * MAX_OPACITY)[..., None]
    picture = (rgb.astype(np.float32) * (1 - opacity) + colours * opacity + 0.5).astype(np.uint8)
    above = (heat > threshold).astype(np.uint8)
    contours, _ = cv2.findContours(above, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    thickness = max(1, round(max(rgb.shape[:2]) / 300))
    cv2.drawContours(picture, contours, -1, (255, 255, 255), thickness, cv2.LINE_AA)
    return picture
