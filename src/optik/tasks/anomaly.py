"""Anomaly detection: learn what normal images look like, then say how far each new image is from it, and where.

The method is PatchCore (Roth et al. 2022; :mod:`optik.nets.patchcore`): patch features of the embedded
MobileNetV2 (its stride-8 and stride-16 stages, locally averaged), a memory bank of the normal images' patches
thinned by greedy coreset selection, and each new patch's distance to its nearest normal patch. It was chosen by
measurement over PaDiM's Gaussian per patch position on the same features (bench/anomaly.py: textures and a
machined part with scratches, spots, missing parts and colour stains at three strengths): image AUROC 0.860
against 0.838 over all defects, 0.967 against 0.951 on the clearest, pixel AUROC 0.903 against 0.900; it needs no
alignment (a texture's patches match wherever they are) and its bank is about 50 times smaller than PaDiM's
covariances.

The patch distances (on a 28×28 grid for a 224-pixel input) are upsampled to the input size and smoothed
(Gaussian, ``smoothing`` pixels): that map's maximum is the image score. Fitting keeps a share of the normal
images apart and sets the threshold from their scores (:func:`calibrated_threshold`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any

import cv2
import numpy as np
import torch

from optik.errors import SettingError
from optik.io.records import image_record, text_line
from optik.nets.patchcore import TAPS, PatchCore, nearest_distances, patch_features
from optik.preprocess.decode import Image
from optik.preprocess.overlay import heat_overlay
from optik.preprocess.spec import InputSpec
from optik.preprocess.transforms import prepare, to_batch
from optik.registry.families import AnomalyConfig
from optik.registry.loading import LoadedModel
from optik.tasks.base import Family, ImageResult, Prepared, check_sane
from optik.tasks.settings import AnomalyFitSettings, AnomalySettings
from optik.tasks.train import Runner, collect

CSV_FIELDS = ("path", "model", "width", "height", "score", "threshold", "anomalous")
PROJECTION = 128  # coreset selection compares patches in a random projection to this many dimensions
SMOOTHING = 4.0  # the map's Gaussian sigma in input pixels (PatchCore's)
MAX_BANK = 8192  # patches at most in the bank: fitting time grows with patches × bank, scoring with the bank


def fit_input(backbone_input: InputSpec, size: int) -> InputSpec:
    """The backbone's normalisation, with the whole image stretched to ``size``×``size`` (a defect at the border
    must not be cropped away)."""
    return replace(backbone_input, size=(size, size), resize="stretch", resize_size=None)


def anomaly_map(distances: np.ndarray, side: int, smoothing: float) -> np.ndarray:
    """``side``×``side`` float32: the patch distances upsampled (bilinear) and smoothed (Gaussian)."""
    upsampled = cv2.resize(distances.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(upsampled, (0, 0), smoothing)


@dataclass
class AnomalyResult(ImageResult):
    """One image's anomaly score (the map's maximum), the threshold it is held to, and the map itself."""

    path: str
    model: str
    width: int
    height: int
    score: float
    threshold: float
    heat: np.ndarray = field(repr=False)  # the anomaly map at the network's input size
    output: str | None = None
    image: Image | None = field(default=None, repr=False)

    @property
    def anomalous(self) -> bool:
        return self.score > self.threshold

    @property
    def box(self) -> list[float] | None:
        """Around the pixels above the threshold (original pixels), or None when the image is normal."""
        rows, columns = np.nonzero(self.heat > self.threshold)
        if not len(rows):
            return None
        scale_x, scale_y = self.width / self.heat.shape[1], self.height / self.heat.shape[0]
        edges = (
            columns.min() * scale_x,
            rows.min() * scale_y,
            (columns.max() + 1) * scale_x,
            (rows.max() + 1) * scale_y,
        )
        return [round(float(v), 2) for v in edges]

    def pixel_map(self) -> np.ndarray:
        """The anomaly map at the image's own size (H×W float32)."""
        return cv2.resize(self.heat, (self.width, self.height), interpolation=cv2.INTER_LINEAR)

    def to_record(self) -> dict[str, Any]:
        return image_record(
            self,
            score=round(self.score, 6),
            threshold=round(self.threshold, 6),
            anomalous=self.anomalous,
            box=self.box,
        )

    def to_text(self) -> str:
        verdict = "anomalous" if self.anomalous else "normal"
        sign = ">" if self.anomalous else "≤"
        return text_line(self.path, self.output, f"{verdict} {self.score:.4g} {sign} {self.threshold:.4g}")

    def csv_rows(self) -> list[dict[str, Any]]:
        record = self.to_record()
        return [{name: record[name] for name in CSV_FIELDS}]

    def render(self) -> Image:
        """The image with the map over it (:func:`~optik.preprocess.overlay.heat_overlay`: transparent well below
        the threshold, green-yellow at it, red at twice it) and the region above the threshold outlined."""
        if self.image is None:
            raise ValueError("this result keeps no image to render")
        pixels = heat_overlay(self.image.rgb8(), self.pixel_map(), self.threshold)
        return Image(pixels, None, False, self.image.name)


