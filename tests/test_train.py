"""``optik train`` and ``optik.train``: reading labelled data, the seeded split, training on cached features, the model
directory that ``optik classify --model DIR`` runs like an embedded model; on rendered clocks, crosswords and
traffic lights over photos (tests/learning_sets.py), held-out images drawn over photos no training image used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import jsonschema
import numpy as np
import pytest
import torch

import optik
from optik import pipeline
from optik.errors import SettingError
from optik.io.records import SCHEMA_FILE
from optik.io.training_data import read_training_data
from optik.registry import get_spec
from optik.registry.backends import EAGER
from optik.registry.loading import load
from optik.registry.trained import MANIFEST, backbone_spec
from optik.tasks.settings import TrainSettings
from optik.tasks.train import FeatureViews, collect, stratified_split, train_classifier
from tests import learning_sets
from tests.helpers import jsonl
from tests.helpers import optik as run_optik

VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
PER_CLASS, HELD_OUT_PER_CLASS = 12, 6
CHANCE = 1 / len(learning_sets.CLASSES)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DATA/<class>/*.jpg to train on and DATA/test/<class>/*.jpg held out (other background photos)."""
    root = tmp_path_factory.mktemp("train") / "data"
    training = learning_sets.classification_set(PER_CLASS, learning_sets.TRAIN_BACKGROUNDS, seed=0)
    held_out = learning_sets.classification_set(HELD_OUT_PER_CLASS, learning_sets.HELD_OUT_BACKGROUNDS, seed=1)
    learning_sets.write_image_folder(root, training, seed=0)
    learning_sets.write_image_folder(root / "test", held_out, seed=1)
    return root


