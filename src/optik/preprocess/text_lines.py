"""Pages and text lines as PP-OCR (rapidocr 3.10.0) prepares them: the page bounded and padded for the
detector, each detected line cut out straight, and the line crops batched for the recogniser.

The detector works on a *page*: the image scaled so that neither side leaves ``[min_side, max_side]``
(in steps of 32 pixels), and padded with black rows when it is a thin strip. Line crops are taken from
that page; :class:`~optik.preprocess.geometry.Affine` maps page pixels back to the image.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from optik.preprocess.geometry import Affine
from optik.preprocess.spec import InputSpec


def _multiple(value: float, multiple: int) -> int:
    """``value`` truncated, then rounded to the nearest multiple (Python's rounding, as rapidocr), at least one."""
    return max(multiple, int(round(int(value) / multiple) * multiple))


def page_size(height: int, width: int, min_side: int, max_side: int, multiple: int) -> tuple[int, int]:
    """The (height, width) a page is worked on at: scaled down so the longer side is ``max_side``, or up so
    the shorter side is ``min_side``, each side then rounded to ``multiple``; unchanged when within bounds."""
    if max(height, width) > max_side:
        ratio = max_side / max(height, width)
    elif min(height, width) < min_side:
        ratio = min_side / min(height, width)
    else:
        return height, width
    return _multiple(height * ratio, multiple), _multiple(width * ratio, multiple)


def make_page(
    pixels: np.ndarray, min_side: int, max_side: int, multiple: int, pad_aspect: float, pad_min_height: int
) -> tuple[np.ndarray, Affine]:
    """``pixels`` (H×W×C uint8) as the page the detector and the line crops use, and the map from page
    pixels to ``pixels``: resized within bounds (bilinear), then, if at most ``pad_min_height`` rows high or
    wider than ``pad_aspect`` × its height, padded with black rows above and below (rapidocr's vertical
    padding, which keeps a single line of text from filling the detector's whole input)."""
    height, width = pixels.shape[:2]
    page_h, page_w = page_size(height, width, min_side, max_side, multiple)
    page = cv2.resize(pixels, (page_w, page_h)) if (page_h, page_w) != (height, width) else pixels
    top = 0
    if page_h <= pad_min_height or page_w / page_h > pad_aspect:
        top = int(abs(max(int(page_w / pad_aspect), pad_min_height) * 2 - page_h) / 2)
        page = cv2.copyMakeBorder(page, top, top, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    return page, Affine(page_w / width, page_h / height, 0.0, float(top))


def detector_size(height: int, width: int, min_side: int, multiple: int) -> tuple[int, int]:
    """The detector's input (height, width) for a page: scaled up so the shorter side is at least
    ``min_side``, each side rounded to ``multiple``."""
    ratio = min_side / min(height, width) if min(height, width) < min_side else 1.0
    return _multiple(height * ratio, multiple), _multiple(width * ratio, multiple)


def crop_line(pixels: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The text line inside ``quad`` (4×2 corners, clockwise from top-left) warped upright (bicubic,
    edges replicated); a crop at least 1.5 times taller than wide is turned a quarter left, as rapidocr
    does for vertical lines."""
    corners = np.asarray(quad, np.float32)
    width = int(max(np.linalg.norm(corners[0] - corners[1]), np.linalg.norm(corners[2] - corners[3])))
    height = int(max(np.linalg.norm(corners[0] - corners[3]), np.linalg.norm(corners[1] - corners[2])))
    target = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    warp = cv2.getPerspectiveTransform(corners, target)
    crop = cv2.warpPerspective(pixels, warp, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    return np.rot90(crop) if height / width >= 1.5 else crop


def line_batches(
    crops: list[np.ndarray], spec: InputSpec, height: int, min_width: int, size: int
) -> list[tuple[list[int], np.ndarray]]:
    """``(crop indices, float32 N×3×height×W input)`` per recogniser call, as rapidocr batches line crops:
    ``size`` at a time in order of aspect ratio, each resized to ``height`` (bilinear, aspect kept) and
    normalised as ``spec`` says, then zero-padded on the right to the widest of its batch (at least
    ``min_width``)."""
    ratios = [crop.shape[1] / crop.shape[0] for crop in crops]
    order = np.argsort(ratios, kind="stable")
    mean = np.array(spec.mean, np.float32).reshape(3, 1, 1)
    std = np.array(spec.std, np.float32).reshape(3, 1, 1)
    batches = []
    for start in range(0, len(crops), size):
        indices = order[start : start + size].tolist()
        width = int(height * max([min_width / height] + [ratios[i] for i in indices]))
        batch = np.zeros((len(indices), 3, height, width), np.float32)
        for row, i in enumerate(indices):
            resized_w = min(width, math.ceil(height * ratios[i]))
            resized = cv2.resize(crops[i], (resized_w, height))
            if spec.color == "BGR":
                resized = resized[:, :, ::-1]
            batch[row, :, :, :resized_w] = (resized.transpose(2, 0, 1) * np.float32(spec.scale) - mean) / std
        batches.append((indices, batch))
    return batches