class AnomalyScorer(Family):
    """A fitted anomaly model (``optik anomaly fit``): patch distances → map → score, held to the threshold."""

    csv_fields = CSV_FIELDS

    def __init__(self, model: LoadedModel, settings: AnomalySettings | None = None):
        super().__init__(model, settings or AnomalySettings())
        self.spec = model.spec.input_spec()
        self.config: AnomalyConfig = model.spec.config
        self.threshold = self.settings.max_score if self.settings.max_score is not None else self.config.threshold

    def prepare(self, image: Image) -> Prepared:
        array, _ = prepare(image.rgb8(), self.spec)
        return Prepared(image, array, key=array.shape)

    def forward(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        batch = to_batch(arrays, self.spec, self.model.device, self.model.dtype)
        return list(self.model(batch).float().cpu().numpy())

    def finish(self, prepared: Prepared, distances: np.ndarray) -> AnomalyResult:
        image = prepared.image
        check_sane(distances, "patch distances", image.name, allow_constant=True)
        heat = anomaly_map(distances, self.spec.size[0], self.config.smoothing)
        score = float(heat.max())
        return AnomalyResult(image.name, self.name, *image.original_size, score, self.threshold, heat, image=image)


@dataclass
class ImagePatches:
    """One normal image's patch features (D × h × w)."""

    path: str
    features: np.ndarray = field(repr=False)


class PatchFeatures(Family):
    """The backbone's patch features of each image, for fitting (the scorer computes the same inside PatchCore)."""

    def __init__(self, model: LoadedModel, settings: AnomalyFitSettings):
        super().__init__(model, settings)
        self.spec = fit_input(model.spec.input_spec(), settings.size)
        self.stages = model.module.stages()
        self.taps = TAPS[model.spec.name]

    def prepare(self, image: Image) -> Prepared:
        array, _ = prepare(image.rgb8(), self.spec)
        return Prepared(image, array, key=array.shape)

    def forward(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        x = self.model.tensor(to_batch(arrays, self.spec, self.model.device, self.model.dtype))
        with torch.inference_mode():
            return list(patch_features(self.stages, x, self.taps).cpu().numpy())

    def finish(self, prepared: Prepared, features: np.ndarray) -> ImagePatches:
        check_sane(features, "patch features", prepared.image.name)
        return ImagePatches(prepared.image.name, features)


def greedy_coreset(features: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    """Indices of ``size`` rows of ``features`` chosen by greedy k-centre selection (each next row the one
    farthest from those chosen), compared in a random projection to :data:`PROJECTION` dimensions."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    if features.shape[1] > PROJECTION:
        projection = torch.randn(features.shape[1], PROJECTION, generator=generator) / PROJECTION**0.5
        features = features @ projection.to(features.device)
    squares = features.square().sum(1)

    def distances_to(index: int) -> torch.Tensor:  # squared, as |a|² - 2 a·b + |b|²: one pass over the features
        return squares - 2 * (features @ features[index]) + squares[index]

    chosen = torch.empty(size, dtype=torch.long)
    chosen[0] = int(torch.randint(len(features), (1,), generator=generator))
    nearest = distances_to(int(chosen[0]))
    for step in range(1, size):
        chosen[step] = int(nearest.argmax())
        torch.minimum(nearest, distances_to(int(chosen[step])), out=nearest)
    return chosen


def calibrated_threshold(scores: Sequence[float], fpr: float) -> float:
    """The score that a share ``fpr`` of normal images would exceed, from the held-out normal images' ``scores``:
    their ``1 - fpr`` quantile (rounded up to a score one of them has). Fewer than ``1 / fpr`` images cannot show
    that tail, so then it is at least the same quantile of a normal distribution fitted to them (measured: the
    highest of 8 held-out scores let 5-78 % of new normal images through, the fitted quantile 0-50 %, with every
    clear defect still above it; bench/README.md)."""
    values = np.asarray(scores, np.float64)
    empirical = float(np.quantile(values, 1 - fpr, method="higher"))
    if len(values) * fpr >= 1 or len(values) < 2:
        return empirical
    return max(empirical, float(values.mean() + NormalDist().inv_cdf(1 - fpr) * values.std(ddof=1)))


@dataclass
class AnomalyModel:
    """A fitted anomaly detector: the backbone stages and the bank, the calibrated threshold and how it was made.
    :meth:`save` writes it as a model directory, which ``optik anomaly score --model DIR`` runs."""

    name: str
    data: str
    backbone: str
    state: dict[str, torch.Tensor] = field(repr=False)
    architecture: dict[str, Any]
    input_spec: InputSpec
    config: AnomalyConfig
    counts: dict[str, int]
    calibration_scores: list[float]
    settings: AnomalyFitSettings
    device: str
    dtype: str
    failures: list[str] = field(default_factory=list)
    output: str | None = None
    weights_sha256: str | None = None

    def to_record(self) -> dict[str, Any]:
        scores = np.asarray(self.calibration_scores)
        record: dict[str, Any] = {
            "path": self.data,
            "model": self.name,
            "task": "anomaly",
            "backbone": self.backbone,
            "device": self.device,
            "dtype": self.dtype,
            "images": {**self.counts, "failed": len(self.failures)},
            "threshold": round(self.config.threshold, 6),
            "fpr": self.config.fpr,
            "calibration": {
                "min": round(float(scores.min()), 6),
                "median": round(float(np.median(scores)), 6),
                "max": round(float(scores.max()), 6),
            },
            "bank": self.architecture["bank_size"],
            "settings": asdict(self.settings),
        }
        if self.output is not None:
            record |= {"output": self.output, "weights_sha256": self.weights_sha256}
        return record

    def to_text(self) -> str:
        summary = (
            f"{self.counts['fit']} normal images in the bank ({self.architecture['bank_size']} patches), threshold "
            f"{self.config.threshold:.4g} from {self.counts['calibration']} held-out ones (fpr {self.config.fpr:g})"
        )
        return text_line(self.data, self.output, summary)

    def card(self) -> str:
        """The model card (Markdown)."""
        record = self.to_record()
        calibration = record["calibration"]
        observed = len(self.calibration_scores) * self.config.fpr >= 1
        caveat = (
            ""
            if observed
            else f" {len(self.calibration_scores)} held-out images cannot show a rate of {self.config.fpr:g}: the "
            f"threshold is at least the quantile of a normal distribution fitted to their scores; fit on more "
            f"normal images (≥ {round(1 / self.config.fpr)} held out) for a measured one."
        )
        return (
            f"# {self.name}\n\nAn anomaly detector fitted with `optik anomaly fit` on the normal images of "
            f"`{self.data}`; run it with `optik anomaly score IMAGES… --model DIR`.\n\n"
            f"- method: PatchCore on {self.backbone} stages {list(self.architecture['taps'])} (3×3 neighbourhoods), "
            f"a memory bank of {self.architecture['bank_size']} patches (greedy coreset: {self.settings.coreset:g} of "
            f"the {self.counts['fit']} images' patches, at most {MAX_BANK})\n"
            f"- input: {self.input_spec.describe()}\n"
            f"- score: the maximum of the patch distances upsampled to the input and smoothed (Gaussian σ "
            f"{self.config.smoothing:g} px)\n"
            f"- threshold: {self.config.threshold:.6g}, calibrated on {self.counts['calibration']} held-out normal "
            f"images for a false-positive rate of {self.config.fpr:g} (their scores: min {calibration['min']:.4g}, "
            f"median {calibration['median']:.4g}, max {calibration['max']:.4g}).{caveat}\n"
            f"- images: {self.counts['fit']} in the bank, {self.counts['calibration']} held out, "
            f"{len(self.failures)} unreadable\n"
            f"- settings: {', '.join(f'{key} {value}' for key, value in record['settings'].items())}\n"
            f"- fitted on {self.device} ({self.dtype} features)\n"
            f"- weights: `model.safetensors` (backbone stages float16, bank float32), sha256 `{self.weights_sha256}`\n"
        )

    def save(self, directory: str | Path, overwrite: bool = False) -> Path:
        """Write the model directory: the weights, ``card.md``, ``card.json`` and the manifest."""
        from optik.io.model_dir import write_model_dir
        from optik.registry.trained import manifest

        def contents(sha256: str) -> tuple[dict[str, Any], dict[str, Any]]:
            self.output, self.weights_sha256 = os.path.normpath(directory), sha256
            summary = f"anomaly detector (PatchCore on {self.backbone}) for the normal images of {self.data}"
            files = {"card.md": self.card(), "card.json": {**self.to_record(), "scores": self.calibration_scores}}
            kwargs = {"architecture_kwargs": self.architecture, "config": self.config}
            return manifest(self.name, "anomaly", self.backbone, sha256, self.input_spec, summary, **kwargs), files

        return write_model_dir(Path(directory), self.state, contents, overwrite)


def fit_patchcore(
    model: LoadedModel,
    patches: list[np.ndarray],
    settings: AnomalyFitSettings,
    name: str,
    data: str,
    failures: list[str],
) -> AnomalyModel:
    """The detector for the normal images' ``patches`` (D × h × w each): a seeded share ``holdout`` of them
    calibrates the threshold, the rest make the bank."""
    if len(patches) < 2:
        raise SettingError("data", f"{len(patches)} readable normal image(s); fitting needs at least 2")
    order = np.random.default_rng(settings.seed).permutation(len(patches))
    held = min(len(patches) - 1, max(1, round(len(patches) * settings.holdout)))
    calibration, fitting = order[:held], order[held:]
    dim, height, width = patches[0].shape
    features = torch.from_numpy(np.stack([patches[i] for i in fitting])).to(model.device)
    features = features.permute(0, 2, 3, 1).reshape(-1, dim)
    size = min(MAX_BANK, max(1, round(len(features) * settings.coreset)))
    bank = (
        features[greedy_coreset(features, size, settings.seed).to(model.device)] if size < len(features) else features
    )
    side = settings.size
    scores = []
    for index in calibration:
        queries = torch.from_numpy(patches[index]).to(model.device).permute(1, 2, 0).reshape(-1, dim)
        distances = nearest_distances(queries, bank).reshape(height, width).cpu().numpy()
        scores.append(float(anomaly_map(distances, side, SMOOTHING).max()))
    taps = TAPS[model.spec.name]
    detector = PatchCore(model.spec.name, taps, len(bank), dim)
    for own, loaded in zip(detector.stages, model.module.stages(), strict=False):
        own.load_state_dict(loaded.state_dict())
    detector.bank.copy_(bank.float().cpu())
    state = {  # the backbone's stages as the embedded weights are stored (float16), the bank as computed
        key: value.half() if value.is_floating_point() and key != "bank" else value
        for key, value in detector.state_dict().items()
    }
    config = AnomalyConfig(calibrated_threshold(scores, settings.fpr), settings.fpr, SMOOTHING)
    return AnomalyModel(
        name=name,
        data=data,
        backbone=model.spec.name,
        state=state,
        architecture={"taps": list(taps), "bank_size": len(bank), "dim": dim},
        input_spec=fit_input(model.spec.input_spec(), side),
        config=config,
        counts={"fit": len(fitting), "calibration": len(calibration)},
        calibration_scores=[round(score, 6) for score in scores],
        settings=settings,
        device=str(model.device),
        dtype=model.dtype_name,
        failures=failures,
    )


def fit_anomaly(
    model: LoadedModel,
    items: list,
    settings: AnomalyFitSettings,
    name: str,
    source: str,
    run: Runner,
    on_image: Callable[[str], None] | None = None,
) -> AnomalyModel:
    """Fit a detector on the normal images ``items`` with ``model`` (an embedded backbone, loaded eagerly): their
    patch features extracted once through ``run``; unreadable images are left out and listed in ``failures``."""
    features, failures = collect(run(PatchFeatures(model, settings), items), on_image)
    return fit_patchcore(model, [f for f in features if f is not None], settings, name, source, failures)
