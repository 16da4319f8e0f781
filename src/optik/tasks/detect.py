"""Object and face detection: boxes in original pixels, plus the ``--expect`` / ``--min-count`` /
``--max-count`` checks. Results render the annotated or redacted image and the crops on demand.

One family adapter per kind of detector (NanoDet, CenterNet, torchvision detectors, MTCNN, OpenCV's Haar
cascade); they differ in ``prepare`` and ``forward`` and share ``finish``: map back, filter, NMS.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np
import torch
from torchvision.ops import batched_nms

from optik.errors import ModelUnavailable
from optik.io.records import image_record, text_line
from optik.preprocess.decode import Image
from optik.preprocess.draw import annotate, colour, pixel_region, redact
from optik.preprocess.geometry import Affine, fit_within, map_boxes
from optik.preprocess.transforms import prepare, to_batch
from optik.registry.labels import label_set
from optik.registry.loading import LoadedModel
from optik.registry.weights import weights_path
from optik.tasks.base import Family, ImageResult, Prepared, check_sane
from optik.tasks.settings import DetectSettings

CSV_FIELDS = ("path", "model", "label", "index", "score", "x1", "y1", "x2", "y2")


@dataclass
class Detection:
    """One object: its label, index in the model's label set, score, box (x1, y1, x2, y2, original pixels)."""

    label: str
    index: int
    score: float
    box: tuple[float, float, float, float]
    landmarks: np.ndarray | None = None  # 5×2 for faces: left eye, right eye, nose, mouth left, mouth right
    crop: str | None = None  # where --crops wrote it

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "label": self.label,
            "index": self.index,
            "score": round(self.score, 6),
            "box": [round(v, 2) for v in self.box],
        }
        if self.landmarks is not None:
            record["landmarks"] = [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks]
        if self.crop is not None:
            record["crop"] = self.crop
        return record


@dataclass
class DetectResult(ImageResult):
    """The detections in one image, best first."""

    path: str
    model: str
    width: int
    height: int
    detections: list[Detection] = field(default_factory=list)
    output: str | None = None  # where the output stage wrote the annotated or redacted image
    image: Image | None = field(default=None, repr=False)  # the input, for render() and crops()

    def counts(self) -> Counter:
        return Counter(d.label for d in self.detections)

    def to_record(self) -> dict[str, Any]:
        return image_record(self, detections=[d.to_record() for d in self.detections])

    def to_text(self) -> str:
        found = ", ".join(
            f"{d.label} {d.score:.2f} [{' '.join(str(round(v)) for v in d.box)}]" for d in self.detections
        )
        return text_line(self.path, self.output, found or "nothing found")

    def csv_rows(self) -> list[dict[str, Any]]:
        base = {"path": self.path, "model": self.model}
        if not self.detections:
            return [base]  # the image still gets its row
        return [
            {
                **base,
                "label": d.label,
                "index": d.index,
                "score": round(d.score, 6),
                **{k: round(v, 2) for k, v in zip(("x1", "y1", "x2", "y2"), d.box, strict=True)},
            }
            for d in self.detections
        ]

    def render(self, redact_with: str | None = None) -> Image:
        """The image with every detection drawn (box, label, score, landmarks), or with every detected region
        hidden by ``redact_with`` (``blur``, ``pixelate``, ``fill``: only the pixels inside boxes change;
        depth, gray and alpha kept)."""
        image = self._image()
        boxes = [d.box for d in self.detections]
        if redact_with:
            return Image(redact(image.pixels, boxes, redact_with), image.alpha, image.gray, image.name)
        captions = [f"{d.label} {d.score:.2f}" for d in self.detections]
        colours = [colour(d.index) for d in self.detections]
        points = [d.landmarks for d in self.detections]
        return Image(annotate(image.rgb8(), boxes, captions, colours, points), None, False, image.name)

    def crops(self) -> Iterator[tuple[int, Detection, Image]]:
        """(position, detection, the pixels inside its box) for every detection with a non-empty box."""
        image = self._image()
        for position, d in enumerate(self.detections):
            x0, y0, x1, y1 = pixel_region(d.box, image.width, image.height)
            if x1 > x0 and y1 > y0:
                alpha = None if image.alpha is None else np.ascontiguousarray(image.alpha[y0:y1, x0:x1])
                pixels = np.ascontiguousarray(image.pixels[y0:y1, x0:x1])
                yield position, d, Image(pixels, alpha, image.gray, image.name)

    def _image(self) -> Image:
        if self.image is None:
            raise ValueError("this result keeps no image to render")
        return self.image


