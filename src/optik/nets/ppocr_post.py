"""Post-processing of the PP-OCRv6 outputs, as rapidocr 3.10.0 does it: DB text boxes and CTC decoding.

:func:`db_boxes` turns the detector's probability map into rotated 4-point boxes (thresholded map,
2x2 dilation, contours, minimum-area rectangles, mean probability inside, "unclip" growth by
``area * unclip_ratio / perimeter``). rapidocr grows each box with pyclipper's round-join offset
and takes the minimum-area rectangle of the result; :func:`_round_offset` repeats Clipper's
arithmetic for that one case (integer corners, arcs within 0.25 px, rounded points), so the boxes
are rapidocr's to the pixel without pyclipper or shapely. :func:`scale_boxes` and
:func:`reading_order` finish the boxes as rapidocr does; :func:`ctc_greedy_decode` reads the
recogniser's output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

READING_ROW_TOLERANCE = 10  # boxes whose top-left corners differ less in y (image px) share a row


def _corners(rect: tuple) -> np.ndarray:
    """The 4 corners of a ``cv2.minAreaRect`` rectangle as top-left, top-right, bottom-right, bottom-left.

    rapidocr's order: the two leftmost corners (by x) give top-left/bottom-left by y, the two rightmost
    give top-right/bottom-right.
    """
    points = sorted(cv2.boxPoints(rect).tolist(), key=lambda point: point[0])
    top_left, bottom_left = (points[0], points[1]) if points[1][1] > points[0][1] else (points[1], points[0])
    top_right, bottom_right = (points[2], points[3]) if points[3][1] > points[2][1] else (points[3], points[2])
    return np.array([top_left, top_right, bottom_right, bottom_left], dtype=np.float32)


def _mean_inside(prob: np.ndarray, box: np.ndarray) -> float:
    """Mean of ``prob`` over the filled polygon ``box`` (rapidocr's "fast" box score)."""
    height, width = prob.shape
    x0, y0 = (np.clip(np.floor(box.min(0)), 0, [width - 1, height - 1])).astype(int)
    x1, y1 = (np.clip(np.ceil(box.max(0)), 0, [width - 1, height - 1])).astype(int)
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.uint8)
    cv2.fillPoly(mask, (box - [x0, y0]).astype(np.int32)[None], 1)
    return cv2.mean(prob[y0 : y1 + 1, x0 : x1 + 1], mask)[0]


def _round_half_away(value: float) -> int:
    return int(value - 0.5) if value < 0 else int(value + 0.5)


def _round_offset(corners: np.ndarray, distance: float) -> np.ndarray:
    """The points of pyclipper's ``JT_ROUND`` offset of a closed quadrilateral by ``distance`` > 0.

    Clipper 6.4 (pyclipper 1.x) truncates the corners to integers, drops repeated ones, orients
    the path so that the offset grows it, and at each corner emits points on an arc of radius
    ``distance`` (steps of at most 0.25 px deviation), rounded half away from zero. Only the
    minimum-area rectangle of the points is used, so Clipper's final clean-up union is not needed.
    """
    path = [(int(x), int(y)) for x, y in corners.tolist()]
    path = [point for i, point in enumerate(path) if point != path[i - 1]]
    if sum((x0 + x1) * (y0 - y1) for (x0, y0), (x1, y1) in zip(path[-1:] + path[:-1], path, strict=True)) > 0:
        path.reverse()  # Clipper's Orientation() is false
    normals = []
    for (x0, y0), (x1, y1) in zip(path, path[1:] + path[:1], strict=True):
        length = math.hypot(x1 - x0, y1 - y0)
        normals.append(((y1 - y0) / length, -(x1 - x0) / length))
    tolerance = min(0.25, distance * 0.25)
    steps_per_circle = min(math.pi / math.acos(1 - tolerance / distance), distance * math.pi)
    sin_step, cos_step = math.sin(2 * math.pi / steps_per_circle), math.cos(2 * math.pi / steps_per_circle)

    def offset(point: tuple[int, int], normal: tuple[float, float]) -> tuple[int, int]:
        return _round_half_away(point[0] + normal[0] * distance), _round_half_away(point[1] + normal[1] * distance)

    points = []
    k = len(path) - 1  # the previous edge; Clipper keeps it across (nearly) straight corners
    for j, point in enumerate(path):
        (kx, ky), (jx, jy) = normals[k], normals[j]
        sin_a, cos_a = kx * jy - jx * ky, kx * jx + ky * jy
        if abs(sin_a * distance) < 1.0 and cos_a > 0:
            points.append(offset(point, normals[k]))
            continue
        if sin_a < 0:  # concave corner
            points += [offset(point, normals[k]), point, offset(point, normals[j])]
        else:
            angle = math.atan2(min(sin_a, 1.0), cos_a)
            normal = normals[k]
            for _ in range(max(_round_half_away(steps_per_circle / (2 * math.pi) * angle), 1)):
                points.append(offset(point, normal))
                normal = (normal[0] * cos_step - sin_step * normal[1], normal[0] * sin_step + normal[1] * cos_step)
            points.append(offset(point, normals[j]))
        k = j
    return np.array(points, np.int32)


