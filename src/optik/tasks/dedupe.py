"""Groups of duplicate images and the copy to keep of each; no files are touched here.

Two images are linked when they are the same bytes (``exact``), when their perceptual hashes differ in at
most ``hash_distance`` of 64 bits (``near``: re-encodes, resizes, small colour changes), or when their
embeddings are at least ``similarity`` alike (``scene``: crops, edits, other shots of the same scene); how far
the links go is the settings' ``level``. Groups are the connected sets of linked images, so a chain of
near copies is one group. Every pair is compared (block by block), which suits collections up to a few
tens of thousands of images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optik.preprocess.fingerprint import hash_distance
from optik.tasks.settings import DEDUPE_LEVELS, DedupeSettings

CSV_FIELDS = ("group", "kind", "role", "path", "similarity", "hash_distance", "width", "height", "size", "action")
_BLOCK = 2048  # rows compared at once


@dataclass(frozen=True)
class Photo:
    """One image as dedupe sees it: the file's facts and what the embed task measured."""

    path: str
    size: int
    mtime_ns: int
    sha256: str
    width: int
    height: int
    phash: int
    sharpness: float

    @classmethod
    def from_result(cls, path: str, facts: dict[str, Any], result: Any) -> Photo:
        """From a file's facts (size, mtime_ns, sha256) and its embed result, named ``path``."""
        return cls(
            path,
            facts["size"],
            facts["mtime_ns"],
            facts["sha256"],
            result.width,
            result.height,
            result.phash,
            result.sharpness,
        )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Photo:
        """From a row of an index table (:mod:`optik.io.embedding_index`)."""
        return cls(
            row["path"],
            row["size"],
            row["mtime_ns"],
            row["sha256"],
            row["width"],
            row["height"],
            int(row["phash"], 16),
            row["sharpness"],
        )


@dataclass
class Duplicate:
    """A copy that is not kept, with how alike it is to the keeper."""

    photo: Photo
    kind: str  # exact, near or scene: its own link to the keeper
    similarity: float
    hash_distance: int
    action: str | None = None  # what was done with it: "moved to …", "deleted", or what would be done


@dataclass
class DuplicateGroup:
    """One group: the keeper and the others; ``kind`` is the loosest link among them."""

    number: int
    kind: str
    keeper: Photo
    duplicates: list[Duplicate] = field(default_factory=list)

    def to_record(self) -> dict[str, Any]:
        return {
            "group": self.number,
            "kind": self.kind,
            "keep": _photo_record(self.keeper),
            "duplicates": [
                {
                    **_photo_record(d.photo),
                    "kind": d.kind,
                    "similarity": round(d.similarity, 6),
                    "hash_distance": d.hash_distance,
                    **({"action": d.action} if d.action else {}),
                }
                for d in self.duplicates
            ],
        }

    def to_text(self) -> str:
        lines = [f"group {self.number} ({self.kind}): keep {self.keeper.path}"]
        for d in self.duplicates:
            action = f"  [{d.action}]" if d.action else ""
            lines.append(f"  {d.kind:5} {d.similarity:.3f} {d.hash_distance:2d}  {d.photo.path}{action}")
        return "\n".join(lines)

    def csv_rows(self) -> list[dict[str, Any]]:
        keeper = {"group": self.number, "kind": self.kind, "role": "keep", **_photo_record(self.keeper)}
        return [keeper] + [
            {
                "group": self.number,
                "kind": d.kind,
                "role": "duplicate",
                **_photo_record(d.photo),
                "similarity": round(d.similarity, 6),
                "hash_distance": d.hash_distance,
                "action": d.action or "",
            }
            for d in self.duplicates
        ]


def _photo_record(photo: Photo) -> dict[str, Any]:
    return {"path": photo.path, "width": photo.width, "height": photo.height, "size": photo.size}


