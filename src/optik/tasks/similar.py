"""Search by example: for each query image, the images of an index whose embeddings are most alike.

:class:`VectorSearch` is exact (every vector compared, no approximation): with ``faiss`` installed (PyPI
``faiss-cpu``, optional) its ``IndexFlatIP``, else a NumPy matrix product and a partial sort. Both give the same
hits. :class:`SimilarTask` is the embed family of the index's model with the search added to ``finish``, so
queries run through the one pipeline like any task.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from optik.errors import SettingError
from optik.io.records import image_record, text_line
from optik.preprocess.decode import Image
from optik.tasks.base import ImageResult, Prepared
from optik.tasks.embed import Embedder
from optik.tasks.settings import SimilarSettings

if TYPE_CHECKING:
    from optik.io.embedding_index import Index

CSV_FIELDS = ("path", "model", "rank", "hit", "score")
SEARCH_BACKENDS = ("auto", "numpy", "faiss")
_BLOCK_BYTES = 1 << 28  # the most score-matrix memory one NumPy step uses


def faiss_module() -> Any:
    """``faiss`` when it is installed, else None."""
    try:
        import faiss
    except ImportError:
        return None
    return faiss


class VectorSearch:
    """Exact top-k by inner product (cosine, for unit vectors) over ``vectors`` [N, dim]."""

    def __init__(self, vectors: np.ndarray, backend: str = "auto"):
        if backend not in SEARCH_BACKENDS:
            raise SettingError("backend", f"{backend!r} is not one of {', '.join(SEARCH_BACKENDS)}")
        self.vectors = np.ascontiguousarray(vectors, np.float32)
        faiss = faiss_module() if backend != "numpy" else None
        if backend == "faiss" and faiss is None:
            raise SettingError("backend", "faiss is not installed (pip install faiss-cpu)")
        self.backend = "faiss" if faiss is not None else "numpy"
        self._faiss_index = None
        if faiss is not None:
            self._faiss_index = faiss.IndexFlatIP(self.vectors.shape[1])
            self._faiss_index.add(self.vectors)

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, indices), each [Q, min(k, N)], best first."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), np.float32)
        k = min(k, len(self.vectors))
        if k == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        if self._faiss_index is not None:
            scores, indices = self._faiss_index.search(queries, k)
            return scores, indices.astype(np.int64)
        rows = max(1, _BLOCK_BYTES // (4 * len(self.vectors)))
        parts = [self._numpy_top(queries[start : start + rows], k) for start in range(0, len(queries), rows)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _numpy_top(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = queries @ self.vectors.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else np.argsort(-scores, axis=1)
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        return np.take_along_axis(top_scores, order, axis=1), np.take_along_axis(top, order, axis=1)


@dataclass
class Hit:
    path: str
    score: float


@dataclass
class SimilarResult(ImageResult):
    """One query's hits, best first; ``render()`` is the contact sheet (the query framed, then the hits)."""

    path: str
    model: str
    width: int
    height: int
    hits: list[Hit] = field(default_factory=list)
    output: str | None = None  # where the output stage wrote the sheet
    image: Image | None = field(default=None, repr=False)  # the query, for the sheet

    def to_record(self) -> dict[str, Any]:
        return image_record(self, hits=[{"path": hit.path, "score": round(hit.score, 6)} for hit in self.hits])

    def to_text(self) -> str:
        best = ", ".join(f"{hit.path} {hit.score:.3f}" for hit in self.hits[:3])
        return text_line(self.path, self.output, best or "no hits")

    def csv_rows(self) -> list[dict[str, Any]]:
        base = {"path": self.path, "model": self.model}
        rows = [
            {**base, "rank": r, "hit": hit.path, "score": round(hit.score, 6)} for r, hit in enumerate(self.hits, 1)
        ]
        return rows or [base]

    def render(self, cell: int = 192) -> Image:
        from optik.io.thumbnails import thumbnail
        from optik.preprocess.sheet import contact_sheet, fit_within

        if self.image is None:
            raise ValueError("this result keeps no query image to render")
        tiles = [(fit_within(self.image.rgb8(), cell), f"query {os.path.basename(self.path)}")]
        tiles += [(thumbnail(hit.path, cell), f"{hit.score:.3f} {os.path.basename(hit.path)}") for hit in self.hits]
        return Image(contact_sheet(tiles, cell, columns=min(6, len(tiles)), mark_first=True), name=self.path)


class SimilarTask:
    """The embed family of the index's model, searching the index in ``finish``. A query that is itself a file
    in the index does not find itself (copies of it elsewhere are hits)."""

    csv_fields = CSV_FIELDS

    def __init__(self, embedder: Embedder, index: Index, settings: SimilarSettings, backend: str = "auto"):
        if index.model != embedder.name or index.weights_sha256 != embedder.model.weights_sha256:
            raise SettingError("index", f"{index.directory} was built with {index.model} (other weights than these)")
        self.embedder, self.settings = embedder, settings
        self.model, self.name = embedder.model, embedder.name
        self.decode_min_side, self.batch_limit = embedder.decode_min_side, embedder.batch_limit
        self.paths = [row["path"] for row in index.rows]
        self.search = VectorSearch(index.vectors, backend)

    def prepare(self, image: Image) -> Prepared:
        return self.embedder.prepare(image)

    def forward(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        return self.embedder.forward(arrays)

    def finish(self, prepared: Prepared, vector: np.ndarray) -> SimilarResult:
        query = self.embedder.finish(prepared, vector)
        source = getattr(prepared.item, "source", None)
        itself = os.path.abspath(source) if source and os.path.exists(source) else None
        scores, indices = self.search.search(query.vector, self.settings.k + 1)
        minimum = self.settings.min_score
        hits = [
            Hit(self.paths[i], float(score))
            for score, i in zip(scores[0], indices[0], strict=True)
            if self.paths[i] != itself and (minimum is None or score >= minimum)
        ]
        return SimilarResult(
            query.path, self.name, query.width, query.height, hits[: self.settings.k], image=prepared.image
        )
