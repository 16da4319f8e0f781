"""Contact sheets: thumbnails in a grid, each with a caption underneath (``similar -o``, ``faces cluster -o``)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_CAPTION_HEIGHT = 18
_PAD = 8
_FRAME = (255, 56, 56)  # the first tile's frame with ``mark_first`` (the query)


def fit_within(rgb: np.ndarray, side: int) -> np.ndarray:
    """``rgb`` scaled so that its longer side is ``side`` (area when shrinking, cubic when enlarging)."""
    scale = side / max(rgb.shape[:2])
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def _caption(text: str, width: int) -> str:
    """``text``, cut short (ending in ``..``) to fit ``width`` pixels."""

    def fits(candidate: str) -> bool:
        return cv2.getTextSize(candidate, _FONT, 0.4, 1)[0][0] <= width

    if fits(text):
        return text
    while len(text) > 1 and not fits(text + ".."):
        text = text[:-1]
    return text + ".."


def contact_sheet(
    tiles: Sequence[tuple[np.ndarray | None, str]], cell: int = 192, columns: int = 6, mark_first: bool = False
) -> np.ndarray:
    """An RGB uint8 sheet of ``(thumbnail or None, caption)`` tiles, row by row, on white; a missing thumbnail
    is a grey square. ``mark_first`` frames the first tile (the query of a search)."""
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    step_x, step_y = cell + _PAD, cell + _CAPTION_HEIGHT + _PAD
    sheet = np.full((_PAD + rows * step_y, _PAD + columns * step_x, 3), 255, np.uint8)
    for position, (thumbnail, caption) in enumerate(tiles):
        left, top = _PAD + (position % columns) * step_x, _PAD + (position // columns) * step_y
        if thumbnail is None:
            sheet[top : top + cell, left : left + cell] = 200
        else:
            picture = fit_within(thumbnail, cell)
            y, x = top + (cell - picture.shape[0]) // 2, left + (cell - picture.shape[1]) // 2
            sheet[y : y + picture.shape[0], x : x + picture.shape[1]] = picture
        if mark_first and position == 0:
            cv2.rectangle(sheet, (left - 3, top - 3), (left + cell + 2, top + cell + 2), _FRAME, 3)
        baseline = top + cell + _CAPTION_HEIGHT - 5
        cv2.putText(sheet, _caption(caption, cell), (left, baseline), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return sheet
