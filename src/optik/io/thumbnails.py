"""Small copies of image files for contact sheets, read the way inputs are (regular files, bounded, checked)."""

from __future__ import annotations

import numpy as np

from optik.errors import OptikError
from optik.io.inputs import read_regular_file
from optik.preprocess.decode import DEFAULT_MAX_PIXELS, decode
from optik.preprocess.sheet import fit_within


def thumbnail(path: str, side: int) -> np.ndarray | None:
    """The image at ``path`` as RGB uint8 with its longer side at most ``side`` (large JPEGs decoded reduced);
    None when it cannot be read any more (moved, deleted, damaged)."""
    try:
        image = decode(read_regular_file(path), path, DEFAULT_MAX_PIXELS, min_side=side)
    except OptikError:
        return None
    rgb = image.rgb8()
    return fit_within(rgb, side) if max(rgb.shape[:2]) > side else rgb
