"""The Python API: every task as a plain function, through the same pipeline as the command line.

Each function takes one image or many — paths, directories, globs, numpy arrays (RGB; BGR with
``channels="BGR"``), PIL images, encoded bytes or torch tensors (see :mod:`optik.io.memory`) — and
returns one result, or a list in input order; each result's ``.record`` is its record exactly as the
command line writes it (schema, provenance, timing). ``model`` is a registry name or a model from
:func:`optik.load_model`. Nothing is printed and nothing is written; results render their images
(``.render()``, ``.image``) and ``.save(path)`` writes one. A bad input raises :class:`InputError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from optik import pipeline
from optik.errors import InputError
from optik.io.memory import Channels, as_items
from optik.io.records import result_record
from optik.preprocess.decode import DEFAULT_MAX_PIXELS
from optik.tasks import create_task
from optik.tasks.base import Family
from optik.tasks.settings import (
    ClassifySettings,
    DedupeSettings,
    DetectSettings,
    EnhanceSettings,
    SegmentSettings,
    StyleSettings,
)

ModelLike = Any  # a registry name, or a LoadedModel from optik.load_model


def run(
    task: Family,
    images: Any,
    batch_size: int = 8,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    channels: Channels = "RGB",
) -> Any:
    """``task``'s result for one image, or the list of results for many (in input order)."""
    items, single = as_items(images, channels)
    results = []
    for outcome in pipeline.run(task, items, batch_size=batch_size, max_pixels=max_pixels):
        if outcome.error is not None:
            raise InputError(outcome.error)
        outcome.result.record = result_record(outcome.result, task.model.provenance(), outcome.timing_ms)
        results.append(outcome.result)
    return results[0] if single else results


def classify(
    images: Any,
    model: ModelLike = None,
    top_k: int = 5,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
    draft: bool = False,
    channels: Channels = "RGB",
) -> Any:
    """ImageNet top-k: a ``ClassifyResult`` (or a list) whose ``.top`` is the best ``Prediction``."""
    task = create_task("classify", ClassifySettings(top_k, draft), model, device, half, weights)
    return run(task, images, channels=channels)


def detect(
    images: Any,
    model: ModelLike = None,
    conf: float = 0.35,
    iou: float = 0.5,
    max_det: int = 100,
    classes: str | Sequence[str] = (),
    imgsz: int | None = None,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
    channels: Channels = "RGB",
) -> Any:
    """COCO objects (``model="mtcnn"`` / ``"haar-face"``: faces): a ``DetectResult`` (or a list) whose
    ``.detections`` carry label, index, score and box (x1, y1, x2, y2 in original pixels), best first;
    faces from mtcnn add ``.landmarks`` (5×2). ``.render()`` draws them, ``.render("blur")`` hides them."""
    settings = DetectSettings(conf, iou, max_det, classes, imgsz)
    return run(create_task("detect", settings, model, device, half, weights), images, channels=channels)


def enhance(
    images: Any,
    model: ModelLike = None,
    scale: float | None = None,
    operations: Sequence[str] = (),
    tile: int | None = None,
    tile_pad: int | None = None,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
    channels: Channels = "RGB",
) -> Any:
    """Upscale/restore with Real-ESRGAN (``model="none"``: classical only) and apply ``operations``
    (``"denoise=10"``, ``"clahe"``, ``"sharpen=0.5"`` …, as on the command line): an ``EnhanceResult`` (or a
    list) whose ``.image`` is an array of the input's kind and depth."""
    pad = EnhanceSettings.tile_pad if tile_pad is None else tile_pad
    settings = EnhanceSettings(scale, tile, pad, tuple(operations))
    return run(create_task("enhance", settings, model, device, half, weights), images, 1, channels=channels)


def style(
    images: Any,
    style: str | int | Path | Mapping[int | str, float] | np.ndarray,
    strength: float = 1.0,
    size: int | None = None,
    preserve_color: bool = False,
    tile: int | None = None,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
    channels: Channels = "RGB",
) -> Any:
    """Stylise with a learned style (name or number), a blend (``"3:0.6,17:0.4"`` or ``{3: 0.6, 17: 0.4}``),
    a style image (a path or an RGB array) or a filter (``"cartoon"``…): a ``StyleResult`` (or a list)
    whose ``.image`` is RGB uint8 (RGBA with alpha) of the input's size; ``.save(path)`` writes it."""
    settings = StyleSettings(style, strength, size, preserve_color, StyleSettings.tile if tile is None else tile)
    task = create_task("style", settings, settings.style.model, device, half, weights)
    return run(task, images, 1, channels=channels)


