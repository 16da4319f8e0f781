"""A confusion matrix as a picture: one cell per (true, predicted) class pair with its count, shaded by the share of
the true class's images it holds (white 0 → dark blue 1), class names along both axes."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from optik.preprocess.draw_text import drawable

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_CELL = 56
_MARGIN = 12
_DARK_BLUE = np.array((8, 48, 107), np.float32)


def confusion_picture(confusion: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """RGB uint8: rows are the true classes, columns the predicted ones."""
    names = [drawable(name) for name in classes]
    label_width = max(cv2.getTextSize(name, _FONT, 0.5, 1)[0][0] for name in names) + 2 * _MARGIN
    count = len(classes)
    grid = count * _CELL
    top = label_width + 24  # the predicted classes' names stand turned above the columns
    picture = np.full((top + grid + _MARGIN + 24, label_width + grid + _MARGIN, 3), 255, np.uint8)
    totals = confusion.sum(axis=1, keepdims=True)
    shares = np.divide(confusion, totals, out=np.zeros(confusion.shape, np.float64), where=totals > 0)
    for row in range(count):
        for column in range(count):
            x, y = label_width + column * _CELL, top + row * _CELL
            colour = 255 - (255 - _DARK_BLUE) * shares[row, column]
            cv2.rectangle(picture, (x, y), (x + _CELL - 1, y + _CELL - 1), colour.tolist(), -1)
            cv2.rectangle(picture, (x, y), (x + _CELL - 1, y + _CELL - 1), (200, 200, 200), 1)
            text = str(int(confusion[row, column]))
            (width, height), _ = cv2.getTextSize(text, _FONT, 0.5, 1)
            ink = (255, 255, 255) if shares[row, column] > 0.5 else (20, 20, 20)
            position = (x + (_CELL - width) // 2, y + (_CELL + height) // 2)
            cv2.putText(picture, text, position, _FONT, 0.5, ink, 1, cv2.LINE_AA)
        baseline = top + row * _CELL + _CELL // 2 + 5
        cv2.putText(picture, names[row], (_MARGIN, baseline), _FONT, 0.5, (20, 20, 20), 1, cv2.LINE_AA)
    header = np.full((_CELL * count, label_width, 3), 255, np.uint8)  # drawn sideways, then turned upright
    for column in range(count):
        baseline = column * _CELL + _CELL // 2 + 5
        cv2.putText(header, names[column], (_MARGIN, baseline), _FONT, 0.5, (20, 20, 20), 1, cv2.LINE_AA)
    picture[24 : 24 + label_width, label_width : label_width + grid] = cv2.rotate(
        header, cv2.ROTATE_90_COUNTERCLOCKWISE
    )
    cv2.putText(picture, "predicted", (label_width, 17), _FONT, 0.5, (90, 90, 90), 1, cv2.LINE_AA)
    cv2.putText(picture, "true", (_MARGIN, top - 6), _FONT, 0.5, (90, 90, 90), 1, cv2.LINE_AA)
    return picture
