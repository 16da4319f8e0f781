"""``optik train``: feature extraction through the pipeline against the bare forward pass, training time, and held-out
accuracy against a k-NN on the same frozen features and the ImageNet head's zero-shot mapping.

The data set is tests/learning_sets.py's: analogue clocks, digital clocks, crosswords and traffic lights drawn over
photos under varied light; the held-out images are drawn over photos that no training image uses. Run from the
repository root: ``.venv/bin/python bench/train.py`` (``--threads 1`` on a busy box; ``--quick`` for a smaller set).
"""

from __future__ import annotations

import optik  # noqa: F401  first, as in the optik command: torch then loads with OpenMP threads that sleep

# isort: split
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.learning_sets

from optik import pipeline
from optik.io.training_data import read_training_data
from optik.preprocess.augment import views
from optik.preprocess.transforms import to_batch
from optik.registry.backends import EAGER
from optik.registry.labels import label_set
from optik.registry.loading import load
from optik.registry.trained import BACKBONES, backbone_spec
from optik.tasks.settings import TrainSettings
from optik.tasks.train import FeatureViews, collect, stratified_split, train_classifier
from tests import learning_sets


def extract(model, items: list, views_per_image: int, unfreeze: int = 0, batch: int = 8) -> np.ndarray:
    settings = TrainSettings(backbone=model.spec.name, views=views_per_image, unfreeze=unfreeze)
    task = FeatureViews(model, settings, views_per_image)
    features, failures = collect(pipeline.run(task, items, batch_size=batch, workers=torch.get_num_threads()))
    assert not failures, failures
    return np.stack(features)


def bare_forward(model, arrays: list[np.ndarray], batch: int = 8) -> float:
    """Seconds for the frozen backbone over prepared inputs, batch by batch (the limit of extraction)."""
    spec = model.spec.input_spec()
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(arrays), batch):
            x = model.tensor(to_batch(arrays[start : start + batch], spec, model.device, model.dtype))
            for stage in model.module.stages():
                x = stage(x)
            x.float().mean((2, 3))
    return time.perf_counter() - started


def zero_shot(model, items: list) -> np.ndarray:
    """The ImageNet head's probabilities summed over each class's ImageNet labels: the predicted class index."""
    imagenet = label_set("imagenet")
    columns = [[imagenet.index(name) for name in learning_sets.IMAGENET_LABELS[c]] for c in learning_sets.CLASSES]
    spec = model.spec.input_spec()
    predicted = []
    for item in items:
        array = views(item.load(10**8, None).rgb8(), spec, 1, False, 0)
        with torch.inference_mode():
            probabilities = torch.softmax(model.module(model.tensor(to_batch(array, spec))), 1)[0]
        predicted.append(int(np.argmax([float(probabilities[c].sum()) for c in columns])))
    return np.array(predicted)


def knn(train: np.ndarray, labels: np.ndarray, test: np.ndarray, k: int, classes: int) -> np.ndarray:
    """Majority vote of the ``k`` nearest training vectors by cosine (ties: the nearest)."""
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    similarity = unit(test) @ unit(train).T
    nearest = np.argsort(-similarity, axis=1)[:, :k]
    votes = labels[nearest]
    return np.array([np.bincount(row, minlength=classes).argmax() if k > 1 else row[0] for row in votes])


def head_accuracy(state: dict, head: str, test: np.ndarray, labels: np.ndarray) -> float:
    logits = test @ state[f"{head}.weight"].float().numpy().T + state[f"{head}.bias"].float().numpy()
    return float((logits.argmax(1) == labels).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=40, help="training images per class")
    parser.add_argument("--held-out", type=int, default=25, help="held-out images per class")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.per_class, args.held_out, args.repeats = 12, 8, 1
    torch.set_num_threads(args.threads)
    print(f"# threads {args.threads}, load average {os.getloadavg()[0]:.1f}, torch {torch.__version__}")
    root = Path(tempfile.mkdtemp(prefix="optik-train-bench-"))
    tasks = {
        "objects": (
            learning_sets.CLASSES,
            learning_sets.classification_set(args.per_class, learning_sets.TRAIN_BACKGROUNDS, seed=0),
            learning_sets.classification_set(args.held_out, learning_sets.HELD_OUT_BACKGROUNDS, seed=1),
        ),
        "inspection": (
            learning_sets.INSPECTION_CLASSES,
            learning_sets.inspection_set(args.per_class, seed=2),
            learning_sets.inspection_set(args.held_out, seed=3),
        ),
    }
    for task, (_, training, held_out) in tasks.items():
        learning_sets.write_image_folder(root / task / "train", training, seed=0)
        learning_sets.write_image_folder(root / task / "held-out", held_out, seed=1)
    for backbone in BACKBONES:
        model = load(backbone_spec(backbone), "cpu", False, None, EAGER)
        print(f"\n## {backbone}")
        throughput(model, read_training_data(root / "objects" / "train").train.items, args.repeats)
        for task, (classes, _, _) in tasks.items():
            print(f"\n### {task}: {', '.join(classes)}")
            accuracy(model, classes, root / task, args.per_class, zero_shot_too=task == "objects")
    print(f"\n# load average at the end {os.getloadavg()[0]:.1f}")


