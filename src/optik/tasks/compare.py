"""Comparing new images with golden ones (``optik compare``): the metrics of each pair, whether it passes the
gates, and on demand the pictures of the difference (a heat map, and a new | golden | diff sheet).

One pipeline item is one pair (:class:`optik.io.pairs.PairItem`). ``prepare`` (worker threads) measures
everything that needs no network; ``forward`` runs the perceptual distance, when asked, on batches of pairs;
``finish`` applies the gates. Nothing here reads or writes files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from optik.errors import InputError
from optik.io.pairs import LoadedPair, Status
from optik.io.records import text_line
from optik.preprocess import metrics
from optik.preprocess.decode import Image
from optik.preprocess.diff_view import heatmap, sheet
from optik.tasks.backbone import Backbone, NoNetwork, on_white, perceptual_input
from optik.tasks.base import ImageResult, Prepared
from optik.tasks.settings import CompareSettings

CSV_FIELDS = (
    "path",
    "counterpart",
    "status",
    "width",
    "height",
    "diff_pixels",
    "diff_share",
    "max_diff",
    "mean_diff",
    "psnr",
    "ssim",
    "ms_ssim",
    "perceptual",
    "passed",
)


@dataclass
class Measures:
    """How a pair differs. ``diff_pixels``: pixels over the tolerance (``antialiased_pixels`` over it but
    excused); ``max_diff`` / ``mean_diff``: absolute differences in 8-bit levels; ``psnr`` in dB (``inf`` when
    identical); ``ssim`` and ``ms_ssim``: None when the image is too small for them; ``perceptual``: only when
    asked for."""

    identical: bool
    diff_pixels: int
    diff_share: float
    antialiased_pixels: int
    max_diff: float
    mean_diff: float
    psnr: float
    ssim: float | None
    ms_ssim: float | None = None
    perceptual: float | None = None

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "identical": self.identical,
            "diff_pixels": self.diff_pixels,
            "diff_share": round(self.diff_share, 8),
            "antialiased_pixels": self.antialiased_pixels,
            "max_diff": round(self.max_diff, 3),
            "mean_diff": round(self.mean_diff, 4),
            "psnr": None if math.isinf(self.psnr) else round(self.psnr, 4),  # JSON has no infinity
            "ssim": _rounded(self.ssim),
        }
        if self.ms_ssim is not None:
            record["ms_ssim"] = _rounded(self.ms_ssim)
        if self.perceptual is not None:
            record["perceptual"] = round(self.perceptual, 6)
        return record


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def measure(new: Image, golden: Image, settings: CompareSettings) -> Measures:
    """Everything but the perceptual distance, for two images of one size."""
    pair = metrics.comparable(new, golden)
    if pair.identical:  # every measure is known: skip the work
        side = min(new.width, new.height)
        ssim = 1.0 if side >= metrics.SSIM_WINDOW else None
        ms_ssim = 1.0 if side >= metrics.MS_SSIM_MIN_SIDE else None
        return Measures(True, 0, 0.0, 0, 0.0, 0.0, float("inf"), ssim, ms_ssim if settings.ms_ssim else None)
    difference = metrics.pixel_diff(new, golden, settings.tolerance, settings.include_aa)
    largest, mean = metrics.abs_diff(pair)
    return Measures(
        identical=False,
        diff_pixels=difference.count,
        diff_share=difference.share,
        antialiased_pixels=int(np.count_nonzero(difference.antialiased)),
        max_diff=largest,
        mean_diff=mean,
        psnr=metrics.psnr(pair),
        ssim=metrics.ssim(pair),
        ms_ssim=metrics.ms_ssim(pair) if settings.ms_ssim else None,
    )


def gate(measures: Measures, settings: CompareSettings) -> list[tuple[str, str]]:
    """(gate, why) for each gate a compared pair fails (empty: it passes). Without gates any differing pixel
    fails (``max_diff_pixels`` 0)."""
    failures = []
    limit = settings.max_diff_pixels if settings.gated else 0
    share = f"{measures.diff_pixels:,} pixels differ ({measures.diff_share:.3%})"
    if isinstance(limit, int) and measures.diff_pixels > limit:
        failures.append(("max_diff_pixels", f"{share}, more than {limit:,}"))
    elif isinstance(limit, float) and measures.diff_share > limit:
        failures.append(("max_diff_pixels", f"{share}, more than {limit:.3%}"))
    for name, value, minimum, gate_name in (
        ("SSIM", measures.ssim, settings.min_ssim, "min_ssim"),
        ("MS-SSIM", measures.ms_ssim, settings.min_ms_ssim, "min_ms_ssim"),
    ):
        if minimum is not None and value is None:
            failures.append((gate_name, f"too small for {name} (its window needs more pixels)"))
        elif minimum is not None and value < minimum:
            failures.append((gate_name, f"{name} {value:.4f} is below {minimum:g}"))
    if settings.min_psnr is not None and measures.psnr < settings.min_psnr:
        failures.append(("min_psnr", f"PSNR {measures.psnr:.2f} dB is below {settings.min_psnr:g} dB"))
    if settings.max_perceptual is not None and measures.perceptual > settings.max_perceptual:
        why = f"perceptual distance {measures.perceptual:.4f} is above {settings.max_perceptual:g}"
        failures.append(("max_perceptual", why))
    return failures


@dataclass
class CompareResult(ImageResult):
    """One pair: a new image, its golden counterpart, how they differ and whether that passes."""

    path: str
    counterpart: str
    status: Status
    width: int
    height: int
    measures: Measures | None = None  # None for an added or removed pair
    failures: list[tuple[str, str]] = field(default_factory=list)  # (gate, why); "status" for added/removed
    resized_from: tuple[int, int] | None = None  # the new image's own size, when it was resized
    output: str | None = None  # where the output stage wrote the heat map
    sheet_path: str | None = None  # … and the new | golden | diff sheet
    updated: str | None = None  # the golden file the new image replaced (``--update``)
    new_image: Image | None = field(default=None, repr=False)
    golden_image: Image | None = field(default=None, repr=False)
    settings: CompareSettings = field(default_factory=CompareSettings, repr=False)

    @property
    def passed(self) -> bool:
        return not self.failures

    def reason(self) -> str | None:
        """Why the pair fails, or None."""
        return "; ".join(why for _, why in self.failures) or None

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "path": self.path,
            "counterpart": self.counterpart,
            "status": self.status,
            "width": self.width,
            "height": self.height,
        }
        if self.measures is not None:
            record.update(self.measures.to_record())
        if self.resized_from is not None:
            record["resized_from"] = list(self.resized_from)
        for key, value in (("output", self.output), ("sheet", self.sheet_path), ("updated", self.updated)):
            if value is not None:
                record[key] = value
        record["failed"] = [gate for gate, _ in self.failures]
        return record

    def summary(self) -> str:
        """The pair in words: ``identical``, or how much differs."""
        if self.status == "added":
            return f"added: no golden image {self.counterpart}"
        if self.status == "removed":
            return f"removed: only the golden image {self.counterpart} is there"
        m = self.measures
        if m.identical:
            return f"identical to {self.counterpart}"
        words = [f"{m.diff_pixels:,} px differ ({m.diff_share:.3%})"]
        if m.ssim is not None:
            words.append(f"SSIM {m.ssim:.4f}")
        words.append(f"PSNR {m.psnr:.2f} dB")
        if m.ms_ssim is not None:
            words.append(f"MS-SSIM {m.ms_ssim:.4f}")
        if m.perceptual is not None:
            words.append(f"perceptual {m.perceptual:.4f}")
        return f"vs {self.counterpart}: {', '.join(words)}"

    def to_text(self) -> str:
        return text_line(self.path, self.output, self.summary())

    def csv_rows(self) -> list[dict[str, Any]]:
        record = self.to_record()
        return [{**{key: record.get(key) for key in CSV_FIELDS}, "passed": self.passed}]

    def _pair(self) -> tuple[Image, Image]:
        if self.new_image is None or self.golden_image is None:
            raise ValueError("this result keeps no pair of images to render")
        return self.new_image, self.golden_image

    def render(self) -> Image:
        """The difference heat map (see :func:`optik.preprocess.diff_view.heatmap`), RGB uint8."""
        new, golden = self._pair()
        tolerance = self.settings.tolerance
        difference = metrics.pixel_diff(new, golden, tolerance, self.settings.include_aa)
        pixels = heatmap(on_white(golden), metrics.color_delta(new, golden), difference, tolerance)
        return Image(pixels, name=self.path)

    def sheet(self) -> Image:
        """New | golden | heat map, side by side under captions, RGB uint8."""
        new, golden = self._pair()
        m = self.measures
        panels = [
            (on_white(new), f"new: {self.path}"),
            (on_white(golden), f"golden: {self.counterpart}"),
            (self.render().pixels, f"diff: {m.diff_pixels:,} px ({m.diff_share:.3%})"),
        ]
        return Image(sheet(panels), name=self.path)


def resized(image: Image, width: int, height: int) -> Image:
    """``image`` resized to ``width`` × ``height`` (area when shrinking, bicubic when enlarging; alpha too)."""
    shrinking = width * height < image.width * image.height
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    pixels = cv2.resize(image.pixels, (width, height), interpolation=interpolation)
    alpha = None if image.alpha is None else cv2.resize(image.alpha, (width, height), interpolation=interpolation)
    return replace(image, pixels=pixels, alpha=alpha, source_size=None)


@dataclass
class _Measured:
    """What ``prepare`` hands to ``finish`` for a compared pair."""

    new: Image
    golden: Image
    measures: Measures
    resized_from: tuple[int, int] | None


class Comparer:
    """The compare task: pairs in, :class:`CompareResult` out; with a :class:`Backbone` also the perceptual
    distance (``settings.perceptual``)."""

    decode_min_side: int | None = None
    batch_limit: int | None = None
    csv_fields = CSV_FIELDS

    def __init__(self, settings: CompareSettings, backbone: Backbone | None = None):
        if settings.perceptual and backbone is None:
            raise ValueError("the perceptual distance needs the backbone")
        self.settings, self.backbone = settings, backbone
        self.model = backbone.model if backbone is not None else NoNetwork()

    @staticmethod
    def notify(text: str) -> None:
        """Progress within one pair: nothing to say."""

    def prepare(self, pair: LoadedPair) -> Prepared:
        if pair.new is None or pair.golden is None:
            return Prepared(pair.new or pair.golden, None)
        new, golden = pair.new, pair.golden
        resized_from = None
        if (new.width, new.height) != (golden.width, golden.height):
            if not self.settings.resize:
                raise InputError(
                    f"{new.name}: {new.width}×{new.height}, but {golden.name} is {golden.width}×{golden.height} "
                    "(sizes differ; resize to compare anyway)"
                )
            resized_from = (new.width, new.height)
            new = resized(new, golden.width, golden.height)
        measures = measure(new, golden, self.settings)
        array = None
        if self.settings.perceptual and not measures.identical:
            array = np.stack([perceptual_input(new), perceptual_input(golden)])
        key = () if array is None else array.shape
        return Prepared(new, array, _Measured(new, golden, measures, resized_from), key)

    def forward(self, arrays: list[np.ndarray | None]) -> list[float | None]:
        """The perceptual distance of each pair that needs one (None for the others)."""
        pending = [array for array in arrays if array is not None]
        if not pending:
            return [None] * len(arrays)
        distances = iter(self.backbone.perceptual(pending))
        return [None if array is None else next(distances) for array in arrays]

    def finish(self, prepared: Prepared, distance: float | None) -> CompareResult:
        item, measured = prepared.item, prepared.context
        image = prepared.image
        if measured is None:
            status = item.status
            why = "no golden image (added)" if status == "added" else "the new image is missing (removed)"
            return CompareResult(
                item.source,
                item.counterpart,
                status,
                image.width,
                image.height,
                failures=[("status", why)],
                settings=self.settings,
            )
        measures = measured.measures
        if self.settings.perceptual:
            measures.perceptual = 0.0 if measures.identical else distance
        return CompareResult(
            item.source,
            item.counterpart,
            "compared",
            image.width,
            image.height,
            measures,
            gate(measures, self.settings),
            measured.resized_from,
            new_image=measured.new,
            golden_image=measured.golden,
            settings=self.settings,
        )