def keeper_order(photo: Photo, keep: str) -> tuple:
    """Sort key: the first photo of a group in this order is kept (ties: the shorter, then the first path)."""
    if keep == "largest":
        primary: tuple = (-photo.width * photo.height, -photo.size)
    elif keep == "sharpest":
        primary = (-photo.sharpness, -photo.width * photo.height)
    else:  # oldest
        primary = (photo.mtime_ns,)
    return (*primary, len(photo.path), photo.path)


class _Components:
    """Union-find over the photos' positions."""

    def __init__(self, count: int):
        self.parent = list(range(count))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, pairs: np.ndarray) -> None:
        for i, j in pairs:
            a, b = self.find(int(i)), self.find(int(j))
            if a != b:
                self.parent[max(a, b)] = min(a, b)


def _linked_pairs(vectors: np.ndarray, hashes: np.ndarray, max_distance: int | None, min_similarity: float | None):
    """Every pair (i < j) whose hashes are within ``max_distance`` or whose vectors are ``min_similarity`` alike."""
    found = []
    for start in range(0, len(hashes), _BLOCK):
        rows = slice(start, min(start + _BLOCK, len(hashes)))
        linked = np.zeros((rows.stop - rows.start, len(hashes)), bool)
        if max_distance is not None:
            linked |= hash_distance(hashes[rows, None], hashes[None, :]) <= max_distance
        if min_similarity is not None:
            linked |= vectors[rows] @ vectors.T >= min_similarity
        i, j = np.nonzero(linked)
        i += start
        upper = j > i
        found.append(np.stack([i[upper], j[upper]], axis=1))
    return np.concatenate(found) if found else np.zeros((0, 2), np.int64)


def find_groups(
    photos: Sequence[Photo], vectors: np.ndarray, settings: DedupeSettings, same_scene: float
) -> list[DuplicateGroup]:
    """The groups of two or more photos (largest group first), each with its keeper chosen by ``settings.keep``.

    ``vectors``: the photos' unit embeddings, row by row; ``same_scene``: the model's measured similarity, used
    when ``settings.similarity`` is None."""
    level = DEDUPE_LEVELS.index(settings.level)
    similarity = settings.similarity if settings.similarity is not None else same_scene
    vectors = np.ascontiguousarray(vectors, np.float32)
    hashes = np.array([p.phash for p in photos], np.uint64)
    components = _Components(len(photos))
    by_content: dict[str, int] = {}
    for position, photo in enumerate(photos):
        first = by_content.setdefault(photo.sha256, position)
        if first != position:
            components.join(np.array([[first, position]]))
    if level >= 1 and len(photos) > 1:
        pairs = _linked_pairs(vectors, hashes, settings.hash_distance, similarity if level >= 2 else None)
        components.join(pairs)
    members: dict[int, list[int]] = {}
    for position in range(len(photos)):
        members.setdefault(components.find(position), []).append(position)
    groups = []
    for positions in members.values():
        if len(positions) < 2:
            continue
        ordered = sorted(positions, key=lambda i: keeper_order(photos[i], settings.keep))
        keeper = ordered[0]
        duplicates = []
        for i in ordered[1:]:
            distance = int(hash_distance(photos[i].phash, photos[keeper].phash))
            if photos[i].sha256 == photos[keeper].sha256:
                kind = "exact"
            elif distance <= settings.hash_distance and level >= 1:
                kind = "near"
            else:
                kind = "scene" if level >= 2 else "near"  # linked through another copy
            duplicates.append(Duplicate(photos[i], kind, float(vectors[i] @ vectors[keeper]), distance))
        loosest = max((DEDUPE_LEVELS.index(d.kind) for d in duplicates), default=0)
        groups.append(DuplicateGroup(0, DEDUPE_LEVELS[loosest], photos[keeper], duplicates))
    groups.sort(key=lambda g: (-len(g.duplicates), g.keeper.path))
    for number, group in enumerate(groups, 1):
        group.number = number
    return groups
