"""``optik faces``: enroll people from folders, identify faces (names, distances, redaction, CI checks), cluster
faces nobody enrolled; on the astronaut and face-api's demo photos (one photo per person: the "same person"
here is the same face cropped, mirrored or brightened, which is all the offline photos allow)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

import optik
from optik.errors import UsageError
from optik.registry import upstream
from optik.tasks.faces import FaceGallery, cluster_faces
from tests.helpers import jsonl, write_rgb
from tests.helpers import optik as run_optik

# MTCNN's faces in face-api's sample1.jpg at half size (score ≥ 0.95), left to right: x1 of each box
SAMPLE1_FACES = {"left": 205, "middle": 415, "right": 740}


@pytest.fixture(scope="module")
def party(unpacked: Callable) -> dict[str, np.ndarray]:
    """face-api's demo photos 1 and 3 at half size (three faces each)."""
    demo = unpacked(upstream.FACE_API) / "package" / "demo"
    photos = {}
    for k in (1, 3):
        photo = cv2.cvtColor(cv2.imread(str(demo / f"sample{k}.jpg")), cv2.COLOR_BGR2RGB)
        photos[f"sample{k}"] = cv2.resize(photo, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    return photos


def _around(rgb: np.ndarray, x1: int, y1: int, size: int = 260) -> np.ndarray:
    """A square crop around the face whose box starts at (x1, y1)."""
    top, left = max(0, y1 - size // 3), max(0, x1 - size // 3)
    return np.ascontiguousarray(rgb[top : top + size, left : left + size])


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory, party: dict, sample: Callable) -> tuple[Path, Path, object]:
    """people/: anna (sample1's middle face, cropped and mirrored), bea (the right face, cropped and brightened),
    eileen (the astronaut); plus photos enroll must refuse. Returns (people, db, the enroll run)."""
    root = tmp_path_factory.mktemp("faces")
    people, sample1 = root / "people", party["sample1"]
    anna = _around(sample1, SAMPLE1_FACES["middle"], 213)
    bea = _around(sample1, SAMPLE1_FACES["right"], 107)
    write_rgb(people / "anna" / "1.png", anna)
    write_rgb(people / "anna" / "2.png", np.ascontiguousarray(anna[:, ::-1]))
    write_rgb(people / "bea" / "1.png", bea)
    write_rgb(people / "bea" / "2.jpg", np.clip(bea.astype(np.int16) + 30, 0, 255).astype(np.uint8))
    write_rgb(people / "eileen" / "astronaut.png", sample("astronaut"))
    write_rgb(people / "nobody" / "cat.png", sample("chelsea"))  # no face
    write_rgb(people / "group" / "sample3.png", party["sample3"])  # three faces of one size
    write_rgb(people / "loose.png", anna)  # not in a person's folder
    db = root / "db"
    enrolled = run_optik("faces", "enroll", str(people), "-o", str(db), "--format", "jsonl")
    return people, db, enrolled


def test_enroll_keeps_one_face_per_photo_and_refuses_the_rest(database: tuple) -> None:
    people, db, enrolled = database
    assert enrolled.returncode == 3, enrolled.stderr  # some photos could not be enrolled; the others were
    assert "cat.png: no face found" in enrolled.stderr
    assert "sample3.png: 3 faces of similar size" in enrolled.stderr
    assert "loose.png: put it in a folder named after the person, or give --name" in enrolled.stderr
    assert f"{db}: 5 added; 5 files" in enrolled.stderr
    manifest = json.loads((db / "index.json").read_text())
    assert manifest["model"] == "dlib-face" and manifest["dim"] == 128 and manifest["count"] == 5
    rows = [json.loads(line) for line in (db / manifest["table"]).read_text().splitlines()]
    assert sorted(row["name"] for row in rows) == ["anna", "anna", "bea", "bea", "eileen"]
    assert all(len(row["box"]) == 4 and row["score"] >= 0.95 and Path(row["path"]).is_absolute() for row in rows)
    again = run_optik(
        "faces", "enroll", str(people / "anna"), str(people / "bea"), str(people / "eileen"), "-o", str(db)
    )
    assert again.returncode == 0 and "5 unchanged; 5 files" in again.stderr


def test_identify_names_enrolled_faces_and_leaves_others_unknown(database: tuple, party: dict, tmp_path: Path) -> None:
    _, db, _ = database
    photo = write_rgb(tmp_path / "sample1.png", party["sample1"])
    found = run_optik("faces", "identify", str(photo), "--db", str(db), "--format", "jsonl")
    assert found.returncode == 0, found.stderr
    (record,) = jsonl(found.stdout)
    faces = sorted(record["faces"], key=lambda face: face["box"][0])
    assert [face["name"] for face in faces] == ["unknown", "anna", "bea"]
    assert faces[1]["distance"] < 0.3 and faces[2]["distance"] < 0.3  # measured 0.135, 0.122
    assert faces[0]["distance"] > 0.6  # measured 0.633: another woman, only just beyond dlib's 0.6
    assert [round(face["box"][0]) for face in faces] == list(SAMPLE1_FACES.values())
    assert all(len(face["landmarks"]) == 5 for face in faces) and record["model"] == "dlib-face"

    passed = run_optik("faces", "identify", str(photo), "--db", str(db), "--expect-person", "anna,bea")
    assert passed.returncode == 0, passed.stderr
    failed = run_optik("faces", "identify", str(photo), "--db", str(db), "--expect-person", "eileen", "-q")
    assert failed.returncode == 1 and "eileen not found (found 1 anna, 1 bea, 1 unknown)" in failed.stderr
    not_enrolled = run_optik("faces", "identify", str(photo), "--db", str(db), "--expect-person", "zoe")
    assert not_enrolled.returncode == 2 and "not enrolled" in not_enrolled.stderr
    strict = jsonl(
        run_optik("faces", "identify", str(photo), "--db", str(db), "--threshold", "0.05", "--format", "jsonl").stdout
    )[0]
    assert [face["name"] for face in strict["faces"]].count("unknown") >= 2


def test_redact_unknown_hides_only_the_faces_nobody_enrolled(database: tuple, party: dict, tmp_path: Path) -> None:
    _, db, _ = database
    photo = write_rgb(tmp_path / "sample1.png", party["sample1"])
    out = tmp_path / "public.png"
    done = run_optik(
        "faces",
        "identify",
        str(photo),
        "--db",
        str(db),
        "--redact-unknown",
        "fill",
        "-o",
        str(out),
        "--format",
        "jsonl",
    )
    assert done.returncode == 0, done.stderr
    faces = jsonl(done.stdout)[0]["faces"]
    redacted = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    original = party["sample1"]
    changed = np.any(redacted != original, axis=2)
    unknown = next(face for face in faces if face["name"] == "unknown")
    x1, y1, x2, y2 = (round(v) for v in unknown["box"])
    assert (redacted[y1 + 1 : y2 - 1, x1 + 1 : x2 - 1] == 0).all()
    outside = np.ones_like(changed)
    outside[max(0, y1 - 1) : y2 + 1, max(0, x1 - 1) : x2 + 1] = False
    assert not changed[outside].any()  # the enrolled faces and everything else untouched
    assert run_optik("faces", "identify", str(photo), "--db", str(db), "--redact-unknown", "blur").returncode == 2


def test_cluster_groups_each_face_with_its_mirror_image(database: tuple, party: dict, tmp_path: Path) -> None:
    _, db, _ = database
    sample1 = party["sample1"]
    photos = [
        write_rgb(tmp_path / "a.png", sample1),
        write_rgb(tmp_path / "b.png", np.ascontiguousarray(sample1[:, ::-1])),
    ]
    sheet = tmp_path / "clusters.png"
    grouped = run_optik("faces", "cluster", *map(str, photos), "-o", str(sheet), "--format", "jsonl")
    assert grouped.returncode == 0, grouped.stderr
    clusters = jsonl(grouped.stdout)
    assert [c["size"] for c in clusters] == [2, 2, 2] and [c["cluster"] for c in clusters] == [1, 2, 3]
    assert all(sorted(Path(f["path"]).name for f in c["faces"]) == ["a.png", "b.png"] for c in clusters)
    assert cv2.imread(str(sheet)).shape[:2] == (8 + 150 + 18 + 8, 8 + 6 * (150 + 8))
    unknown_only = jsonl(run_optik("faces", "cluster", *map(str, photos), "--db", str(db), "--format", "jsonl").stdout)
    assert [c["size"] for c in unknown_only] == [2]  # anna and bea are enrolled


def test_python_api_in_memory_gallery(party: dict, sample: Callable) -> None:
    sample1 = party["sample1"]
    gallery = optik.enroll(
        {"anna": [_around(sample1, SAMPLE1_FACES["middle"], 213)], "eileen": sample("astronaut")}, device="cpu"
    )
    assert gallery.people == ["anna", "eileen"] and gallery.descriptors.shape == (2, 128)
    result = optik.faces(sample1, db=gallery, device="cpu")
    assert sorted(face.name for face in result.faces) == ["anna", "unknown", "unknown"]
    assert result.to_text().count("unknown") == 2 and len(result.csv_rows()) == 3
    redacted = result.render("pixelate")
    assert redacted.pixels.shape == sample1.shape
    with pytest.raises(UsageError, match="other-model"):
        optik.faces(sample1, db=FaceGallery("other-model", ("x",), np.zeros((1, 128), np.float32)), device="cpu")
    full, small = (optik.faces(sample("astronaut"), imgsz=size, device="cpu").faces for size in (None, 300))
    np.testing.assert_allclose(small[0].box, full[0].box, atol=3)  # found on a 300-px copy, mapped back
    assert np.linalg.norm(small[0].descriptor - full[0].descriptor) < 0.2  # the chip is cut from the full image
    descriptors = np.array([[0.0, 0.0], [0.3, 0.0], [0.6, 0.0], [3.0, 0.0]])
    assert cluster_faces(descriptors, 0.5) == [0, 0, 0, 1]  # a chain of close faces is one cluster
