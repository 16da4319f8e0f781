"""Augmented views of one image for training: the image as the model sees it, its mirror image, and random crops
with colour jitter (brightness, contrast, saturation), each resized to the model's input size.

Each image draws its views from a generator seeded by its name and the run's seed (:func:`image_seed`), so the
views are the same in every run and on any number of threads.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from optik.preprocess.spec import InputSpec
from optik.preprocess.transforms import prepare, resize

CROP_AREA = (0.35, 1.0)  # share of the image a random crop keeps
CROP_ASPECT = (3 / 4, 4 / 3)
JITTER = 0.3  # brightness, contrast and saturation factors within 1 ± JITTER
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def image_seed(name: str, seed: int) -> int:
    """A seed for ``name``'s views that depends on nothing else (not the order or thread it comes in)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode("utf-8", "surrogateescape")).digest()[:8], "little")


def views(rgb: np.ndarray, spec: InputSpec, count: int, flip: bool, seed: int) -> list[np.ndarray]:
    """``count`` H×W×3 uint8 inputs for ``spec``: the image as ``spec`` prepares it, then (with ``flip``) its
    mirror image, then random crops, mirrored half of the time (with ``flip``), with colour jitter."""
    rng = np.random.default_rng(seed)
    plain, _ = prepare(rgb, spec)
    out = [plain]
    if flip and count > 1:
        out.append(np.ascontiguousarray(plain[:, ::-1]))
    while len(out) < count:
        view = _random_crop(rgb, spec, rng)
        if flip and rng.random() < 0.5:
            view = view[:, ::-1]
        out.append(_jitter(view, rng))
    return out


def _random_crop(rgb: np.ndarray, spec: InputSpec, rng: np.random.Generator) -> np.ndarray:
    """A crop of a random share of the area and aspect ratio, resized to the input size (by area, or bilinear when
    enlarging: an augmentation needs no exact interpolation, and the antialiased bicubic costs 6× more)."""
    height, width = rgb.shape[:2]
    out_h, out_w = spec.size or (height, width)
    area = height * width * rng.uniform(*CROP_AREA)
    aspect = math.exp(rng.uniform(math.log(CROP_ASPECT[0]), math.log(CROP_ASPECT[1])))
    crop_w = min(width, max(1, round(math.sqrt(area * aspect))))
    crop_h = min(height, max(1, round(math.sqrt(area / aspect))))
    top, left = int(rng.integers(0, height - crop_h + 1)), int(rng.integers(0, width - crop_w + 1))
    interpolation = "area" if crop_w >= out_w and crop_h >= out_h else "bilinear"
    return resize(np.ascontiguousarray(rgb[top : top + crop_h, left : left + crop_w]), out_w, out_h, interpolation)


def _jitter(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast and saturation each scaled by a factor within 1 ± :data:`JITTER`."""
    brightness, contrast, saturation = rng.uniform(1 - JITTER, 1 + JITTER, 3)
    image = rgb.astype(np.float32) * brightness
    mean = float((image @ _LUMA).mean())
    image = (image - mean) * contrast + mean
    gray = (image @ _LUMA)[..., None]
    image = gray + (image - gray) * saturation
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)