@dataclass
class Raw:
    """One image's detections as the network gives them: boxes in network-input pixels."""

    boxes: np.ndarray  # K×4
    scores: np.ndarray  # K
    labels: np.ndarray  # K, indices into Detector.labels
    landmarks: np.ndarray | None = None  # K×5×2
    signal: np.ndarray | None = None  # the raw score map, for the sanity check


class Detector(Family):
    """The detect task for one loaded model; subclasses provide ``prepare`` and ``forward``."""

    csv_fields = CSV_FIELDS

    def __init__(self, model: LoadedModel, settings: DetectSettings | None = None):
        super().__init__(model, settings or DetectSettings())
        self.labels = model.spec.categories()
        chosen = self.settings.classes
        self.selected = np.array([not chosen or name in chosen for name in self.labels])

    def prepare(self, image: Image) -> Prepared:
        raise NotImplementedError

    def forward(self, arrays: list[np.ndarray]) -> list[Raw]:
        raise NotImplementedError

    def finish(self, prepared: Prepared, raw: Raw) -> DetectResult:
        """Map boxes back to the original pixels, keep what the settings ask for."""
        image, settings = prepared.image, self.settings
        if raw.signal is not None:
            check_sane(raw.signal, "scores", image.name)
        check_sane(np.concatenate([raw.boxes.ravel(), raw.scores]), "boxes", image.name, allow_constant=True)
        affine: Affine = prepared.context
        boxes = map_boxes(raw.boxes, affine, image.width, image.height)
        landmarks = raw.landmarks
        if landmarks is not None:
            xs, ys = affine.to_original(landmarks[..., 0].astype(np.float64), landmarks[..., 1].astype(np.float64))
            landmarks = np.stack([xs, ys], -1)
        keep = (raw.scores >= settings.conf) & self.selected[raw.labels]
        keep &= (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        index = np.flatnonzero(keep)
        if len(index):
            picked = batched_nms(
                torch.from_numpy(boxes[index]).float(),
                torch.from_numpy(raw.scores[index]).float(),
                torch.from_numpy(raw.labels[index]).long(),
                settings.iou,
            ).numpy()  # sorted by score, best first
            index = index[picked][: settings.max_det]
        detections = [
            Detection(
                self.labels[int(raw.labels[i])],
                int(raw.labels[i]),
                float(raw.scores[i]),
                tuple(float(v) for v in boxes[i]),
                None if landmarks is None else landmarks[i],
            )
            for i in index
        ]
        return DetectResult(image.name, self.name, image.width, image.height, detections, image=image)


class GridDetector(Detector):
    """Single-stage detectors on a fixed input grid: the row's input spec (``imgsz`` sets the square)."""

    def __init__(self, model: LoadedModel, settings: DetectSettings | None = None):
        super().__init__(model, settings)
        spec = model.spec.input_spec()
        size = self.settings.imgsz
        self.spec = replace(spec, size=(size, size)) if size is not None else spec

    def prepare(self, image: Image) -> Prepared:
        array, affine = prepare(image.rgb8(), self.spec)
        return Prepared(image, array, affine, key=array.shape)


class NanoDetDetector(GridDetector):
    """NanoDet-g: letterbox warp, BGR mean/std; the GFL decode with NMS at ``iou`` runs in ``finish``, on the
    worker threads, while the next batch runs through the network."""

    def forward(self, arrays: list[np.ndarray]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        scores, logits = self.model(to_batch(arrays, self.spec, self.model.device, self.model.dtype))
        return list(zip(scores.float().cpu(), logits.float().cpu(), strict=True))

    def finish(self, prepared: Prepared, output: tuple[torch.Tensor, torch.Tensor]) -> DetectResult:
        from optik.nets.nanodet import decode_nanodet

        scores, logits = output
        ((boxes, conf, labels),) = decode_nanodet(
            scores[None],
            logits[None],
            prepared.array.shape[:2],
            score_threshold=self.settings.conf,
            iou_threshold=self.settings.iou,
            max_detections=len(scores),  # max_det applies after the classes, in Detector.finish
        )
        raw = Raw(boxes.numpy(), conf.numpy(), labels.numpy(), signal=scores.amax(1).numpy())
        return super().finish(prepared, raw)


class CenterNetDetector(GridDetector):
    """CenterNet MobileNetV3: NanoDet's input handling (the row's spec: a 512x512 stretch, RGB 0-255;
    ``imgsz`` a multiple of 32), then the graph's own decode (3x3 peaks, top 100 or ``max_det``);
    ``conf`` and class-wise NMS at ``iou`` apply in ``finish``."""

    def forward(self, arrays: list[np.ndarray]) -> list[Raw]:
        from optik.nets.centernet import TOP_K, decode_centernet

        batch = to_batch(arrays, self.spec, self.model.device, self.model.dtype)
        heatmap, wh = self.model(batch)
        heatmap, wh = heatmap.float(), wh.float()
        decoded = decode_centernet(heatmap, wh, top_k=max(TOP_K, self.settings.max_det))
        signal = heatmap.amax(1).cpu().numpy()
        return [
            Raw(boxes.cpu().numpy(), conf.cpu().numpy(), labels.cpu().numpy(), signal=peak)
            for (boxes, conf, labels), peak in zip(decoded, signal, strict=True)
        ]


class TorchvisionDetector(Detector):
    """torchvision's detection models: a list of RGB [0, 1] tensors in, boxes in input pixels out.

    They resize internally (``imgsz`` sets the shorter side, or SSDlite's fixed square) and run their own
    score filter and NMS first; ``conf`` and ``iou`` apply on top. COCO-91 ids become COCO-80 indices.
    """

    def __init__(self, model: LoadedModel, settings: DetectSettings | None = None):
        super().__init__(model, settings)
        self.to_label = np.array([self.labels.index(n) if n in self.labels else -1 for n in label_set("coco91")])

    def prepare(self, image: Image) -> Prepared:
        return Prepared(image, image.rgb8(), Affine(1.0, 1.0), key=())  # any sizes batch together

    @contextmanager
    def _input_size(self) -> Iterator[None]:
        transform = self.model.module.transform
        saved = (transform.min_size, transform.max_size, transform.fixed_size)
        size = self.settings.imgsz
        if size is not None:
            if transform.fixed_size is not None:
                transform.fixed_size, transform.min_size, transform.max_size = (size, size), (size,), size
            else:
                transform.min_size = (size,)
                transform.max_size = max(size, round(size * saved[1] / saved[0][-1]))
        try:
            yield
        finally:
            transform.min_size, transform.max_size, transform.fixed_size = saved

    def forward(self, arrays: list[np.ndarray]) -> list[Raw]:
        tensors = [self.model.tensor(torch.from_numpy(a).permute(2, 0, 1).float() / 255) for a in arrays]
        with torch.inference_mode(), self._input_size():
            outputs = self.model.module(tensors)
        raws = []
        for out in outputs:
            labels = self.to_label[out["labels"].cpu().numpy()]
            known = labels >= 0
            raws.append(
                Raw(
                    out["boxes"].float().cpu().numpy()[known], out["scores"].float().cpu().numpy()[known], labels[known]
                )
            )
        return raws


class MtcnnDetector(Detector):
    """MTCNN faces with five landmarks; ``imgsz`` downscales images whose longer side is larger."""

    def prepare(self, image: Image) -> Prepared:
        array, affine = (
            fit_within(image.rgb8(), self.settings.imgsz) if self.settings.imgsz else (image.rgb8(), Affine(1, 1))
        )
        return Prepared(image, array, affine, key=())

    def forward(self, arrays: list[np.ndarray]) -> list[Raw]:
        raws = []
        with torch.inference_mode():
            for array in arrays:
                boxes, probs, landmarks = self.model.module(array)
                raws.append(Raw(boxes, probs, np.zeros(len(boxes), np.int64), landmarks))
        return raws


class HaarDetector(Detector):
    """OpenCV's frontal-face Haar cascade (Viola-Jones) on the equalised gray image; no torch.

    A cascade gives no probability: ``score`` is ``n / (n + 5)`` for the ``n`` raw hits OpenCV merged into
    the box (its neighbour count), so more corroborated faces score higher.
    """

    min_neighbours = 5

    def __init__(self, model: LoadedModel, settings: DetectSettings | None = None):
        super().__init__(model, settings)
        self.cascade = cv2.CascadeClassifier(str(weights_path(model.spec)))
        if self.cascade.empty():
            raise ModelUnavailable(f"{self.name}: OpenCV cannot read its cascade file")

    def prepare(self, image: Image) -> Prepared:
        gray = cv2.equalizeHist(cv2.cvtColor(image.rgb8(), cv2.COLOR_RGB2GRAY))
        array, affine = fit_within(gray, self.settings.imgsz) if self.settings.imgsz else (gray, Affine(1, 1))
        return Prepared(image, array, affine, key=())

    def forward(self, arrays: list[np.ndarray]) -> list[Raw]:
        raws = []
        for gray in arrays:
            rects, hits = self.cascade.detectMultiScale2(
                gray, scaleFactor=1.1, minNeighbors=self.min_neighbours, minSize=(24, 24)
            )
            rects = np.asarray(rects, np.float64).reshape(-1, 4)
            hits = np.asarray(hits, np.float64).reshape(-1)
            boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1)
            raws.append(Raw(boxes, hits / (hits + self.min_neighbours), np.zeros(len(rects), np.int64)))
        return raws
