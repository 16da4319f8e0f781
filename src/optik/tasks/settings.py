"""What each task can be asked, checked in the task's own terms.

Plain dataclasses that load neither torch nor OpenCV: the CLI builds and checks them before any
model is loaded, so a usage error is immediate. A bad value raises :class:`SettingError` naming the
field as the Python API spells it; only the CLI turns field names into flags. ``check(spec)`` adds
what depends on the model (its labels, its family's config).
"""

from __future__ import annotations

import difflib
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
    from optik.preprocess.decode import IMAGE_EXTENSIONS

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
