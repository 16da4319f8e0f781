"""Face identities: every face the row's detector (MTCNN) finds, aligned on its five landmarks into dlib's
150x150 chip (:mod:`optik.preprocess.face_align`), described by dlib's ResNet as 128 numbers, and — given a
:class:`FaceGallery` of enrolled people — named after the nearest enrolled face when it is closer than the
threshold (dlib's 0.6), else ``unknown``. :func:`cluster_faces` groups faces nobody enrolled.

Results render the image with each face's box and name, or with the unknown faces hidden.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from optik.errors import InputError
from optik.io.records import image_record, text_line
from optik.nets.dlib_face import DESCRIPTOR_SIZE
from optik.preprocess.decode import Image
from optik.preprocess.draw import annotate, colour, redact
from optik.preprocess.face_align import CHIP_SIZE, face_chip
from optik.preprocess.geometry import fit_within
from optik.registry import load_model
from optik.registry.loading import LoadedModel
from optik.tasks.base import Family, ImageResult, Prepared, check_sane
from optik.tasks.settings import FacesSettings

CSV_FIELDS = ("path", "model", "face", "name", "distance", "score", "x1", "y1", "x2", "y2")
UNKNOWN = "unknown"


@dataclass
class Face:
    """One face: box (x1, y1, x2, y2) and landmarks in original pixels, detector score, 128-d descriptor; with a
    gallery, the name of the nearest enrolled person (or ``unknown``) and the distance to that person."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray  # 5x2: left eye, right eye, nose, mouth left, mouth right
    descriptor: np.ndarray = field(repr=False)
    chip: np.ndarray = field(repr=False)  # the aligned 150x150 RGB chip the descriptor was computed from
    name: str | None = None
    distance: float | None = None

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "box": [round(v, 2) for v in self.box],
            "score": round(self.score, 6),
            "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks],
        }
        if self.name is not None:
            record["name"] = self.name
            record["distance"] = None if self.distance is None else round(self.distance, 4)
        return record

    def caption(self) -> str:
        if self.name is None:
            return f"face {self.score:.2f}"
        return self.name if self.distance is None else f"{self.name} {self.distance:.2f}"


@dataclass
class FacesResult(ImageResult):
    """The faces in one image, largest first."""

    path: str
    model: str
    width: int
    height: int
    faces: list[Face] = field(default_factory=list)
    output: str | None = None  # where the output stage wrote the annotated or redacted image
    image: Image | None = field(default=None, repr=False)

    def names(self) -> Counter:
        return Counter(face.name for face in self.faces if face.name is not None)

    def to_record(self) -> dict[str, Any]:
        return image_record(self, faces=[face.to_record() for face in self.faces])

    def to_text(self) -> str:
        found = ", ".join(f"{face.caption()} [{' '.join(str(round(v)) for v in face.box)}]" for face in self.faces)
        return text_line(self.path, self.output, found or "no face found")

    def csv_rows(self) -> list[dict[str, Any]]:
        base = {"path": self.path, "model": self.model}
        return [
            {
                **base,
                "face": position,
                "name": face.name or "",
                "distance": "" if face.distance is None else round(face.distance, 4),
                "score": round(face.score, 6),
                **{k: round(v, 2) for k, v in zip(("x1", "y1", "x2", "y2"), face.box, strict=True)},
            }
            for position, face in enumerate(self.faces)
        ] or [base]

    def render(self, redact_unknown: str | None = None) -> Image:
        """Every face boxed and captioned (name and distance), or — with ``redact_unknown`` (``blur``,
        ``pixelate``, ``fill``) — the faces not recognised hidden and nothing else changed."""
        if self.image is None:
            raise ValueError("this result keeps no image to render")
        image = self.image
        if redact_unknown:
            hidden = [face.box for face in self.faces if face.name in (None, UNKNOWN)]
            return Image(redact(image.pixels, hidden, redact_unknown), image.alpha, image.gray, image.name)
        colours = [
            (200, 200, 200) if face.name in (None, UNKNOWN) else colour(2 * i + 5) for i, face in enumerate(self.faces)
        ]
        pixels = annotate(
            image.rgb8(),
            [f.box for f in self.faces],
            [f.caption() for f in self.faces],
            colours,
            [f.landmarks for f in self.faces],
        )
        return Image(pixels, None, False, image.name)


