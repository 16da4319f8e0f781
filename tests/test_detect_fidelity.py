"""Fidelity of the native NanoDet-g and MTCNN ports against their original runtimes.

NanoDet: the reference is the original TF.js graph run by TensorFlow.js 4.22.0 (pure-JS CPU backend)
and decoded independently in numpy, stored in ``fixtures/nanodet_tfjs_reference.json`` by
``fixtures/make_nanodet_reference.py``. MTCNN: facenet-pytorch 2.6.0's ``MTCNN.detect`` (numbers
from WEIGHTS.md and measured here; compared live when facenet-pytorch is installed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from optik.convert.mtcnn import convert_mtcnn
from optik.convert.nanodet import convert_nanodet
from optik.nets.mtcnn import ONet, PNet, RNet, detect_faces
from optik.nets.nanodet import NanoDet, decode_nanodet
from optik.preprocess.geometry import letterbox_warp, map_boxes
from optik.preprocess.transforms import prepare, to_batch
from optik.registry import get_spec

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "nanodet_tfjs_reference.json").read_text())
PHOTOS = ("astronaut", "chelsea", "coffee", "motorcycle")
SIZE = 416
SPEC = get_spec("nanodet").input_spec()  # the registry's input spec: what `optik detect` feeds the net

# WEIGHTS.md §5, score >= 0.3: (photo, COCO label, score, box x0,y0,x1,y1 in image pixels).
WEIGHTS_MD_DETECTIONS = [
    ("motorcycle", 3, 0.813, [99.1, 68.7, 686.9, 453.2]),
    ("motorcycle", 3, 0.313, [1.8, 119.2, 50.4, 232.6]),
    ("chelsea", 15, 0.571, [1.2, 1.6, 443.7, 296.2]),
    ("chelsea", 16, 0.356, None),
    ("astronaut", 0, 0.737, [15.1, 14.6, 364.5, 508.0]),
    ("astronaut", 56, 0.319, None),
    ("coffee", 60, 0.529, [8.5, 4.8, 598.0, 398.7]),
]


def nanodet_val_warp(rgb: np.ndarray) -> np.ndarray:
    """NanoDet's own val pipeline, written out: warpPerspective by its keep-ratio matrix, bilinear, border 0."""
    h, w = rgb.shape[:2]
    ratio = min(SIZE / w, SIZE / h)
    matrix = np.array([[ratio, 0, SIZE / 2 - ratio * w / 2], [0, ratio, SIZE / 2 - ratio * h / 2], [0, 0, 1]])
    return cv2.warpPerspective(rgb, matrix, (SIZE, SIZE))


@pytest.mark.parametrize("photo", [*PHOTOS, "odd"])
def test_shared_warp_is_nanodets_canonical_warp(sample: Callable, photo: str) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (37, 91, 3), np.uint8) if photo == "odd" else sample(photo)
    warped, affine = prepare(rgb, SPEC)
    assert SPEC.resize == "letterbox-warp" and SPEC.color == "BGR"
    assert np.array_equal(warped, nanodet_val_warp(rgb))
    assert np.array_equal(letterbox_warp(rgb, (SIZE, SIZE))[0], warped)
    h, w = rgb.shape[:2]
    corners = map_boxes(
        np.array([[affine.offset_x, affine.offset_y, SIZE - affine.offset_x, SIZE - affine.offset_y]]), affine, w, h
    )
    np.testing.assert_allclose(corners, [[0, 0, w, h]], atol=1e-9)


