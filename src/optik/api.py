"""The Python API: every task as a plain function, through the same pipeline as the command line.

Each function takes one image or many — paths, directories, globs, numpy arrays (RGB; BGR with
``channels="BGR"``), PIL images, encoded bytes or torch tensors (see :mod:`optik.io.memory`) — and
returns one result, or a list in input order. ``model`` is a registry name or a model from
:func:`optik.load_model`. Nothing is printed and nothing is written; results render their images
(``.render()``, ``.image``) and ``.save(path)`` writes one. A bad input raises :class:`InputError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from optik import pipeline
from optik.errors import InputError
from optik.io.memory import Channels, as_items
from optik.preprocess.decode import DEFAULT_MAX_PIXELS
from optik.tasks.base import Family, create_task
from optik.tasks.settings import ClassifySettings, DetectSettings, EnhanceSettings, SegmentSettings, StyleSettings

ModelLike = Any  # a registry name, or a LoadedModel from optik.load_model


def run(
    task: Family,
    images: Any,
    batch_size: int = 8,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    channels: Channels = "RGB",
) -> Any:
    """``task``'s result for one image, or the list of results for many (in input order)."""
    items, single = as_items(images, channels)
    results = []
    for outcome in pipeline.run(task, items, batch_size=batch_size, max_pixels=max_pixels):
        if outcome.error is not None:
            raise InputError(outcome.error)
        results.append(outcome.result)
    return results[0] if single else results


def classify(
    images: Any,
    model: ModelLike = None,
    top_k: int = 5,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
    draft: bool = False,
    channels: Channels = "RGB",
) -> Any:
    """ImageNet top-k: a ``ClassifyResult`` (or a list) whose ``.top`` is the best ``Prediction``."""
    task = create_task("classify", ClassifySettings(top_k, draft), model, device, half, weights)
    return run(task, images, channels=channels)


def detect(
    images: Any,
    model: ModelLike = None,
    conf: float = 0.35,
    iou: float = 0.5,
    max_det: int = 100,
    classes: str | Sequence[str] = (),
    imgsz: int | None = None,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
    channels: Channels = "RGB",
) -> Any:
    """COCO objects (``model="mtcnn"`` / ``"haar-face"``: faces): a ``DetectResult`` (or a list) whose
    ``.detections`` carry label, index, score and box (x1, y1, x2, y2 in original pixels), best first;
    faces from mtcnn add ``.landmarks`` (5×2). ``.render()`` draws them, ``.render("blur")`` hides them."""
    settings = DetectSettings(conf, iou, max_det, classes, imgsz)
    return run(create_task("detect", settings, model, device, half, weights), images, channels=channels)


def enhance(
    images: Any,
    model: ModelLike = None,
    scale: float | None = None,
    operations: Sequence[str] = (),
    tile: int | None = None,
    tile_pad: int | None = None,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
    channels: Channels = "RGB",
) -> Any:
    """Upscale/restore with Real-ESRGAN (``model="none"``: classical only) and apply ``operations``
    (``"denoise=10"``, ``"clahe"``, ``"sharpen=0.5"`` …, as on the command line): an ``EnhanceResult`` (or a
    list) whose ``.image`` is an array of the input's kind and depth."""
    pad = EnhanceSettings.tile_pad if tile_pad is None else tile_pad
    settings = EnhanceSettings(scale, tile, pad, tuple(operations))
    return run(create_task("enhance", settings, model, device, half, weights), images, 1, channels=channels)


def style(
    images: Any,
    style: str | int | Path | Mapping[int | str, float] | np.ndarray,
    strength: float = 1.0,
    size: int | None = None,
    preserve_color: bool = False,
    tile: int | None = None,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
    channels: Channels = "RGB",
) -> Any:
    """Stylise with a learned style (name or number), a blend (``"3:0.6,17:0.4"`` or ``{3: 0.6, 17: 0.4}``),
    a style image (a path or an RGB array) or a filter (``"cartoon"``…): a ``StyleResult`` (or a list)
    whose ``.image`` is RGB uint8 (RGBA with alpha) of the input's size; ``.save(path)`` writes it."""
    settings = StyleSettings(style, strength, size, preserve_color, StyleSettings.tile if tile is None else tile)
    task = create_task("style", settings, settings.style.model, device, half, weights)
    return run(task, images, 1, channels=channels)


def segment(
    images: Any,
    model: ModelLike = None,
    threshold: float = 0.5,
    k: int | None = None,
    box: tuple[int, int, int, int] | str | None = None,
    polygons: bool = False,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
    channels: Channels = "RGB",
) -> Any:
    """Foreground: a ``SegmentResult`` (or a list) whose ``.mask`` is the uint8 alpha at full size;
    ``.cutout()`` is RGBA, ``.render("overlay" | "bg", background)`` an ``Image``. ``model``: isnet when
    pulled, else selfie; ``k`` is for kmeans, ``box`` for grabcut: (x1, y1, x2, y2), or ``"auto"``,
    nanodet's best detection (``.findings["seed"]`` says which; the centred default if none)."""
    settings = SegmentSettings(threshold, polygons, k, box)
    return run(create_task("segment", settings, model, device, half, weights), images, channels=channels)
