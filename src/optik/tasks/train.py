"""Transfer learning: a classifier for the user's own classes on an embedded ImageNet backbone.

The frozen part of the backbone runs once per image, through the pipeline (:class:`FeatureViews`): the image as
the classifier sees it and, for training images, a few augmented views (its mirror image, random crops with
colour jitter; :mod:`optik.preprocess.augment`). Their features — the pooled 1280-d vectors, or with
``unfreeze`` the feature maps entering the last stages — are kept in memory, and every epoch trains only what is
new on them: the network's own final linear layer with one output per class and, with ``unfreeze``, its last
stages (their batch-norm statistics stay the backbone's).

Training is class-weighted (inverse frequency), AdamW on standardised features with dropout, one pass over every
view of every training image per epoch; the epoch with the lowest validation loss is kept, training stops after
``patience`` epochs without a better one, and Ctrl-C keeps the best epoch so far. The standardisation is folded
into the linear layer at the end, so the result is exactly the backbone's architecture with K outputs, which the
``Classifier`` family runs like the embedded models.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from optik.errors import SettingError
from optik.io.records import text_line
from optik.io.training_data import Labelled, TrainingData
from optik.preprocess.augment import image_seed, views
from optik.preprocess.decode import Image
from optik.preprocess.transforms import to_batch
from optik.registry.loading import LoadedModel
from optik.registry.spec import resolve
from optik.tasks.base import Family, Prepared, check_sane
from optik.tasks.settings import TrainSettings

DROPOUT = 0.2  # before the linear layer, as in the backbones' own classifiers
BATCH = 64  # training views per optimisation step
BACKBONE_RATE = 0.1  # unfrozen stages learn at this share of the head's learning rate
MIN_IMPROVEMENT = 1e-3  # a validation loss lower by less than this is no better (early stopping)


@dataclass
class ImageFeatures:
    """One image's features: V views × D (pooled), or V × C × H × W (the maps entering the unfrozen stages)."""

    path: str
    features: np.ndarray = field(repr=False)


class FeatureViews(Family):
    """The frozen part of a backbone over ``views`` views of each image (1: the image as the classifier sees it)."""

    def __init__(self, model: LoadedModel, settings: TrainSettings, views: int = 1):
        super().__init__(model, settings)
        self.spec = model.spec.input_spec()
        stages = model.module.stages()
        if settings.unfreeze >= len(stages):
            raise SettingError(
                "unfreeze",
                f"{settings.unfreeze}: {model.spec.name} has {len(stages)} stages; at most {len(stages) - 1}",
            )
        self.frozen = stages[: len(stages) - settings.unfreeze]
        self.views = views

    def prepare(self, image: Image) -> Prepared:
        seed = image_seed(image.name, self.settings.seed)
        stacked = np.stack(views(image.rgb8(), self.spec, self.views, self.settings.flip, seed))
        return Prepared(image, stacked, key=stacked.shape)

    def forward(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        batch = to_batch([view for stack in arrays for view in stack], self.spec, self.model.device, self.model.dtype)
        x = self.model.tensor(batch)
        with torch.inference_mode():
            for stage in self.frozen:
                x = stage(x)
        features = x.float().mean((2, 3)) if self.settings.unfreeze == 0 else x.half()
        return list(features.cpu().numpy().reshape(len(arrays), self.views, *features.shape[1:]))

    def finish(self, prepared: Prepared, features: np.ndarray) -> ImageFeatures:
        image = prepared.image
        check_sane(features, "features", image.name)
        return ImageFeatures(image.name, features)


def collect(outcomes: Iterable[Any], on_image: Callable[[str], None] | None = None) -> tuple[list, list[str]]:
    """The features of each pipeline outcome in input order (None where the image failed) and the failures."""
    features, failures = [], []
    for outcome in outcomes:
        if on_image is not None:
            on_image(outcome.item.source)
        if outcome.error is not None:
            failures.append(outcome.error)
        features.append(None if outcome.error is not None else outcome.result.features)
    return features, failures


def stratified_split(labels: Sequence[str], share: float, seed: int) -> tuple[list[int], list[int]]:
    """(training, validation) indices: ``share`` of each class (at least one image) held out, chosen with ``seed``."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in sorted(set(labels)):
        members = [i for i, other in enumerate(labels) if other == label]
        if len(members) < 2:
            raise SettingError("data", f"class {label!r} has 1 image; each class needs 2 or more (one to validate on)")
        members = list(rng.permutation(members))
        held = min(len(members) - 1, max(1, round(len(members) * share)))
        val += members[:held]
        train += members[held:]
    return sorted(int(i) for i in train), sorted(int(i) for i in val)


@dataclass
class Epoch:
    """One epoch's figures, as the progress line shows them."""

    epoch: int
    epochs: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    best_epoch: int
    eta: float  # seconds left at most (all epochs run)

    def line(self) -> str:
        return (
            f"epoch {self.epoch}/{self.epochs}: loss {self.loss:.4f}, accuracy {self.accuracy:.3f}, "
            f"val loss {self.val_loss:.4f}, val accuracy {self.val_accuracy:.3f} (best epoch {self.best_epoch}), "
            f"ETA ≤ {self.eta:.{0 if self.eta >= 10 else 1}f} s"
        )


class _Trainable(nn.Module):
    """What an epoch trains: the unfrozen stages (batch norm frozen), pooling, standardisation, dropout, ``fc``."""

    def __init__(self, stages: list[nn.Module], fc: nn.Linear, mean: Tensor, std: Tensor):
        super().__init__()
        self.stages = nn.Sequential(*stages)
        self.fc = fc
        self.dropout = nn.Dropout(DROPOUT)
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def pooled(self, x: Tensor) -> Tensor:
        return self.stages(x.float()).mean((2, 3)) if len(self.stages) else x.float()

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.dropout((self.pooled(x) - self.mean) / self.std))

    def train(self, mode: bool = True) -> _Trainable:
        super().train(mode)
        self.stages.eval()  # the backbone's batch-norm statistics stay as they are
        return self

    def fold(self) -> None:
        """Fold the standardisation into ``fc``, which then takes the raw pooled features as the network gives them."""
        with torch.no_grad():
            weight = self.fc.weight / self.std
            self.fc.bias -= weight @ self.mean
            self.fc.weight.copy_(weight)


