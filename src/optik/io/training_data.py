"""Labelled images for ``optik train``, found as image folders or lists.

- A folder with one sub-folder per class, named after it (the ImageFolder convention; images may sit deeper).
  With ``train/`` and ``val/`` sub-folders, each of those is such a folder; a ``val/`` beside the class folders is
  the validation set; a ``test/`` folder is never read (keep held-out images there).
- A CSV file of ``path,label`` rows (a ``path,label`` header is optional) or a JSON Lines file of
  ``{"path": …, "label": …}`` objects; relative paths are relative to the list's folder.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from optik.errors import SettingError
from optik.io.inputs import InputItem, discover, is_image_name

VALIDATION, TRAINING, HELD_OUT = "val", "train", "test"
LIST_SUFFIXES = (".csv", ".jsonl", ".ndjson")


@dataclass
class Labelled:
    """Images and the class of each, in the order found."""

    items: list[InputItem] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    def counts(self) -> Counter:
        return Counter(self.labels)


@dataclass
class TrainingData:
    """The training images, the validation images when given apart (else None: split from the training ones),
    and the classes (sorted)."""

    train: Labelled
    val: Labelled | None
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.classes) < 2:
            raise SettingError("data", f"{len(self.classes)} class found; a classifier needs at least 2")
        unknown = sorted(set(self.val.labels) - set(self.classes)) if self.val is not None else []
        if unknown:
            raise SettingError("val", f"classes {', '.join(unknown)} are not among the training classes")


def read_training_data(data: str | Path, val: str | Path | None = None) -> TrainingData:
    """The labelled images in ``data`` (a folder or a list), with the validation set ``val`` (a folder or a list)
    or the one ``data`` holds (``val/``), if any."""
    path = Path(data)
    inner_val = path / VALIDATION if path.is_dir() and (path / VALIDATION).is_dir() else None
    if val is not None and inner_val is not None:
        raise SettingError("val", f"{data} has its own {VALIDATION}/ folder; give one validation set")
    train = _read(path / TRAINING if (path / TRAINING).is_dir() else path, "data", skip=(VALIDATION, HELD_OUT))
    val_source = Path(val) if val is not None else inner_val
    validation = _read(val_source, "val") if val_source is not None else None
    return TrainingData(train, validation, tuple(sorted(train.counts())))


def _read(path: Path, what: str, skip: tuple[str, ...] = ()) -> Labelled:
    if path.is_dir():
        return _read_folder(path, what, skip)
    if path.suffix.lower() in LIST_SUFFIXES and path.is_file():
        return _read_list(path, what)
    raise SettingError(what, f"{path}: give a folder of class folders, or a .csv or .jsonl list of path,label")


def _read_folder(root: Path, what: str, skip: tuple[str, ...]) -> Labelled:
    found = Labelled()
    loose = [entry.name for entry in root.iterdir() if entry.is_file() and is_image_name(entry.name)]
    if loose:
        raise SettingError(what, f"{root}: images directly in it ({loose[0]} …); put them in one folder per class")
    for folder in sorted(entry for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith(".")):
        if folder.name in skip:
            continue
        items = _images_below(folder)
        found.items += items
        found.labels += [folder.name] * len(items)
    if not found.items:
        raise SettingError(what, f"{root}: no images in class folders")
    return found


def _images_below(folder: Path) -> list[InputItem]:
    """The images anywhere below ``folder`` (an empty folder is no class)."""
    if not any(is_image_name(name) for _, _, names in os.walk(folder) for name in names):
        return []
    return list(discover([str(folder)], recursive=True))


def _read_list(path: Path, what: str) -> Labelled:
    found = Labelled()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingError(what, f"{path}: cannot read it ({exc})") from None
    rows = _json_rows(text, path, what) if path.suffix.lower() != ".csv" else _csv_rows(text, path, what)
    for line, (name, label) in rows:
        if not name or not label:
            raise SettingError(what, f"{path}:{line}: needs a path and a label")
        image = Path(name) if Path(name).is_absolute() else path.parent / name
        found.items.append(InputItem(str(image), Path(label) / image.name))
        found.labels.append(label)
    if not found.items:
        raise SettingError(what, f"{path}: lists no images")
    return found


def _csv_rows(text: str, path: Path, what: str) -> list[tuple[int, tuple[str, str]]]:
    rows = []
    for line, row in enumerate(csv.reader(text.splitlines()), 1):
        if not row or (line == 1 and [cell.strip().lower() for cell in row] == ["path", "label"]):
            continue
        if len(row) != 2:
            raise SettingError(what, f"{path}:{line}: expected path,label, got {len(row)} fields")
        rows.append((line, (row[0].strip(), row[1].strip())))
    return rows


def _json_rows(text: str, path: Path, what: str) -> list[tuple[int, tuple[str, str]]]:
    rows = []
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
            rows.append((line, (str(entry["path"]).strip(), str(entry["label"]).strip())))
        except (ValueError, KeyError, TypeError):
            raise SettingError(what, f'{path}:{line}: expected {{"path": …, "label": …}}') from None
    return rows
