"""``optik anomaly fit`` / ``score`` and ``optik.fit_anomaly`` / ``optik.anomaly``: PatchCore on the embedded
MobileNetV2, on a rendered machined part and a brick texture with synthetic scratches, spots, missing parts and
colour shifts at three strengths (tests/learning_sets.py); the images scored are never fitted on."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import jsonschema
import numpy as np
import pytest
import torch

import optik
from optik import pipeline
from optik.io.memory import as_items
from optik.io.records import SCHEMA_FILE
from optik.registry.backends import EAGER
from optik.registry.loading import load
from optik.registry.trained import MANIFEST, backbone_spec
from optik.tasks.anomaly import PatchFeatures, calibrated_threshold, fit_patchcore, greedy_coreset
from optik.tasks.settings import AnomalyFitSettings
from optik.tasks.train import collect
from tests import learning_sets
from tests.helpers import jsonl
from tests.helpers import optik as run_optik

VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
NORMAL, DEFECTIVE_EACH = 20, 2


@pytest.fixture(scope="module")
def flange(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The part fitted and scored through the command line: the fit record, the score records by file name, the
    test images' masks, and what ``score`` said."""
    root = tmp_path_factory.mktemp("anomaly")
    data = learning_sets.anomaly_set("flange", NORMAL, DEFECTIVE_EACH, seed=0)
    for index, image in enumerate(data["fit"]):
        learning_sets.write(root / "normal" / f"{index:03d}.png", image)
    truth = {}
    for index, (image, mask, kind, strength) in enumerate(data["test"]):
        name = f"{index:03d}-{kind}-{strength}.png"
        learning_sets.write(root / "test" / name, image)
        truth[name] = (mask, kind, strength)
    fitted = run_optik("anomaly", "fit", str(root / "normal"), "-o", str(root / "model"), "--format", "jsonl")
    assert fitted.returncode == 0, fitted.stderr
    model, test = str(root / "model"), str(root / "test")
    scored = run_optik("anomaly", "score", "-r", test, "--model", model, "-o", str(root / "maps"), "--format", "jsonl")
    records = {Path(record["path"]).name: record for record in jsonl(scored.stdout)}
    return {"root": root, "fit": jsonl(fitted.stdout)[0], "records": records, "truth": truth, "scored": scored}


def clear_auroc(records: dict, truth: dict) -> float:
    """Image AUROC of the normal images against the clearest defects."""
    names = [name for name, (_, kind, strength) in truth.items() if kind == "normal" or strength == 1.0]
    return learning_sets.auroc([records[n]["score"] for n in names], [truth[n][0] is not None for n in names])


def test_fit_writes_a_calibrated_model(flange: dict) -> None:
    record, root = flange["fit"], flange["root"]
    VALIDATOR.validate(record)
    assert record["task"] == "anomaly" and record["backbone"] == "mobilenet_v2"
    assert record["images"] == {"fit": 16, "calibration": 4, "failed": 0}
    assert record["threshold"] > record["calibration"]["max"]  # 4 held-out images cannot show a 1 % tail
    assert record["bank"] == round(16 * 28 * 28 * 0.1)
    assert {p.name for p in (root / "model").iterdir()} == {MANIFEST, "model.safetensors", "card.md", "card.json"}
    assert "cannot show a rate of 0.01" in (root / "model" / "card.md").read_text()


def test_score_flags_clear_defects_and_names_them(flange: dict) -> None:
    records, truth, scored = flange["records"], flange["truth"], flange["scored"]
    assert len(records) == len(truth)
    for record in records.values():
        VALIDATOR.validate(record)
        assert record["threshold"] == flange["fit"]["threshold"] and Path(record["output"]).is_file()
        assert record["check"]["passed"] is not record["anomalous"]
    assert clear_auroc(records, truth) >= 0.9
    flagged = [name for name, record in records.items() if record["anomalous"]]
    assert scored.returncode == 1 and all(
        f"check failed: {flange['root'] / 'test' / n}" in scored.stderr for n in flagged
    )
    false_alarms = [name for name in flagged if truth[name][0] is None]
    clear = [n for n, (_, kind, strength) in truth.items() if strength == 1.0]
    assert len(false_alarms) <= 2 and sum(records[n]["anomalous"] for n in clear) >= len(clear) * 0.75
    for name in flagged:
        if truth[name][0] is not None and truth[name][2] == 1.0:
            x1, y1, x2, y2 = records[name]["box"]
            rows, columns = np.nonzero(truth[name][0])
            assert x1 <= columns.mean() <= x2 and y1 <= rows.mean() <= y2  # the box is around the defect
    overlay = cv2.imread(records[flagged[0]]["output"])
    original = cv2.imread(str(flange["root"] / "test" / flagged[0]))
    assert overlay.shape == original.shape and not np.array_equal(overlay, original)