def segment(
    images: Any,
    model: ModelLike = None,
    threshold: float = 0.5,
    k: int | None = None,
    box: tuple[int, int, int, int] | str | None = None,
    polygons: bool = False,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
    channels: Channels = "RGB",
) -> Any:
    """Foreground: a ``SegmentResult`` (or a list) whose ``.mask`` is the uint8 alpha at full size;
    ``.cutout()`` is RGBA, ``.render("overlay" | "bg", background)`` an ``Image``. ``model``: isnet when
    pulled, else selfie; ``k`` is for kmeans, ``box`` for grabcut: (x1, y1, x2, y2), or ``"auto"``,
    nanodet's best detection (``.findings["seed"]`` says which; the centred default if none)."""
    settings = SegmentSettings(threshold, polygons, k, box)
    return run(create_task("segment", settings, model, device, half, weights), images, channels=channels)


def ocr(
    images: Any,
    model: ModelLike = None,
    min_score: float = 0.5,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
    channels: Channels = "RGB",
) -> Any:
    """Read text: an ``OcrResult`` (or a list) whose ``.lines`` carry text, score, ``polygon`` (4 corners,
    clockwise from the top left) and ``box`` (x1, y1, x2, y2) in original pixels, in reading order;
    ``.text`` is the plain text, one line per line. ``.render()`` shows what was read beside the image,
    ``.render("blur")`` hides every line."""
    from optik.tasks.settings import OcrSettings

    return run(create_task("ocr", OcrSettings(min_score), model, device, half, weights), images, channels=channels)


def embed(
    images: Any,
    model: ModelLike = None,
    draft: bool = False,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
    channels: Channels = "RGB",
) -> Any:
    """Unit-length image embeddings: an ``EmbedResult`` (or a list) with ``.vector`` (1280 float32),
    ``.phash`` (64-bit perceptual hash) and ``.sharpness``. ``optik embed -o DIR`` keeps them in an index."""
    from optik.tasks.settings import EmbedSettings

    return run(create_task("embed", EmbedSettings(draft), model, device, half, weights), images, channels=channels)


def similar(
    queries: Any,
    index: Any,
    k: int = 10,
    min_score: float | None = None,
    model: ModelLike = None,
    device: str = "auto",
    half: bool = False,
    channels: Channels = "RGB",
) -> Any:
    """The images most like each query: a ``SimilarResult`` (or a list) whose ``.hits`` carry ``path`` and
    ``score`` (cosine), best first; ``.render()`` is the contact sheet. ``index``: an index directory
    (``optik embed … -o DIR``; its model is used), or the images to search among (paths, folders, globs;
    embedded here with ``model`` and kept in memory)."""
    import os

    from optik.io.embedding_index import Index
    from optik.tasks.settings import EmbedSettings, SimilarSettings
    from optik.tasks.similar import SimilarTask

    settings = SimilarSettings(k, min_score)
    if isinstance(index, str | Path) and Index.exists(index):
        index = Index.load(index)
    if isinstance(index, Index):
        embedder = create_task("embed", EmbedSettings(), index.model, device, half)
    else:
        embedder = create_task("embed", EmbedSettings(), model, device, half)
        among = run(embedder, list(index) if isinstance(index, list | tuple) else [index])
        rows = [{"path": os.path.abspath(result.path)} for result in among]
        vectors = np.stack([result.vector for result in among])
        index = Index(Path("<memory>"), embedder.name, embedder.model.weights_sha256, rows, vectors)
    return run(SimilarTask(embedder, index, settings), queries, channels=channels)


