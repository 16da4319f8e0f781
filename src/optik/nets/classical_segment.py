"""Classical OpenCV segmentation (no learned weights): Otsu, k-means, watershed, GrabCut.

Each method takes RGB uint8 pixels at a working resolution (``WORKING_SIZE``, long side) and
returns a [0, 1] foreground mask plus what it found. Which side is foreground is decided the same
way everywhere: the background is what covers most of the image border.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

WORKING_SIZE = {"otsu": 1024, "kmeans": 512, "watershed": 1024, "grabcut": 320}
MIN_OBJECT = 1e-3  # watershed: objects smaller than this fraction of the image are dropped as noise
_SEED = 0  # OpenCV's RNG is per thread; seeding it makes k-means and GrabCut repeatable


@dataclass
class Segmentation:
    """A [0, 1] float32 foreground mask and method-specific findings (for the record)."""

    mask: np.ndarray
    extras: dict[str, Any] = field(default_factory=dict)


def _border(values: np.ndarray) -> np.ndarray:
    return np.concatenate([values[0], values[-1], values[1:-1, 0], values[1:-1, -1]])


def _otsu_foreground(rgb: np.ndarray) -> np.ndarray:
    """Otsu's threshold on luma; the side covering less of the border is foreground (uint8 0/1)."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    _, binary = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return 1 - binary if _border(binary).mean() > 0.5 else binary


def _fill_holes(binary: np.ndarray) -> np.ndarray:
    """0/1 mask with every background pocket that does not reach the border filled."""
    padded = cv2.copyMakeBorder(binary, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    outside = padded.copy()
    cv2.floodFill(outside, None, (0, 0), 1)
    return binary | (1 - outside[1:-1, 1:-1])


def otsu(rgb: np.ndarray) -> Segmentation:
    """Global Otsu threshold of the luma, with the threshold in the record."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    threshold, _ = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return Segmentation(_otsu_foreground(rgb).astype(np.float32), {"threshold": int(threshold)})


def kmeans(rgb: np.ndarray, k: int = 2) -> Segmentation:
    """k-means on CIELAB colours; the cluster covering most of the border is background, the rest foreground."""
    if rgb.shape[0] * rgb.shape[1] < k:
        raise ValueError(f"{k} clusters need at least {k} pixels")
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    cv2.setRNGSeed(_SEED)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, labels, _ = cv2.kmeans(lab, k, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    labels = labels.reshape(rgb.shape[:2])
    background = int(np.bincount(_border(labels), minlength=k).argmax())
    order = np.argsort(-np.bincount(labels.ravel(), minlength=k), kind="stable")
    clusters = [
        {
            "fraction": round(float((labels == c).mean()), 6),
            "color": [int(round(v)) for v in rgb[labels == c].mean(axis=0)] if (labels == c).any() else [0, 0, 0],
            "background": bool(c == background),
        }
        for c in order
    ]
    return Segmentation((labels != background).astype(np.float32), {"clusters": clusters})


def watershed(rgb: np.ndarray) -> Segmentation:
    """Otsu foreground split into touching objects by the watershed of its distance transform (OpenCV's recipe)."""
    kernel = np.ones((3, 3), np.uint8)
    opened = cv2.morphologyEx(_fill_holes(_otsu_foreground(rgb)), cv2.MORPH_OPEN, kernel, iterations=2)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened)
    small = stats[:, cv2.CC_STAT_AREA] < MIN_OBJECT * opened.size
    small[0] = False
    opened[small[labels]] = 0  # specks are noise, not objects
    sure_background = cv2.dilate(opened, kernel, iterations=3)
    distance = cv2.distanceTransform(opened, cv2.DIST_L2, 5)
    blobs, blob_labels = cv2.connectedComponents(opened)
    peaks = np.zeros(blobs, np.float32)  # seeds: each blob's cores, above half its own deepest point
    np.maximum.at(peaks, blob_labels.ravel(), distance.ravel())
    sure_foreground = ((distance > 0.5 * peaks[blob_labels]) & (opened > 0)).astype(np.uint8)
    count, markers = cv2.connectedComponents(sure_foreground)
    markers += 1
    markers[(sure_background == 1) & (sure_foreground == 0)] = 0
    markers = cv2.watershed(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), markers)
    return Segmentation((markers > 1).astype(np.float32), {"regions": int(count - 1)})


def centred_box(width: int, height: int) -> tuple[int, int, int, int]:
    """GrabCut's default seed: a centred box 10 % in from each side."""
    return width // 10, height // 10, width - width // 10, height - height // 10


def grabcut(rgb: np.ndarray, box: tuple[int, int, int, int], iterations: int = 5) -> Segmentation:
    """GrabCut seeded by ``box`` (x1, y1, x2, y2 in these pixels): outside is background, inside is modelled."""
    height, width = rgb.shape[:2]
    x1, y1 = max(0, min(box[0], width - 2)), max(0, min(box[1], height - 2))
    x2, y2 = max(x1 + 2, min(box[2], width)), max(y1 + 2, min(box[3], height))
    if x2 > width or y2 > height or (x2 - x1) * (y2 - y1) >= width * height:
        raise ValueError("the box leaves no background to learn from (it must not cover the whole image)")
    mask = np.zeros((height, width), np.uint8)
    models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(_SEED)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    cv2.grabCut(bgr, mask, (x1, y1, x2 - x1, y2 - y1), *models, iterations, cv2.GC_INIT_WITH_RECT)
    return Segmentation(((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.float32))
