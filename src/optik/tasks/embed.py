"""Image embeddings: one L2-normalised vector per image (search by example, dedupe), plus a perceptual hash
and a sharpness figure that ``dedupe`` uses to find exact copies and choose keepers.

The embed rows read the classifiers' weights files through feature-extractor modules
(:mod:`optik.nets.embedding`); the adapter prepares images exactly as the classifier does (the row's input
spec) and checks that the vectors are finite and of unit length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optik.errors import InputError
from optik.io.records import image_record, text_line
from optik.preprocess.decode import Image
from optik.preprocess.fingerprint import fingerprints
from optik.preprocess.transforms import prepare, to_batch
from optik.registry.loading import LoadedModel
from optik.tasks.base import Family, Prepared, check_sane
from optik.tasks.settings import EmbedSettings

CSV_FIELDS = ("path", "model", "width", "height", "dim", "phash", "sharpness")


@dataclass
class EmbedResult:
    """One image's unit vector, its perceptual hash (64 bits) and sharpness."""

    path: str
    model: str
    width: int
    height: int
    vector: np.ndarray = field(repr=False)
    phash: int
    sharpness: float
    index: str | None = None  # the index directory it went to (then records leave the vector out)

    def to_record(self) -> dict[str, Any]:
        fields = {"dim": len(self.vector), "phash": f"{self.phash:016x}", "sharpness": round(self.sharpness, 2)}
        if self.index is not None:  # the vector went to the index
            return image_record(self, **fields, index=self.index)
        return image_record(self, **fields, embedding=[round(float(v), 6) for v in self.vector])

    def to_text(self) -> str:
        return text_line(self.path, self.index, f"{len(self.vector)}-d {self.model}, phash {self.phash:016x}")

    def csv_rows(self) -> list[dict[str, Any]]:
        record = self.to_record()
        return [{key: record[key] for key in CSV_FIELDS}]

    def index_rows(self) -> list[tuple[dict[str, Any], np.ndarray]]:
        """Its row of an index table (beside the file's own facts) and its vector."""
        row = {"width": self.width, "height": self.height, "phash": f"{self.phash:016x}"}
        return [({**row, "sharpness": round(self.sharpness, 3)}, self.vector)]


@dataclass
class Fingerprinted:
    """What ``prepare`` computes besides the network input."""

    phash: int
    sharpness: float


class Embedder(Family):
    """Any embed row: the classifier's preprocessing, the feature extractor's unit vectors."""

    csv_fields = CSV_FIELDS

    def __init__(self, model: LoadedModel, settings: EmbedSettings | None = None):
        super().__init__(model, settings or EmbedSettings())
        self.spec = model.spec.input_spec()
        target = self.spec.resize_size or max(self.spec.size or (0,))
        # draft: decode large JPEGs at 1/2-1/8 scale (keeping ≥ 2× the resize target), as classify --draft
        self.decode_min_side = 2 * target if self.settings.draft and target else None

    def prepare(self, image: Image) -> Prepared:
        rgb = image.rgb8()
        array, _ = prepare(rgb, self.spec)
        return Prepared(image, array, Fingerprinted(*fingerprints(rgb)), key=array.shape)

    def forward(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        batch = to_batch(arrays, self.spec, self.model.device, self.model.dtype)
        return list(self.model(batch).float().cpu().numpy())

    def finish(self, prepared: Prepared, vector: np.ndarray) -> EmbedResult:
        image = prepared.image
        check_sane(vector, "features", image.name)
        if abs(float(np.linalg.norm(vector)) - 1) > 1e-3:
            raise InputError(f"{image.name}: the model produced an embedding that is not of unit length")
        facts: Fingerprinted = prepared.context
        return EmbedResult(image.name, self.name, *image.original_size, vector, facts.phash, facts.sharpness)