@pytest.fixture(scope="module")
def nanodet_outputs(source_files: Callable, sample: Callable) -> dict[str, dict]:
    """Raw outputs and decoded detections (image pixels) of the port for every photo, one batch, through
    the shared preprocessing layer (warp, BGR, mean/std, inverse mapping)."""
    model = NanoDet().eval()
    model.load_state_dict(convert_nanodet(source_files("nanodet")))
    images = {name: sample(name) for name in PHOTOS}
    prepared = {name: prepare(image, SPEC) for name, image in images.items()}
    batch = to_batch([array for array, _ in prepared.values()], SPEC, torch.device("cpu"), torch.float32)
    with torch.no_grad():
        scores, logits = model(batch)
    out = {}
    for i, (name, (boxes, conf, labels)) in enumerate(zip(PHOTOS, decode_nanodet(scores, logits), strict=True)):
        h, w = images[name].shape[:2]
        boxes = torch.from_numpy(map_boxes(boxes.numpy(), prepared[name][1], w, h)).float()
        out[name] = {"scores": scores[i], "logits": logits[i], "boxes": boxes, "conf": conf, "labels": labels}
    return out


def _match(found: dict, label: int, box: list[float] | None) -> tuple[float, float]:
    """(best IoU, its score) among the port's detections of ``label`` (IoU 1 when no box is given)."""
    same = found["labels"] == label
    if not same.any():
        return 0.0, float("nan")
    if box is None:
        return 1.0, float(found["conf"][same].max())
    ious = box_iou(torch.tensor([box], dtype=torch.float32), found["boxes"][same])[0]
    best = int(ious.argmax())
    return float(ious[best]), float(found["conf"][same][best])


@pytest.mark.parametrize("photo", PHOTOS)
def test_nanodet_raw_outputs_match_tfjs(nanodet_outputs: dict, photo: str) -> None:
    found = nanodet_outputs[photo]
    assert found["scores"].shape == (3549, 80) and found["logits"].shape == (3549, 44)
    for anchor in REFERENCE["photos"][photo]["top_anchors"]:
        scores = found["scores"][anchor["anchor"]].numpy()
        logits = found["logits"][anchor["anchor"]].numpy()
        np.testing.assert_allclose(scores, anchor["scores"], atol=1e-5)
        np.testing.assert_allclose(logits, anchor["box_logits"], atol=1e-4)


@pytest.mark.parametrize("photo", PHOTOS)
def test_nanodet_detections_match_tfjs(nanodet_outputs: dict, photo: str) -> None:
    reference = REFERENCE["photos"][photo]["detections"]  # all stored: score >= 0.1
    assert reference
    for det in reference:
        iou, score = _match(nanodet_outputs[photo], det["label"], det["box"])
        assert iou >= 0.95, (det, iou)
        assert abs(score - det["score"]) <= 0.02, (det, score)


@pytest.mark.parametrize(("photo", "label", "score", "box"), WEIGHTS_MD_DETECTIONS)
def test_nanodet_weights_md_detections(
    nanodet_outputs: dict, photo: str, label: int, score: float, box: list[float] | None
) -> None:
    iou, found = _match(nanodet_outputs[photo], label, box)
    assert iou >= 0.95
    assert abs(found - score) <= 0.02


def test_nanodet_weights_survive_fp16_storage(source_files: Callable) -> None:
    """The TF.js weights are float16 at source, so storing the converted weights as fp16 is lossless."""
    for name, tensor in convert_nanodet(source_files("nanodet")).items():
        assert torch.equal(tensor.half().float(), tensor), name


@pytest.fixture(scope="module")
def mtcnn(source_files: Callable) -> tuple[PNet, RNet, ONet]:
    state = convert_mtcnn(source_files("mtcnn"))
    nets = []
    for prefix, cls in (("pnet", PNet), ("rnet", RNet), ("onet", ONet)):
        net = cls().eval()
        net.load_state_dict({k.removeprefix(f"{prefix}."): v for k, v in state.items() if k.startswith(prefix)})
        nets.append(net)
    return tuple(nets)