def dedupe(
    images: Any = None,
    index: str | Path | None = None,
    level: str = DedupeSettings.level,
    hash_distance: int = DedupeSettings.hash_distance,
    similarity: float | None = None,
    keep: str = DedupeSettings.keep,
    model: ModelLike = None,
    device: str = "auto",
    half: bool = False,
) -> list:
    """Groups of duplicates among image files (paths, folders, globs) or the files of an ``index`` directory:
    ``DuplicateGroup``\\ s with ``.keeper`` and ``.duplicates`` (each with its ``kind``, ``similarity`` and
    ``hash_distance`` to the keeper), largest group first. Nothing is moved or deleted (``optik dedupe
    --move-to`` does that)."""
    from optik.io.embedding_index import Index, file_facts
    from optik.registry import get_spec
    from optik.tasks.dedupe import Photo, find_groups
    from optik.tasks.settings import EmbedSettings

    settings = DedupeSettings(level, hash_distance, similarity, keep)
    if (images is None) == (index is None):
        raise InputError("give images or an index (one of them)")
    if index is not None:
        loaded = Index.load(index)
        present = [i for i, row in enumerate(loaded.rows) if Path(row["path"]).is_file()]
        photos = [Photo.from_row(loaded.rows[i]) for i in present]
        vectors, model_name = loaded.vectors[present], loaded.model
    else:
        task = create_task("embed", EmbedSettings(), model, device, half)
        items, _ = as_items(images if isinstance(images, list | tuple) else [images])
        if any(not Path(item.source).is_file() for item in items):
            raise InputError("dedupe compares files: give paths, folders or globs")
        photos, vectors = [], []
        for outcome in pipeline.run(task, items):
            if outcome.error is not None:
                raise InputError(outcome.error)
            photos.append(Photo.from_result(outcome.item.source, file_facts(outcome.item.source), outcome.result))
            vectors.append(outcome.result.vector)
        vectors, model_name = np.stack(vectors) if vectors else np.zeros((0, 1), np.float32), task.name
    return find_groups(photos, vectors, settings, get_spec(model_name).config.same_scene)


def faces(
    images: Any,
    db: Any = None,
    conf: float = 0.95,
    threshold: float | None = None,
    imgsz: int | None = None,
    device: str = "auto",
    half: bool = False,
    channels: Channels = "RGB",
) -> Any:
    """Every face with its 128-d descriptor: a ``FacesResult`` (or a list) whose ``.faces`` carry ``box``,
    ``score``, ``landmarks``, ``descriptor``; with ``db`` (a face database directory from ``optik faces
    enroll``, or a gallery from :func:`enroll`) also ``name`` (or ``"unknown"``) and ``distance``.
    ``.render()`` draws them, ``.render("blur")`` hides the unknown ones."""
    from optik.tasks.settings import FacesSettings

    gallery = _gallery(db)
    settings = FacesSettings(conf, threshold, imgsz, gallery)
    task = create_task("faces", settings, gallery.model if gallery else None, device, half)
    return run(task, images, channels=channels)


def enroll(people: Mapping[str, Any], conf: float = 0.95, device: str = "auto", half: bool = False) -> Any:
    """A face gallery held in memory, for :func:`faces`'s ``db``: ``{"alice": ["a1.jpg", "a2.jpg"], …}`` (each
    photo's only face, or its clearly largest one)."""
    from optik.tasks.faces import FaceGallery, enrolment_face
    from optik.tasks.settings import FacesSettings

    task = create_task("faces", FacesSettings(conf), None, device, half)
    names, descriptors = [], []
    for name, photos in people.items():
        for result in run(task, list(photos) if isinstance(photos, list | tuple) else [photos]):
            names.append(name)
            descriptors.append(enrolment_face(result).descriptor)
    return FaceGallery(task.name, tuple(names), np.stack(descriptors) if descriptors else np.zeros((0, 128)))


def cluster_faces(
    images: Any,
    threshold: float = 0.5,
    db: Any = None,
    conf: float = 0.95,
    device: str = "auto",
    half: bool = False,
) -> list:
    """The faces in ``images`` grouped by person without names (``FaceCluster``\\ s, largest first, each with
    its ``members``: (path, face)); with ``db``, only the faces no enrolled person matches."""
    from optik.tasks.faces import clusters_of

    found = faces(list(images) if isinstance(images, list | tuple) else [images], db, conf, device=device, half=half)
    return clusters_of(found, threshold, unknown_only=db is not None)


def _gallery(db: Any) -> Any:
    """A ``FaceGallery`` from a face database directory (or the gallery itself, or None)."""
    if db is None or not isinstance(db, str | Path):
        return db
    from optik.io.embedding_index import Index
    from optik.tasks.faces import FaceGallery

    database = Index.load(db)
    return FaceGallery.from_table(database.model, database.rows, database.vectors)


