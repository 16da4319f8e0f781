"""The retrieval test set of bench/retrieval.py, built from photos that are on every machine here.

Sources: scikit-image's sample images (photos, scans, micrographs, a logo; public domain / CC0) and, cut into
quadrants, the six demo photos of npm @vladmandic/face-api 1.7.15 (party photos), scikit-image's Hubble deep
field and retina: the four quadrants of one photo are separate sources that look alike (hard distractors).
Each source gives :data:`VARIANTS` versions of itself — crops, a mirror image, a re-encode, colour and size
changes — which are its true matches; every other image is a distractor. ``motorcycle_right`` (the other camera
of the stereo pair) is a separate source that is the same scene as ``motorcycle_left``: a different photo, so a
true match only for "same scene" (:data:`SAME_SCENE`), never for near-duplicates.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from optik.registry import upstream

SKIMAGE_SOURCES = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "grass",
    "gravel",
    "horse",
    "immunohistochemistry",
    "logo",
    "moon",
    "page",
    "rocket",
    "shepp_logan_phantom",
    "text",
    "motorcycle_left",
    "motorcycle_right",
)
SAME_SCENE = (("motorcycle_left", "motorcycle_right"),)


def _rgb8(array: np.ndarray) -> np.ndarray:
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    elif array.dtype.kind == "f":
        array = np.round(np.clip(array, 0, 1) * 255).astype(np.uint8)
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=2)
    if array.shape[2] == 4:  # composite on white
        alpha = array[..., 3:].astype(np.float32) / 255
        return np.round(array[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(array)


def sources() -> dict[str, np.ndarray]:
    """Every source photo as RGB uint8, by name."""
    import skimage.data

    photos = {}
    for name in SKIMAGE_SOURCES:
        if name.startswith("motorcycle"):
            pair = skimage.data.stereo_motorcycle()
            photos[name] = _rgb8(pair[0] if name.endswith("left") else pair[1])
        else:
            photos[name] = _rgb8(getattr(skimage.data, name)())
    demo = upstream.FACE_API.unpacked_dir() / "package" / "demo"
    large = {"hubble": _rgb8(skimage.data.hubble_deep_field()), "retina": _rgb8(skimage.data.retina())}
    for k in range(1, 7):
        large[f"party{k}"] = cv2.cvtColor(cv2.imread(str(demo / f"sample{k}.jpg")), cv2.COLOR_BGR2RGB)
    for name, rgb in large.items():  # quadrants: four look-alike sources each (hard distractors for one another)
        height, width = rgb.shape[:2]
        for row in range(2):
            for column in range(2):
                quadrant = rgb[
                    row * height // 2 : (row + 1) * height // 2, column * width // 2 : (column + 1) * width // 2
                ]
                photos[f"{name}-{'tb'[row]}{'lr'[column]}"] = _fit(quadrant, 800)
    return photos


def _fit(rgb: np.ndarray, longest: int) -> np.ndarray:
    scale = longest / max(rgb.shape[:2])
    return (
        np.ascontiguousarray(rgb)
        if scale >= 1
        else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    )


def _crop(rgb: np.ndarray, left: float, top: float, right: float, bottom: float) -> np.ndarray:
    height, width = rgb.shape[:2]
    return np.ascontiguousarray(
        rgb[round(top * height) : round(bottom * height), round(left * width) : round(right * width)]
    )


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _colour_shift(rgb: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + 8) % 180  # 16 degrees of hue
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.3, 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] + 25, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


def _rescale(rgb: np.ndarray, factor: float) -> np.ndarray:
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, None, fx=factor, fy=factor, interpolation=interpolation)


def _gamma(rgb: np.ndarray, gamma: float) -> np.ndarray:
    table = np.round(255 * (np.arange(256) / 255) ** gamma).astype(np.uint8)
    return table[rgb]


#: (name, kind, transform): "near" variants keep the whole picture (what a perceptual hash should catch),
#: "crop" variants show part of it (only the embedding can match them)
VARIANTS: tuple[tuple[str, str, Callable[[np.ndarray], np.ndarray]], ...] = (
    ("original", "near", lambda rgb: rgb),
    ("flip", "crop", lambda rgb: np.ascontiguousarray(rgb[:, ::-1])),
    ("jpeg15", "near", lambda rgb: _jpeg(rgb, 15)),
    ("colour", "near", _colour_shift),
    ("small", "near", lambda rgb: _rescale(rgb, 0.3)),
    ("large", "near", lambda rgb: _rescale(rgb, 1.6)),
    ("crop70", "crop", lambda rgb: _crop(rgb, 0.15, 0.15, 0.85, 0.85)),
    ("crop60", "crop", lambda rgb: _crop(rgb, 0.1, 0.3, 0.7, 0.9)),
    ("combo", "crop", lambda rgb: _gamma(_jpeg(_crop(rgb, 0.05, 0.1, 0.85, 0.95)[:, ::-1], 40), 0.8)),
)


def build_set() -> tuple[list[np.ndarray], list[str], list[str]]:
    """(images, source of each, variant of each) in a fixed order."""
    images, groups, variants = [], [], []
    for name, rgb in sources().items():
        for variant, _, transform in VARIANTS:
            images.append(transform(rgb))
            groups.append(name)
            variants.append(variant)
    return images, groups, variants


def write_set(directory: Path) -> list[tuple[Path, str, str]]:
    """The set as files, ``SOURCE.VARIANT.png`` (``jpeg15``: the source itself as a quality-15 ``.jpg``):
    (path, source, variant) each."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rgb in sources().items():
        for variant, _, transform in VARIANTS:
            bgr = cv2.cvtColor(rgb if variant == "jpeg15" else transform(rgb), cv2.COLOR_RGB2BGR)
            path = directory / f"{name}.{variant}.{'jpg' if variant == 'jpeg15' else 'png'}"
            cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, 15] if variant == "jpeg15" else [])
            written.append((path, name, variant))
    return written
