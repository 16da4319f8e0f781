"""Quality gates for uploads and assets (``optik check``): each image measured (size, sharpness, exposure, noise,
colour cast, what its file says), compared with the images before it in the batch (perceptual hash and,
when asked, backbone embeddings), and the gates that fail named.

A near-duplicate is always the later image of the two: :meth:`Checker.finish` runs on worker threads in any
order, and each image's nearest *earlier* neighbours are complete once every image before it has finished,
which is when the pipeline hands its result on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optik.io.inspection import FileFacts, Inspected
from optik.io.records import text_line
from optik.preprocess import metrics
from optik.preprocess.decode import Image
from optik.preprocess.fingerprint import hash_distance, perceptual_hash, sharpness
from optik.tasks.backbone import Backbone, NoNetwork, embedding_input
from optik.tasks.base import Prepared
from optik.tasks.settings import CheckSettings

CSV_FIELDS = (
    "path",
    "width",
    "height",
    "format",
    "file_size",
    "sharpness",
    "clipped_highlights",
    "clipped_shadows",
    "luminance",
    "noise",
    "color_cast",
    "phash",
    "hash_distance",
    "similarity",
    "failed",
)


@dataclass
class Quality:
    """The measures of one image (see :mod:`optik.preprocess.metrics` and :mod:`optik.preprocess.fingerprint`)."""

    sharpness: float
    clipped_highlights: float
    clipped_shadows: float
    luminance: float
    noise: float
    color_cast: float
    phash: int


def assess(image: Image) -> Quality:
    rgb = image.rgb8()
    levels = metrics.luma(image)
    highlights, shadows, luminance = metrics.exposure(levels)
    return Quality(
        sharpness(rgb),
        highlights,
        shadows,
        luminance,
        metrics.noise_sigma(levels),
        metrics.color_cast(rgb),
        perceptual_hash(rgb),
    )


@dataclass
class CheckResult:
    """One image's measures, its nearest earlier images in the batch, and the gates it fails."""

    path: str
    width: int
    height: int
    bit_depth: int
    gray: bool
    alpha: bool
    quality: Quality
    facts: FileFacts | None = None  # None for an image given decoded (an array)
    hash_distance: int | None = None  # to the nearest earlier image by perceptual hash (None: the first)
    hash_nearest: str | None = None
    similarity: float | None = None  # cosine to the most alike earlier image, with embeddings
    similar_to: str | None = None
    settings: CheckSettings = field(default_factory=CheckSettings, repr=False)

    @property
    def aspect(self) -> float:
        return max(self.width, self.height) / min(self.width, self.height)

    @property
    def failures(self) -> list[tuple[str, str]]:
        """(gate, why) for each gate the image fails (worked out when asked: an earlier image finishing later
        may still make this one a near-duplicate)."""
        gates, q, facts = self.settings, self.quality, self.facts
        failed: list[tuple[str, str]] = []

        def fail(gate: str, why: str) -> None:
            failed.append((gate, why))

        size = f"{self.width}x{self.height}"
        if gates.min_size and (self.width < gates.min_size[0] or self.height < gates.min_size[1]):
            fail("min_size", f"{size} is smaller than {gates.min_size[0]}x{gates.min_size[1]}")
        if gates.max_size and (self.width > gates.max_size[0] or self.height > gates.max_size[1]):
            fail("max_size", f"{size} is larger than {gates.max_size[0]}x{gates.max_size[1]}")
        if gates.max_aspect is not None and self.aspect > gates.max_aspect:
            fail("max_aspect", f"aspect ratio {self.aspect:.2f} is above {gates.max_aspect:g}")
        _above(fail, "max_bytes", "file size", facts and facts.file_size, gates.max_bytes, "{:,} bytes")
        _below(fail, "min_sharpness", "sharpness", q.sharpness, gates.min_sharpness, "{:.1f}")
        for which, share, limit in zip(
            ("highlights", "shadows"),
            (q.clipped_highlights, q.clipped_shadows),
            gates.max_clipped or (None, None),
            strict=True,
        ):
            _above(fail, "max_clipped", f"clipped {which}", share, limit, "{:.2%}")
        _below(fail, "min_luminance", "mean luminance", q.luminance, gates.min_luminance, "{:.3f}")
        _above(fail, "max_luminance", "mean luminance", q.luminance, gates.max_luminance, "{:.3f}")
        _above(fail, "max_noise", "noise", q.noise, gates.max_noise, "σ {:.2f}")
        _above(fail, "max_color_cast", "colour cast", q.color_cast, gates.max_color_cast, "ΔE {:.1f}")
        self._file_failures(fail)
        measured = gates.hash_distance is not None and self.hash_distance is not None
        if measured and self.hash_distance <= gates.hash_distance:
            fail("hash_distance", f"near-duplicate of {self.hash_nearest} ({self.hash_distance} of 64 bits apart)")
        alike = gates.max_similarity is not None and self.similarity is not None
        if alike and self.similarity > gates.max_similarity:
            fail("max_similarity", f"{self.similarity:.3f} like {self.similar_to}, above {gates.max_similarity:g}")
        return failed

    def _file_failures(self, fail: Any) -> None:
        gates, facts = self.settings, self.facts
        if gates.alpha == "required" and not self.alpha:
            fail("alpha", "no alpha channel")
        elif gates.alpha == "forbidden" and self.alpha:
            fail("alpha", "has an alpha channel")
        if facts is None:
            if gates.formats or gates.color_spaces or gates.icc or gates.upright or gates.max_bytes is not None:
                fail("file", "given decoded: no file to check the format, profile, orientation or size of")
            return
        if gates.formats and facts.format.lower() not in {name.lower() for name in gates.formats}:
            fail("formats", f"{facts.format} is not one of {', '.join(gates.formats)}")
        if gates.color_spaces and facts.color_space.lower() not in {name.lower() for name in gates.color_spaces}:
            fail("color_spaces", f"colour space {facts.color_space} is not one of {', '.join(gates.color_spaces)}")
        if gates.icc == "required" and not facts.icc:
            fail("icc", "no ICC profile")
        elif gates.icc == "forbidden" and facts.icc:
            fail("icc", "has an ICC profile")
        if gates.upright and facts.orientation != 1:
            fail("upright", f"EXIF orientation {facts.orientation} rotates or flips it")

    @property
    def passed(self) -> bool:
        return not self.failures

    def reason(self) -> str | None:
        """The failing gates in words, or None."""
        return "; ".join(f"{gate}: {why}" for gate, why in self.failures) or None

    def to_record(self) -> dict[str, Any]:
        q = self.quality
        record: dict[str, Any] = {
            "path": self.path,
            "width": self.width,
            "height": self.height,
            "aspect": round(self.aspect, 4),
            "bit_depth": self.bit_depth,
            "gray": self.gray,
            "alpha": self.alpha,
        }
        if self.facts is not None:
            facts = self.facts
            record |= {
                "format": facts.format,
                "file_size": facts.file_size,
                "orientation": facts.orientation,
                "icc": facts.icc,
                "color_space": facts.color_space,
            }
        record |= {
            "sharpness": round(q.sharpness, 2),
            "clipped_highlights": round(q.clipped_highlights, 6),
            "clipped_shadows": round(q.clipped_shadows, 6),
            "luminance": round(q.luminance, 4),
            "noise": round(q.noise, 3),
            "color_cast": round(q.color_cast, 2),
            "phash": f"{q.phash:016x}",
            "hash_distance": self.hash_distance,
            "hash_nearest": self.hash_nearest,
        }
        if self.settings.embeddings:
            record |= {"similarity": _rounded(self.similarity), "similar_to": self.similar_to}
        if self.settings.gated:
            record["failed"] = [gate for gate, _ in self.failures]
        return record

    def to_text(self) -> str:
        q = self.quality
        summary = (
            f"{self.width}x{self.height}, sharpness {q.sharpness:.0f}, luminance {q.luminance:.2f}, "
            f"clipped {q.clipped_highlights:.1%}/{q.clipped_shadows:.1%}, noise {q.noise:.1f}, cast {q.color_cast:.1f}"
        )
        reason = self.reason() if self.settings.gated else None
        return text_line(self.path, None, f"{summary}{f'; FAILS {reason}' if reason else ''}")

    def csv_rows(self) -> list[dict[str, Any]]:
        record = self.to_record()
        row = {key: record.get(key) for key in CSV_FIELDS}
        row["failed"] = " ".join(record.get("failed", []))
        return [row]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _below(fail: Any, gate: str, what: str, value: float | None, minimum: float | None, shown: str) -> None:
    if minimum is not None and value is not None and value < minimum:
        fail(gate, f"{what} {shown.format(value)} is below {shown.format(minimum)}")


