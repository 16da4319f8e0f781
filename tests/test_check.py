"""optik check: each measure moves the right way on real photos, the README's thresholds separate good from bad,
what files say (format, ICC, EXIF orientation, alpha, size) is read, near-duplicates are found whatever order the
workers finish in, and the command's gates, profile and exit codes."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageCms

import optik
from optik.errors import SettingError
from optik.preprocess import metrics
from optik.preprocess.decode import Image
from optik.preprocess.fingerprint import hash_distance, perceptual_hash, sharpness
from optik.tasks.check import CheckResult, Quality, _Batch, assess
from optik.tasks.settings import CheckSettings
from tests.helpers import jsonl, valid, write_rgb
from tests.helpers import optik as run_optik

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle", "camera")
# the README's thresholds (section "check")
EXPOSURE = {"max_clipped": "0.015,0.2", "min_luminance": 0.2, "max_luminance": 0.6}
MIN_SHARPNESS, MAX_NOISE, MAX_COLOR_CAST, HASH_DISTANCE, MAX_SIMILARITY = 150, 3.0, 5.0, 6, 0.95


@pytest.fixture(scope="module")
def photos(sample: Callable) -> dict[str, np.ndarray]:
    return {name: sample(name) if name != "camera" else np.dstack([sample(name)] * 3) for name in PHOTOS}


def gained(rgb: np.ndarray, gain: float) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def tinted(rgb: np.ndarray, strength: float) -> np.ndarray:
    return np.clip(rgb * np.array([strength, 1.0, 1 / strength]), 0, 255).astype(np.uint8)


def noisy(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return np.clip(rgb + np.random.default_rng(0).normal(0, sigma, rgb.shape), 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def gates_failed(rgb: np.ndarray, **gates: object) -> list[str]:
    return [gate for gate, _ in optik.check(rgb, **gates).failures]


@pytest.mark.parametrize("name", PHOTOS)
def test_each_measure_moves_the_right_way(photos: dict, name: str) -> None:
    photo = photos[name]
    assert np.all(np.diff([sharpness(cv2.GaussianBlur(photo, (0, 0), s)) for s in (0.5, 1, 2, 4)]) < 0)
    noise = [metrics.noise_sigma(metrics.luma(Image(noisy(photo, s)))) for s in (0, 2, 5, 10, 20)]
    assert np.all(np.diff(noise) > 0)
    exposures = [metrics.exposure(metrics.luma(Image(gained(photo, g)))) for g in (0.35, 0.7, 1.0, 1.4, 2.0)]
    highlights, shadows, luminance = np.array(exposures).T
    assert np.all(np.diff(luminance) > 0) and np.all(np.diff(highlights) >= 0) and highlights[-1] > highlights[2]
    assert np.all(np.diff(shadows) <= 0)
    hashes = {label: perceptual_hash(image) for label, image in (("jpeg", jpeg(photo, 50)), ("blur", photo))}
    assert hash_distance(hashes["jpeg"], perceptual_hash(photo)) <= HASH_DISTANCE
    others = [hash_distance(perceptual_hash(photo), perceptual_hash(photos[o])) for o in PHOTOS if o != name]
    assert min(others) > HASH_DISTANCE


def test_colour_cast_grows_with_a_tint(photos: dict) -> None:
    gray = photos["camera"]
    casts = [metrics.color_cast(tinted(gray, t)) for t in (1.0, 1.05, 1.1, 1.25)]
    assert casts[0] == pytest.approx(0, abs=0.05) and np.all(np.diff(casts) > 0)
    warm = photos["astronaut"]  # already warm: a warmer tint moves it further from gray
    assert metrics.color_cast(tinted(warm, 1.1)) > metrics.color_cast(warm)


def test_the_documented_thresholds_separate_good_from_bad(photos: dict) -> None:
    for name, photo in photos.items():
        assert gates_failed(photo, min_sharpness=MIN_SHARPNESS, max_noise=MAX_NOISE, **EXPOSURE) == [], name
        assert gates_failed(cv2.GaussianBlur(photo, (0, 0), 2), min_sharpness=MIN_SHARPNESS) == ["min_sharpness"], name
        assert gates_failed(noisy(photo, 5), max_noise=MAX_NOISE) == ["max_noise"], name
        assert gates_failed(gained(photo, 2.0), **EXPOSURE), name  # +1 stop: blown out or too bright
        assert gates_failed(gained(photo, 0.35), **EXPOSURE) == ["min_luminance"], name  # -1.5 stops
    gray = photos["camera"]
    assert gates_failed(gray, max_color_cast=MAX_COLOR_CAST) == []
    assert gates_failed(tinted(gray, 1.1), max_color_cast=MAX_COLOR_CAST) == ["max_color_cast"]


def test_near_duplicates_by_hash_and_embedding(photos: dict) -> None:
    astronaut, coffee = photos["astronaut"], photos["coffee"]
    half = cv2.resize(coffee, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    batch = [astronaut, coffee, jpeg(astronaut, 50), photos["chelsea"], half]
    results = optik.check(batch, hash_distance=HASH_DISTANCE, max_similarity=MAX_SIMILARITY, device="cpu")
    assert (results[1].hash_nearest, results[2].hash_nearest, results[4].hash_nearest) == ("<array 0>",) * 2 + (
        "<array 1>",
    )
    assert results[0].hash_distance is None and results[0].similarity is None
    assert [r.passed for r in results] == [True, True, False, True, False]
    assert results[2].similarity >= MAX_SIMILARITY and results[4].similar_to == "<array 1>"
    assert results[3].similarity < MAX_SIMILARITY and results[3].hash_distance > HASH_DISTANCE
    assert {gate for gate, _ in results[2].failures} == {"hash_distance", "max_similarity"}


def test_nearest_earlier_image_whatever_order_the_workers_finish_in() -> None:
    rng = np.random.default_rng(3)
    hashes = [int(h) for h in rng.integers(0, 2**63, 12, dtype=np.int64)]
    hashes[7] = hashes[2] ^ 0b1011  # 3 bits from image 2
    hashes[9] = hashes[2] ^ 0b1  # 1 bit from image 2
    hashes[5] = hashes[1]  # ties: image 11 is as near to 1 as to 5, the earlier one wins
    hashes[11] = hashes[1]
    embeddings = rng.normal(size=(12, 8)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)

    def finished(order: list[int]) -> list[tuple]:
        batch, results = _Batch(), {}
        for position in order:
            quality = Quality(0, 0, 0, 0, 0, 0, hashes[position])
            results[position] = CheckResult(f"img{position}", 10, 10, 8, False, False, quality)
            batch.add(position, results[position], embeddings[position])
        return [(r.hash_distance, r.hash_nearest, r.similar_to) for _, r in sorted(results.items())]

    in_order = finished(list(range(12)))
    assert in_order[7][:2] == (3, "img2") and in_order[9][:2] == (1, "img2") and in_order[11][:2] == (0, "img1")
    assert in_order[5][:2] == (0, "img1") and in_order[0] == (None, None, None)
    for seed in range(5):
        assert finished(list(np.random.default_rng(seed).permutation(12))) == in_order


def _encoded(rgb: np.ndarray, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    mode = "RGBA" if rgb.shape[2] == 4 else "RGB"
    PILImage.fromarray(rgb, mode).save(buffer, fmt, **options)
    return buffer.getvalue()


def test_what_the_file_says(tmp_path: Path, photos: dict) -> None:
    photo = photos["coffee"]  # 600×400
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    exif = PILImage.Exif()
    exif[274] = 6  # rotate 90° clockwise to display
    files = {
        "plain.jpg": _encoded(photo, "JPEG"),
        "srgb.png": _encoded(photo, "PNG", icc_profile=srgb),
        "lab.tif": _encoded(photo, "TIFF", icc_profile=lab),
        "rotated.jpg": _encoded(photo, "JPEG", exif=exif.tobytes()),
        "alpha.webp": _encoded(np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)]), "WEBP", lossless=True),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    cmyk = io.BytesIO()
    PILImage.fromarray(photo).convert("CMYK").save(cmyk, "JPEG")
    (tmp_path / "cmyk.jpg").write_bytes(cmyk.getvalue())

    result = run_optik("check", str(tmp_path), "--format", "jsonl")
    assert result.returncode == 0
    records = {Path(r["path"]).name: valid(r) for r in jsonl(result.stdout)}
    facts = {
        name: (r["format"], r["icc"], r["color_space"], r["orientation"], r["alpha"]) for name, r in records.items()
    }
    assert facts == {
        "alpha.webp": ("WebP", False, "sRGB", 1, True),
        "cmyk.jpg": ("JPEG", False, "CMYK", 1, False),
        "lab.tif": ("TIFF", True, "Lab identity built-in", 1, False),
        "plain.jpg": ("JPEG", False, "sRGB", 1, False),
        "rotated.jpg": ("JPEG", False, "sRGB", 6, False),
        "srgb.png": ("PNG", True, "sRGB", 1, False),
    }
    assert (records["rotated.jpg"]["width"], records["rotated.jpg"]["height"]) == (400, 600)  # as displayed
    assert records["srgb.png"]["file_size"] == len(files["srgb.png"])

    gated = run_optik(
        "check", str(tmp_path), "--formats", "jpeg,png,webp", "--color-spaces", "sRGB", "--upright", "--alpha",
        "forbidden", "--format", "jsonl",
    )  # fmt: skip
    assert gated.returncode == 1
    failed = {Path(r["path"]).name: r["failed"] for r in jsonl(gated.stdout)}
    assert failed == {
        "alpha.webp": ["alpha"],
        "cmyk.jpg": ["color_spaces"],
        "lab.tif": ["formats", "color_spaces"],
        "plain.jpg": [],
        "rotated.jpg": ["upright"],
        "srgb.png": [],
    }
    assert f"check failed: {tmp_path / 'rotated.jpg'}: upright: EXIF orientation 6" in gated.stderr
    assert optik.check(tmp_path / "srgb.png", icc="forbidden").failures == [("icc", "has an ICC profile")]
    assert optik.check(tmp_path / "plain.jpg", icc="required").failures == [("icc", "no ICC profile")]
    sizes = run_optik("check", str(tmp_path / "srgb.png"), "--max-bytes", "10KB", "--min-size", "800x300", "-q")
    assert sizes.returncode == 1
    assert "max_bytes: file size" in sizes.stderr and "min_size: 600x400 is smaller than 800x300" in sizes.stderr


def test_profile_flags_on_top_and_usage_errors(tmp_path: Path, photos: dict) -> None:
    images = [write_rgb(tmp_path / f"{name}.png", photos[name]) for name in ("astronaut", "coffee")]
    blurry = write_rgb(tmp_path / "blurry.png", cv2.GaussianBlur(photos["chelsea"], (0, 0), 3))
    profile = tmp_path / "gates.toml"
    profile.write_text('[check]\nmin-size = "400x300"\nmin_sharpness = 150\nformats = ["PNG"]\n')
    arguments = ("check", *map(str, images), str(blurry), "--profile", str(profile))
    result = run_optik(*arguments, "--format", "jsonl")
    assert result.returncode == 1
    assert [valid(r)["failed"] for r in jsonl(result.stdout)] == [[], [], ["min_sharpness"]]
    similar = run_optik("check", *map(str, images), "--max-similarity", "0.95", "--device", "cpu", "--format", "jsonl")
    assert [valid(r)["similar_to"] for r in jsonl(similar.stdout)] == [None, str(images[0])]
    assert run_optik(*arguments, "--min-sharpness", "2", "-q").returncode == 0  # the flag wins
    assert run_optik("check", *map(str, images), "-q").returncode == 0  # no gates: no check

    profile.write_text("min_sharpnes = 150\n")
    typo = run_optik(*arguments)
    assert typo.returncode == 2 and "--profile: unknown gate min_sharpnes" in typo.stderr
    bad = run_optik("check", str(images[0]), "--min-size", "big")
    assert bad.returncode == 2 and "--min-size" in bad.stderr
    with pytest.raises(SettingError, match="max_clipped"):
        CheckSettings(max_clipped="0.1,0.2,0.3")
    assert CheckSettings(max_clipped=0.05).max_clipped == (0.05, 0.05)
    assert CheckSettings(max_bytes="1.5MiB").max_bytes == 1.5 * 2**20


def test_measures_of_16_bit_gray_and_alpha_images(photos: dict) -> None:
    photo = photos["coffee"]
    eight, sixteen = assess(Image(photo)), assess(Image(photo.astype(np.uint16) * 257))
    assert sixteen.sharpness == pytest.approx(eight.sharpness, rel=1e-3)
    assert sixteen.luminance == pytest.approx(eight.luminance, abs=1e-3)
    gray = optik.check(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), alpha="required")
    assert gray.gray and gray.quality.color_cast == pytest.approx(0, abs=0.05) and not gray.passed
    assert optik.check(np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)]), alpha="required").passed