def _finished(task: Any, items: list, single: bool) -> Any:
    """Run ``task`` over prepared pipeline ``items``: the one result, or the list (an error raises)."""
    results = []
    for outcome in pipeline.run(task, items):
        if outcome.error is not None:
            raise InputError(outcome.error)
        results.append(outcome.result)
    return results[0] if single else results


def compare(
    new: Any,
    golden: Any,
    tolerance: float = 0.1,
    include_aa: bool = False,
    max_diff_pixels: int | str | None = None,
    min_ssim: float | None = None,
    min_ms_ssim: float | None = None,
    min_psnr: float | None = None,
    max_perceptual: float | None = None,
    ms_ssim: bool = False,
    perceptual: bool = False,
    resize: bool = False,
    recursive: bool = False,
    device: str = "auto",
    half: bool = False,
    channels: Channels = "RGB",
) -> Any:
    """Compare ``new`` with ``golden``: two paths (files: one ``CompareResult``; directories: a list for the
    mirrored trees, added and removed images included), or images of any kind the other functions take (one,
    or lists of equal length compared pairwise). Each result has ``.measures`` (``psnr``, ``ssim``,
    ``diff_pixels``, ``diff_share``, ``max_diff``, ``mean_diff``; ``ms_ssim`` and ``perceptual`` when asked),
    ``.passed`` and ``.failures`` for the gates (none given: any differing pixel fails), ``.render()`` (the
    heat map) and ``.sheet()``. Sizes that differ raise :class:`InputError` unless ``resize``."""
    from optik.io.pairs import PairItem, find_pairs
    from optik.tasks.compare import Comparer
    from optik.tasks.settings import CompareSettings

    gates = {"max_diff_pixels": max_diff_pixels, "min_ssim": min_ssim, "min_ms_ssim": min_ms_ssim}
    gates |= {"min_psnr": min_psnr, "max_perceptual": max_perceptual}
    settings = CompareSettings(tolerance, include_aa, **gates, ms_ssim=ms_ssim, perceptual=perceptual, resize=resize)
    if isinstance(new, str | Path) and isinstance(golden, str | Path):
        pairs = find_pairs([str(new)], str(golden), recursive)
        single = not Path(new).is_dir()
    else:
        new_items, single = as_items(new, channels)
        golden_items, _ = as_items(golden, channels)
        if len(new_items) != len(golden_items):
            raise InputError(f"{len(new_items)} new images but {len(golden_items)} golden ones")
        pairs = [
            PairItem(n.source, g.source if g.source != n.source else f"<golden {g.source[1:]}", n.relative, n, g)
            for n, g in zip(new_items, golden_items, strict=True)
        ]  # arrays on both sides are named alike: "<array 0>" and "<golden array 0>"
    backbone = None
    if settings.perceptual:
        from optik.tasks.backbone import Backbone

        backbone = Backbone.load(device, half)
    return _finished(Comparer(settings, backbone), pairs, single)


def check(
    images: Any,
    profile: str | Path | Mapping[str, Any] | None = None,
    device: str = "auto",
    half: bool = False,
    channels: Channels = "RGB",
    **gates: Any,
) -> Any:
    """Measure images against quality gates: a ``CheckResult`` (or a list) with ``.quality`` (sharpness,
    clipped highlights and shadows, luminance, noise, colour cast, perceptual hash), the file's ``.facts``
    (format, file size, orientation, ICC, colour space; None for arrays), the nearest earlier image in the batch
    (``hash_distance``, ``similarity``), and ``.passed`` / ``.failures`` for the gates: a TOML ``profile``
    (path) or mapping, and keyword gates on top (``min_size="800x600"``, ``min_sharpness=150``,
    ``max_similarity=0.95`` …; see ``CheckSettings``)."""
    from optik.io.inspection import inspect_items
    from optik.io.profile import read_profile
    from optik.tasks.check import Checker
    from optik.tasks.settings import CheckSettings

    rules = read_profile(profile) if isinstance(profile, str | Path) else dict(profile or {})
    settings = CheckSettings.from_profile(rules, **gates)
    items, single = as_items(images, channels)
    backbone = None
    if settings.embeddings:
        from optik.tasks.backbone import Backbone

        backbone = Backbone.load(device, half)
    return _finished(Checker(settings, backbone), inspect_items(items), single)