def _above(fail: Any, gate: str, what: str, value: float | None, maximum: float | None, shown: str) -> None:
    if maximum is not None and value is not None and value > maximum:
        fail(gate, f"{what} {shown.format(value)} is above {shown.format(maximum)}")


class _Rows:
    """A numpy array that grows by appending (the batch's hashes, embeddings, nearest neighbours)."""

    def __init__(self, dtype: Any, fill: Any = 0, width: int | None = None):
        self.dtype, self.fill, self.width = dtype, fill, width
        self.data = np.full((16,) if width is None else (16, width), fill, dtype)
        self.size = 0

    @property
    def view(self) -> np.ndarray:
        return self.data[: self.size]

    def append(self, value: Any) -> None:
        if self.size == len(self.data):
            grown = np.full((2 * len(self.data), *self.data.shape[1:]), self.fill, self.dtype)
            grown[: self.size] = self.data
            self.data = grown
        self.data[self.size] = value
        self.size += 1


_KINDS = ("hash", "embedding")


class _Batch:
    """Every image finished so far: its position in the batch, perceptual hash, embedding, and its nearest
    earlier image by each (kept up to date when an earlier image finishes after a later one). Nearness is a gap,
    smaller is nearer: the hash distance, or minus the cosine; ties go to the earlier neighbour."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: list[CheckResult] = []
        self._positions = _Rows(np.int64)
        self._hashes = _Rows(np.uint64)
        self._embeddings: _Rows | None = None
        self._gap = {kind: _Rows(np.float64, np.inf) for kind in _KINDS}
        self._at = {kind: _Rows(np.int64, np.iinfo(np.int64).max) for kind in _KINDS}

    def add(self, position: int, result: CheckResult, embedding: np.ndarray | None) -> None:
        with self._lock:
            if embedding is not None and self._embeddings is None:
                self._embeddings = _Rows(np.float32, 0, len(embedding))
            own: dict[str, tuple[float, int]] = {}
            for kind in _KINDS:
                gaps = self._gaps(kind, result, embedding)
                own[kind] = self._update(kind, position, result, gaps) if gaps is not None else (np.inf, -1)
            self._results.append(result)
            self._positions.append(position)
            self._hashes.append(np.uint64(result.quality.phash))
            if embedding is not None:
                self._embeddings.append(embedding)
            for kind, (gap, at) in own.items():
                self._gap[kind].append(gap)
                self._at[kind].append(at)

    def _gaps(self, kind: str, result: CheckResult, embedding: np.ndarray | None) -> np.ndarray | None:
        if kind == "hash":
            return hash_distance(self._hashes.view, np.uint64(result.quality.phash)).astype(np.float64)
        if embedding is None:
            return None
        return -(self._embeddings.view @ embedding).astype(np.float64)

    def _update(self, kind: str, position: int, result: CheckResult, gaps: np.ndarray) -> tuple[float, int]:
        """Give ``result`` its nearest earlier image, and become the nearest earlier image of the later ones it is
        nearer to than their current one; return ``result``'s own (gap, neighbour position)."""
        positions, gap, at = self._positions.view, self._gap[kind].view, self._at[kind].view
        own: tuple[float, int] = (np.inf, -1)
        earlier = np.flatnonzero(positions < position)
        if len(earlier):
            best = earlier[np.lexsort((positions[earlier], gaps[earlier]))[0]]
            own = (float(gaps[best]), int(positions[best]))
            _set_nearest(result, self._results[best], own[0], kind)
        later = positions > position
        nearer = later & ((gaps < gap) | ((gaps == gap) & (position < at)))
        for index in np.flatnonzero(nearer):
            gap[index], at[index] = gaps[index], position
            _set_nearest(self._results[index], result, float(gaps[index]), kind)
        return own


