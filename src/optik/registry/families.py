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


@dataclass(frozen=True)
class FaceDescriptorConfig:
    """Face identity descriptors: the detect model that finds each face and its five landmarks (the chip is
    aligned on them), and the descriptor distance below which two faces are taken for the same person."""

    detector: str = "mtcnn"
    same_person_distance: float = 0.6  # dlib's threshold on the euclidean distance


@dataclass(frozen=True)
class TextReaderConfig:
    """Two-stage text reading (PP-OCR, as rapidocr runs it): a DB text detector on the page, then a CTC
    recogniser on each line crop. The row's ``InputSpec`` gives both networks' colour order and
    normalisation; the sizes and thresholds are here."""

    max_side: int = 2000  # a page with a longer side is first scaled down to it (memory and time stay bounded)
    min_side: int = 30  # a page with a shorter side is first scaled up to it
    size_multiple: int = 32  # the page is resized to multiples of this (the detector's largest stride)
    det_min_side: int = 736  # the detector sees the page's shorter side at least this large
    pad_aspect: float = 8.0  # pages wider than this × their height get black rows above and below
    pad_min_height: int = 30  # the height those pages are padded to at least (× 2)
    max_batch_pixels: int = 4_500_000  # detector input pixels per forward call
    prob_threshold: float = 0.3  # DB: pixels above this probability are text
    box_threshold: float = 0.5  # DB: a box's mean probability must reach this
    unclip_ratio: float = 1.6  # DB: boxes grow by area × ratio / perimeter
    max_candidates: int = 1000  # DB: most regions per page
    rec_height: int = 48  # line crops are resized to this height
    rec_min_width: int = 320  # … and zero-padded to at least this width
    rec_batch: int = 6  # line crops per recogniser call (in order of aspect ratio, as rapidocr)


@dataclass(frozen=True)
class EmbeddingConfig:
    """Image embedders: the cosine similarity from which ``dedupe`` takes two images for the same scene (it
    depends on the model; measured on bench/retrieval.py's set)."""

    same_scene: float


@dataclass(frozen=True)
class AnomalyConfig:
    """Anomaly detectors fitted on normal images (``optik anomaly fit``): the image score from which an image is
    anomalous, calibrated on held-out normal images for the false-positive rate ``fpr``; ``smoothing`` is the
    Gaussian sigma (in network-input pixels) that turns patch distances into a per-pixel map."""

    threshold: float
    fpr: float
    smoothing: float