def throughput(model, items: list, repeats: int) -> None:
    """Extraction: the bare forward pass on prepared inputs against the pipeline (read, decode, views, forward),
    interleaved, medians."""
    spec = model.spec.input_spec()
    arrays = [views(item.load(10**8, None).rgb8(), spec, 1, False, 0)[0] for item in items]
    timings: dict[str, list[float]] = {"bare forward": [], "pipeline, 1 view": [], "pipeline, 4 views": []}
    for _ in range(repeats):
        timings["bare forward"].append(bare_forward(model, arrays))
        for count in (1, 4):
            started = time.perf_counter()
            extract(model, items, count)
            timings[f"pipeline, {count} view{'s' * (count > 1)}"].append(time.perf_counter() - started)
    for name, seconds in timings.items():
        median = statistics.median(seconds)
        per = 4 if name.endswith("4 views") else 1
        print(
            f"{name:18} {len(items) / median:6.1f} images/s  {len(items) * per / median:6.1f} views/s  ({median:.2f} s)"
        )


def accuracy(model, classes: tuple[str, ...], root: Path, per_class: int, zero_shot_too: bool) -> None:
    """Held-out accuracy: the trained head (1 or 4 views per image) at several training sizes, a k-NN on the same
    frozen features, the ImageNet head's zero-shot mapping, and the last stages unfrozen."""
    head = "classifier.1" if model.spec.name == "mobilenet_v2" else "_fc"
    data = read_training_data(root / "train").train
    held_out = read_training_data(root / "held-out").train
    index = {c: i for i, c in enumerate(classes)}
    train_y = np.array([index[c] for c in data.labels])
    test_y = np.array([index[c] for c in held_out.labels])
    test_features = extract(model, held_out.items, 1)[:, 0]
    features = {count: extract(model, data.items, count) for count in (1, 4)}
    if zero_shot_too:
        print(f"ImageNet head, zero-shot mapping: {float((zero_shot(model, held_out.items) == test_y).mean()):.3f}")
    for size in sorted({5, 10, 20, per_class} & set(range(1, per_class + 1))):
        chosen = np.array([i for c in range(len(classes)) for i in np.flatnonzero(train_y == c)[:size]])
        for k in (1, 5):
            hits = knn(features[1][chosen, 0], train_y[chosen], test_features, k, len(classes)) == test_y
            print(f"{size:3d}/class  k-NN (k={k}, frozen features): {hits.mean():.3f}")
        kept, val = (chosen[i] for i in stratified_split([data.labels[i] for i in chosen], 0.2, seed=0))
        for count in (1, 4):
            started = time.perf_counter()
            training = train_classifier(
                model,
                classes,
                (features[count][kept], train_y[kept]),
                (features[1][val], train_y[val]),
                TrainSettings(backbone=model.spec.name, views=count),
            )
            seconds = time.perf_counter() - started
            right = head_accuracy(training.state, head, test_features, test_y)
            print(
                f"{size:3d}/class  trained head, {count} view(s): {right:.3f} held out (val "
                f"{training.validation['accuracy']:.3f}; {len(training.history)} epochs, best {training.best_epoch}; "
                f"{seconds:.2f} s)"
            )
    kept, val = stratified_split(data.labels, 0.2, seed=0)
    for unfreeze in (1, 2):  # the maps entering the last stages cached once, then the stages train on them
        started = time.perf_counter()
        maps, val_maps = extract(model, data.items, 4, unfreeze), extract(model, data.items, 1, unfreeze)
        extracted = time.perf_counter() - started
        started = time.perf_counter()
        training = train_classifier(
            model,
            classes,
            (maps[kept], train_y[kept]),
            (val_maps[val], train_y[val]),
            TrainSettings(backbone=model.spec.name, unfreeze=unfreeze, epochs=30, patience=5),
        )
        seconds = time.perf_counter() - started
        network = _network_from(model, training.state, len(classes))
        with torch.inference_mode():
            x = torch.from_numpy(extract(model, held_out.items, 1, unfreeze)[:, 0]).float()
            for stage in network.stages()[len(network.stages()) - unfreeze :]:
                x = stage(x)
            hits = network.fc(x.mean((2, 3))).argmax(1).numpy() == test_y
        print(
            f"unfreeze {unfreeze}, {per_class}/class, 4 views: {hits.mean():.3f} held out (val "
            f"{training.validation['accuracy']:.3f}; maps {extracted:.1f} s, training {seconds:.1f} s for "
            f"{len(training.history)} epochs, {seconds / len(training.history):.2f} s each)"
        )


def _network_from(model, state: dict, classes: int) -> torch.nn.Module:
    from optik.registry.spec import resolve

    network = resolve(model.spec.architecture)(num_classes=classes)
    network.load_state_dict({k: v.float() for k, v in state.items()})
    return network.eval()


if __name__ == "__main__":
    main()
