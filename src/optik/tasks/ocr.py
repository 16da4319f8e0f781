"""Reading text: lines with their text, confidence and 4-point polygon in original pixels, in reading
order, plus the ``--expect-text`` / ``--forbid-text`` / ``--min-lines`` / ``--max-lines`` checks. Results
render the annotated or redacted image on demand.

One family so far, PP-OCR (:class:`PPOCRReader`), run as rapidocr 3.10.0 runs it (without its angle
classifier): ``prepare`` bounds and pads the page and resizes it for the detector; ``forward`` runs
the detector on a batch of pages; ``finish`` (on the worker threads) turns each probability map into
line quadrilaterals, cuts each line out straight and reads the crops with the recogniser, so that
reading one page overlaps detecting the next.

Where rapidocr scales an image down so that its longer side is at most ``max_side`` (2000), which makes
small print illegible on large scans, optik keeps the image's own pixels: the detector runs on overlapping
tiles (:meth:`PPOCRReader.detect_tiled`), their maps are stitched into one for the whole page, so that a
line across tiles is found once, and the lines are cut out of the full-resolution page. Pages within the
bound are read exactly as rapidocr reads them.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch

from optik.io.records import image_record
from optik.nets.ppocr_post import ctc_decode, db_boxes, reading_order, scale_boxes
from optik.preprocess.decode import Image
from optik.preprocess.draw import redact
from optik.preprocess.draw_text import annotate_lines
from optik.preprocess.geometry import Affine
from optik.preprocess.masks import composite
from optik.preprocess.text_lines import crop_line, detector_size, line_batches, make_page
from optik.preprocess.tiling import Tile, plan
from optik.preprocess.transforms import to_batch
from optik.registry.families import TextReaderConfig
from optik.registry.loading import LoadedModel
from optik.tasks.base import Family, ImageResult, Prepared, check_sane
from optik.tasks.settings import OcrSettings, TextChecks

CSV_FIELDS = ("path", "model", "line", "text", "score", "x1", "y1", "x2", "y2", "polygon")

Point = tuple[float, float]

TILE, TILE_PAD = 1280, 128  # a page detected tile by tile: tiles of at most TILE pixels a side (cores + context)


@dataclass
class TextLine:
    """One line of text: what it says, the recogniser's confidence (mean over its characters), and where it
    is: ``polygon``, its 4 corners in original pixels (a rotated line gives a rotated quadrilateral),
    clockwise from the top left as they lie in the image (the two leftmost corners are the top-left and
    bottom-left ones)."""

    text: str
    score: float
    polygon: tuple[Point, ...]

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The axis-aligned box around the polygon: x1, y1, x2, y2."""
        xs, ys = zip(*self.polygon, strict=True)
        return min(xs), min(ys), max(xs), max(ys)

    def to_record(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "score": round(self.score, 6),
            "box": [round(v, 2) for v in self.box],
            "polygon": [[round(x, 2), round(y, 2)] for x, y in self.polygon],
        }


@dataclass
class OcrResult(ImageResult):
    """The lines of text in one image, in reading order (top to bottom, left to right within a row)."""

    path: str
    model: str
    width: int
    height: int
    lines: list[TextLine] = field(default_factory=list)
    heading: bool = False  # to_text() starts with a "==> path <==" line (several images on one stream)
    output: str | None = None  # where the output stage wrote the annotated or redacted image
    image: Image | None = field(default=None, repr=False)  # the input, for render()

    @property
    def text(self) -> str:
        """The plain text, one line per line."""
        return "\n".join(line.text for line in self.lines)

    def to_record(self) -> dict[str, Any]:
        return image_record(self, text=self.text, lines=[line.to_record() for line in self.lines])

    def to_text(self) -> str | None:
        """The plain text (after the heading line if asked), or None when there is nothing to print."""
        printed = [f"==> {self.path} <=="] if self.heading else []
        printed += [line.text for line in self.lines]
        return "\n".join(printed) if printed else None

    def csv_rows(self) -> list[dict[str, Any]]:
        base = {"path": self.path, "model": self.model}
        if not self.lines:
            return [base]  # the image still gets its row
        return [
            {
                **base,
                "line": number,
                "text": line.text,
                "score": round(line.score, 6),
                **{k: round(v, 2) for k, v in zip(("x1", "y1", "x2", "y2"), line.box, strict=True)},
                "polygon": " ".join(f"{x:.2f},{y:.2f}" for x, y in line.polygon),
            }
            for number, line in enumerate(self.lines, 1)
        ]

    def render(self, redact_with: str | None = None) -> Image:
        """The image with each line outlined beside a panel that writes what was read there (twice the
        width), or, with ``redact_with`` (``blur``, ``pixelate``, ``fill``), the image with the box around
        every line hidden: nothing outside those boxes changes; depth, gray and alpha are kept."""
        if self.image is None:
            raise ValueError("this result keeps no image to render")
        image = self.image
        if redact_with:
            boxes = [line.box for line in self.lines]
            return Image(redact(image.pixels, boxes, redact_with), image.alpha, image.gray, image.name)
        polygons = [np.array(line.polygon) for line in self.lines]
        pixels = annotate_lines(image.rgb8(), polygons, [line.text for line in self.lines])
        return Image(pixels, None, False, image.name)


