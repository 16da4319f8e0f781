"""The Python API: every task as a plain function on paths or numpy images."""

from __future__ import annotations

from collections.abc import Sequence
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
