"""optik compare: metrics against scikit-image, pixelmatch and direct numpy; degradations of real photos moving
each metric the right way; the README's thresholds separating good from bad; trees, gates, pictures, --update."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import optik
from optik.errors import InputError, SettingError
from optik.preprocess import metrics
from optik.preprocess.decode import Image
from optik.tasks.compare import measure
from optik.tasks.settings import CompareSettings
from tests.conftest import EXAMPLES
from tests.helpers import jsonl, valid, write_rgb
from tests.helpers import optik as run_optik

PHOTOS = ("astronaut", "chelsea", "coffee")
# the README's thresholds (section "compare"): good degradations pass them all, bad ones fail them
MIN_SSIM, MIN_MS_SSIM, MIN_PSNR, MAX_DIFF_SHARE, MAX_PERCEPTUAL = 0.95, 0.99, 32.0, 0.002, 0.15


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def noisy(rgb: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    return np.clip(rgb + np.random.default_rng(seed).normal(0, sigma, rgb.shape), 0, 255).astype(np.uint8)


def blurred(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), sigma)


def gamma(rgb: np.ndarray, value: float) -> np.ndarray:
    return (255 * (rgb / 255) ** (1 / value) + 0.5).astype(np.uint8)


def shifted(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.roll(rgb, 1, axis=1))


GOOD = {"jpeg q90": lambda p: jpeg(p, 90), "noise σ2": lambda p: noisy(p, 2), "blur σ0.5": lambda p: blurred(p, 0.5)}
BAD = {
    "jpeg q20": lambda p: jpeg(p, 20),
    "noise σ10": lambda p: noisy(p, 10),
    "blur σ2": lambda p: blurred(p, 2),
    "gamma 1.5": lambda p: gamma(p, 1.5),
    "1-px shift": shifted,
}


def luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


# --- the metrics against their references ---------------------------------------------------------------------


@pytest.mark.parametrize("name", PHOTOS)
def test_ssim_and_psnr_agree_with_scikit_image(sample: Callable, name: str) -> None:
    photo = sample(name)
    for degrade in (*GOOD.values(), *BAD.values()):
        other = degrade(photo)
        pair = metrics.comparable(Image(other), Image(photo))
        reference_ssim = structural_similarity(luma(other), luma(photo), data_range=255)
        assert metrics.ssim(pair) == pytest.approx(reference_ssim, abs=1e-4)
        assert metrics.psnr(pair) == pytest.approx(peak_signal_noise_ratio(photo, other, data_range=255), abs=1e-4)


def test_ssim_agrees_with_scikit_image_on_16_bit_gray_and_alpha(sample: Callable) -> None:
    photo = sample("coffee")
    deep, deep_noisy = photo.astype(np.uint16) * 257, noisy(photo, 5).astype(np.uint16) * 257 + 100
    pair = metrics.comparable(Image(deep_noisy), Image(deep))
    assert pair.peak == 65535
    assert metrics.ssim(pair) == pytest.approx(
        structural_similarity(luma(deep_noisy), luma(deep), data_range=65535), abs=1e-4
    )
    assert metrics.psnr(pair) == pytest.approx(peak_signal_noise_ratio(deep, deep_noisy, data_range=65535), abs=1e-4)
    mixed = measure(Image(noisy(photo, 5)), Image(deep), CompareSettings())  # 8-bit against 16-bit: at 16 bits
    assert mixed.ssim == pytest.approx(metrics.ssim(metrics.comparable(Image(noisy(photo, 5)), Image(photo))), abs=1e-3)

    gray, gray_blurred = luma(photo), luma(blurred(photo, 1))
    pair = metrics.comparable(Image.from_array(gray_blurred), Image.from_array(gray))
    assert pair.color_planes == 1
    assert metrics.ssim(pair) == pytest.approx(structural_similarity(gray_blurred, gray, data_range=255), abs=1e-4)

    alpha = np.tile(np.linspace(0, 255, photo.shape[1]).astype(np.uint8), (photo.shape[0], 1))
    other_alpha = np.roll(alpha, 3, axis=1)
    pair = metrics.comparable(Image(photo, alpha), Image(blurred(photo, 1), other_alpha))
    (colour_a, colour_b), (alpha_a, alpha_b) = metrics.ssim_planes(pair)
    expected = np.mean(
        [
            structural_similarity(colour_a, colour_b, data_range=255),
            structural_similarity(alpha_a, alpha_b, data_range=255),
        ]
    )
    assert metrics.ssim(pair) == pytest.approx(expected, abs=1e-4)


def test_alpha_hides_what_is_transparent_and_counts_what_changes_transparency(sample: Callable) -> None:
    photo = sample("astronaut")
    transparent = np.zeros(photo.shape[:2], np.uint8)
    scrambled = Image(np.ascontiguousarray(photo[::-1]), transparent)
    invisible = measure(Image(photo, transparent), scrambled, CompareSettings())
    assert invisible.diff_pixels == 0 and invisible.psnr == float("inf") and invisible.ssim == 1.0
    half = transparent.copy()
    half[:, : photo.shape[1] // 2] = 255
    changed = measure(Image(photo, half), Image(photo, transparent), CompareSettings())
    assert changed.diff_share == pytest.approx(0.5, abs=0.01)
    assert changed.psnr < 10 and changed.ssim < 0.9


def test_ms_ssim_at_one_scale_is_ssim_and_identical_pairs_score_one(sample: Callable) -> None:
    photo = sample("chelsea")
    pair = metrics.comparable(Image(blurred(photo, 1)), Image(photo))
    assert metrics.ms_ssim(pair, weights=(1.0,)) == pytest.approx(metrics.ssim(pair), abs=1e-9)
    same = metrics.comparable(Image(photo), Image(photo.copy()))
    assert metrics.ms_ssim(same) == 1.0 and metrics.ssim(same) == 1.0 and metrics.psnr(same) == float("inf")
    small = metrics.comparable(Image(photo[:100, :100]), Image(photo[:100, :100]))
    assert metrics.ms_ssim(small) is None  # under 112 px: the coarsest scale holds no window


def test_pixel_diff_agrees_with_a_direct_numpy_computation(sample: Callable) -> None:
    photo = sample("astronaut")
    for degrade in (*GOOD.values(), *BAD.values()):
        other = degrade(photo)
        for tolerance in (0.03, 0.1, 0.2):
            difference = photo.astype(np.float64) - other.astype(np.float64)
            y = difference @ [0.29889531, 0.58662247, 0.11448223]
            i = difference @ [0.59597799, -0.27417610, -0.32180189]
            q = difference @ [0.21147017, -0.52261711, 0.31114694]
            expected = (0.5053 * y * y + 0.299 * i * i + 0.1957 * q * q) > 35215 * tolerance**2
            found = metrics.pixel_diff(Image(photo), Image(other), tolerance, include_aa=True)
            assert np.array_equal(found.different, expected)
            assert not found.antialiased.any()
        absolute = np.abs(photo.astype(int) - other.astype(int))
        largest, mean = metrics.abs_diff(metrics.comparable(Image(other), Image(photo)))
        assert largest == absolute.max() and mean == pytest.approx(absolute.mean(), abs=1e-9)


def _pixelmatch(a: np.ndarray, b: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """pixelmatch 5 (mapbox, ISC) for opaque RGB, a loop per pixel as its JavaScript: (counted, anti-aliased)."""
    weights = np.array([[0.29889531, 0.58662247, 0.11448223], [0.59597799, -0.2741761, -0.32180189]])
    weights = np.vstack([weights, [0.21147017, -0.52261711, 0.31114694]])
    height, width = a.shape[:2]

    def delta(p: np.ndarray, q: np.ndarray, y_only: bool = False) -> float:
        if (p == q).all():
            return 0.0
        y, i, q_ = weights @ (p.astype(float) - q.astype(float))
        return y if y_only else 0.5053 * y * y + 0.299 * i * i + 0.1957 * q_ * q_

    def around(x1: int, y1: int) -> tuple[int, list[tuple[int, int]]]:
        x0, y0, x2, y2 = max(x1 - 1, 0), max(y1 - 1, 0), min(x1 + 1, width - 1), min(y1 + 1, height - 1)
        edge = int(x1 in (x0, x2) or y1 in (y0, y2))
        return edge, [(x, y) for x in range(x0, x2 + 1) for y in range(y0, y2 + 1) if (x, y) != (x1, y1)]

    def many_siblings(image: np.ndarray, x1: int, y1: int) -> bool:
        zeroes, neighbours = around(x1, y1)
        return zeroes + sum((image[y, x] == image[y1, x1]).all() for x, y in neighbours) > 2

    def antialiased(image: np.ndarray, x1: int, y1: int, other: np.ndarray) -> bool:
        zeroes, neighbours = around(x1, y1)
        darkest = brightest = 0.0
        dark_at = bright_at = None
        for x, y in neighbours:
            d = delta(image[y1, x1], image[y, x], y_only=True)
            if d == 0:
                zeroes += 1
                if zeroes > 2:
                    return False
            elif d < darkest:
                darkest, dark_at = d, (x, y)
            elif d > brightest:
                brightest, bright_at = d, (x, y)
        if darkest == 0 or brightest == 0:
            return False
        return any(many_siblings(image, *at) and many_siblings(other, *at) for at in (dark_at, bright_at))

    counted, excused = np.zeros((height, width), bool), np.zeros((height, width), bool)
    for y in range(height):
        for x in range(width):
            if delta(a[y, x], b[y, x]) > 35215 * threshold**2:
                aa = antialiased(a, x, y, b) or antialiased(b, x, y, a)
                (excused if aa else counted)[y, x] = True
    return counted, excused


def test_antialiasing_is_excused_as_pixelmatch_does(sample: Callable) -> None:
    def drawing(shift: int) -> np.ndarray:
        canvas = np.full((48, 64, 3), 255, np.uint8)
        cv2.circle(canvas, (30 + shift, 24), 14, (30, 60, 200), 2, cv2.LINE_AA)
        cv2.line(canvas, (3, 3 + shift), (60, 44), (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(canvas, "Ab", (8 + shift, 44), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (10, 120, 10), 1, cv2.LINE_AA)
        return canvas

    photo = sample("astronaut")[100:140, 200:260]
    for a, b in ((drawing(0), drawing(1)), (photo, blurred(photo, 1))):
        for tolerance in (0.05, 0.1, 0.3):
            counted, excused = _pixelmatch(a, b, tolerance)
            found = metrics.pixel_diff(Image(a), Image(b), tolerance)
            assert np.array_equal(found.different, counted) and np.array_equal(found.antialiased, excused)
    assert excused.sum() == 0 and _pixelmatch(drawing(0), drawing(1), 0.1)[1].sum() > 100  # drawings have AA


# --- degradations of real photos ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PHOTOS)
def test_each_metric_moves_the_right_way(sample: Callable, name: str) -> None:
    photo = sample(name)
    settings = CompareSettings(ms_ssim=True)
    for series in (
        [blurred(photo, s) for s in (0.5, 1, 2, 4)],
        [noisy(photo, s) for s in (2, 5, 10, 20)],
        [jpeg(photo, q) for q in (90, 50, 20, 5)],
        [gamma(photo, g) for g in (1.1, 1.3, 1.6, 2.2)],
    ):
        measured = [measure(Image(worse), Image(photo), settings) for worse in series]
        assert np.all(np.diff([m.ssim for m in measured]) < 0)
        assert np.all(np.diff([m.ms_ssim for m in measured]) < 0)
        assert np.all(np.diff([m.psnr for m in measured]) < 0)
        assert np.all(np.diff([m.mean_diff for m in measured]) > 0)
        assert np.all(np.diff([m.diff_share for m in measured]) >= 0)
        assert measured[-1].diff_share > measured[0].diff_share


def test_perceptual_distance_moves_the_right_way_and_tolerates_a_1_px_shift(sample: Callable) -> None:
    photo = sample("coffee")
    distances = {}
    for label, other in {
        "blur σ1": blurred(photo, 1),
        "blur σ2": blurred(photo, 2),
        "blur σ4": blurred(photo, 4),
        "noise σ5": noisy(photo, 5),
        "noise σ15": noisy(photo, 15),
        "1-px shift": shifted(photo),
    }.items():
        distances[label] = optik.compare(other, photo, perceptual=True, device="cpu").measures.perceptual
    assert distances["blur σ1"] < distances["blur σ2"] < distances["blur σ4"]
    assert distances["noise σ5"] < distances["noise σ15"]
    assert distances["1-px shift"] < MAX_PERCEPTUAL < distances["blur σ2"]
    assert optik.compare(photo, photo.copy(), perceptual=True, device="cpu").measures.perceptual == 0.0


@pytest.mark.parametrize("name", PHOTOS)
def test_the_documented_thresholds_separate_good_from_bad(sample: Callable, name: str) -> None:
    """Every good degradation passes every threshold; every bad one fails each, except where the README says a
    metric is blind to it (SSIM to a gamma change, the pixel count to fine noise)."""
    photo = sample(name)
    settings = CompareSettings(ms_ssim=True)
    for label, degrade in GOOD.items():
        m = measure(Image(degrade(photo)), Image(photo), settings)
        assert m.ssim >= MIN_SSIM and m.ms_ssim >= MIN_MS_SSIM and m.psnr >= MIN_PSNR, label
        assert m.diff_share <= MAX_DIFF_SHARE, label
    for label, degrade in BAD.items():
        m = measure(Image(degrade(photo)), Image(photo), settings)
        assert m.ms_ssim < MIN_MS_SSIM and m.psnr < MIN_PSNR, label
        assert m.ssim < MIN_SSIM or label == "gamma 1.5", label
        assert m.diff_share > MAX_DIFF_SHARE or label == "noise σ10", label


def test_gates_fail_with_reasons() -> None:
    photo = cv2.cvtColor(cv2.imread(str(EXAMPLES / "coffee.png")), cv2.COLOR_BGR2RGB)
    worse = blurred(photo, 2)
    assert not optik.compare(worse, photo).passed  # no gate: any differing pixel fails
    assert optik.compare(gamma(photo, 1.05), photo).passed  # … over the tolerance only
    result = optik.compare(worse, photo, min_ssim=0.95, min_psnr=20, max_diff_pixels="50%")
    assert result.failures == [("min_ssim", f"SSIM {result.measures.ssim:.4f} is below 0.95")]
    assert optik.compare(worse, photo, max_diff_pixels=10).failures[0][1].endswith("more than 10")
    assert "more than 0.100%" in optik.compare(worse, photo, max_diff_pixels="0.1%").reason()
    with pytest.raises(SettingError, match="max_diff_pixels"):
        CompareSettings(max_diff_pixels="lots")
    with pytest.raises(InputError, match="sizes differ"):
        optik.compare(photo[:-1], photo)
    smaller = cv2.resize(photo, (300, 200), interpolation=cv2.INTER_AREA)
    resized = optik.compare(smaller, photo, resize=True, min_psnr=25)
    assert resized.resized_from == (300, 200) and resized.passed


# --- the command ----------------------------------------------------------------------------------------------


@pytest.fixture
def trees(tmp_path: Path, sample: Callable) -> tuple[Path, Path]:
    """golden/ and new/: same, re-encoded, changed locally, blurred, added, removed, a size change."""
    golden, new = tmp_path / "golden", tmp_path / "new"
    photo, cat = sample("astronaut"), sample("chelsea")
    for name, image in (("same.png", photo), ("reencoded.png", cat), ("box.png", photo), ("blur.png", cat)):
        write_rgb(golden / name, image)
    write_rgb(golden / "sub" / "removed.png", photo)
    write_rgb(golden / "size.png", photo)
    new.mkdir()
    shutil.copy(golden / "same.png", new / "same.png")
    cv2.imwrite(str(new / "reencoded.png"), cv2.cvtColor(cat, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 0])
    boxed = photo.copy()
    boxed[200:240, 100:180] = (255, 0, 0)
    write_rgb(new / "box.png", boxed)
    write_rgb(new / "blur.png", blurred(cat, 2))
    write_rgb(new / "added.png", cat)
    write_rgb(new / "size.png", photo[:-2])
    return new, golden


def test_mirrored_trees_report_every_pair_added_and_removed(trees: tuple[Path, Path], tmp_path: Path) -> None:
    new, golden = trees
    result = run_optik("compare", str(new), str(golden), "-r", "--format", "jsonl", "--min-ssim", "0.95")
    assert result.returncode == 3  # the size change is an error record; the failing pairs count too
    records = {Path(r["path"]).name: valid(r) for r in jsonl(result.stdout)}
    assert set(records) == {"added.png", "blur.png", "box.png", "reencoded.png", "same.png", "size.png", "removed.png"}
    assert records["same.png"]["identical"] and records["reencoded.png"]["identical"]
    assert records["same.png"]["check"] == {"passed": True} and records["same.png"]["psnr"] is None
    assert records["box.png"]["check"]["passed"] and 3100 < records["box.png"]["diff_pixels"] <= 40 * 80
    assert not records["blur.png"]["check"]["passed"] and "SSIM" in records["blur.png"]["check"]["reason"]
    assert records["added.png"]["status"] == "added" and not records["added.png"]["check"]["passed"]
    assert records["removed.png"]["status"] == "removed"
    assert records["removed.png"]["counterpart"] == str(golden / "sub" / "removed.png")
    assert "sizes differ" in records["size.png"]["error"]
    assert "check failed" in result.stderr and "blur.png" in result.stderr

    text = run_optik("compare", str(new / "box.png"), str(golden / "box.png"))
    assert text.returncode == 1  # no gate: the changed pixels fail
    expected = f"{new / 'box.png'}\tvs {golden / 'box.png'}: {records['box.png']['diff_pixels']:,} px differ"
    assert text.stdout.decode().startswith(expected)


def test_output_pictures_only_for_failing_pairs_and_update(trees: tuple[Path, Path], tmp_path: Path) -> None:
    new, golden = trees
    (new / "size.png").unlink()
    (golden / "size.png").unlink()
    out = tmp_path / "diffs"
    gate = ("--min-ssim", "0.95")
    result = run_optik("compare", "-r", str(new), "--against", str(golden), "-o", str(out), "--format", "json", *gate)
    assert result.returncode == 1
    records = {Path(r["path"]).name: r for r in json.loads(result.stdout)}
    assert sorted(p.name for p in out.iterdir()) == ["blur.diff.png", "blur.sheet.png"]
    assert records["blur.png"]["output"] == str(out / "blur.diff.png")
    heat = cv2.imread(str(out / "blur.diff.png"))
    sheet = cv2.imread(str(out / "blur.sheet.png"))
    assert heat.shape == (300, 451, 3) and sheet.shape[1] == 3 * 451 + 2 * 8
    assert heat.std() > 10  # a picture, not a blank

    golden_bytes = (golden / "box.png").read_bytes()
    updated = run_optik("compare", "-r", str(new), str(golden), "--update", "--format", "jsonl")
    records = {Path(r["path"]).name: r for r in jsonl(updated.stdout)}
    assert updated.returncode == 1  # the removed golden image stays (never deleted) and still fails
    assert (golden / "box.png").read_bytes() == (new / "box.png").read_bytes() != golden_bytes
    assert (golden / "added.png").read_bytes() == (new / "added.png").read_bytes()
    assert records["added.png"]["updated"] == str(golden / "added.png") and records["added.png"]["check"]["passed"]
    assert (golden / "sub" / "removed.png").exists()
    assert run_optik("compare", "-r", str(new), str(golden), "-q").returncode == 1  # removed only
    (golden / "sub" / "removed.png").unlink()
    assert run_optik("compare", "-r", str(new), str(golden), "-q").returncode == 0


def test_update_starts_a_golden_set(tmp_path: Path, sample: Callable) -> None:
    new, golden = tmp_path / "out", tmp_path / "golden"
    write_rgb(new / "a.png", sample("coffee"))
    write_rgb(new / "deep" / "b.png", sample("chelsea"))
    first = run_optik("compare", "-r", str(new), str(golden), "--update", "--format", "jsonl")
    assert first.returncode == 0 and [r["status"] for r in jsonl(first.stdout)] == ["added", "added"]
    assert (golden / "deep" / "b.png").read_bytes() == (new / "deep" / "b.png").read_bytes()
    assert run_optik("compare", "-r", str(new), str(golden), "-q").returncode == 0
    assert run_optik("compare", str(new / "a.png"), str(tmp_path / "none.png"), "-q").returncode == 1  # added


def test_usage_errors_and_perceptual_records(tmp_path: Path, sample: Callable) -> None:
    photo = sample("coffee")
    a, b = write_rgb(tmp_path / "a.png", photo), write_rgb(tmp_path / "b.png", noisy(photo, 15))
    assert run_optik("compare", str(a)).returncode == 2
    bad = run_optik("compare", str(a), str(b), "--max-diff-pixels", "some")
    assert bad.returncode == 2 and "--max-diff-pixels" in bad.stderr
    assert run_optik("compare", str(a), str(b), "-o", "-").returncode == 2
    gates = ("--max-perceptual", "0.15", "--ms-ssim", "--device", "cpu")
    result = run_optik("compare", str(a), str(b), *gates, "--format", "jsonl")
    (record,) = jsonl(result.stdout)
    assert valid(record)["device"] == "cpu"
    assert result.returncode == 1 and record["perceptual"] > 0.15 and record["model"] == "mobilenet_v2"
    assert record["ssim"] < record["ms_ssim"] < 1
