"""Training labels from detections: YOLO text files (one per image) or one COCO JSON document.

YOLO: ``DIR/<relative input path>.txt`` with one ``index cx cy w h`` line per detection (normalised to
the image size; an image with no detection gets an empty file, a negative example) and ``DIR/classes.txt``
with the class names in index order. COCO: ``images``, ``annotations`` (``bbox`` = x, y, w, h in pixels,
plus ``score``) and ``categories`` in one file, written when the run ends.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optik.errors import UsageError
from optik.io.inputs import InputItem, is_uri
from optik.io.outputs import OutputPlan, check_writable, write_atomic

LABEL_FORMATS = ("yolo", "coco")
CLASSES_FILE = "classes.txt"


class YoloLabels:
    """One ``.txt`` per image below ``directory`` (a URI: written by a Ray run's workers), mirroring the
    inputs' relative paths, and the class names in ``classes.txt``."""

    def __init__(self, directory: str, items: Sequence[InputItem], names: Sequence[str], overwrite: bool = False):
        self.classes_text = "".join(f"{name}\n" for name in names)
        if is_uri(directory):
            self.plan = OutputPlan.create(directory.rstrip("/") + "/", list(items), ".txt", overwrite)
            return
        self.plan = OutputPlan.create(str(Path(directory)) + os.sep, list(items), ".txt", overwrite)
        check_writable(Path(directory))
        classes = Path(directory) / CLASSES_FILE
        if classes.exists() and not overwrite and classes.read_text() != self.classes_text:
            raise UsageError(f"{classes}: exists with other classes (use --overwrite to replace it)")
        write_atomic(classes, self.classes_text.encode())

    def add(self, item: InputItem, result: Any) -> None:
        path = self.plan.path_for(item)
        self.plan.check(item, path)
        write_atomic(path, yolo_text(result).encode())

    def close(self) -> None:
        """Nothing left to write: every file went out as its image finished."""


def yolo_text(result: Any) -> str:
    """A detection result's YOLO label file: ``index cx cy w h`` per detection, normalised to the image."""
    lines = []
    for d in result.detections:
        x1, y1, x2, y2 = d.box
        cx, cy = (x1 + x2) / 2 / result.width, (y1 + y2) / 2 / result.height
        w, h = (x2 - x1) / result.width, (y2 - y1) / result.height
        lines.append(f"{d.index} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
    return "".join(lines)


class CocoLabels:
    """Collects every image's detections — from its result, or from its record (a Ray run's driver);
    :meth:`close` writes the document in input order."""

    def __init__(
        self,
        path: str,
        items: Sequence[InputItem],
        names: Sequence[str],
        category_ids: Sequence[int],
        overwrite: bool = False,
    ):
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise UsageError(f"{self.path}: exists (use --overwrite to replace it)")
        check_writable(self.path.parent)
        self.order = {item.source: index for index, item in enumerate(items)}
        self.names, self.category_ids = list(names), list(category_ids)
        self.records: dict[int, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def add(self, item: InputItem, result: Any) -> None:
        self.add_record(result.to_record(), item.source)

    def add_record(self, record: dict[str, Any], source: str | None = None) -> None:
        """A detect record (``path``, ``width``, ``height``, ``detections``), as ``--format jsonl`` writes it,
        of the input ``source`` (default: the record's path)."""
        with self.lock:
            self.records[self.order[source or record["path"]]] = record

    def document(self) -> dict[str, Any]:
        images, annotations = [], []
        for image_id, (_, record) in enumerate(sorted(self.records.items()), 1):
            images.append(
                {"id": image_id, "file_name": record["path"], "width": record["width"], "height": record["height"]}
            )
            for d in record["detections"]:
                x1, y1, x2, y2 = d["box"]
                w, h = x2 - x1, y2 - y1
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": self.category_ids[d["index"]],
                        "bbox": [round(x1, 2), round(y1, 2), round(w, 2), round(h, 2)],
                        "area": round(w * h, 2),
                        "iscrowd": 0,
                        "score": d["score"],
                    }
                )
        categories = [{"id": i, "name": name} for i, name in zip(self.category_ids, self.names, strict=True)]
        return {"images": images, "annotations": annotations, "categories": categories}

    def close(self) -> None:
        write_atomic(self.path, (json.dumps(self.document(), indent=1) + "\n").encode())


def category_ids(labels: Sequence[str]) -> list[int]:
    """COCO's own category ids (1…90, with gaps) for the COCO-80 labels; ``1…N`` for other label sets."""
    from optik.registry.labels import label_set

    coco91 = label_set("coco91")
    if all(name in coco91 for name in labels):
        return [coco91.index(name) for name in labels]
    return list(range(1, len(labels) + 1))