def db_boxes(
    prob: np.ndarray,
    thresh: float = 0.3,
    box_thresh: float = 0.5,
    unclip_ratio: float = 1.6,
    max_candidates: int = 1000,
    min_size: float = 3,
    dilate: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Text boxes in a DB probability map ``prob`` [H, W] (float32), with rapidocr's defaults.

    Pixels above ``thresh`` (dilated by 2x2 if ``dilate``) form regions; the first
    ``max_candidates`` contours are kept when their minimum-area rectangle's short side is at least
    ``min_size`` and the mean probability inside it at least ``box_thresh``; each rectangle then
    grows by ``area * unclip_ratio / perimeter`` on every side and must keep a short side of
    ``min_size + 2``. Returns ``(boxes, scores)``: float32 ``[K, 4, 2]`` corners (x, y) in map pixels,
    clockwise from top-left, and float32 ``[K]`` mean probabilities.
    """
    bitmap = (prob > thresh).astype(np.uint8)
    if dilate:
        bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(bitmap * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes, scores = [], []
    for contour in contours[:max_candidates]:
        rect = cv2.minAreaRect(contour)
        if min(rect[1]) < min_size:
            continue
        box = _corners(rect)
        score = _mean_inside(prob, box)
        if score < box_thresh:
            continue
        x, y = box.astype(np.float64).T
        area = abs(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) / 2
        perimeter = np.hypot(x - np.roll(x, -1), y - np.roll(y, -1)).sum()
        grown = cv2.minAreaRect(_round_offset(box, area * unclip_ratio / perimeter))
        if min(grown[1]) < min_size + 2:
            continue
        boxes.append(_corners(grown))
        scores.append(score)
    return np.array(boxes, np.float32).reshape(-1, 4, 2), np.array(scores, np.float32)


def scale_boxes(
    boxes: np.ndarray, scores: np.ndarray, map_size: tuple[int, int], image_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Map-pixel boxes → int32 image-pixel boxes as rapidocr rounds them; drops boxes 3 px or thinner.

    ``map_size`` and ``image_size`` are (height, width). Corners are rounded after scaling, clipped
    to the image, reordered top-left/top-right/bottom-right/bottom-left by position.
    """
    (map_h, map_w), (image_h, image_w) = map_size, image_size
    scaled = np.stack([np.round(boxes[..., 0] / map_w * image_w), np.round(boxes[..., 1] / map_h * image_h)], -1)
    scaled = np.clip(scaled, 0, [image_w - 1, image_h - 1]).astype(np.int32)
    kept_boxes, kept_scores = [], []
    for corners, score in zip(scaled, scores, strict=True):
        by_x = corners[np.argsort(corners[:, 0], kind="stable")]
        (top_left, bottom_left), (top_right, bottom_right) = (
            pair[np.argsort(pair[:, 1], kind="stable")] for pair in (by_x[:2], by_x[2:])
        )
        if int(np.linalg.norm(top_left - top_right)) <= 3 or int(np.linalg.norm(top_left - bottom_left)) <= 3:
            continue
        kept_boxes.append(np.array([top_left, top_right, bottom_right, bottom_left]))
        kept_scores.append(score)
    return np.array(kept_boxes, np.int32).reshape(-1, 4, 2), np.array(kept_scores, np.float32)


def reading_order(boxes: np.ndarray) -> np.ndarray:
    """Indices that sort boxes top to bottom, and left to right within rows (rapidocr's line grouping:
    a new row starts where the sorted top-left y jumps by ``READING_ROW_TOLERANCE`` or more)."""
    by_y = np.argsort(boxes[:, 0, 1], kind="stable")
    tops = boxes[by_y, 0, 1]
    rows = np.cumsum(np.diff(tops, prepend=tops[:1]) >= READING_ROW_TOLERANCE)
    return by_y[np.lexsort((boxes[by_y, 0, 0], rows))]


def ctc_greedy_decode(probs: np.ndarray, characters: Sequence[str]) -> list[tuple[str, float]]:
    """Best-path CTC decoding of ``probs`` [N, T, C] (softmax) into (text, confidence) per row.

    Class 0 is the blank, class ``i`` is ``characters[i - 1]`` and class ``len(characters) + 1`` a
    space. Repeated classes merge, blanks drop; the confidence is the mean top probability of the
    kept steps (0 for an empty text).
    """
    if probs.shape[-1] != len(characters) + 2:
        raise ValueError(f"{probs.shape[-1]} classes for {len(characters)} characters (+ blank and space)")
    return ctc_decode(probs.argmax(-1), probs.max(-1), characters)


def ctc_decode(best: np.ndarray, confidence: np.ndarray, characters: Sequence[str]) -> list[tuple[str, float]]:
    """:func:`ctc_greedy_decode` from each step's best class ``best`` [N, T] and its probability ``confidence``."""
    alphabet = ["", *characters, " "]
    results = []
    for classes, top in zip(best, confidence, strict=True):
        keep = classes != 0
        keep[1:] &= classes[1:] != classes[:-1]
        text = "".join(alphabet[i] for i in classes[keep])
        results.append((text, float(top[keep].mean()) if keep.any() else 0.0))
    return results