def metrics(true: Sequence[int], predicted: Sequence[int], classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro F1, precision / recall / F1 / support per class and the confusion matrix (rows: the true
    class, columns: the predicted one)."""
    confusion = np.zeros((len(classes), len(classes)), np.int64)
    np.add.at(confusion, (np.asarray(true), np.asarray(predicted)), 1)
    per_class = []
    for index, name in enumerate(classes):
        hits, predicted_here, support = confusion[index, index], confusion[:, index].sum(), confusion[index].sum()
        precision = hits / predicted_here if predicted_here else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(
            {
                "label": name,
                "precision": round(float(precision), 4),
                "recall": round(float(recall), 4),
                "f1": round(float(f1), 4),
                "support": int(support),
            }
        )
    supported = [row["f1"] for row in per_class if row["support"]]
    return {
        "accuracy": round(float(np.trace(confusion) / max(1, confusion.sum())), 4),
        "macro_f1": round(float(np.mean(supported)) if supported else 0.0, 4),
        "per_class": per_class,
        "confusion": confusion.tolist(),
    }


@dataclass
class TrainedClassifier:
    """A trained classifier: its weights, classes, how it was trained and how it did on the validation images.
    :meth:`save` writes it as a model directory, which ``optik classify --model DIR`` runs."""

    name: str
    data: str
    backbone: str
    classes: tuple[str, ...]
    state: dict[str, Tensor] = field(repr=False)
    input_spec: Any
    counts: dict[str, dict[str, int]]
    validation: dict[str, Any]
    history: list[Epoch]
    best_epoch: int
    stopped: str  # "early stopping", "epochs", "interrupted"
    settings: TrainSettings
    device: str
    dtype: str
    failures: list[str] = field(default_factory=list)
    output: str | None = None
    weights_sha256: str | None = None

    @property
    def interrupted(self) -> bool:
        return self.stopped == "interrupted"

    def to_record(self) -> dict[str, Any]:
        counts = {
            "train": sum(c["train"] for c in self.counts.values()),
            "val": sum(c["val"] for c in self.counts.values()),
            "failed": len(self.failures),
        }
        per_class = [{**row, **self.counts[row["label"]]} for row in self.validation["per_class"]]
        record: dict[str, Any] = {
            "path": self.data,
            "model": self.name,
            "task": "classify",
            "backbone": self.backbone,
            "device": self.device,
            "dtype": self.dtype,
            "images": counts,
            "accuracy": self.validation["accuracy"],
            "macro_f1": self.validation["macro_f1"],
            "per_class": per_class,
            "confusion": self.validation["confusion"],
            "epochs": len(self.history),
            "best_epoch": self.best_epoch,
            "stopped": self.stopped,
            "settings": asdict(self.settings),
        }
        if self.output is not None:
            record |= {"output": self.output, "weights_sha256": self.weights_sha256}
        return record

    def to_text(self) -> str:
        summary = (
            f"{len(self.classes)} classes, validation accuracy {self.validation['accuracy']:.3f}, macro F1 "
            f"{self.validation['macro_f1']:.3f} (best epoch {self.best_epoch} of {len(self.history)}, {self.stopped})"
        )
        return text_line(self.data, self.output, summary)

    def render(self) -> Image:
        """The validation confusion matrix as a picture."""
        from optik.preprocess.confusion import confusion_picture

        return Image(confusion_picture(np.array(self.validation["confusion"]), self.classes), name="confusion")

    def card(self) -> str:
        """The model card (Markdown)."""
        record = self.to_record()
        trained = "a new linear head" + (
            f" and the last {self.settings.unfreeze} stages" if self.settings.unfreeze else ""
        )
        rows = "".join(
            f"| {row['label']} | {row['train']} | {row['val']} | {row['precision']:.3f} | {row['recall']:.3f} "
            f"| {row['f1']:.3f} |\n"
            for row in record["per_class"]
        )
        images = record["images"]
        return (
            f"# {self.name}\n\nA classifier of {len(self.classes)} classes trained with `optik train` on "
            f"`{self.data}`; run it with `optik classify --model DIR`.\n\n"
            f"- backbone: {self.backbone} (its ImageNet weights; {trained} trained)\n"
            f"- input: {self.input_spec.describe()}\n"
            f"- classes: {', '.join(self.classes)}\n"
            f"- images: {images['train']} training, {images['val']} validation, {images['failed']} unreadable\n"
            f"- settings: {', '.join(f'{key} {value}' for key, value in record['settings'].items())}\n"
            f"- training: {len(self.history)} epochs on {self.device} ({self.dtype} features), "
            f"the best ({self.best_epoch}) kept: {self.stopped}\n"
            f"- weights: `model.safetensors`, sha256 `{self.weights_sha256}`\n\n"
            f"## Validation\n\nAccuracy {record['accuracy']:.3f}, macro F1 {record['macro_f1']:.3f}; the confusion "
            f"matrix is `confusion.png` (and in `card.json`).\n\n"
            f"| class | train | val | precision | recall | F1 |\n| --- | ---: | ---: | ---: | ---: | ---: |\n{rows}"
        )

    def save(self, directory: str | Path, overwrite: bool = False) -> Path:
        """Write the model directory: the weights, ``card.md``, ``card.json`` (the record and every epoch),
        ``confusion.png`` and the manifest."""
        from optik.io.model_dir import write_model_dir
        from optik.registry.trained import manifest

        def contents(sha256: str) -> tuple[dict[str, Any], dict[str, Any]]:
            self.output, self.weights_sha256 = os.path.normpath(directory), sha256
            summary = f"{len(self.classes)}-class classifier on {self.backbone}: {', '.join(self.classes)}"
            files = {
                "card.md": self.card(),
                "card.json": {**self.to_record(), "history": [asdict(epoch) for epoch in self.history]},
                "confusion.png": self.render(),
            }
            return manifest(self.name, "classify", self.backbone, sha256, self.input_spec, summary, self.classes), files

        return write_model_dir(Path(directory), self.state, contents, overwrite)


@dataclass
class Training:
    """What :func:`train_classifier` made: the network's state (float16 where training left it alone, float32
    where it trained), the validation metrics of the best epoch, every epoch, the best one, why it stopped."""

    state: dict[str, Tensor] = field(repr=False)
    validation: dict[str, Any]
    history: list[Epoch]
    best_epoch: int
    stopped: str  # "early stopping", "epochs", "interrupted"


def train_classifier(
    model: LoadedModel,
    classes: tuple[str, ...],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    settings: TrainSettings,
    on_epoch: Callable[[Epoch], None] | None = None,
) -> Training:
    """Train on cached features: ``train`` = (N × V × features, N labels), ``val`` = (M × 1 × features, M labels)."""
    device = model.device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(settings.seed)
        network, trainable = _network(model, len(classes), settings.unfreeze)
        x_train = torch.from_numpy(train[0].reshape(-1, *train[0].shape[2:])).to(device)
        y_train = torch.from_numpy(np.repeat(train[1], train[0].shape[1])).to(device)
        x_val, y_val = torch.from_numpy(val[0][:, 0]).to(device), torch.from_numpy(val[1]).to(device)
        head = _Trainable(trainable, network.fc, *_standardisation(trainable, x_train)).to(device)
        counts = torch.bincount(y_train, minlength=len(classes)).float()
        weights = torch.where(counts > 0, counts.sum() / (len(classes) * counts.clamp(min=1)), 0)
        optimiser = torch.optim.AdamW(
            [
                {"params": head.fc.parameters(), "lr": settings.learning_rate},
                {"params": head.stages.parameters(), "lr": settings.learning_rate * BACKBONE_RATE},
            ],
            weight_decay=settings.weight_decay,
        )
        history: list[Epoch] = []
        best: tuple[float, int, dict[str, Tensor]] | None = None
        stopped = "epochs"
        order = torch.Generator(device="cpu").manual_seed(settings.seed)
        try:
            for epoch in range(1, settings.epochs + 1):
                started = time.perf_counter()
                loss, accuracy = _epoch(head, optimiser, x_train, y_train, weights, order)
                val_loss, val_accuracy, _ = _evaluate(head, x_val, y_val, weights)
                if best is None or val_loss < best[0] - MIN_IMPROVEMENT:
                    best = (val_loss, epoch, copy.deepcopy(head.state_dict()))
                seconds = time.perf_counter() - started
                spent = seconds + sum(e.seconds for e in history)
                eta = spent / epoch * (settings.epochs - epoch)
                history.append(
                    Epoch(epoch, settings.epochs, loss, accuracy, val_loss, val_accuracy, seconds, best[1], eta)
                )
                if on_epoch is not None:
                    on_epoch(history[-1])
                if epoch - best[1] >= settings.patience:
                    stopped = "early stopping"
                    break
        except KeyboardInterrupt:
            if best is None:
                raise
            stopped = "interrupted"
        head.load_state_dict(best[2])
        _, _, predicted = _evaluate(head, x_val, y_val, weights)
        head.fold()
    validation = metrics(val[1].tolist(), predicted.tolist(), classes)
    trained = {name for name, parameter in network.named_parameters() if parameter.requires_grad}
    state = {}
    for name, value in network.state_dict().items():
        value = value.detach().cpu().contiguous()
        if value.is_floating_point():  # what training left alone is stored as the embedded weights are: float16
            value = value.float() if name in trained else value.half()
        state[name] = value
    return Training(state, validation, history, best[1], stopped)


def _network(model: LoadedModel, classes: int, unfreeze: int) -> tuple[nn.Module, list[nn.Module]]:
    """The backbone's architecture with ``classes`` outputs, its weights (all but the new ``fc``) on the model's
    device in float32, and its last ``unfreeze`` stages, which alone (with ``fc``) require gradients."""
    network = resolve(model.spec.architecture)(num_classes=classes)
    fc_names = {name for name, p in network.named_parameters() if p is network.fc.weight or p is network.fc.bias}
    state = {name: value.float() for name, value in model.module.state_dict().items() if name not in fc_names}
    missing = set(network.load_state_dict(state, strict=False).missing_keys) - fc_names
    if missing:
        raise RuntimeError(f"{model.spec.name}: the backbone lacks {sorted(missing)[:3]}")
    network = network.to(model.device).eval()
    nn.init.zeros_(network.fc.weight)
    nn.init.zeros_(network.fc.bias)
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    stages = network.stages()[len(network.stages()) - unfreeze :] if unfreeze else []
    for module in [*stages, network.fc]:
        for parameter in module.parameters():
            parameter.requires_grad_(True)
    return network, stages


def _standardisation(stages: list[nn.Module], features: Tensor) -> tuple[Tensor, Tensor]:
    """The mean of the pooled training features (after the unfrozen stages, if any) and one scale for all of them,
    their root mean square deviation: a scale per feature would magnify the nearly constant ones, which measured
    worse on held-out images (EfficientNet-Lite0 on the inspection set: 0.70 against 0.77; bench/README.md)."""
    unfrozen = nn.Sequential(*stages)
    with torch.no_grad():
        pooled = torch.cat(
            [unfrozen(chunk.float()).mean((2, 3)) if stages else chunk.float() for chunk in features.split(256)]
        )
    scale = pooled.var(0).mean().sqrt().clamp(min=1e-4)
    return pooled.mean(0), scale.expand(pooled.shape[1]).clone()


def _epoch(
    head: _Trainable, optimiser: torch.optim.Optimizer, x: Tensor, y: Tensor, weights: Tensor, order: torch.Generator
) -> tuple[float, float]:
    """One pass over every training view in a seeded random order: the mean loss and the accuracy."""
    head.train()
    total_loss, correct = 0.0, 0
    for batch in torch.randperm(len(x), generator=order).split(BATCH):
        batch = batch.to(x.device)
        logits = head(x[batch])
        loss = F.cross_entropy(logits, y[batch], weight=weights)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        total_loss += loss.item() * len(batch)
        correct += int((logits.argmax(1) == y[batch]).sum())
    return total_loss / len(x), correct / len(x)


def _evaluate(head: _Trainable, x: Tensor, y: Tensor, weights: Tensor) -> tuple[float, float, Tensor]:
    """The class-weighted validation loss, the accuracy and the predictions."""
    head.eval()
    with torch.no_grad():
        logits = torch.cat([head(chunk) for chunk in x.split(256)])
    predicted = logits.argmax(1)
    loss = float(F.cross_entropy(logits, y, weight=weights))
    return loss, float((predicted == y).float().mean()), predicted.cpu()


#: Runs a task over pipeline inputs, yielding outcomes in input order (the caller's ``pipeline.run``).
Runner = Callable[[Family, list], Iterable[Any]]


def learn(
    model: LoadedModel,
    data: TrainingData,
    settings: TrainSettings,
    name: str,
    source: str,
    run: Runner,
    on_image: Callable[[str], None] | None = None,
    on_epoch: Callable[[Epoch], None] | None = None,
) -> TrainedClassifier:
    """Train a classifier of ``data``'s classes on ``model`` (an embedded backbone, loaded eagerly): validation
    images split off (stratified, seeded) unless ``data`` has its own, features of the frozen part extracted once
    through ``run``, then the head (and the unfrozen stages) trained on them. Unreadable images are left out
    and listed in ``failures``."""
    train, val = data.train, data.val
    if val is None:
        kept, held = stratified_split(train.labels, settings.val, settings.seed)
        train, val = _subset(train, kept), _subset(train, held)
    index = {label: position for position, label in enumerate(data.classes)}
    train_features, failures = collect(run(FeatureViews(model, settings, settings.views), train.items), on_image)
    val_features, val_failures = collect(run(FeatureViews(model, settings), val.items), on_image)
    train_rows = [(f, index[label]) for f, label in zip(train_features, train.labels, strict=True) if f is not None]
    val_rows = [(f, index[label]) for f, label in zip(val_features, val.labels, strict=True) if f is not None]
    if not train_rows or not val_rows:
        raise SettingError("data", f"no readable {'training' if not train_rows else 'validation'} images")
    training = train_classifier(
        model,
        data.classes,
        (np.stack([f for f, _ in train_rows]), np.array([y for _, y in train_rows])),
        (np.stack([f for f, _ in val_rows]), np.array([y for _, y in val_rows])),
        settings,
        on_epoch,
    )
    counts = {
        label: {
            "train": sum(1 for _, y in train_rows if y == position),
            "val": sum(1 for _, y in val_rows if y == position),
        }
        for label, position in index.items()
    }
    return TrainedClassifier(
        name=name,
        data=source,
        backbone=model.spec.name,
        classes=data.classes,
        state=training.state,
        input_spec=model.spec.input_spec(),
        counts=counts,
        validation=training.validation,
        history=training.history,
        best_epoch=training.best_epoch,
        stopped=training.stopped,
        settings=settings,
        device=str(model.device),
        dtype=model.dtype_name,
        failures=failures + val_failures,
    )


def _subset(images: Labelled, indices: list[int]) -> Labelled:
    return Labelled([images.items[i] for i in indices], [images.labels[i] for i in indices])