@pytest.fixture(scope="module")
def trained(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    """The model ``optik train`` writes for the data set: its directory, its record and what it said on stderr."""
    directory = tmp_path_factory.mktemp("models") / "clocks-v1"
    arguments = ("--val", "0.25", "--views", "2", "--format", "jsonl", "--threads", "1")
    result = run_optik("train", str(dataset), "-o", str(directory), *arguments)
    assert result.returncode == 0, result.stderr
    (record,) = jsonl(result.stdout)
    return directory, record, result.stderr


@pytest.fixture(scope="module")
def features(dataset: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Pooled MobileNetV2 features: the training images (2 views each) and the held-out ones, with class indices."""
    model = load(backbone_spec("mobilenet_v2"), "cpu", False, None, EAGER)
    found = {}
    for part, views in (("train", 2), ("test", 1)):
        data = read_training_data(dataset / "test" if part == "test" else dataset)
        task = FeatureViews(model, TrainSettings(views=views), views)
        vectors, failures = collect(pipeline.run(task, data.train.items, workers=1))
        assert not failures
        labels = np.array([learning_sets.CLASSES.index(label) for label in data.train.labels])
        found[part] = (np.stack(vectors), labels)
    return found


def held_out_accuracy(state: dict[str, torch.Tensor], features: tuple[np.ndarray, np.ndarray]) -> float:
    """The trained linear layer (standardisation folded in) on held-out pooled features."""
    vectors, labels = features
    logits = vectors[:, 0] @ state["classifier.1.weight"].float().numpy().T + state["classifier.1.bias"].float().numpy()
    return float((logits.argmax(1) == labels).mean())


def test_training_learns_the_classes_and_a_broken_loop_cannot(features: dict) -> None:
    model = load(backbone_spec("mobilenet_v2"), "cpu", False, None, EAGER)
    classes = learning_sets.CLASSES
    train_x, train_y = features["train"]
    kept, held = stratified_split([classes[y] for y in train_y], 0.25, seed=0)
    split = (train_x[kept], train_y[kept]), (train_x[held][:, :1], train_y[held])
    training = train_classifier(model, classes, *split, TrainSettings(epochs=60))
    assert held_out_accuracy(training.state, features["test"]) >= 0.9
    assert training.validation["accuracy"] >= 0.85 and len(training.validation["per_class"]) == 4
    assert 1 <= training.best_epoch <= len(training.history) and training.stopped in ("early stopping", "epochs")
    assert training.history[-1].loss < training.history[0].loss
    # the same loop on shuffled labels stays near chance: the floor above is one a broken loop cannot reach
    shuffled = np.random.default_rng(0).permutation(split[0][1])
    broken = train_classifier(model, classes, (split[0][0], shuffled), split[1], TrainSettings(epochs=60))
    assert held_out_accuracy(broken.state, features["test"]) < CHANCE + 0.3


def test_training_repeats_with_a_seed_and_keeps_the_best_epoch_on_ctrl_c(features: dict) -> None:
    model = load(backbone_spec("mobilenet_v2"), "cpu", False, None, EAGER)
    classes = learning_sets.CLASSES
    train_x, train_y = features["train"]
    kept, held = stratified_split([classes[y] for y in train_y], 0.25, seed=3)
    split = (train_x[kept], train_y[kept]), (train_x[held][:, :1], train_y[held])
    first = train_classifier(model, classes, *split, TrainSettings(epochs=8, seed=3)).state
    again = train_classifier(model, classes, *split, TrainSettings(epochs=8, seed=3)).state
    other = train_classifier(model, classes, *split, TrainSettings(epochs=8, seed=4)).state
    assert all(torch.equal(first[name], again[name]) for name in first)
    assert not torch.equal(first["classifier.1.weight"], other["classifier.1.weight"])
    assert first["features.0.0.weight"].dtype == torch.float16  # untouched backbone weights stored as shipped
    assert first["classifier.1.weight"].dtype == torch.float32

    def interrupt(epoch: object) -> None:
        if epoch.epoch == 3:
            raise KeyboardInterrupt

    interrupted = train_classifier(model, classes, *split, TrainSettings(epochs=50), on_epoch=interrupt)
    assert interrupted.stopped == "interrupted" and len(interrupted.history) == 3 and interrupted.best_epoch <= 3
    assert held_out_accuracy(interrupted.state, features["test"]) > CHANCE + 0.3


def test_stratified_split_holds_out_each_class() -> None:
    labels = ["a"] * 10 + ["b"] * 4 + ["c"] * 2
    train, val = stratified_split(labels, 0.2, seed=1)
    assert sorted(train + val) == list(range(16))
    assert [sum(labels[i] == c for i in val) for c in "abc"] == [2, 1, 1]
    assert stratified_split(labels, 0.2, seed=1) == (train, val)
    assert stratified_split(labels, 0.2, seed=2) != (train, val)
    with pytest.raises(SettingError, match="class 'd' has 1 image"):
        stratified_split([*labels, "d"], 0.2, seed=1)


def test_labelled_data_from_folders_and_lists(tmp_path: Path) -> None:
    image = np.full((40, 40, 3), 128, np.uint8)
    for split, label, count in (("train", "ok", 3), ("train", "bad", 2), ("val", "ok", 1), ("test", "ok", 5)):
        for k in range(count):
            learning_sets.write(tmp_path / "split" / split / label / f"{k}.png", image)
    data = read_training_data(tmp_path / "split")
    assert data.classes == ("bad", "ok") and data.train.counts() == {"ok": 3, "bad": 2}
    assert data.val.counts() == {"ok": 1}  # and test/ is never read
    # class folders with a val/ beside them
    for label in ("ok", "bad"):
        learning_sets.write(tmp_path / "flat" / label / "deeper" / "x.png", image)
    learning_sets.write(tmp_path / "flat" / "val" / "ok" / "y.png", image)
    flat = read_training_data(tmp_path / "flat")
    assert flat.train.counts() == {"ok": 1, "bad": 1} and flat.val.counts() == {"ok": 1}
    # lists: relative paths from the list's folder, an optional header
    (tmp_path / "list.csv").write_text("path,label\nsplit/train/ok/0.png,ok\nsplit/train/bad/0.png, bad\n")
    listed = read_training_data(tmp_path / "list.csv")
    assert listed.train.labels == ["ok", "bad"] and Path(listed.train.items[0].source).is_file()
    (tmp_path / "list.jsonl").write_text('{"path": "split/train/ok/1.png", "label": "ok"}\n\n')
    with pytest.raises(SettingError, match="1 class found"):
        read_training_data(tmp_path / "list.jsonl")
    (tmp_path / "bad.csv").write_text("a.png,ok,extra\n")
    with pytest.raises(SettingError, match=r"bad\.csv:1: expected path,label"):
        read_training_data(tmp_path / "bad.csv")
    learning_sets.write(tmp_path / "odd" / "weird" / "z.png", image)
    with pytest.raises(SettingError, match="classes weird are not among the training classes"):
        read_training_data(tmp_path / "list.csv", tmp_path / "odd")
    learning_sets.write(tmp_path / "loose" / "stray.png", image)
    with pytest.raises(SettingError, match="one folder per class"):
        read_training_data(tmp_path / "loose")


def test_cli_writes_a_model_that_classify_runs_like_an_embedded_one(trained: tuple, dataset: Path) -> None:
    directory, record, stderr = trained
    VALIDATOR.validate({**record})
    assert record["task"] == "classify" and record["backbone"] == "mobilenet_v2"
    assert record["output"] == str(directory) and record["model"] == "clocks-v1"
    assert record["images"] == {"train": 36, "val": 12, "failed": 0}  # a quarter of each class validates
    assert [row["label"] for row in record["per_class"]] == sorted(learning_sets.CLASSES)
    assert np.array(record["confusion"]).sum() == 12 and record["accuracy"] >= 0.9
    assert "epoch 1/100: loss" in stderr and "ETA" in stderr
    assert {p.name for p in directory.iterdir()} == {
        MANIFEST,
        "model.safetensors",
        "card.md",
        "card.json",
        "confusion.png",
    }
    card = json.loads((directory / "card.json").read_text())
    assert card["confusion"] == record["confusion"] and len(card["history"]) == record["epochs"]
    assert "| crossword | 9 | 3 |" in (directory / "card.md").read_text()
    picture = cv2.imread(str(directory / "confusion.png"))
    assert picture.shape[0] > 200 and picture.shape[1] > 200
    spec = get_spec(str(directory), "classify")
    assert spec.categories() == sorted(learning_sets.CLASSES) and spec.input_spec() == get_spec("mobilenet_v2").input

    classified = run_optik("classify", "-r", str(dataset / "test"), "--model", str(directory), "--format", "jsonl")
    assert classified.returncode == 0, classified.stderr
    records = jsonl(classified.stdout)
    for found in records:
        VALIDATOR.validate(found)
        assert found["model"] == str(directory) and found["weights_sha256"] == record["weights_sha256"]
    right = [found["predictions"][0]["label"] == Path(found["path"]).parent.name for found in records]
    assert len(right) == 4 * HELD_OUT_PER_CLASS and np.mean(right) >= 0.85  # chance: 0.25


def test_expect_checks_use_the_trained_classes(trained: tuple, dataset: Path) -> None:
    directory = str(trained[0])
    crosswords = sorted(str(p) for p in (dataset / "test" / "crossword").iterdir())[:3]
    assert run_optik("classify", *crosswords, "--model", directory, "--expect", "crossword", "-q").returncode == 0
    wrong = run_optik("classify", *crosswords, "--model", directory, "--expect", "traffic-light")
    assert wrong.returncode == 1 and "expected traffic-light" in wrong.stderr
    typo = run_optik("classify", *crosswords, "--model", directory, "--expect", "crosword")
    assert typo.returncode == 2 and "did you mean 'crossword'" in typo.stderr
    result = optik.classify(crosswords[0], model=directory, top_k=2)
    assert result.top.label == "crossword" and len(result.predictions) == 2


def test_a_damaged_model_directory_is_refused(trained: tuple, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained[0], copy)
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    image = str(learning_sets.write(tmp_path / "x.png", np.zeros((32, 32, 3), np.uint8)))
    damaged = run_optik("classify", image, "--model", str(copy))
    assert damaged.returncode == 4 and "checksum" in damaged.stderr
    manifest = json.loads((copy / MANIFEST).read_text())
    (copy / MANIFEST).write_text(json.dumps({**manifest, "backbone": "os:system"}))
    assert run_optik("classify", image, "--model", str(copy)).returncode == 4
    refused = run_optik("train", str(tmp_path), "-o", str(trained[0]))
    assert refused.returncode == 2 and "holds a model already" in refused.stderr


def test_api_trains_from_arrays_and_unfreezes_only_the_last_stage(tmp_path: Path) -> None:
    images: dict[str, list] = {kind: [] for kind in learning_sets.CLASSES[:2]}
    for kind, rgb in learning_sets.classification_set(5, learning_sets.TRAIN_BACKGROUNDS, seed=5):
        if kind in images:
            images[kind].append(rgb)
    epochs = []
    result = optik.train(images, val=0.4, views=1, unfreeze=1, epochs=10, patience=10, on_epoch=epochs.append)
    assert [e.epoch for e in epochs] == list(range(1, 11)) and result.classes == ("analog-clock", "digital-clock")
    backbone = load(backbone_spec("mobilenet_v2"), "cpu", False, None, EAGER).module.state_dict()
    shared = [name for name, value in result.state.items() if value.shape == backbone[name].shape]
    changed = {name for name in shared if not torch.equal(result.state[name].float(), backbone[name].half().float())}
    assert changed and all(name.startswith("features.18.") for name in changed)
    result.save(tmp_path / "m")
    assert optik.classify(images["analog-clock"][0], model=str(tmp_path / "m")).top.label == "analog-clock"


def test_cli_interrupted_run_keeps_the_best_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from optik.tasks import train as training

    for index, (kind, rgb) in enumerate(learning_sets.classification_set(3, learning_sets.TRAIN_BACKGROUNDS, seed=9)):
        learning_sets.write(tmp_path / "data" / kind / f"{index}.png", rgb)
    real_epoch = training._epoch
    calls = []

    def epoch(*args: object) -> tuple[float, float]:
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real_epoch(*args)

    monkeypatch.setattr(training, "_epoch", epoch)
    result = run_optik("train", str(tmp_path / "data"), "-o", str(tmp_path / "m"), "--views", "1", "-q")
    assert result.returncode == 130 and "the best epoch" in result.stderr
    assert json.loads((tmp_path / "m" / "card.json").read_text())["stopped"] == "interrupted"


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--help"],
        ["anomaly", "fit", "--help"],
        ["train", "no/such/data", "-o", "model/"],
        ["train", "tests", "-o", "model/", "--val", "0.9"],
        ["train", "tests", "-o", "model/", "--backbone", "resnet50"],
        ["anomaly", "fit", "examples/images", "-o", "model/", "--fpr", "2"],
    ],
)
def test_help_and_usage_errors_load_neither_torch_nor_opencv(args: list[str], tmp_path: Path) -> None:
    code = (
        "import sys; from optik.cli.common import run_cli; code = run_cli(sys.argv[1:]); "
        "heavy = [m for m in ('torch', 'cv2', 'numpy') if m in sys.modules]; "
        "assert not heavy, heavy; sys.exit(code)"
    )
    root = Path(__file__).resolve().parent.parent
    args = [str(tmp_path / a) if a == "model/" else a for a in args]
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=root)
    assert result.returncode in (0, 2), result.stderr
    assert "Traceback" not in result.stderr, result.stderr


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_half_extracts_and_trains_on_the_gpu(tmp_path: Path) -> None:
    images: dict[str, list] = {kind: [] for kind in learning_sets.CLASSES}
    for kind, rgb in learning_sets.classification_set(6, learning_sets.TRAIN_BACKGROUNDS, seed=7):
        images[kind].append(rgb)
    result = optik.train(images, val=0.34, views=2, unfreeze=1, epochs=20, device="cuda", half=True)
    assert result.device.startswith("cuda") and result.dtype == "float16"
    result.save(tmp_path / "m")
    found = optik.classify(images["crossword"][0], model=str(tmp_path / "m"), device="cuda", half=True)
    assert found.top.label == "crossword" and found.record["device"].startswith("cuda")
