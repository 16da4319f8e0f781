"""Image classification: ImageNet labels with scores, plus the ``--expect`` / ``--min-score`` checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from optik.io.records import image_record, text_line
from optik.preprocess.decode import Image
from optik.preprocess.transforms import prepare, to_batch
from optik.registry.loading import LoadedModel
from optik.tasks.base import Family, Prepared, check_sane
from optik.tasks.settings import ClassifySettings

CSV_FIELDS = ("path", "model", "rank", "label", "index", "score")


@dataclass
class Prediction:
    label: str
    index: int
    score: float


@dataclass
class ClassifyResult:
    """The top-k predictions for one image."""

    path: str
    model: str
    width: int
    height: int
    predictions: list[Prediction] = field(default_factory=list)

    @property
    def top(self) -> Prediction:
        return self.predictions[0]

    def to_record(self) -> dict[str, Any]:
        predictions = [{"label": p.label, "index": p.index, "score": round(p.score, 6)} for p in self.predictions]
        return image_record(self, predictions=predictions)

    def to_text(self) -> str:
        best = ", ".join(f"{p.label} {p.score:.3f}" for p in self.predictions)
        return text_line(self.path, None, best)

    def csv_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "path": self.path,
                "model": self.model,
                "rank": rank,
                "label": p.label,
                "index": p.index,
                "score": round(p.score, 6),
            }
            for rank, p in enumerate(self.predictions, 1)
        ]


class Classifier(Family):
    """Any ImageNet classifier: resize/crop/normalise as its row's input spec says, softmax, top-k."""

    csv_fields = CSV_FIELDS

    def __init__(self, model: LoadedModel, settings: ClassifySettings | None = None):
        super().__init__(model, settings or ClassifySettings())
        self.spec = model.spec.input_spec()
        self.labels = model.spec.categories()
        self.top_k = min(self.settings.top_k, len(self.labels) or self.settings.top_k)
        target = self.spec.resize_size or max(self.spec.size or (0,))
        # draft: decode large JPEGs at 1/2-1/8 scale (keeping ≥ 2× the resize target)
        self.decode_min_side = 2 * target if self.settings.draft and target else None

    def prepare(self, image: Image) -> Prepared:
        array, _ = prepare(image.rgb8(), self.spec)
        return Prepared(image, array, key=array.shape)

    def forward(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        batch = to_batch(arrays, self.spec, self.model.device, self.model.dtype)
        probabilities = torch.softmax(self.model(batch).float(), dim=1)
        return list(probabilities.cpu().numpy())

    def finish(self, prepared: Prepared, probabilities: np.ndarray) -> ClassifyResult:
        check_sane(probabilities, "scores", prepared.image.name)
        order = np.argsort(-probabilities, kind="stable")[: self.top_k]
        predictions = [Prediction(self.label(i), int(i), float(probabilities[i])) for i in order]
        image = prepared.image
        return ClassifyResult(image.name, self.name, *image.original_size, predictions)

    def label(self, index: int) -> str:
        return self.labels[index] if index < len(self.labels) else str(index)