@dataclass(frozen=True)
class FaceGallery:
    """Enrolled faces: a name and a descriptor each (several per person), made by ``model``."""

    model: str
    names: tuple[str, ...]
    descriptors: np.ndarray  # [N, 128]

    @classmethod
    def from_table(cls, model: str, rows: list[dict[str, Any]], descriptors: np.ndarray) -> FaceGallery:
        """From a face database's rows (each with a ``name``) and descriptors (:mod:`optik.io.embedding_index`)."""
        return cls(model, tuple(row["name"] for row in rows), np.asarray(descriptors, np.float32))

    @property
    def people(self) -> list[str]:
        return sorted(set(self.names))

    def identify(self, descriptors: np.ndarray, threshold: float) -> list[tuple[str, float | None]]:
        """For each descriptor: the name of the nearest enrolled face and its distance, or ``unknown`` (with the
        distance to the nearest) when even that is ``threshold`` or more away."""
        if not len(self.names):
            return [(UNKNOWN, None)] * len(descriptors)
        distances = np.linalg.norm(descriptors[:, None, :] - self.descriptors[None, :, :], axis=2)
        nearest = distances.argmin(axis=1)
        found = []
        for row, position in enumerate(nearest):
            distance = float(distances[row, position])
            found.append((self.names[position] if distance < threshold else UNKNOWN, distance))
        return found


@dataclass
class Found:
    """One image's faces as the networks give them (original pixels)."""

    boxes: np.ndarray  # Kx4
    scores: np.ndarray  # K
    landmarks: np.ndarray  # Kx5x2
    chips: np.ndarray  # Kx150x150x3
    descriptors: np.ndarray  # Kx128


class FaceRecognizer(Family):
    """Faces with descriptors: the row's detector finds them (on a copy no larger than ``imgsz``), the chips are
    cut from the full-size image, the descriptor network describes all chips of a batch at once."""

    csv_fields = CSV_FIELDS

    def __init__(self, model: LoadedModel, settings: FacesSettings | None = None):
        super().__init__(model, settings or FacesSettings())
        config = model.spec.config
        self.threshold = self.settings.threshold or config.same_person_distance
        self.detector = load_model(config.detector, model.device, model.dtype == torch.float16, task="detect")

    def prepare(self, image: Image) -> Prepared:
        return Prepared(image, image.rgb8(), key=())  # any sizes batch together

    def _detect(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        small, affine = fit_within(rgb, self.settings.imgsz) if self.settings.imgsz else (rgb, None)
        with torch.inference_mode():
            boxes, scores, landmarks = self.detector.module(small)
        keep = scores >= self.settings.conf
        boxes, scores, landmarks = boxes[keep], scores[keep], landmarks[keep]
        if affine is not None:
            boxes = boxes / np.array([affine.scale_x, affine.scale_y] * 2, np.float32)
            landmarks = landmarks / np.array([affine.scale_x, affine.scale_y], np.float32)
        order = np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), kind="stable")  # largest first
        return boxes[order], scores[order], landmarks[order]

    def forward(self, arrays: list[np.ndarray]) -> list[Found]:
        detected = [self._detect(rgb) for rgb in arrays]
        chips = [
            np.array([face_chip(rgb, points) for points in landmarks], np.uint8).reshape(-1, CHIP_SIZE, CHIP_SIZE, 3)
            for rgb, (_, _, landmarks) in zip(arrays, detected, strict=True)
        ]
        every_chip = np.concatenate(chips)
        descriptors = np.zeros((0, DESCRIPTOR_SIZE), np.float32)
        if len(every_chip):  # all faces of the batch through the network at once
            descriptors = self.model(torch.from_numpy(every_chip).permute(0, 3, 1, 2).float()).float().cpu().numpy()
        ends = np.cumsum([len(c) for c in chips])
        return [
            Found(boxes, scores, landmarks, image_chips, descriptors[end - len(image_chips) : end])
            for (boxes, scores, landmarks), image_chips, end in zip(detected, chips, ends, strict=True)
        ]

    def finish(self, prepared: Prepared, found: Found) -> FacesResult:
        image = prepared.image
        if len(found.descriptors):
            check_sane(found.descriptors, "face descriptors", image.name)
        names: list[tuple[str | None, float | None]] = [(None, None)] * len(found.boxes)
        if self.settings.gallery is not None:
            names = self.settings.gallery.identify(found.descriptors, self.threshold)
        faces = [
            Face(tuple(float(v) for v in box), float(score), points, descriptor, chip, name, distance)
            for box, score, points, descriptor, chip, (name, distance) in zip(
                found.boxes, found.scores, found.landmarks, found.descriptors, found.chips, names, strict=True
            )
        ]
        return FacesResult(image.name, self.name, *image.original_size, faces, image=image)


