"""What each task can be asked, checked in the task's own terms.

Plain dataclasses that load neither torch nor OpenCV: the CLI builds and checks them before any
model is loaded, so a usage error is immediate. A bad value raises :class:`SettingError` naming the
field as the Python API spells it; only the CLI turns field names into flags. ``check(spec)`` adds
what depends on the model (its labels, its family's config).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from optik.errors import SettingError

if TYPE_CHECKING:
    import numpy as np

    from optik.registry.spec import ModelSpec

Box = tuple[int, int, int, int]


def _within(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise SettingError(name, f"{value:g} is outside [{low:g}, {high:g}]")


def _names(value: str | Sequence[str]) -> tuple[str, ...]:
    """``"person,dog"`` or ``["person", "dog"]`` → ``("person", "dog")``."""
    words = value.split(",") if isinstance(value, str) else value
    return tuple(word.strip() for word in words if word.strip())


def unknown_labels(names: Sequence[str], labels: Sequence[str]) -> str | None:
    """Why some of ``names`` are not among ``labels`` (with suggestions), or None."""
    unknown = [name for name in names if name not in labels]
    if not unknown:
        return None
    hints = [f"did you mean {close[0]!r}?" for name in unknown if (close := difflib.get_close_matches(name, labels, 1))]
    return f"no class {', '.join(map(repr, unknown))}" + (f" ({' '.join(hints)})" if hints else "")


@dataclass(frozen=True)
class ClassifySettings:
    """``top_k`` labels per image; ``draft``: decode large JPEGs at reduced scale (faster, scores within ~0.03)."""

    top_k: int = 5
    draft: bool = False

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise SettingError("top_k", f"{self.top_k} is below 1")

    def check(self, spec: ModelSpec) -> None:
        """Nothing here depends on the model."""


@dataclass(frozen=True)
class DetectSettings:
    """What to keep: ``conf`` minimum score, ``iou`` class-wise NMS threshold, ``max_det`` per image,
    ``classes`` (label names, empty = all), ``imgsz`` the network input size (None = the model's own)."""

    conf: float = 0.35
    iou: float = 0.5
    max_det: int = 100
    classes: tuple[str, ...] = ()
    imgsz: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", _names(self.classes))
        _within("conf", self.conf, 0, 1)
        _within("iou", self.iou, 0, 1)
        if self.max_det < 1:
            raise SettingError("max_det", f"{self.max_det} is below 1")
        if self.imgsz is not None and self.imgsz < 32:
            raise SettingError("imgsz", f"{self.imgsz} is below 32")

    def check(self, spec: ModelSpec) -> None:
        from optik.registry.families import GridDetectorConfig

        multiple = spec.config.size_multiple if isinstance(spec.config, GridDetectorConfig) else 1
        if self.imgsz is not None and self.imgsz % multiple:
            raise SettingError("imgsz", f"{self.imgsz} is not a multiple of {multiple}, as {spec.name} needs")
        why = unknown_labels(self.classes, spec.categories())
        if why:
            raise SettingError("classes", f"{why}: {spec.name} knows {describe_labels(spec)}")


def describe_labels(spec: ModelSpec) -> str:
    labels = spec.categories()
    names = labels if len(labels) <= 10 else [*labels[:10], "…"]
    return f"{len(labels)} classes ({', '.join(names)}); see `optik models info {spec.name}`"


@dataclass(frozen=True)
class SegmentSettings:
    """``threshold``: alpha from which a pixel is foreground (fraction, bbox, polygons, checks);
    ``polygons``: outer contours in the record; ``k``: kmeans clusters; ``box``: grabcut's seed box
    (x1, y1, x2, y2 in original pixels) or ``"auto"`` (the detector named by the model's config)."""

    threshold: float = 0.5
    polygons: bool = False
    k: int | None = None
    box: Box | Literal["auto"] | None = None

    def __post_init__(self) -> None:
        _within("threshold", self.threshold, 0, 1)
        if self.k is not None and not 2 <= self.k <= 16:
            raise SettingError("k", f"{self.k} is outside [2, 16]")
        if self.box is not None and self.box != "auto":
            if len(self.box) != 4:
                raise SettingError("box", f"{self.box}: expected x1, y1, x2, y2 in pixels, or auto")
            x1, y1, x2, y2 = (int(v) for v in self.box)
            if x2 <= x1 or y2 <= y1 or min(x1, y1) < 0:
                raise SettingError("box", f"{x1},{y1},{x2},{y2}: needs 0 <= x1 < x2 and 0 <= y1 < y2")
            object.__setattr__(self, "box", (x1, y1, x2, y2))

    def check(self, spec: ModelSpec) -> None:
        from optik.registry import list_models
        from optik.registry.families import ClassicalSegmentConfig

        taken = spec.config.option if isinstance(spec.config, ClassicalSegmentConfig) else None
        for name in ("k", "box"):
            if getattr(self, name) is not None and name != taken:
                takers = [
                    s.name
                    for s in list_models("segment")
                    if isinstance(s.config, ClassicalSegmentConfig) and s.config.option == name
                ]
                raise SettingError(name, f"is for the {' and '.join(takers)} model, not {spec.name}")


@dataclass(frozen=True)
class EnhanceSettings:
    """``scale``: output size factor (None: the model's own); ``tile``: tile side in input pixels (0: whole
    image, None: from free memory); ``tile_pad``: context around each tile; ``operations``: classical steps
    (``"denoise=10"``, ``"clahe"``, ``"sharpen=0.5"`` …) in order (denoise always runs first)."""

    scale: float | None = None
    tile: int | None = None
    tile_pad: int = 16
    operations: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        from optik.preprocess.adjust import Operation

        if self.scale is not None and not 0 < self.scale <= 16:
            raise SettingError("scale", f"{self.scale:g} is outside (0, 16]")
        if self.tile is not None and self.tile < 0:
            raise SettingError("tile", f"{self.tile} is negative")
        if not 0 <= self.tile_pad <= 256:
            raise SettingError("tile_pad", f"{self.tile_pad} is outside [0, 256]")
        object.__setattr__(self, "operations", tuple(Operation.parse(op) for op in self.operations))

    def check(self, spec: ModelSpec) -> None:
        """Nothing here depends on the model."""


# --- style --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StyleChoice:
    """What a style argument means: a learned style, a blend of them, a style image, or a filter."""

    kind: Literal["preset", "blend", "image", "filter"]
    model: str
    weights: tuple[float, ...] = ()  # one weight per learned style, summing to 1 (preset, blend)
    name: str = ""  # preset or filter name; the image's path for an image
    pixels: np.ndarray | None = field(default=None, compare=False, repr=False)  # a style image given as an array

    def to_record(self) -> dict[str, Any]:
        if self.kind == "preset":
            return {"kind": "preset", "index": self.index, "name": self.name}
        if self.kind == "blend":
            names = style_names()
            parts = [{"index": i, "name": names[i], "weight": round(w, 6)} for i, w in self.parts()]
            return {"kind": "blend", "weights": parts}
        if self.kind == "image":
            return {"kind": "image", "image": self.name}
        return {"kind": "filter", "name": self.name}

    @property
    def index(self) -> int:
        return max(range(len(self.weights)), key=self.weights.__getitem__)

    def parts(self) -> list[tuple[int, float]]:
        return [(i, w) for i, w in enumerate(self.weights) if w > 0]

    def label(self) -> str:
        """A short human description."""
        if self.kind == "blend":
            names = style_names()
            return " + ".join(f"{round(100 * w)}% {names[i]}" for i, w in self.parts())
        if self.kind == "image":
            return f"style of {self.name}"
        return self.name


def _style_rows() -> tuple[ModelSpec, ModelSpec, list[ModelSpec]]:
    """The learned-styles row, the style-image row and the filter rows of the registry."""
    from optik.registry import list_models
    from optik.registry.families import LearnedStylesConfig, StyleImageConfig
    from optik.registry.spec import Builtin

    rows = list_models("style")
    learned = next(spec for spec in rows if isinstance(spec.config, LearnedStylesConfig))
    image = next(spec for spec in rows if isinstance(spec.config, StyleImageConfig))
    return learned, image, [spec for spec in rows if isinstance(spec.weights, Builtin)]


def style_names() -> tuple[str, ...]:
    """The learned styles' names, in weight-vector order."""
    return _style_rows()[0].config.style_names


def filter_names() -> tuple[str, ...]:
    return tuple(spec.name for spec in _style_rows()[2])


def _style_index(token: str) -> int:
    names = style_names()
    token = token.strip().lower()
    if token.isdigit():
        if int(token) < len(names):
            return int(token)
        raise SettingError("style", f"{token}: style numbers are 0 to {len(names) - 1}")
    if token in names:
        return names.index(token)
    close = difflib.get_close_matches(token, [*names, *filter_names()], n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise SettingError("style", f"{token}: no style of that name{hint}; see `optik style --list`")


def _blend(weights: Mapping[int, float], spec: str) -> StyleChoice:
    learned = _style_rows()[0]
    vector = [0.0] * len(learned.config.style_names)
    for index, weight in weights.items():
        if not weight >= 0 or weight == float("inf"):
            raise SettingError("style", f"{spec}: weights must be non-negative numbers")
        vector[index] += weight
    total = sum(vector)
    if total <= 0:
        raise SettingError("style", f"{spec}: the weights add up to 0")
    vector = [weight / total for weight in vector]
    single = sum(weight > 0 for weight in vector) == 1
    name = learned.config.style_names[vector.index(max(vector))] if single else ""
    return StyleChoice("preset" if single else "blend", learned.name, tuple(vector), name)


def parse_style(style: str | int | Path | Mapping[int | str, float] | np.ndarray | StyleChoice) -> StyleChoice:
    """A style name or number, a blend (``"3:0.6,blue-swirls:0.4"`` or ``{3: 0.6, 19: 0.4}``, normalised
    to sum 1), a filter name, or a style image (a path, or an RGB array); :class:`SettingError` otherwise."""
    if isinstance(style, StyleChoice):
        return style
    image_model = _style_rows()[1].name
    if hasattr(style, "shape"):  # an array
        return StyleChoice("image", image_model, name="<array>", pixels=style)
    if isinstance(style, Path):
        return StyleChoice("image", image_model, name=str(style))
    if isinstance(style, bool):
        raise SettingError("style", f"{style}: not a style")
    if isinstance(style, int):
        return _blend({_style_index(str(style)): 1.0}, str(style))
    if isinstance(style, Mapping):
        return _blend({_style_index(str(k)): float(w) for k, w in style.items()}, str(dict(style)))
    spec = str(style).strip()
    if spec.lower() in filter_names():
        return StyleChoice("filter", spec.lower(), name=spec.lower())
    if Path(spec).is_file():
        return StyleChoice("image", image_model, name=spec)
    from optik.preprocess.headers import IMAGE_EXTENSIONS

    if "/" in spec or Path(spec).suffix.lower() in IMAGE_EXTENSIONS:
        raise SettingError("style", f"{spec}: no such style image")
    weights: dict[int, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        token, _, weight = part.partition(":")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise SettingError("style", f"{spec}: {weight!r} is not a weight (use e.g. 3:0.6,17:0.4)") from None
        index = _style_index(token)
        weights[index] = weights.get(index, 0.0) + value
    if not weights:
        raise SettingError("style", "empty")
    return _blend(weights, spec)


@dataclass(frozen=True)
class StyleSettings:
    """``style``: see :func:`parse_style`; ``strength``: how much style (a style image: its vector mixed with
    the photo's); ``size``: processing size, the long side (None: the model's); ``preserve_color``: keep the
    photo's colours; ``tile``: processing sizes over this run in tiles (0: never)."""

    style: Any
    strength: float = 1.0
    size: int | None = None
    preserve_color: bool = False
    tile: int = 1024

    def __post_init__(self) -> None:
        object.__setattr__(self, "style", parse_style(self.style))
        _within("strength", self.strength, 0, 1)
        if self.size is not None and self.size < 16:
            raise SettingError("size", f"{self.size} is below 16")
        if self.tile and (self.tile < 64 or self.tile % 4):
            raise SettingError("tile", f"{self.tile}: a multiple of 4, at least 64 (or 0: never tile)")

    def check(self, spec: ModelSpec) -> None:
        if self.style.model != spec.name:
            raise SettingError("style", f"{self.style.label()} runs on model {self.style.model}, not {spec.name}")


# --- ocr ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OcrSettings:
    """``min_score``: lines read with a lower confidence (the mean probability of their characters) are
    dropped (rapidocr's ``text_score``)."""

    min_score: float = 0.5

    def __post_init__(self) -> None:
        _within("min_score", self.min_score, 0, 1)

    def check(self, spec: ModelSpec) -> None:
        """Nothing here depends on the model."""


@dataclass(frozen=True)
class TextChecks:
    """What the text read in an image must say: each of ``expect_text`` found, none of ``forbid_text``, and
    between ``min_lines`` and ``max_lines`` lines.

    Texts are substrings in which any run of spaces matches any run of whitespace, line breaks included
    (so a phrase may wrap); with ``regex`` they are Python regular expressions searched in the lines joined
    by newlines (``^`` and ``$`` match at each line). ``ignore_case`` applies to both.
    """

    expect_text: tuple[str, ...] = ()
    forbid_text: tuple[str, ...] = ()
    regex: bool = False
    ignore_case: bool = False
    min_lines: int | None = None
    max_lines: int | None = None

    def __post_init__(self) -> None:
        for name in ("expect_text", "forbid_text"):
            value = getattr(self, name)
            texts = (value,) if isinstance(value, str) else tuple(value)
            if any(not text.strip() for text in texts):
                raise SettingError(name, "an empty text matches anything")
            object.__setattr__(self, name, texts)
            for text in texts:
                _text_pattern(text, self.regex, self.ignore_case, name)
        for name in ("min_lines", "max_lines"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise SettingError(name, f"{getattr(self, name)} is negative")
        if self.min_lines is not None and self.max_lines is not None and self.min_lines > self.max_lines:
            raise SettingError("min_lines", f"{self.min_lines} is above the maximum, {self.max_lines}")

    @property
    def active(self) -> bool:
        """Whether there is anything to check."""
        return bool(self.expect_text or self.forbid_text) or self.min_lines is not None or self.max_lines is not None

    def pattern(self, text: str) -> re.Pattern:
        """The compiled search for one of the expected or forbidden texts."""
        return _text_pattern(text, self.regex, self.ignore_case, "expect_text")


def _text_pattern(text: str, regex: bool, ignore_case: bool, name: str) -> re.Pattern:
    flags = re.MULTILINE | (re.IGNORECASE if ignore_case else 0)
    if not regex:
        return re.compile(r"\s+".join(re.escape(word) for word in text.split()), flags)
    try:
        return re.compile(text, flags)
    except re.error as exc:
        raise SettingError(name, f"{text!r} is not a regular expression ({exc})") from None


# --- embed, similar, dedupe, faces ---------------------------------------------------------------


@dataclass(frozen=True)
class EmbedSettings:
    """``draft``: decode large JPEGs at reduced scale (faster; vectors within about 0.01 cosine)."""

    draft: bool = False

    def check(self, spec: ModelSpec) -> None:
        """Nothing here depends on the model."""


@dataclass(frozen=True)
class SimilarSettings:
    """``k``: the most hits per query; ``min_score``: leave out hits less similar than this (cosine, -1 to 1)."""

    k: int = 10
    min_score: float | None = None

    def __post_init__(self) -> None:
        if self.k < 1:
            raise SettingError("k", f"{self.k} is below 1")
        if self.min_score is not None:
            _within("min_score", self.min_score, -1, 1)


DEDUPE_LEVELS = ("exact", "near", "scene")
KEEP_RULES = ("largest", "sharpest", "oldest")


@dataclass(frozen=True)
class DedupeSettings:
    """What counts as a duplicate and which copy stays.

    ``level``: ``exact`` (the same bytes), ``near`` (also: perceptual hashes at most ``hash_distance`` of 64
    bits apart — re-encodes, resizes, small colour changes) or ``scene`` (also: embeddings at least
    ``similarity`` alike — crops, edits, other shots of the same scene; None: the model's measured threshold).
    ``keep``: the copy kept in each group: ``largest`` (most pixels, then bytes), ``sharpest`` or ``oldest``
    (modification time)."""

    level: str = "near"
    hash_distance: int = 8
    similarity: float | None = None
    keep: str = "largest"

    def __post_init__(self) -> None:
        for name, value, choices in (("level", self.level, DEDUPE_LEVELS), ("keep", self.keep, KEEP_RULES)):
            if value not in choices:
                raise SettingError(name, f"{value!r} is not one of {', '.join(choices)}")
        _within("hash_distance", self.hash_distance, 0, 32)
        if self.similarity is not None:
            _within("similarity", self.similarity, 0, 1)

    def check(self, spec: ModelSpec) -> None:
        """Nothing here depends on the model."""


@dataclass(frozen=True)
class FacesSettings:
    """``conf``: the detector score a face needs; ``threshold``: two faces whose descriptors are closer than
    this are the same person (None: the model's, dlib's 0.6); ``imgsz``: find faces on a copy whose longer side
    is at most this (None: full size); ``gallery``: enrolled people to name faces after (a ``FaceGallery``)."""

    conf: float = 0.95
    threshold: float | None = None
    imgsz: int | None = None
    gallery: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _within("conf", self.conf, 0, 1)
        if self.threshold is not None and not 0 < self.threshold <= 2:
            raise SettingError("threshold", f"{self.threshold:g} is outside (0, 2]")
        if self.imgsz is not None and self.imgsz < 32:
            raise SettingError("imgsz", f"{self.imgsz} is below 32")

    def check(self, spec: ModelSpec) -> None:
        gallery_model = getattr(self.gallery, "model", spec.name)
        if gallery_model != spec.name:
            raise SettingError("gallery", f"the faces were enrolled with {gallery_model}, not {spec.name}")


# --- compare and check ---------------------------------------------------------------------------


def _share_or_count(name: str, value: int | float | str) -> int | float:
    """``"0.5%"`` → the share 0.005 (a float); ``120`` or ``"120"`` → the count 120 (an int)."""
    text = str(value).strip()
    try:
        number = float(text.removesuffix("%"))
    except ValueError:
        raise SettingError(name, f"{value!r}: give a pixel count (120) or a share of the pixels (0.5%)") from None
    if text.endswith("%"):
        _within(name, number, 0, 100)
        return number / 100
    if number < 0 or number != int(number):
        raise SettingError(name, f"{value!r} is not a whole number of pixels (or a share such as 0.5%)")
    return int(number)


@dataclass(frozen=True)
class CompareSettings:
    """How two images are compared and when a pair fails.

    ``tolerance``: pixelmatch's threshold (0-1) on the YIQ colour distance from which a pixel differs;
    ``include_aa``: count pixels that look like anti-aliasing too. Gates: ``max_diff_pixels`` (a count, or a
    share such as ``"0.5%"``), ``min_ssim``, ``min_ms_ssim``, ``min_psnr`` (dB), ``max_perceptual``; with none
    given, any differing pixel fails the pair. ``ms_ssim`` and ``perceptual`` measure those without a gate
    (the perceptual distance loads the embedded MobileNetV2). ``resize``: compare images of different sizes,
    the new one resized to the golden one's size (else that pair is an error)."""

    tolerance: float = 0.1
    include_aa: bool = False
    max_diff_pixels: int | float | str | None = None
    min_ssim: float | None = None
    min_ms_ssim: float | None = None
    min_psnr: float | None = None
    max_perceptual: float | None = None
    ms_ssim: bool = False
    perceptual: bool = False
    resize: bool = False

    def __post_init__(self) -> None:
        _within("tolerance", self.tolerance, 0, 1)
        if self.max_diff_pixels is not None:
            object.__setattr__(self, "max_diff_pixels", _share_or_count("max_diff_pixels", self.max_diff_pixels))
        for name in ("min_ssim", "min_ms_ssim"):
            if getattr(self, name) is not None:
                _within(name, getattr(self, name), -1, 1)
        if self.max_perceptual is not None and self.max_perceptual < 0:
            raise SettingError("max_perceptual", f"{self.max_perceptual:g} is negative")
        if self.min_ms_ssim is not None:
            object.__setattr__(self, "ms_ssim", True)
        if self.max_perceptual is not None:
            object.__setattr__(self, "perceptual", True)

    @property
    def gated(self) -> bool:
        """Whether a gate was given (else any differing pixel fails)."""
        gates = (self.max_diff_pixels, self.min_ssim, self.min_ms_ssim, self.min_psnr, self.max_perceptual)
        return any(gate is not None for gate in gates)


SIZE_PATTERN = re.compile(r"^\s*(\d+)\s*[x×]\s*(\d+)\s*$", re.I)
BYTE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 10**6, "mb": 10**6, "mib": 1 << 20}
BYTE_UNITS |= {"g": 10**9, "gb": 10**9, "gib": 1 << 30}
REQUIREMENTS = ("required", "forbidden")


def _size(name: str, value: str | Sequence[int]) -> tuple[int, int]:
    """``"800x600"`` or ``(800, 600)`` → (width, height)."""
    match = SIZE_PATTERN.match(value) if isinstance(value, str) else None
    if isinstance(value, str) and not match:
        raise SettingError(name, f"{value!r}: give WIDTHxHEIGHT, e.g. 800x600")
    width, height = (int(v) for v in (match.groups() if match else value))
    if width < 1 or height < 1:
        raise SettingError(name, f"{width}x{height}: both sides must be at least 1")
    return width, height


def _bytes(name: str, value: int | str) -> int:
    """``5000000``, ``"5MB"``, ``"4.5 MiB"``, ``"500k"`` → bytes (k, MB, GB: powers of 1000; KiB, MiB, GiB: of 1024)."""
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", str(value), re.I)
    if not match or match.group(2).lower() not in BYTE_UNITS:
        raise SettingError(name, f"{value!r}: give a size such as 5MB, 500KiB or 200000")
    return int(float(match.group(1)) * BYTE_UNITS[match.group(2).lower()])


def _pair_of_shares(name: str, value: float | str | Sequence[float]) -> tuple[float, float]:
    """``0.05`` → (0.05, 0.05); ``"0.01,0.2"`` or ``(0.01, 0.2)`` → (0.01, 0.2): the highlights', then the shadows'."""
    parts = str(value).split(",") if isinstance(value, str | int | float) else list(value)
    try:
        shares = [float(part) for part in parts]
    except ValueError:
        raise SettingError(name, f"{value!r}: give a share (0.05) or two, highlights and shadows (0.01,0.2)") from None
    if len(shares) not in (1, 2):
        raise SettingError(name, f"{value!r}: give one share or two (highlights, shadows)")
    for share in shares:
        _within(name, share, 0, 1)
    return shares[0], shares[-1]


@dataclass(frozen=True)
class CheckSettings:
    """The gates of ``optik check``; each None (or empty) is not checked.

    Size: ``min_size`` / ``max_size`` (width, height or ``"800x600"``: both sides at least / at most),
    ``max_aspect`` (long side over short side), ``max_bytes`` (file size: bytes or ``"5MB"``). Quality:
    ``min_sharpness`` (variance of the Laplacian at a 256-px shorter side), ``max_clipped`` (the share of
    blown-out highlights, and of crushed shadows: one share for both, or two such as ``"0.015,0.2"``),
    ``min_luminance`` / ``max_luminance`` (mean, 0-1), ``max_noise`` (σ in 8-bit luma levels),
    ``max_color_cast`` (ΔE of the mean colour from gray). File: ``formats`` and ``color_spaces`` (allowed
    names), ``icc`` and ``alpha`` (``"required"`` or ``"forbidden"``), ``upright`` (no EXIF rotation or flip).
    Within the batch: ``hash_distance`` (fail when an earlier image's perceptual hash is at most this many of
    64 bits away) and ``max_similarity`` (fail when an earlier image's embedding is more alike, cosine; this
    loads the embedded MobileNetV2)."""

    min_size: tuple[int, int] | str | None = None
    max_size: tuple[int, int] | str | None = None
    max_aspect: float | None = None
    max_bytes: int | str | None = None
    min_sharpness: float | None = None
    max_clipped: float | tuple[float, float] | str | None = None
    min_luminance: float | None = None
    max_luminance: float | None = None
    max_noise: float | None = None
    max_color_cast: float | None = None
    formats: tuple[str, ...] | str = ()
    color_spaces: tuple[str, ...] | str = ()
    icc: str | None = None
    alpha: str | None = None
    upright: bool = False
    hash_distance: int | None = None
    max_similarity: float | None = None

    def __post_init__(self) -> None:
        for name in ("min_size", "max_size"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _size(name, getattr(self, name)))
        if self.max_bytes is not None:
            object.__setattr__(self, "max_bytes", _bytes("max_bytes", self.max_bytes))
        if self.max_aspect is not None and self.max_aspect < 1:
            raise SettingError("max_aspect", f"{self.max_aspect:g} is below 1 (the long side over the short side)")
        if self.max_clipped is not None:
            object.__setattr__(self, "max_clipped", _pair_of_shares("max_clipped", self.max_clipped))
        for name in ("min_luminance", "max_luminance"):
            if getattr(self, name) is not None:
                _within(name, getattr(self, name), 0, 1)
        for name in ("min_sharpness", "max_noise", "max_color_cast"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise SettingError(name, f"{getattr(self, name):g} is negative")
        object.__setattr__(self, "formats", _names(self.formats))
        object.__setattr__(self, "color_spaces", _names(self.color_spaces))
        for name in ("icc", "alpha"):
            if getattr(self, name) is not None and getattr(self, name) not in REQUIREMENTS:
                raise SettingError(name, f"{getattr(self, name)!r}: give required or forbidden")
        if self.hash_distance is not None:
            _within("hash_distance", self.hash_distance, 0, 64)
        if self.max_similarity is not None:
            _within("max_similarity", self.max_similarity, -1, 1)

    @classmethod
    def from_profile(cls, gates: Mapping[str, Any], **overrides: Any) -> CheckSettings:
        """The gates of a profile (keys as the fields, ``-`` or ``_``), with ``overrides`` (not None) on top."""
        known = {name for name in cls.__dataclass_fields__}
        values = {str(key).replace("-", "_"): value for key, value in gates.items()}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingError("profile", f"unknown gate {', '.join(unknown)} (the gates: {', '.join(sorted(known))})")
        return cls(**{**values, **{key: value for key, value in overrides.items() if value is not None}})

    @property
    def gated(self) -> bool:
        """Whether any gate is set."""
        return self != CheckSettings()

    @property
    def embeddings(self) -> bool:
        """Whether the gates need the backbone's embeddings."""
        return self.max_similarity is not None


# --- train, anomaly -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainSettings:
    """How ``optik train`` learns a classifier on an embedded ``backbone``: ``val`` is the share of each class held
    out for validation (when no validation set is given); ``views`` the augmented views of each training image (1:
    none; then the mirror image and random crops with colour jitter); ``flip`` allows mirror images among them;
    ``unfreeze`` trains the backbone's last stages too (0: only a new linear head); at most ``epochs``, stopping
    after ``patience`` epochs without a better validation loss; AdamW's ``learning_rate`` and ``weight_decay``;
    ``seed`` makes a run repeatable."""

    backbone: str = "mobilenet_v2"
    val: float = 0.2
    views: int = 4
    flip: bool = True
    unfreeze: int = 0
    epochs: int = 100
    patience: int = 10
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        from optik.registry.trained import BACKBONES

        if self.backbone not in BACKBONES:
            raise SettingError("backbone", f"{self.backbone}: optik trains on {', '.join(BACKBONES)}")
        _within("val", self.val, 0.01, 0.5)
        _within("views", self.views, 1, 16)
        _within("learning_rate", self.learning_rate, 1e-6, 1)
        _within("weight_decay", self.weight_decay, 0, 1)
        for name in ("unfreeze", "epochs", "patience"):
            if getattr(self, name) < (0 if name == "unfreeze" else 1):
                raise SettingError(name, f"{getattr(self, name)} is below {0 if name == 'unfreeze' else 1}")

    def check(self, spec: ModelSpec) -> None:
        """Nothing here depends on the row (``unfreeze`` is checked against the loaded network's stages)."""


@dataclass(frozen=True)
class AnomalyFitSettings:
    """How ``optik anomaly fit`` learns what normal looks like: ``backbone`` (an embedded one) sees each image
    stretched to ``size``×``size``; ``holdout`` is the share of the normal images kept apart to calibrate the
    threshold, which lets a share ``fpr`` of normal images score above it; ``coreset`` the share of the patch
    features kept in the memory bank; ``seed`` makes a fit repeatable."""

    backbone: str = "mobilenet_v2"
    size: int = 224
    holdout: float = 0.2
    fpr: float = 0.01
    coreset: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        from optik.registry.trained import BACKBONES

        if self.backbone not in BACKBONES:
            raise SettingError("backbone", f"{self.backbone}: optik fits on {', '.join(BACKBONES)}")
        if self.size % 32 or not 64 <= self.size <= 1024:
            raise SettingError("size", f"{self.size} is not a multiple of 32 within [64, 1024]")
        _within("holdout", self.holdout, 0.05, 0.5)
        _within("fpr", self.fpr, 0.0001, 0.5)
        _within("coreset", self.coreset, 0.001, 1)

    def check(self, spec: ModelSpec) -> None:
        """Nothing here depends on the row."""


@dataclass(frozen=True)
class AnomalySettings:
    """``max_score``: an image scoring above it is anomalous (None: the threshold calibrated with the model)."""

    max_score: float | None = None

    def __post_init__(self) -> None:
        if self.max_score is not None and not self.max_score > 0:
            raise SettingError("max_score", f"{self.max_score:g} is not above 0")

    def check(self, spec: ModelSpec) -> None:
        """Nothing here depends on the model."""
