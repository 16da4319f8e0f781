"""``optik embed``, ``optik similar`` and ``optik dedupe``: vectors, the on-disk index and its updates, search by
example, duplicate groups and what is done to them; on real photos and the embedded weights."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

import optik
from optik.errors import SettingError
from optik.io.embedding_index import Index
from optik.preprocess.fingerprint import hash_distance, perceptual_hash, sharpness
from optik.registry import get_spec
from optik.tasks.similar import VectorSearch, faiss_module
from tests.helpers import jsonl, write_rgb
from tests.helpers import optik as run_optik


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _half(rgb: np.ndarray) -> np.ndarray:
    return cv2.resize(rgb, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)


def _crop(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    return np.ascontiguousarray(rgb[height // 8 : height * 7 // 8, width // 10 : width * 8 // 10])


@pytest.fixture(scope="module")
def photos(sample: Callable) -> dict[str, np.ndarray]:
    return {name: sample(name) for name in ("astronaut", "chelsea", "coffee", "rocket", "motorcycle")}


@pytest.fixture
def library(tmp_path: Path, photos: dict[str, np.ndarray]) -> Path:
    """A folder with copies: chelsea as PNG, a byte-identical copy, a JPEG re-encode, a half-size copy, a crop and
    a mirror image; coffee with a JPEG copy; three unrelated photos."""
    root = tmp_path / "library"
    chelsea, coffee = photos["chelsea"], photos["coffee"]
    write_rgb(root / "cats" / "chelsea.png", chelsea)
    (root / "cats" / "chelsea-copy.png").write_bytes((root / "cats" / "chelsea.png").read_bytes())
    write_rgb(root / "cats" / "chelsea-q30.png", _jpeg(chelsea, 30))
    write_rgb(root / "cats" / "chelsea-small.png", _half(chelsea))
    write_rgb(root / "cats" / "chelsea-crop.png", _crop(chelsea))
    write_rgb(root / "cats" / "chelsea-mirror.png", np.ascontiguousarray(chelsea[:, ::-1]))
    write_rgb(root / "coffee.png", coffee)
    write_rgb(root / "more" / "coffee-q40.png", _jpeg(coffee, 40))
    for name in ("astronaut", "rocket", "motorcycle"):
        write_rgb(root / f"{name}.png", photos[name])
    return root


def test_fingerprints_tell_copies_from_other_pictures(photos: dict[str, np.ndarray]) -> None:
    chelsea = photos["chelsea"]
    original = perceptual_hash(chelsea)
    for copy in (_jpeg(chelsea, 20), _half(chelsea), np.clip(chelsea.astype(int) + 20, 0, 255).astype(np.uint8)):
        assert hash_distance(original, perceptual_hash(copy)) <= 6
    for other in ("astronaut", "coffee", "rocket", "motorcycle"):
        assert hash_distance(original, perceptual_hash(photos[other])) >= 20
    assert hash_distance(original, perceptual_hash(_crop(chelsea))) > 8  # a crop is not a near copy
    assert sharpness(cv2.GaussianBlur(chelsea, (0, 0), 3)) < sharpness(chelsea) / 5
    hashes = np.array([original, perceptual_hash(photos["coffee"])], np.uint64)
    bits = [[bin(int(a) ^ int(b)).count("1") for b in hashes] for a in hashes]
    np.testing.assert_array_equal(hash_distance(hashes[:, None], hashes[None]), bits)


def test_embeddings_rank_copies_of_a_photo_first(photos: dict[str, np.ndarray]) -> None:
    chelsea = photos["chelsea"]
    queries = [_crop(chelsea), np.ascontiguousarray(chelsea[:, ::-1]), _jpeg(chelsea, 20), _half(chelsea)]
    results = optik.embed([chelsea, *queries, *(photos[n] for n in ("astronaut", "coffee", "rocket"))], device="cpu")
    vectors = np.stack([r.vector for r in results])
    assert vectors.shape == (8, 1280) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    similarity = vectors @ vectors[0]
    assert similarity[1:5].min() > 0.8  # measured 0.84 (crop) to 0.99
    assert similarity[5:].max() < 0.5  # measured 0.19-0.31
    assert results[0].model == "efficientnet_lite0-embed" and results[0].phash == perceptual_hash(chelsea)
    record = results[0].to_record()
    assert record["dim"] == 1280 and len(record["embedding"]) == 1280 and record["phash"] == f"{results[0].phash:016x}"


def test_embed_rows_read_the_classifiers_weights_files() -> None:
    for embedder, classifier in (
        ("efficientnet_lite0-embed", "efficientnet_lite0"),
        ("mobilenet_v2-embed", "mobilenet_v2"),
    ):
        assert get_spec(embedder).weights is get_spec(classifier).weights  # one file on disk, one checksum
        embedder_input, classifier_input = get_spec(embedder).input, get_spec(classifier).input
        assert replace(embedder_input, interpolation=classifier_input.interpolation) == classifier_input


def test_index_is_built_updated_and_appended_incrementally(library: Path, tmp_path: Path, photos: dict) -> None:
    index_dir = tmp_path / "index"
    first = run_optik("embed", "-r", str(library), "-o", str(index_dir), "--format", "jsonl")
    assert first.returncode == 0, first.stderr
    assert f"{index_dir}: 11 added; 11 files" in first.stderr
    records = jsonl(first.stdout)
    assert len(records) == 11 and all(r["index"] == str(index_dir) and "embedding" not in r for r in records)
    manifest = json.loads((index_dir / "index.json").read_text())
    assert manifest["format"] == "optik-index" and manifest["count"] == 11 and manifest["dim"] == 1280
    assert sorted(p.name for p in index_dir.iterdir()) == [".lock", "index-1.jsonl", "index.json", "vectors-1.npy"]
    built = Index.load(index_dir)
    table = (index_dir / "index-1.jsonl").read_text().splitlines()
    assert [json.loads(line)["path"] for line in table] == [r["path"] for r in built.rows]
    row = built.rows[0]
    assert {"path", "size", "mtime_ns", "sha256", "model", "width", "height", "phash", "sharpness"} <= row.keys()
    assert os.path.isabs(row["path"]) and row["model"] == "efficientnet_lite0-embed"

    again = run_optik("embed", "-r", str(library), "-o", str(index_dir), "--format", "jsonl")
    assert again.returncode == 0 and jsonl(again.stdout) == [] and "11 unchanged; 11 files" in again.stderr

    touched, changed, removed = library / "coffee.png", library / "rocket.png", library / "astronaut.png"
    os.utime(touched, ns=(1_000_000_000, 1_000_000_000))  # a new time, the same bytes: not embedded again
    write_rgb(changed, photos["coffee"][::-1].copy())  # new content
    removed.unlink()
    update = run_optik("embed", "-r", str(library), "-o", str(index_dir), "--format", "jsonl")
    assert update.returncode == 0, update.stderr
    assert [Path(r["path"]).name for r in jsonl(update.stdout)] == ["rocket.png"]
    assert "1 updated, 9 unchanged, 1 removed; 10 files" in update.stderr
    updated = Index.load(index_dir)
    assert sorted(p.name for p in index_dir.iterdir()) == [".lock", "index-3.jsonl", "index.json", "vectors-3.npy"]
    rows = {Path(r["path"]).name: (r, v) for r, v in zip(updated.rows, updated.vectors, strict=True)}
    old = {Path(r["path"]).name: (r, v) for r, v in zip(built.rows, built.vectors, strict=True)}
    assert rows["coffee.png"][0]["mtime_ns"] == 1_000_000_000 and np.array_equal(
        rows["coffee.png"][1], old["coffee.png"][1]
    )
    assert rows["rocket.png"][0]["sha256"] != old["rocket.png"][0]["sha256"]
    assert float(rows["rocket.png"][1] @ rows["coffee.png"][1]) > 0.7  # it is a flipped coffee now

    extra = tmp_path / "extra.png"
    write_rgb(extra, photos["astronaut"])
    appended = run_optik("embed", str(extra), "-o", str(index_dir), "--append")
    assert appended.returncode == 0 and "1 added; 11 files" in appended.stderr
    subset = run_optik("embed", str(library / "cats"), "-o", str(index_dir))
    assert subset.returncode == 0 and "6 unchanged, 5 removed; 6 files" in subset.stderr


def test_index_refusals(library: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    assert run_optik("embed", str(library / "cats"), "-o", str(index_dir), "-q").returncode == 0
    other_model = run_optik("embed", str(library / "cats"), "-o", str(index_dir), "-m", "mobilenet_v2-embed")
    assert other_model.returncode == 2 and "holds efficientnet_lite0-embed vectors" in other_model.stderr
    assert run_optik("embed", "-", "-o", str(index_dir), stdin=b"").returncode == 2
    assert run_optik("embed", str(library / "coffee.png"), "--append").returncode == 2
    not_an_index = run_optik("embed", str(library / "coffee.png"), "-o", str(library))
    assert not_an_index.returncode == 2 and "holds other files" in not_an_index.stderr
    vectors = next(index_dir.glob("vectors-*.npy"))
    vectors.write_bytes(vectors.read_bytes()[:-100])
    damaged = run_optik("similar", str(library / "coffee.png"), "--index", str(index_dir))
    assert damaged.returncode == 2 and "damaged optik index" in damaged.stderr and "Traceback" not in damaged.stderr
    missing = run_optik("similar", str(library / "coffee.png"), "--index", str(tmp_path))
    assert missing.returncode == 2 and "not an optik index" in missing.stderr


def test_similar_finds_the_copies_first(library: Path, tmp_path: Path, sample: Callable) -> None:
    index_dir = tmp_path / "index"
    assert run_optik("embed", "-r", str(library), "-o", str(index_dir), "-q").returncode == 0
    query = tmp_path / "query.jpg"
    write_rgb(query, _crop(_half(sample("chelsea"))))
    found = run_optik(
        "similar", str(query), str(library / "coffee.png"), "--index", str(index_dir), "-k", "6", "--format", "jsonl"
    )
    assert found.returncode == 0, found.stderr
    cat, coffee = jsonl(found.stdout)
    assert [Path(h["path"]).parent.name for h in cat["hits"]] == ["cats"] * 6  # the six chelsea files first
    assert cat["hits"][0]["score"] > 0.85 and cat["hits"] == sorted(cat["hits"], key=lambda h: -h["score"])
    assert str(library / "coffee.png") not in [h["path"] for h in coffee["hits"]]  # not its own hit
    assert Path(coffee["hits"][0]["path"]).name == "coffee-q40.png" and coffee["hits"][0]["score"] > 0.9
    assert coffee["weights_sha256"] == get_spec("efficientnet_lite0-embed").weights.sha256

    sheet = tmp_path / "sheet.png"
    limited = run_optik(
        "similar", str(query), "--index", str(index_dir), "--min-score", "0.5", "-o", str(sheet), "--format", "csv"
    )
    rows = limited.stdout.decode().splitlines()
    assert limited.returncode == 0 and rows[0].startswith("path,model,rank,hit,score")
    assert len(rows) == 1 + 6  # only the cats score 0.5 or more
    picture = cv2.imread(str(sheet))
    assert picture.shape == (8 + 2 * (192 + 18 + 8), 8 + 6 * (192 + 8), 3)  # the query and 6 hits: 6 columns, 2 rows
    again = run_optik("similar", str(query), "--index", str(index_dir), "-o", str(sheet))
    assert again.returncode == 3 and "exists" in again.stderr


def test_vector_search_is_exact() -> None:
    generator = np.random.default_rng(0)
    vectors = generator.normal(size=(5000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:7] + 0.01 * generator.normal(size=(7, 64)).astype(np.float32)
    scores, indices = VectorSearch(vectors, "numpy").search(queries, 10)
    expected = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(indices[:, 0], np.arange(7))
    assert (np.diff(scores, axis=1) <= 0).all()
    assert VectorSearch(vectors[:3], "numpy").search(queries, 10)[1].shape == (7, 3)
    if faiss_module() is None:
        with pytest.raises(SettingError, match="faiss is not installed"):
            VectorSearch(vectors, "faiss")
    else:
        np.testing.assert_array_equal(VectorSearch(vectors, "faiss").search(queries, 10)[1], expected)
    assert VectorSearch(vectors).backend == ("numpy" if faiss_module() is None else "faiss")


def test_dedupe_groups_copies_and_keeps_the_largest(library: Path) -> None:
    near = run_optik("dedupe", "-r", str(library), "--format", "jsonl")
    assert near.returncode == 0, near.stderr
    groups = jsonl(near.stdout)
    assert [len(g["duplicates"]) for g in groups] == [3, 1]
    cats, coffee = groups
    assert cats["keep"]["path"] == str(library / "cats" / "chelsea.png")  # the largest; the copy has a longer name
    kinds = {Path(d["path"]).name: d["kind"] for d in cats["duplicates"]}
    assert kinds == {"chelsea-copy.png": "exact", "chelsea-q30.png": "near", "chelsea-small.png": "near"}
    assert Path(coffee["keep"]["path"]).name == "coffee.png"
    assert "listed only, nothing touched" in near.stderr
    scene = jsonl(run_optik("dedupe", "-r", str(library), "--level", "scene", "--format", "jsonl").stdout)
    assert len(scene[0]["duplicates"]) == 5 and scene[0]["kind"] == "scene"  # the crop and the mirror too
    exact = jsonl(run_optik("dedupe", "-r", str(library), "--level", "exact", "--format", "jsonl").stdout)
    assert [[Path(d["path"]).name for d in g["duplicates"]] for g in exact] == [["chelsea-copy.png"]]
    sharpest = jsonl(run_optik("dedupe", "-r", str(library / "cats"), "--keep", "sharpest", "--format", "jsonl").stdout)
    assert Path(sharpest[0]["keep"]["path"]).name in ("chelsea.png", "chelsea-copy.png")
    assert sorted(p.name for p in (library / "cats").iterdir()) == sorted(
        [
            "chelsea.png",
            "chelsea-copy.png",
            "chelsea-q30.png",
            "chelsea-small.png",
            "chelsea-crop.png",
            "chelsea-mirror.png",
        ]
    )


def test_dedupe_moves_or_deletes_only_when_asked(library: Path, tmp_path: Path) -> None:
    index_dir, aside = tmp_path / "index", tmp_path / "aside"
    assert run_optik("embed", "-r", str(library), "-o", str(index_dir), "-q").returncode == 0
    preview = run_optik("dedupe", "--index", str(index_dir), "--move-to", str(aside), "--dry-run", "--format", "csv")
    assert preview.returncode == 0 and not aside.exists()
    assert "would move to" in preview.stdout.decode() and "role" in preview.stdout.decode().splitlines()[0]
    os.utime(library / "more" / "coffee-q40.png", ns=(5, 5))  # changed since it was indexed: left alone
    moved = run_optik("dedupe", "--index", str(index_dir), "--move-to", str(aside), "--format", "jsonl")
    assert moved.returncode == 3 and "changed since it was examined" in moved.stderr
    assert sorted(str(p.relative_to(aside)) for p in aside.rglob("*.png")) == [
        "cats/chelsea-copy.png",
        "cats/chelsea-q30.png",
        "cats/chelsea-small.png",
    ]
    assert (library / "cats" / "chelsea.png").exists() and (library / "more" / "coffee-q40.png").exists()
    deleted = run_optik("dedupe", "-r", str(library), "--delete")
    assert deleted.returncode == 0 and not (library / "more" / "coffee-q40.png").exists()
    assert (library / "coffee.png").exists()
    assert run_optik("dedupe", str(library), "--delete", "--move-to", str(aside)).returncode == 2
    assert run_optik("dedupe", str(library), "--index", str(index_dir)).returncode == 2


def test_python_api_searches_among_images_in_memory(library: Path) -> None:
    everything = str(library / "**" / "*.png")
    result = optik.similar(str(library / "cats" / "chelsea-crop.png"), everything, k=3, device="cpu")
    assert [Path(hit.path).parent.name for hit in result.hits] == ["cats"] * 3
    groups = optik.dedupe(everything, device="cpu")
    assert [len(group.duplicates) for group in groups] == [3, 1]