def test_mtcnn_astronaut_matches_weights_md(mtcnn: tuple, sample: Callable) -> None:
    boxes, probs, landmarks = detect_faces(sample("astronaut"), *mtcnn)
    assert boxes.shape == (1, 4) and probs.shape == (1,) and landmarks.shape == (1, 5, 2)
    np.testing.assert_allclose(boxes[0], [181.05, 62.16, 267.75, 172.05], atol=0.1)
    assert probs[0] == pytest.approx(0.999998, abs=1e-5)
    expected = [[205.0, 101.7], [246.8, 103.7], [224.7, 129.0], [201.7, 139.2], [245.3, 141.9]]
    np.testing.assert_allclose(landmarks[0], expected, atol=0.1)


def test_mtcnn_motorcycle_and_no_faces(mtcnn: tuple, sample: Callable) -> None:
    boxes, probs, landmarks = detect_faces(sample("motorcycle"), *mtcnn)  # facenet-pytorch 2.6.0, measured
    np.testing.assert_allclose(boxes, [[576.91, 331.85, 654.79, 436.27], [565.18, 293.75, 603.74, 343.84]], atol=0.1)
    np.testing.assert_allclose(probs, [0.929008, 0.716347], atol=1e-4)
    np.testing.assert_allclose(landmarks[1, 0], [581.3, 308.9], atol=0.1)
    for photo in ("chelsea", "coffee"):
        boxes, probs, landmarks = detect_faces(sample(photo), *mtcnn)
        assert boxes.shape == (0, 4) and probs.shape == (0,) and landmarks.shape == (0, 5, 2)


def _collage(sample: Callable) -> np.ndarray:
    """The astronaut next to a half-size copy of herself: two faces at two scales."""
    big = sample("astronaut")
    small = cv2.resize(big, (256, 256), interpolation=cv2.INTER_AREA)
    canvas = np.full((512, 768, 3), 127, np.uint8)
    canvas[:, :512], canvas[128:384, 512:] = big, small
    return canvas


@pytest.mark.parametrize(
    ("photo", "thresholds"),
    [
        ("astronaut", (0.6, 0.7, 0.7)),
        ("motorcycle", (0.6, 0.7, 0.7)),
        ("motorcycle", (0.3, 0.4, 0.4)),
        ("collage", (0.6, 0.7, 0.7)),
    ],
)
def test_mtcnn_matches_facenet_pytorch(
    mtcnn: tuple, sample: Callable, photo: str, thresholds: tuple[float, float, float]
) -> None:
    facenet = pytest.importorskip("facenet_pytorch")
    image = _collage(sample) if photo == "collage" else sample(photo)
    reference = facenet.MTCNN(keep_all=True, select_largest=False, thresholds=list(thresholds), device="cpu")
    ref_boxes, ref_probs, ref_marks = reference.detect(image, landmarks=True)
    boxes, probs, landmarks = detect_faces(image, *mtcnn, thresholds=thresholds)
    assert ref_boxes is not None and len(boxes) == len(ref_boxes) >= 1
    np.testing.assert_allclose(boxes, ref_boxes.astype(np.float32), atol=0.01)
    np.testing.assert_allclose(probs, np.asarray(ref_probs, np.float32), atol=1e-5)
    np.testing.assert_allclose(landmarks, ref_marks.astype(np.float32), atol=0.01)


def test_mtcnn_survives_fp16_storage(mtcnn: tuple, sample: Callable) -> None:
    """Weights rounded to fp16 (then run in fp32) move the astronaut's face by < 0.05 px."""
    rounded = []
    for net in mtcnn:
        copy = type(net)().eval()
        copy.load_state_dict({k: v.half().float() for k, v in net.state_dict().items()})
        rounded.append(copy)
    image = sample("astronaut")
    (boxes, probs, landmarks), (half_boxes, half_probs, half_landmarks) = (
        detect_faces(image, *nets) for nets in (mtcnn, rounded)
    )
    np.testing.assert_allclose(half_boxes, boxes, atol=0.05)
    np.testing.assert_allclose(half_probs, probs, atol=1e-3)
    np.testing.assert_allclose(half_landmarks, landmarks, atol=0.05)