def on_white(image: Image) -> np.ndarray:
    """RGB uint8 pixels, transparency composited on white (text drawn on a transparent background stays legible)."""
    rgb = image.rgb8()
    if image.alpha is None:
        return rgb
    alpha = image.alpha
    if alpha.dtype != np.uint8:
        alpha = ((alpha.astype(np.float32) + 128.0) / 257.0).clip(0, 255).astype(np.uint8)
    return composite(rgb, (255, 255, 255), alpha)


class PPOCRReader(Family):
    """PP-OCR: a DB detector finds the lines on the page, a CTC recogniser reads each line crop."""

    csv_fields = CSV_FIELDS

    def __init__(self, model: LoadedModel, settings: OcrSettings | None = None):
        super().__init__(model, settings or OcrSettings())
        self.config: TextReaderConfig = model.spec.config
        self.spec = model.spec.input_spec()
        self.characters = model.spec.categories()
        self.headings = False  # results' to_text() start with a heading line (the CLI, for several images)

    def prepare(self, image: Image) -> Prepared:
        """The page and the detector's input: the page resized (bilinear, as rapidocr), or, for an image
        longer than ``max_side``, the page at the image's own scale as ``[1, H, W, 3]``, detected tile by tile."""
        config, pixels = self.config, on_white(image)
        tiled = max(pixels.shape[:2]) > config.max_side
        page, to_page = make_page(
            pixels,
            config.min_side,
            max(pixels.shape[:2]) if tiled else config.max_side,
            config.size_multiple,
            config.pad_aspect,
            config.pad_min_height,
        )
        if tiled:
            array = page[None]
        else:
            height, width = detector_size(*page.shape[:2], config.det_min_side, config.size_multiple)
            array = cv2.resize(page, (width, height))  # bilinear, as rapidocr
        return Prepared(image, array, (page, to_page), key=array.shape)

    def forward(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """The detector's text probability map of each page, at its input's size (a tiled page's: its own)."""
        if arrays[0].ndim == 4:
            return [self.detect_tiled(array[0]) for array in arrays]
        height, width = arrays[0].shape[:2]
        per_call = max(1, self.config.max_batch_pixels // (height * width))
        return [
            prob for start in range(0, len(arrays), per_call) for prob in self.detect(arrays[start : start + per_call])
        ]

    def detect(self, arrays: list[np.ndarray]) -> np.ndarray:
        """The detector on same-sized pages (RGB uint8): float32 probability maps ``[N, H, W]``."""
        batch = to_batch(arrays, self.spec, self.model.device, self.model.dtype)
        return self.model(batch)[:, 0].float().cpu().numpy()

    @staticmethod
    def tiles(height: int, width: int) -> list[Tile]:
        """The detector's tiles of a page too large for one pass: cores of nearly equal size with ``TILE_PAD``
        pixels of context around them, at most ``TILE`` a side (the detector misses small print in a large
        tile of blank paper: squeeze-excite gates average over the whole input)."""
        return plan(height, width, TILE - 2 * TILE_PAD, TILE_PAD)

    def detect_tiled(self, page: np.ndarray) -> np.ndarray:
        """The probability map ``[H, W]`` of a page (RGB uint8) at its own size, tile by tile. Each tile is sized
        for the detector as a page is and keeps its map only inside the lines that the DB post-processing finds
        in it (on blank paper the detector's map is a noisy plateau near the threshold, which would join the
        lines of the next tile into one rejected region); where tiles overlap, the larger probability counts.
        Memory: one tile's activations and the map (4 bytes a pixel, as the page is bounded by the decoder)."""
        config = self.config
        prob = np.zeros(page.shape[:2], np.float32)
        tiles = self.tiles(*page.shape[:2])
        for number, tile in enumerate(tiles, 1):
            region = page[tile.region]
            height, width = region.shape[:2]
            size = detector_size(height, width, config.det_min_side, config.size_multiple)
            tile_prob = self.detect([cv2.resize(region, size[::-1])])[0]
            if size != (height, width):
                tile_prob = cv2.resize(tile_prob, (width, height))
            quads, _ = db_boxes(
                tile_prob, config.prob_threshold, config.box_threshold, config.unclip_ratio, config.max_candidates
            )
            if len(quads):
                inside = cv2.fillPoly(np.zeros((height, width), np.uint8), np.round(quads).astype(np.int32), 1)
                np.maximum(prob[tile.region], tile_prob * inside, out=prob[tile.region])
            if len(tiles) > 1:
                self.notify(f"tile {number}/{len(tiles)}")
        return prob

    def recognise(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The recogniser on a batch of line crops (:func:`~optik.preprocess.text_lines.line_batches`): each
        step's most likely class ``[N, T]`` and its probability (float32)."""
        with torch.inference_mode():
            probs = self.model.module.rec(self.model.tensor(torch.from_numpy(batch)))
        if probs.device.type == "cpu":  # numpy finds them 4x faster than torch's max over the 18710 classes
            probs = probs.float().numpy()
            best = probs.argmax(-1)
            return best, np.take_along_axis(probs, best[..., None], -1)[..., 0]
        confidence, best = probs.max(-1)  # on the device: only these cross to the host
        return best.cpu().numpy(), confidence.float().cpu().numpy()

    def finish(self, prepared: Prepared, prob: np.ndarray) -> OcrResult:
        """Lines from the probability map, read by the recogniser, mapped back to the image's pixels."""
        image, config = prepared.image, self.config
        page, to_page = prepared.context
        check_sane(prob, "text probabilities", image.name, allow_constant=True)
        tiles = len(self.tiles(*prob.shape)) if prepared.array.ndim == 4 else 1
        quads, scores = db_boxes(
            prob, config.prob_threshold, config.box_threshold, config.unclip_ratio, config.max_candidates * tiles
        )
        quads, _ = scale_boxes(quads, scores, prob.shape, page.shape[:2])
        quads = quads[reading_order(quads)]
        lines = []
        for quad, (text, score) in zip(quads, self.read([crop_line(page, q) for q in quads], image.name), strict=True):
            if text.strip() and score >= self.settings.min_score:
                lines.append(TextLine(text, score, _to_image(quad, to_page, image.width, image.height)))
        return OcrResult(image.name, self.name, image.width, image.height, lines, self.headings, image=image)

    def read(self, crops: list[np.ndarray], name: str) -> list[tuple[str, float]]:
        """(text, confidence) of each line crop, in rapidocr's batches."""
        config = self.config
        results = [("", 0.0)] * len(crops)
        for indices, batch in line_batches(crops, self.spec, config.rec_height, config.rec_min_width, config.rec_batch):
            best, confidence = self.recognise(batch)
            check_sane(confidence, "character probabilities", name, allow_constant=True)
            for i, result in zip(indices, ctc_decode(best, confidence, self.characters), strict=True):
                results[i] = result
        return results


def _to_image(quad: np.ndarray, to_page: Affine, width: int, height: int) -> tuple[Point, ...]:
    """Page-pixel corners → image pixels, clipped to the image (as rapidocr maps its boxes back)."""
    xs, ys = to_page.to_original(quad[:, 0].astype(np.float64), quad[:, 1].astype(np.float64))
    xs, ys = np.clip(xs, 0, width), np.clip(ys, 0, height)
    return tuple((float(x), float(y)) for x, y in zip(xs, ys, strict=True))


def nearest_text(wanted: str, lines: Sequence[str]) -> tuple[str, int] | None:
    """The run of words in ``lines`` most like ``wanted`` (as many words as it has, compared ignoring case)
    and its line number (from 1), or None without text."""
    size = max(1, len(wanted.split()))
    target = wanted.casefold()
    best: tuple[float, str, int] | None = None
    for number, line in enumerate(lines, 1):
        words = line.split()
        for start in range(max(1, len(words) - size + 1)):
            candidate = " ".join(words[start : start + size])
            ratio = difflib.SequenceMatcher(None, target, candidate.casefold()).ratio()
            if candidate and (best is None or ratio > best[0]):
                best = (ratio, candidate, number)
    return None if best is None else (best[1], best[2])


def check_text(result: OcrResult, checks: TextChecks) -> str | None:
    """Why ``result`` fails the CI checks, or None: each expected text found, no forbidden text, and the
    number of lines within ``min_lines`` … ``max_lines``."""
    text, count = result.text, len(result.lines)
    kind = "matching" if checks.regex else "containing"
    for wanted in checks.expect_text:
        if not checks.pattern(wanted).search(text):
            nearest = nearest_text(wanted, [line.text for line in result.lines])
            found = f"nearest: {nearest[0]!r} in line {nearest[1]}" if nearest else "no text found at all"
            return f"no text {kind} {wanted!r} ({found})"
    for unwanted in checks.forbid_text:
        match = checks.pattern(unwanted).search(text)
        if match:
            line = text.count("\n", 0, match.start()) + 1
            return f"found forbidden text {unwanted!r} in line {line}: {result.lines[line - 1].text!r}"
    if checks.min_lines is not None and count < checks.min_lines:
        return f"{count} line(s) of text, fewer than the minimum of {checks.min_lines}"
    if checks.max_lines is not None and count > checks.max_lines:
        return f"{count} line(s) of text, more than the maximum of {checks.max_lines}"
    return None