def test_max_score_overrides_the_threshold(flange: dict) -> None:
    root = flange["root"]
    images = sorted(str(p) for p in (root / "test").iterdir())[:4]
    relaxed = run_optik("anomaly", "score", *images, "--model", str(root / "model"), "--max-score", "1e6", "-q")
    assert relaxed.returncode == 0
    strict = run_optik("anomaly", "score", *images, "--model", str(root / "model"), "--max-score", "1e-6")
    assert strict.returncode == 1 and strict.stderr.count("anomalous: score") == 4
    assert run_optik("anomaly", "score", images[0], "--model", str(root / "model"), "--max-score", "-1").returncode == 2


@pytest.fixture(scope="module")
def brick() -> dict:
    """Patch features of the brick texture's normal images (top half), and its test images (bottom half)."""
    data = learning_sets.anomaly_set("brick", NORMAL, DEFECTIVE_EACH, seed=1)
    model = load(backbone_spec("mobilenet_v2"), "cpu", False, None, EAGER)
    items, _ = as_items(data["fit"])
    patches, failures = collect(pipeline.run(PatchFeatures(model, AnomalyFitSettings()), items, workers=1))
    assert not failures and patches[0].shape == (32 + 96, 28, 28)
    return {"model": model, "patches": patches, "test": data["test"]}


def test_api_fits_repeatably_and_maps_the_defects(brick: dict, tmp_path: Path) -> None:
    settings = AnomalyFitSettings(seed=5)
    fitted = fit_patchcore(brick["model"], brick["patches"], settings, "brick", "<memory>", [])
    again = fit_patchcore(brick["model"], brick["patches"], settings, "brick", "<memory>", [])
    assert torch.equal(fitted.state["bank"], again.state["bank"]) and fitted.config == again.config
    assert fitted.state["stages.0.0.weight"].dtype == torch.float16 and fitted.state["bank"].dtype == torch.float32
    fitted.save(tmp_path / "brick-model")
    images = [image for image, *_ in brick["test"]]
    results = optik.anomaly(images, model=tmp_path / "brick-model")
    truth = brick["test"]
    clear = [i for i, (_, _, kind, strength) in enumerate(truth) if kind == "normal" or strength == 1.0]
    scores = [results[i].score for i in clear]
    assert learning_sets.auroc(scores, [truth[i][1] is not None for i in clear]) >= 0.9
    maps = np.stack([results[i].pixel_map() for i in clear])
    masks = np.stack([truth[i][1] if truth[i][1] is not None else np.zeros(maps.shape[1:], bool) for i in clear])
    assert maps.shape[1:] == (learning_sets.SIDE, learning_sets.SIDE)
    assert learning_sets.auroc(maps[:, ::2, ::2], masks[:, ::2, ::2]) >= 0.9
    result = results[clear[-1]]
    assert result.record["model"] == str(tmp_path / "brick-model") and result.render().pixels.shape == (256, 256, 3)


def test_coreset_covers_every_cluster_and_the_threshold_is_a_held_out_score() -> None:
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    points = (centres[:, None] + 0.1 * torch.randn(4, 50, 2, generator=generator)).reshape(-1, 2)
    chosen = greedy_coreset(points, 4, seed=0)
    assert sorted(int(i) // 50 for i in chosen) == [0, 1, 2, 3]
    assert torch.equal(chosen, greedy_coreset(points, 4, seed=0))
    scores = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    mean, deviation = 5.5, float(np.std(scores, ddof=1))
    assert calibrated_threshold(scores, 0.01) == pytest.approx(mean + 2.3263 * deviation, abs=1e-3)  # past them all
    assert calibrated_threshold(scores, 0.2) == 9.0  # ten images show a 20 % tail: one of them above it
    assert calibrated_threshold(list(range(1000)), 0.01) == 990.0
    assert calibrated_threshold([3.0], 0.01) == 3.0


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_half_fits_and_scores_on_the_gpu(tmp_path: Path) -> None:
    data = learning_sets.anomaly_set("flange", NORMAL, 1, seed=4)
    fitted = optik.fit_anomaly(data["fit"], device="cuda", half=True)
    assert fitted.device.startswith("cuda") and fitted.dtype == "float16"
    fitted.save(tmp_path / "m")
    results = optik.anomaly([image for image, *_ in data["test"]], model=tmp_path / "m", device="cuda", half=True)
    clear = [i for i, (_, _, kind, strength) in enumerate(data["test"]) if kind == "normal" or strength == 1.0]
    positive = [data["test"][i][1] is not None for i in clear]
    assert learning_sets.auroc([results[i].score for i in clear], positive) >= 0.9
