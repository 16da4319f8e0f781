"""The Python API: every task as a plain function on paths or numpy images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from optik.preprocess.decode import DEFAULT_MAX_PIXELS, Image, decode
from optik.registry import default_model, load_model
from optik.tasks.base import Task

ImageLike = str | Path | np.ndarray


def _to_image(source: ImageLike, max_pixels: int, min_side: int | None) -> Image:
    if isinstance(source, np.ndarray):
        return Image.from_array(source)
    return decode(Path(source).read_bytes(), str(source), max_pixels, min_side)


def run_task(
    task: Task, images: ImageLike | Sequence[ImageLike], batch_size: int = 8, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Any:
    """Run ``task`` on one image (returns one result) or a sequence (returns a list)."""
    single = isinstance(images, str | Path | np.ndarray)
    min_side = getattr(task, "decode_min_side", None)
    prepared = [task.prepare(_to_image(source, max_pixels, min_side)) for source in ([images] if single else images)]
    results = []
    for start in range(0, len(prepared), batch_size):
        chunk = prepared[start : start + batch_size]
        groups: dict[tuple, list[int]] = {}
        for index, item in enumerate(chunk):
            groups.setdefault(item.key, []).append(index)
        outputs: list[Any] = [None] * len(chunk)
        for indices in groups.values():
            for index, output in zip(indices, task.forward([chunk[i].array for i in indices]), strict=True):
                outputs[index] = output
        results += [task.finish(item, output) for item, output in zip(chunk, outputs, strict=True)]
    return results[0] if single else results


def classify(
    images: ImageLike | Sequence[ImageLike],
    model: str | None = None,
    top_k: int = 5,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
    draft: bool = False,
) -> Any:
    """ImageNet top-k for a path or RGB array (or a list of them): a ``ClassifyResult`` (or a list)."""
    from optik.tasks.classify import Classifier

    name = model or default_model("classify").name
    loaded = load_model(name, device, half, Path(weights) if weights else None, task="classify")
    return run_task(Classifier(loaded, top_k, draft), images)


def detect(
    images: ImageLike | Sequence[ImageLike],
    model: str | None = None,
    conf: float = 0.35,
    iou: float = 0.5,
    max_det: int = 100,
    classes: Sequence[str] = (),
    imgsz: int | None = None,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
) -> Any:
    """COCO objects (``model="mtcnn"`` / ``"haar-face"``: faces) in a path or RGB array (or a list of them):
    a ``DetectResult`` (or a list) whose ``.detections`` carry label, index, score and box
    (x1, y1, x2, y2 in original pixels), best first; faces from mtcnn add ``.landmarks`` (5×2)."""
    from optik.tasks.detect import DetectSettings, load_detector

    settings = DetectSettings(conf, iou, max_det, tuple(classes), imgsz)
    name = model or default_model("detect").name
    return run_task(load_detector(name, settings, None, device, half, Path(weights) if weights else None), images)


def enhance(
    images: ImageLike | Sequence[ImageLike],
    model: str | None = None,
    scale: float | None = None,
    operations: Sequence[str] = (),
    tile: int | None = None,
    tile_pad: int | None = None,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
) -> Any:
    """Upscale/restore with Real-ESRGAN (``model="none"``: classical only) and apply ``operations``
    (``"denoise=10"``, ``"clahe"``, ``"sharpen=0.5"`` …, run as on the command line): an
    ``EnhanceResult`` (or a list) whose ``.image`` is an array of the input's kind and depth."""
    from optik.tasks.enhance import DEFAULT_TILE_PAD, Enhancer

    name = model or default_model("enhance").name
    loaded = load_model(name, device, half, Path(weights) if weights else None, task="enhance")
    pad = DEFAULT_TILE_PAD if tile_pad is None else tile_pad
    return run_task(Enhancer(loaded, scale, tile, pad, operations), images, batch_size=1)


def style(
    images: ImageLike | Sequence[ImageLike],
    style: str | int | Path | Mapping[int | str, float] | np.ndarray,
    strength: float = 1.0,
    size: int | None = None,
    preserve_color: bool = False,
    tile: int | None = None,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
) -> Any:
    """Stylise with a learned style (name or number), a blend (``"3:0.6,17:0.4"`` or ``{3: 0.6, 17: 0.4}``),
    a style image (a path or an RGB array) or a filter (``"cartoon"``…): a ``StyleResult`` (or a list)
    whose ``.image`` is RGB uint8 (RGBA with alpha) of the input's size; ``.save(path)`` writes it."""
    from optik.tasks.style import DEFAULT_TILE, Stylizer, parse_style

    choice = parse_style(style)
    loaded = load_model(choice.model, device, half, Path(weights) if weights else None, task="style")
    task = Stylizer(loaded, choice, strength, size, preserve_color, DEFAULT_TILE if tile is None else tile)
    return run_task(task, images, batch_size=1)


def segment(
    images: ImageLike | Sequence[ImageLike],
    model: str | None = None,
    threshold: float = 0.5,
    k: int = 2,
    box: tuple[int, int, int, int] | str | None = None,
    polygons: bool = False,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
) -> Any:
    """Foreground of a path or RGB array (or a list): a ``SegmentResult`` (or a list) whose ``.mask`` is the
    uint8 alpha at full size; ``.cutout()`` is RGBA, ``.render("overlay" | "bg", background)`` an ``Image``.
    ``model``: isnet when pulled, else selfie; ``k`` is for kmeans, ``box`` for grabcut: (x1, y1, x2, y2), or
    ``"auto"``, nanodet's best detection (``.findings["seed"]`` says which; the centred default if none)."""
    from optik.tasks.segment import Segmenter, SegmentOptions, default_model, load_seeder

    name = model or default_model()
    loaded = load_model(name, device, half, Path(weights) if weights else None, task="segment")
    options = SegmentOptions(threshold=threshold, polygons=polygons, k=k, box=box)
    seeder = load_seeder(device, half) if box == "auto" and name == "grabcut" else None
    return run_task(Segmenter(loaded, options, seeder=seeder), images)