def _set_nearest(result: CheckResult, neighbour: CheckResult, gap: float, kind: str) -> None:
    """Record ``neighbour`` as ``result``'s nearest earlier image by ``kind`` (``gap``: see :class:`_Batch`)."""
    if kind == "hash":
        result.hash_distance, result.hash_nearest = int(gap), neighbour.path
    else:
        result.similarity, result.similar_to = -gap, neighbour.path


class Checker:
    """The check task: inspected images in, :class:`CheckResult` out; with a :class:`Backbone` also the
    embeddings that ``max_similarity`` compares."""

    decode_min_side: int | None = None
    batch_limit: int | None = None
    csv_fields = CSV_FIELDS

    def __init__(self, settings: CheckSettings, backbone: Backbone | None = None):
        if settings.embeddings and backbone is None:
            raise ValueError("max_similarity needs the backbone's embeddings")
        self.settings, self.backbone = settings, backbone
        self.model = backbone.model if backbone is not None else NoNetwork()
        self._batch = _Batch()

    @staticmethod
    def notify(text: str) -> None:
        """Progress within one image: nothing to say."""

    def prepare(self, inspected: Inspected) -> Prepared:
        image = inspected.image
        array = embedding_input(image) if self.settings.embeddings else None
        return Prepared(image, array, (inspected.facts, assess(image)))

    def forward(self, arrays: list[np.ndarray | None]) -> list[np.ndarray | None]:
        if not self.settings.embeddings:
            return [None] * len(arrays)
        return list(self.backbone.embed(arrays))

    def finish(self, prepared: Prepared, embedding: np.ndarray | None) -> CheckResult:
        image = prepared.image
        facts, quality = prepared.context
        width, height = image.original_size
        result = CheckResult(
            prepared.item.source,
            width,
            height,
            image.bit_depth,
            image.gray,
            image.alpha is not None,
            quality,
            facts,
            settings=self.settings,
        )
        self._batch.add(prepared.item.index, result, embedding)
        return result