def enrolment_face(result: FacesResult) -> Face:
    """The face a photo enrolls: its only face, or the largest when every other is under half its area."""
    faces = result.faces
    if not faces:
        raise InputError(f"{result.path}: no face found (enroll needs a photo with the person's face)")
    if len(faces) > 1 and _area(faces[1]) >= _area(faces[0]) / 2:
        raise InputError(
            f"{result.path}: {len(faces)} faces of similar size; enroll needs photos of one person (crop the face)"
        )
    return faces[0]


def _area(face: Face) -> float:
    return (face.box[2] - face.box[0]) * (face.box[3] - face.box[1])


def cluster_faces(descriptors: np.ndarray, threshold: float) -> list[int]:
    """A cluster number per face: faces closer than ``threshold`` (euclidean) are in one cluster, and so are
    chains of them (connected components); clusters are numbered from the largest, 0-based."""
    count = len(descriptors)
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if count > 1:
        distances = np.linalg.norm(descriptors[:, None, :] - descriptors[None, :, :], axis=2)
        for i, j in zip(*np.nonzero(np.triu(distances < threshold, 1)), strict=True):
            parent[max(root(i), root(j))] = min(root(i), root(j))
    roots = [root(i) for i in range(count)]
    sizes = Counter(roots)
    numbering = {r: n for n, (r, _) in enumerate(sorted(sizes.items(), key=lambda item: (-item[1], item[0])))}
    return [numbering[r] for r in roots]


CLUSTER_CSV_FIELDS = ("cluster", "path", "score", "x1", "y1", "x2", "y2")


@dataclass
class FaceCluster:
    """Faces taken for one person: (image path, face) each."""

    number: int
    members: list[tuple[str, Face]] = field(default_factory=list)

    def to_record(self) -> dict[str, Any]:
        return {
            "cluster": self.number,
            "size": len(self.members),
            "faces": [
                {"path": path, "box": face.to_record()["box"], "score": round(face.score, 6)}
                for path, face in self.members
            ],
        }

    def to_text(self) -> str:
        faces = ", ".join(f"{path} [{' '.join(str(round(v)) for v in face.box)}]" for path, face in self.members)
        return f"cluster {self.number} ({len(self.members)} face{'s' if len(self.members) != 1 else ''})\t{faces}"

    def csv_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "cluster": self.number,
                "path": path,
                "score": round(face.score, 6),
                **{k: round(v, 2) for k, v in zip(("x1", "y1", "x2", "y2"), face.box, strict=True)},
            }
            for path, face in self.members
        ]


def clusters_of(results: list[FacesResult], threshold: float, unknown_only: bool) -> list[FaceCluster]:
    """The faces of ``results`` (with ``unknown_only``: those no enrolled person matched) in clusters, largest
    first, numbered from 1."""
    faces = [(r.path, f) for r in results for f in r.faces if not unknown_only or f.name in (None, UNKNOWN)]
    if not faces:
        return []
    labels = cluster_faces(np.stack([face.descriptor for _, face in faces]), threshold)
    clusters = [FaceCluster(n + 1) for n in range(max(labels) + 1)]
    for label, member in zip(labels, faces, strict=True):
        clusters[label].members.append(member)
    return clusters


def cluster_sheet(clusters: list[FaceCluster], columns: int = 8) -> Image:
    """The aligned chips of every cluster, cluster by cluster, captioned with the cluster and the file name."""
    import os

    from optik.preprocess.sheet import contact_sheet

    tiles = [(face.chip, f"{c.number}: {os.path.basename(path)}") for c in clusters for path, face in c.members]
    return Image(contact_sheet(tiles, cell=150, columns=columns), name="clusters")
