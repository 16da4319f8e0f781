"""Segmentation: background removal (ISNet), person masks (Selfie, Meet), VOC classes and COCO instances
(torchvision), and classical OpenCV methods — one foreground alpha at full resolution per image.

Networks run at their own resolution; the mask comes back to the original size through the guided
filter of :mod:`optik.preprocess.masks`. Classical methods run at a working resolution and come
back the same way. The alpha then gives the record (foreground fraction, box, polygons) and the
output image (cut-out, mask, overlay or a new background).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch

from optik.errors import InputError
from optik.io.records import image_record, text_line
from optik.nets import classical_segment
from optik.preprocess import masks
from optik.preprocess.decode import Image
from optik.preprocess.geometry import Affine, fit_within, map_boxes
from optik.preprocess.transforms import prepare, to_batch
from optik.registry.families import ClassicalSegmentConfig
from optik.registry.loading import LoadedModel
from optik.registry.spec import resolve
from optik.tasks.base import CPU_BATCH_PIXELS, Family, ImageResult, Prepared, check_sane
from optik.tasks.settings import SegmentSettings

log = logging.getLogger("optik")

MODES = ("cutout", "mask", "overlay", "bg")
CSV_FIELDS = ("path", "model", "foreground", "x1", "y1", "x2", "y2", "output")
OVERLAY_TINT = (255, 0, 160)  # overlay: the mask in magenta at half strength over the photo


@dataclass
class SegmentResult(ImageResult):
    """One image's foreground: ``mask`` is the uint8 alpha (H×W, full resolution)."""

    path: str
    model: str
    width: int
    height: int
    foreground: float
    box: tuple[float, float, float, float] | None  # of the foreground pixels: x1, y1, x2, y2 (pixel edges)
    mask: np.ndarray = field(repr=False)
    image: Image | None = field(default=None, repr=False)
    classes: dict[str, float] | None = None  # semantic models: pixel fraction per class present
    instances: list[dict[str, Any]] | None = None  # instance models: label, score, box
    findings: dict[str, Any] = field(default_factory=dict)  # classical methods: threshold, clusters, regions, seed
    polygons: list[list[list[int]]] | None = None
    output: str | None = None

    def to_record(self) -> dict[str, Any]:
        found = {"classes": self.classes, "instances": self.instances}
        fields = {key: value for key, value in found.items() if value is not None} | self.findings
        if self.polygons is not None:
            fields["polygons"] = self.polygons
        box = None if self.box is None else [float(v) for v in self.box]
        return image_record(self, foreground=round(self.foreground, 6), box=box, **fields)

    def to_text(self) -> str:
        box = " ".join(f"{v:g}" for v in self.box) if self.box else "none"
        text = f"foreground {self.foreground:.3f} box [{box}]"
        if self.classes:
            top = sorted(self.classes.items(), key=lambda kv: -kv[1])[:3]
            text += " (" + ", ".join(f"{name} {share:.2f}" for name, share in top) + ")"
        return text_line(self.path, self.output, text)

    def csv_rows(self) -> list[dict[str, Any]]:
        x1, y1, x2, y2 = self.box or ("", "", "", "")
        return [
            {
                "path": self.path,
                "model": self.model,
                "foreground": round(self.foreground, 6),
                "x1": x1,
                "y1": y1,
                "x2": x2,
                "y2": y2,
                "output": self.output or "",
            }
        ]

    def render(self, mode: str = "cutout", background: np.ndarray | tuple[int, int, int] | None = None) -> Image:
        """The output image: ``cutout`` (the photo with this alpha, times any alpha it had), ``mask``
        (8-bit gray), ``overlay`` (the mask tinted over the photo) or ``bg`` (the foreground over
        ``background``, an RGB colour or image, white by default)."""
        if self.image is None:
            raise ValueError("this result keeps no image to render")
        image = self.image
        if mode == "mask":
            return Image(np.broadcast_to(self.mask[:, :, None], (*self.mask.shape, 3)), None, True, image.name)
        if mode == "cutout":
            alpha = self.mask
            if image.alpha is not None:
                own = image.alpha if image.alpha.dtype == np.uint8 else (image.alpha >> 8).astype(np.uint8)
                alpha = ((alpha.astype(np.uint16) * own + 127) // 255).astype(np.uint8)
            return Image(image.pixels, alpha, image.gray, image.name)
        rgb = image.rgb8()
        if mode == "overlay":
            return Image(masks.composite(OVERLAY_TINT, rgb, self.mask // 2), None, False, image.name)
        if mode == "bg":
            back = (255, 255, 255) if background is None else background
            if isinstance(back, np.ndarray):
                back = masks.cover(back, self.width, self.height)
            return Image(masks.composite(rgb, back, self.mask), None, False, image.name)
        raise ValueError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")

    def cutout(self) -> np.ndarray:
        """RGBA uint8 H×W×4: the photo with the foreground alpha (Python API convenience)."""
        rendered = self.render("cutout")
        return np.dstack([rendered.rgb8(), rendered.alpha])


class Segmenter(Family):
    """The segment task for one loaded model: each family gives a low-resolution foreground (and what it
    found); ``finish`` brings it to full resolution with the guided filter and measures it."""

    csv_fields = CSV_FIELDS

    def __init__(self, model: LoadedModel, settings: SegmentSettings | None = None):
        super().__init__(model, settings or SegmentSettings())
        self.spec = model.spec.input_spec()
        self.labels = model.spec.categories()
        if model.device.type == "cpu" and self.spec.size:
            self.batch_limit = max(1, CPU_BATCH_PIXELS // (self.spec.size[0] * self.spec.size[1]))

    def prepare(self, image: Image) -> Prepared:
        array, affine = prepare(image.rgb8(), self.spec)
        return Prepared(image, array, context=affine, key=array.shape)

    def finish(self, prepared: Prepared, output: Any) -> SegmentResult:
        image = prepared.image
        result = SegmentResult(image.name, self.name, image.width, image.height, 0.0, None, np.empty(0), image)
        low = self.foreground(output, prepared.context, result)
        result.mask = masks.guided_upsample(low, image.rgb8())
        result.foreground, box = masks.measure(result.mask, self.settings.threshold)
        result.box = None if box is None else tuple(float(v) for v in box)
        if self.settings.polygons:
            result.polygons = masks.polygons(result.mask, self.settings.threshold)
        return result

    def foreground(self, output: Any, affine: Affine, result: SegmentResult) -> np.ndarray:
        """The [0, 1] foreground at the original geometry, before the guided upsampling."""
        raise NotImplementedError


class ProbabilitySegmenter(Segmenter):
    """A network whose last output channel is the foreground probability (ISNet, Selfie, Meet)."""

    def forward(self, arrays: list[np.ndarray]) -> list[Any]:
        output = self.model(to_batch(arrays, self.spec, self.model.device, self.model.dtype))
        return list(output[:, -1].float().cpu().numpy())

    def foreground(self, output: np.ndarray, affine: Affine, result: SegmentResult) -> np.ndarray:
        # a bit-constant map is a broken model, unless it is saturated: nothing (0) or everything (1) found
        saturated = float(output.flat[0]) in (0.0, 1.0)
        check_sane(output, "mask", result.path, allow_constant=saturated)
        return masks.to_image_geometry(output, affine, result.width, result.height)


class SemanticSegmenter(Segmenter):
    """torchvision's VOC segmenters: foreground = 1 - p(background); the record lists each class's share."""

    def forward(self, arrays: list[np.ndarray]) -> list[Any]:
        output = self.model(to_batch(arrays, self.spec, self.model.device, self.model.dtype))
        return list(torch.softmax(output["out"].float(), dim=1).cpu().numpy())

    def foreground(self, output: np.ndarray, affine: Affine, result: SegmentResult) -> np.ndarray:
        width, height = result.width, result.height
        check_sane(output, "class scores", result.path)
        labels = masks.to_image_geometry(output.argmax(0).astype(np.float32), affine, width, height, cv2.INTER_NEAREST)
        counts = np.bincount(labels.astype(np.int64).ravel(), minlength=len(self.labels)) / labels.size
        result.classes = {self.labels[i]: round(float(c), 6) for i, c in enumerate(counts) if c > 0}
        return masks.to_image_geometry(1.0 - output[0], affine, width, height)


class InstanceSegmenter(Segmenter):
    """Mask R-CNN: instances scoring at least the row's ``min_score`` are merged into the foreground and
    listed in the record."""

    def forward(self, arrays: list[np.ndarray]) -> list[Any]:
        batch = to_batch(arrays, self.spec, self.model.device, self.model.dtype)
        with torch.inference_mode():
            outputs = self.model.module(list(batch))
        return [{key: value.float().cpu().numpy() for key, value in out.items()} for out in outputs]

    def foreground(self, output: dict[str, np.ndarray], affine: Affine, result: SegmentResult) -> np.ndarray:
        keep = output["scores"] >= self.model.spec.config.min_score
        probs = output["masks"][keep, 0]
        check_sane(probs, "instance masks", result.path, allow_constant=True)
        boxes = map_boxes(output["boxes"][keep], affine, result.width, result.height)
        result.instances = [
            {
                "label": self.labels[int(label)],
                "score": round(float(score), 4),
                "box": [round(float(v), 2) for v in box],
            }
            for label, score, box in zip(output["labels"][keep], output["scores"][keep], boxes, strict=True)
        ]
        merged = probs.max(axis=0) if len(probs) else np.zeros(output["masks"].shape[2:], np.float32)
        return masks.to_image_geometry(merged, affine, result.width, result.height)


class ClassicalSegmenter(Segmenter):
    """OpenCV methods at the row's working size; the option the row names (``k``, ``box``) is passed on.
    grabcut with ``box="auto"`` is seeded by the best detection of the row's seed model, run through the
    detect task on this model's device."""

    def __init__(self, model: LoadedModel, settings: SegmentSettings | None = None):
        super().__init__(model, settings)
        self.config: ClassicalSegmentConfig = model.spec.config
        self.method = resolve(model.spec.architecture)
        self.seeder = None
        if self.settings.box == "auto":
            from optik.tasks import create_task
            from optik.tasks.settings import DetectSettings

            half = model.dtype == torch.float16
            self.seeder = create_task("detect", DetectSettings(max_det=1), self.config.seed_model, model.device, half)

    def prepare(self, image: Image) -> Prepared:
        array, affine = fit_within(image.rgb8(), self.config.working_size)
        return Prepared(image, array, context=affine, key=array.shape)

    def forward(self, arrays: list[np.ndarray]) -> list[Any]:
        return arrays  # the OpenCV work runs in finish, on the worker threads

    def foreground(self, pixels: np.ndarray, affine: Affine, result: SegmentResult) -> np.ndarray:
        option = self.config.option
        arguments: dict[str, Any] = {}
        seed: dict[str, Any] = {}
        if option == "k":
            arguments["k"] = self.settings.k or 2
        elif option == "box":
            box, seed = self.settings.box, {"from": "given"}
            if box == "auto":
                box, seed = self._detected_box(result.image, affine, pixels.shape[:2])
            if box is None:
                box, seed = classical_segment.centred_box(result.width, result.height), {"from": "centred"}
            arguments["box"] = _working_box(box, affine)
        try:
            found = self.method(pixels, **arguments)
        except ValueError as exc:
            raise InputError(f"{result.path}: {self.name}: {exc}") from None
        if option == "box":
            found.extras["seed"] = {**seed, "box": [float(v) for v in box]}
        check_sane(found.mask, "mask", result.path, allow_constant=True)  # a blank photo has no foreground
        result.findings = found.extras
        return found.mask  # the whole image at the working size: already the image's geometry

    def _detected_box(
        self, image: Image, affine: Affine, working: tuple[int, int]
    ) -> tuple[tuple[int, int, int, int] | None, dict[str, Any]]:
        """box="auto": the seeder's best detection, any class, in whole pixels around it; None (the centred
        default, said on stderr) when it finds nothing, or nothing that leaves grabcut some background at
        its ``working`` (height, width). Also what the record says of the seed."""
        prepared = self.seeder.prepare(image)
        found = self.seeder.finish(prepared, self.seeder.forward([prepared.array])[0]).detections
        seeder = self.seeder.name
        if found:
            best = max(found, key=lambda detection: detection.score)
            x1, y1, x2, y2 = best.box
            box = (
                max(0, math.floor(x1)),
                max(0, math.floor(y1)),
                min(image.width, math.ceil(x2)),
                min(image.height, math.ceil(y2)),
            )
            x1, y1, x2, y2 = _working_box(box, affine)
            if x1 > 0 or y1 > 0 or x2 < working[1] or y2 < working[0]:
                return box, {"from": seeder, "label": best.label, "score": round(best.score, 4)}
            why = f"{seeder}'s best box ({best.label}) covers the whole image"
        else:
            why = f"{seeder} found nothing"
        log.warning("%s: %s; grabcut seeded by the centred box", image.name, why)
        return None, {}


def _working_box(box: tuple[int, int, int, int], affine: Affine) -> tuple[int, int, int, int]:
    """A box in original pixels at a classical method's working resolution (whole pixels around it)."""
    return (
        int(box[0] * affine.scale_x),
        int(box[1] * affine.scale_y),
        math.ceil(box[2] * affine.scale_x),
        math.ceil(box[3] * affine.scale_y),
    )
