"""The typed configs that catalog rows carry for their family adapters.

Plain data, so that reading the catalog (``optik models list``) loads neither torch nor OpenCV. Each
adapter in ``optik.tasks`` reads the config of its family from ``spec.config``; what a row does not
need to say (the input size, mean, std …) is in its :class:`~optik.preprocess.transforms.InputSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GridDetectorConfig:
    """Single-stage detectors on a fixed grid (NanoDet, CenterNet)."""

    size_multiple: int = 32  # `imgsz` must be a multiple of the network's largest stride


@dataclass(frozen=True)
class ClassicalSegmentConfig:
    """Classical OpenCV segmentation methods."""

    working_size: int  # they run with the longer side at most this many pixels
    option: str | None = None  # the one segment setting the method takes as an argument: "k" or "box"
    seed_model: str | None = None  # grabcut ``box="auto"``: the detect model whose best box seeds it


@dataclass(frozen=True)
class InstanceSegmentConfig:
    """Instance segmenters (Mask R-CNN): instances scoring below ``min_score`` are ignored."""

    min_score: float = 0.5


@dataclass(frozen=True)
class UpscalerConfig:
    """Super-resolution networks."""

    native_scale: int  # the network's own factor
    bytes_per_pixel: int = 16_000  # peak bytes per padded input pixel of one fp32 tile (bench/enhance.py)


@dataclass(frozen=True)
class LearnedStylesConfig:
    """A network conditioned on a weight vector over its learned styles (multistyle26)."""

    style_names: tuple[str, ...]  # index = position in the weight vector
    max_batch_pixels: int = 2_200_000  # per forward call, bounding memory when many images batch


@dataclass(frozen=True)
class StyleImageConfig:
    """Arbitrary style transfer: a predictor turns a style image into a vector for the transformer (whose
    working size is the row's ``InputSpec``)."""

    style_size: int = 256  # the predictor's input: the style image's centre square at this size
    max_batch_pixels: int = 2_200_000  # per forward call (padded squares)
