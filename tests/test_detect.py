"""detect end to end, as a user meets it: real photos, the embedded weights, records, images, checks, exit codes.

No photo with a person and a horse ships (scikit-image's ``horse`` is a silhouette), so the two-class
photo is the astronaut (person) beside scikit-image's motorcycle_left (a motorcycle), both real photos.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import optik
from optik.errors import UsageError
from optik.io.inputs import InputItem
from optik.io.labels import CocoLabels, category_ids
from optik.preprocess.draw import pixel_region, redact
from optik.registry import get_spec, loading
from optik.tasks.checks import check_counts
from tests.conftest import EXAMPLES
from tests.helpers import jsonl, optik_process, write_rgb
from tests.helpers import optik as run_optik

ASTRONAUT_FACE = [181.05, 62.16, 267.75, 172.05]  # facenet-pytorch's MTCNN (WEIGHTS.md §5)
ASTRONAUT_PERSON = [15.1, 14.6, 364.5, 508.0]  # NanoDet-g in TF.js (WEIGHTS.md §5)


def _run(*args: str) -> tuple[int, bytes, str]:
    result = run_optik(*args)
    return result.returncode, result.stdout, result.stderr


def iou(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


def inside(points: np.ndarray, box: tuple[float, ...]) -> bool:
    return bool(((points >= box[:2]) & (points <= box[2:])).all())


@pytest.fixture(scope="module")
def person_and_motorcycle(sample: Callable) -> np.ndarray:
    """The astronaut (512×512) beside motorcycle_left (500×741) on one gray canvas."""
    person, bike = sample("astronaut"), sample("motorcycle")
    canvas = np.full((512, 512 + 741, 3), 127, np.uint8)
    canvas[:, :512], canvas[6:506, 512:] = person, bike
    return canvas


def test_a_person_and_a_motorcycle_side_by_side(person_and_motorcycle):
    result = optik.detect(person_and_motorcycle)
    assert (result.width, result.height, result.model) == (1253, 512, "nanodet")
    best = {}
    for d in result.detections:
        best.setdefault(d.label, d)
    assert {"person", "motorcycle"} <= set(best)
    assert best["person"].box[2] < 512 + 10 and best["person"].score > 0.5  # in the left photo
    assert best["motorcycle"].box[0] > 512 and best["motorcycle"].score > 0.5  # in the right photo
    scores = [d.score for d in result.detections]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 0.35
    only_bikes = optik.detect(person_and_motorcycle, classes=["motorcycle"], max_det=1)
    assert [d.label for d in only_bikes.detections] == ["motorcycle"]
    assert only_bikes.detections[0].box == best["motorcycle"].box


def test_boxes_come_back_in_original_pixels_whatever_the_input_size(sample):
    person = optik.detect(sample("astronaut")).detections[0]
    assert person.label == "person" and person.index == 0 and iou(list(person.box), ASTRONAUT_PERSON) > 0.99
    small = optik.detect(sample("astronaut"), imgsz=320).detections[0]  # a smaller network input
    assert small.label == "person" and iou(list(small.box), ASTRONAUT_PERSON) > 0.8
    with pytest.raises(UsageError, match="multiple of 32"):
        optik.detect(sample("astronaut"), imgsz=400)
    with pytest.raises(UsageError, match="no class 'persn'"):
        optik.detect(sample("astronaut"), classes=["persn"])


def test_mtcnn_finds_one_face_with_its_landmarks(sample):
    result = optik.detect(sample("astronaut"), model="mtcnn")
    (face,) = result.detections
    assert face.label == "face" and face.score > 0.99
    np.testing.assert_allclose(face.box, ASTRONAUT_FACE, atol=0.1)
    assert face.landmarks.shape == (5, 2) and inside(face.landmarks, face.box)
    left_eye, right_eye, nose, mouth_left, mouth_right = face.landmarks
    assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    assert optik.detect(sample("chelsea"), model="mtcnn").detections == []  # a cat has no human face
    record = face.to_record()
    assert set(record) == {"label", "index", "score", "box", "landmarks"} and len(record["landmarks"]) == 5


def test_haar_cascade_finds_the_same_face(sample):
    (face,) = optik.detect(sample("astronaut"), model="haar-face").detections
    assert face.label == "face" and face.landmarks is None and 0.5 < face.score < 1
    assert iou(list(face.box), ASTRONAUT_FACE) > 0.5
    assert optik.detect(sample("coffee"), model="haar-face").detections == []


def test_redaction_changes_only_pixels_inside_the_boxes(sample):
    image = sample("astronaut")
    boxes = [d.box for d in optik.detect(image).detections + optik.detect(image, model="mtcnn").detections]
    inside_mask = np.zeros(image.shape[:2], bool)
    for box in boxes:
        x0, y0, x1, y1 = pixel_region(box, 512, 512)
        inside_mask[y0:y1, x0:x1] = True
    for mode in ("blur", "pixelate", "fill"):
        hidden = redact(image, boxes[1:], mode)  # the face only
        changed = (hidden != image).any(2)
        x0, y0, x1, y1 = pixel_region(boxes[1], 512, 512)
        face = np.zeros_like(changed)
        face[y0:y1, x0:x1] = True
        assert not changed[~face].any() and changed[face].mean() > 0.5, mode
    assert not (redact(image, boxes, "blur") != image).any(2)[~inside_mask].any()
    sixteen = image.astype(np.uint16) * 257
    assert redact(sixteen, boxes[1:], "pixelate").dtype == np.uint16


def test_checks_pass_and_fail_per_image(sample):
    astronaut, coffee = optik.detect([sample("astronaut"), sample("coffee")])
    assert check_counts(astronaut, ["person"], 1, 1) is None
    assert "no person found (found 1 dining table)" in check_counts(coffee, ["person"], None, None)
    assert "fewer than --min-count 2" in check_counts(astronaut, [], 2, None)
    assert "more than --max-count 0" in check_counts(astronaut, [], None, 0)


def test_coco_labels_document(sample, tmp_path):
    results = optik.detect([sample("astronaut"), sample("coffee")])
    labels = get_spec("nanodet").categories()
    items = [InputItem("astronaut.png", Path("astronaut.png")), InputItem("coffee.png", Path("coffee.png"))]
    results[0].path, results[1].path = "astronaut.png", "coffee.png"
    coco = CocoLabels(str(tmp_path / "labels.json"), items, labels, category_ids(labels))
    coco.add(items[1], results[1])  # out of order, as worker threads finish
    coco.add(items[0], results[0])
    coco.close()
    document = json.loads((tmp_path / "labels.json").read_text())
    assert [image["file_name"] for image in document["images"]] == ["astronaut.png", "coffee.png"]
    names = {c["id"]: c["name"] for c in document["categories"]}
    assert len(names) == 80 and names[1] == "person" and names[67] == "dining table" and names[90] == "toothbrush"
    person, table = document["annotations"]
    assert (person["image_id"], person["category_id"], table["image_id"], table["category_id"]) == (1, 1, 2, 67)
    x, y, w, h = person["bbox"]
    assert iou([x, y, x + w, y + h], ASTRONAUT_PERSON) > 0.99
    with pytest.raises(UsageError, match="exists"):
        CocoLabels(str(tmp_path / "labels.json"), items, labels, category_ids(labels))


def test_cli_checks_exit_1_naming_the_failing_image():
    images = [str(EXAMPLES / "astronaut.png"), str(EXAMPLES / "coffee.png")]
    args = ("--expect", "person", "--max-count", "1", "--format", "csv", "--threads", "1")
    result = optik_process("detect", *images, *args)
    assert result.returncode == 1, result.stderr
    assert "check failed: " in result.stderr and "coffee.png: no person found" in result.stderr
    assert "astronaut.png: " not in result.stderr.split("check failed")[-1]
    rows = list(csv.DictReader(io.StringIO(result.stdout.decode())))
    assert list(rows[0]) == [
        "path",
        "model",
        "label",
        "index",
        "score",
        "x1",
        "y1",
        "x2",
        "y2",
        "output",
        "check",
        "skipped",
        "error",
    ]
    assert [(Path(r["path"]).name, r["label"]) for r in rows] == [
        ("astronaut.png", "person"),
        ("coffee.png", "dining table"),
    ]
    code, _, err = _run("detect", images[0], "--expect", "horse", "--classes", "person")
    assert code == 2 and "not among --classes" in err


def test_cli_anonymises_a_folder_crops_labels_and_bad_files(tmp_path, sample):
    photos = tmp_path / "photos"
    (photos / "a").mkdir(parents=True)
    shutil.copy(EXAMPLES / "astronaut.png", photos / "a" / "astronaut.png")
    write_rgb(photos / "motorcycle.jpg", sample("motorcycle"))
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out, crops, labels = tmp_path / "anonymised", tmp_path / "crops", tmp_path / "labels"
    code, stdout, stderr = _run(
        "detect", "-r", str(photos), "--model", "mtcnn", "--redact", "blur", "-o", f"{out}/", "--crops", str(crops),
        "--labels-out", str(labels), "--conf", "0.95", "--format", "jsonl",
    )  # fmt: skip
    assert code == 3, stderr  # the broken file failed, the rest were processed
    assert stderr.count("optik: error: ") == 1 and "broken.png: not a readable image" in stderr
    records = {Path(r["path"]).name: r for r in jsonl(stdout)}
    assert set(records) == {"astronaut.png", "motorcycle.jpg", "broken.png"} and "error" in records["broken.png"]
    (face,) = records["astronaut.png"]["detections"]
    assert iou(face["box"], ASTRONAUT_FACE) > 0.99 and len(face["landmarks"]) == 5
    assert records["motorcycle.jpg"]["detections"] == []  # its wheel "faces" score 0.93 and 0.72 < --conf 0.95

    original = cv2.imread(str(photos / "a" / "astronaut.png"))
    hidden = cv2.imread(records["astronaut.png"]["output"])
    assert records["astronaut.png"]["output"] == str(out / "a" / "astronaut.png")
    changed = (hidden != original).any(2)
    x0, y0, x1, y1 = pixel_region(face["box"], 512, 512)
    assert not changed[:y0].any() and not changed[y1:].any() and not changed[:, :x0].any() and not changed[:, x1:].any()
    assert changed[y0:y1, x0:x1].mean() > 0.5
    bike = cv2.imread(str(out / "motorcycle.jpg"))
    assert bike.shape == (500, 741, 3)  # written (nothing to hide), same size

    crop = cv2.imread(face["crop"])
    assert face["crop"] == str(crops / "a" / "astronaut.00.face.png")
    assert crop.shape[:2] == (y1 - y0, x1 - x0) and np.array_equal(crop, original[y0:y1, x0:x1])
    assert (labels / "classes.txt").read_text() == "face\n"
    index, cx, _, w, _ = (labels / "a" / "astronaut.txt").read_text().split()
    assert index == "0" and abs(float(cx) * 512 - (face["box"][0] + face["box"][2]) / 2) < 0.01
    assert abs(float(w) * 512 - (face["box"][2] - face["box"][0])) < 0.01
    assert (labels / "motorcycle.txt").read_text() == ""  # a negative example

    source, target = str(photos / "a" / "astronaut.png"), str(out / "a" / "astronaut.png")
    code, _, stderr = _run("detect", source, "--model", "mtcnn", "--redact", "fill", "-o", target)
    assert code == 3 and "exists (use --overwrite" in stderr


def test_cli_annotated_image_to_stdout_records_to_stderr():
    image = EXAMPLES / "astronaut.png"
    code, stdout, stderr = _run("detect", str(image), "-o", "-", "--format", "jsonl")
    assert code == 0, stderr
    drawn = cv2.imdecode(np.frombuffer(stdout, np.uint8), cv2.IMREAD_COLOR)
    original = cv2.imread(str(image))
    assert drawn.shape == original.shape and (drawn != original).any()
    record = json.loads(next(line for line in stderr.splitlines() if line.startswith("{")))
    assert record["output"] == "-" and record["detections"][0]["label"] == "person"
    x1, y1, x2, y2 = (round(v) for v in record["detections"][0]["box"])
    assert (drawn[y1 + 60 : y2 - 10, x1 + 10 : x2 - 10] == original[y1 + 60 : y2 - 10, x1 + 10 : x2 - 10]).all()


def test_torchvision_detector_runs_from_torchvisions_cache(tmp_path, monkeypatch):
    """Plumbing only: a randomly initialised SSDlite under the file name torchvision's cache expects."""
    image = str(EXAMPLES / "astronaut.png")
    name = "ssdlite320_mobilenet_v3_large"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(loading, "_LOADED", {})  # the random model stays out of this process's model cache
    code, _, stderr = _run("detect", image, "--model", name)
    assert code == 4 and f"optik models pull {name}" in stderr and "Traceback" not in stderr
    spec = get_spec(name)
    checkpoint = tmp_path / "hub" / "checkpoints" / spec.weights.weights().url.rsplit("/", 1)[-1]
    checkpoint.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(spec.build().state_dict(), checkpoint)
    code, stdout, stderr = _run(
        "detect", image, "--model", name, "--conf", "0", "--max-det", "5", "--imgsz", "256", "--format", "jsonl"
    )
    assert code == 0, stderr
    (record,) = jsonl(stdout)
    assert record["model"] == name and (record["width"], record["height"]) == (512, 512)
    assert 1 <= len(record["detections"]) <= 5
    labels = get_spec("nanodet").categories()
    for d in record["detections"]:
        assert labels[d["index"]] == d["label"]  # COCO-91 ids mapped to the 80 contiguous classes
        x1, y1, x2, y2 = d["box"]
        assert 0 <= x1 < x2 <= 512 and 0 <= y1 < y2 <= 512