def train(
    data: str | Path | Mapping[str, Any],
    backbone: str = "mobilenet_v2",
    val: float | str | Path | Mapping[str, Any] = 0.2,
    views: int = 4,
    flip: bool = True,
    unfreeze: int = 0,
    epochs: int = 100,
    patience: int = 10,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
    name: str | None = None,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
    on_epoch: Callable[[Any], None] | None = None,
) -> Any:
    """Train a classifier of your own classes on an embedded backbone: ``data`` is a folder of class folders, a
    CSV / JSON Lines list of ``path,label`` (see ``optik train --help``) or a mapping ``{label: images}``;
    ``val`` the share of each class to validate on, or the validation images (a folder, list or mapping).
    Returns a ``TrainedClassifier`` (``.validation``: accuracy, F1 per class, confusion matrix; ``.history``:
    the epochs, each also passed to ``on_epoch``); ``.save(DIR)`` writes the model, which
    ``optik.classify(images, model=DIR)`` then runs."""
    from optik.io.training_data import TrainingData, read_training_data
    from optik.tasks.settings import TrainSettings
    from optik.tasks.train import learn

    share = float(val) if isinstance(val, int | float) else TrainSettings.val
    validation = None if isinstance(val, int | float) else val
    settings = TrainSettings(
        backbone, share, views, flip, unfreeze, epochs, patience, learning_rate, weight_decay, seed
    )
    if isinstance(data, Mapping):
        known = _labelled(data)
        if isinstance(validation, Mapping):
            validation = _labelled(validation)
        elif validation is not None:
            validation = read_training_data(validation).train
        images = TrainingData(known, validation, tuple(sorted(set(known.labels))))
    else:
        images = read_training_data(data, validation)
    source = "<memory>" if isinstance(data, Mapping) else str(data)
    model = _backbone(backbone, device, half, weights)
    return learn(model, images, settings, name or Path(source).name, source, _runner, None, on_epoch)


def fit_anomaly(
    normal: Any,
    backbone: str = "mobilenet_v2",
    size: int = 224,
    holdout: float = 0.2,
    fpr: float = 0.01,
    coreset: float = 0.1,
    seed: int = 0,
    name: str = "anomaly",
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
    channels: Channels = "RGB",
) -> Any:
    """Learn what the ``normal`` images look like (paths, folders, globs, arrays …): an ``AnomalyModel`` with the
    threshold calibrated on a held-out share of them (``.config.threshold``); ``.save(DIR)`` writes it, which
    :func:`anomaly` then runs."""
    from optik.tasks.anomaly import fit_anomaly as fit
    from optik.tasks.settings import AnomalyFitSettings

    settings = AnomalyFitSettings(backbone, size, holdout, fpr, coreset, seed)
    items, _ = as_items(normal, channels)
    source = str(normal) if isinstance(normal, str | Path) else "<memory>"
    return fit(_backbone(backbone, device, half, weights), items, settings, name, source, _runner)


def anomaly(
    images: Any,
    model: str | Path,
    max_score: float | None = None,
    device: str = "auto",
    half: bool = False,
    channels: Channels = "RGB",
) -> Any:
    """Score images against a fitted anomaly model (a directory from ``optik anomaly fit`` or
    ``fit_anomaly(…).save``): an ``AnomalyResult`` (or a list) with ``.score``, ``.threshold`` (``max_score`` or the
    calibrated one), ``.anomalous``, ``.box`` (around the region above the threshold), ``.pixel_map()`` (the
    anomaly per pixel) and ``.render()`` (the map over the image)."""
    from optik.tasks.settings import AnomalySettings

    task = create_task("anomaly", AnomalySettings(max_score), str(model), device, half)
    return run(task, images, channels=channels)


def _labelled(images: Mapping[str, Any]) -> Any:
    """``{label: images}`` as labelled pipeline inputs."""
    from optik.io.training_data import Labelled

    found = Labelled()
    for label, given in images.items():
        items, _ = as_items(given)
        found.items += items
        found.labels += [str(label)] * len(items)
    return found


def _backbone(name: str, device: str, half: bool, weights: str | Path | None) -> Any:
    """An embedded backbone loaded eagerly (training and fitting call its stages one by one)."""
    from optik.registry.backends import EAGER
    from optik.registry.loading import load
    from optik.registry.trained import backbone_spec

    return load(backbone_spec(name), device, half, Path(weights) if weights else None, EAGER)


def _runner(task: Family, items: list) -> Any:
    return pipeline.run(task, items)
