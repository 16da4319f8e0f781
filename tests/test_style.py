"""style end to end, as a user meets it: the embedded weights on real photos, records, errors, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import optik
from optik.errors import UsageError
from optik.tasks.settings import filter_names, parse_style, style_names
from tests.conftest import EXAMPLES
from tests.helpers import jsonl, psnr
from tests.helpers import optik as run_optik

FILTERS, STYLE_NAMES = filter_names(), style_names()

CHELSEA, COFFEE, ASTRONAUT = (str(EXAMPLES / name) for name in ("chelsea.png", "coffee.png", "astronaut.png"))


def rgb(path: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)


def mean_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b).mean())


def chroma(pixels: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2YCrCb)[:, :, 1:].astype(np.int16)


@pytest.fixture(scope="module")
def cat() -> np.ndarray:
    return rgb(CHELSEA)


@pytest.fixture(scope="module")
def swirls(cat: np.ndarray) -> np.ndarray:
    return optik.style(cat, style="blue-swirls", device="cpu").image


def test_output_keeps_the_input_size_and_styles_differ(cat, swirls):
    bricks = optik.style(cat, style=17, size=256, device="cpu")
    assert swirls.shape == bricks.image.shape == cat.shape and swirls.dtype == np.uint8
    assert bricks.processing == (256, 170) and bricks.style.name == "red-bricks"
    assert mean_diff(swirls, bricks.image) > 30 and mean_diff(swirls, cat) > 30
    assert optik.style(cat, style="19", device="cpu").image.tolist() == swirls.tolist()  # name = number


def test_blends_differ_from_both_parents_and_weight_one_is_the_style(cat):
    ribbons, bricks = (optik.style(cat, style=s, size=256, device="cpu").image for s in (3, 17))
    blend = optik.style(cat, style="3:0.6,17:0.4", size=256, device="cpu")
    assert blend.style.to_record()["weights"] == [
        {"index": 3, "name": "color-ribbons", "weight": 0.6},
        {"index": 17, "name": "red-bricks", "weight": 0.4},
    ]
    assert mean_diff(blend.image, ribbons) > 10 and mean_diff(blend.image, bricks) > 10
    for one_hot in ("3:1,17:0", {"color-ribbons": 5}):
        assert np.array_equal(optik.style(cat, style=one_hot, size=256, device="cpu").image, ribbons)
    same_blend = optik.style(cat, style={"color-ribbons": 3, 17: 2}, size=256, device="cpu").image  # sum 5 → 1
    assert np.array_equal(same_blend, blend.image)


def test_strength_blends_with_the_photo(cat, swirls):
    none = optik.style(cat, style=19, strength=0, device="cpu").image
    half = optik.style(cat, style=19, strength=0.5, device="cpu").image
    assert np.array_equal(none, cat)
    expected = (cat.astype(np.float32) + swirls) / 2
    assert np.abs(half - expected).max() <= 1


def test_preserve_color_keeps_the_photo_chroma(cat, swirls):
    kept = optik.style(cat, style=19, preserve_color=True, device="cpu").image
    assert np.abs(chroma(kept) - chroma(cat)).mean() < 1.5
    assert np.abs(chroma(swirls) - chroma(cat)).mean() > 15
    luma = cv2.cvtColor(kept, cv2.COLOR_RGB2YCrCb)[:, :, 0]
    assert np.abs(luma.astype(np.int16) - cv2.cvtColor(swirls, cv2.COLOR_RGB2YCrCb)[:, :, 0]).mean() < 2.5


def hist(pixels: np.ndarray) -> np.ndarray:
    counts = cv2.calcHist([pixels], [0, 1, 2], None, [8, 8, 8], [0, 256] * 3).ravel()
    return counts / counts.sum()


@pytest.mark.parametrize("painting", ["coffee.png", "rocket.jpg"])
def test_arbitrary_style_takes_the_colours_of_the_painting(cat, painting):
    """Another photo stands in for the painting: the result's colours move from the cat's to the painting's."""
    style_image = rgb(str(EXAMPLES / painting))
    result = optik.style(CHELSEA, style=str(EXAMPLES / painting), device="cpu")
    assert result.model == "arbitrary_style" and result.image.shape == cat.shape
    assert result.processing == (384, 255) and result.to_record()["style"]["kind"] == "image"
    out = result.image
    assert np.abs(hist(out) - hist(style_image)).sum() < 0.75 * np.abs(hist(out) - hist(cat)).sum()
    assert np.abs(out.mean(axis=(0, 1)) - style_image.mean(axis=(0, 1))).max() < 20
    weaker = optik.style(cat, style=style_image, strength=0.3, device="cpu").image  # an array works as the style
    assert mean_diff(weaker, cat) < mean_diff(out, cat)


def test_tiles_match_the_whole_image(cat):
    """Tiled runs share whole-image norm statistics: no seams, the same picture as untiled."""
    whole = optik.style(cat, style=19, size=320, tile=0, device="cpu")
    tiled = optik.style(cat, style=19, size=320, tile=96, device="cpu")
    assert (whole.tiles, tiled.tiles) == (1, 12) and tiled.processing == (320, 213)
    assert psnr(tiled.image, whole.image) > 55, psnr(tiled.image, whole.image)
    painting = rgb(COFFEE)
    whole = optik.style(cat, style=painting, size=320, tile=0, device="cpu")
    tiled = optik.style(cat, style=painting, size=320, tile=96, device="cpu")
    assert tiled.tiles == 16 and psnr(tiled.image, whole.image) > 55, psnr(tiled.image, whole.image)


def test_classical_filters(cat):
    outputs = {name: optik.style(cat, style=name) for name in FILTERS}
    for name, result in outputs.items():
        assert result.model == name and result.image.shape == cat.shape, name
        assert mean_diff(result.image, cat) > 10, name
    for gray in ("pencil", "sketch"):
        image = outputs[gray].image
        assert np.array_equal(image[:, :, 0], image[:, :, 1]) and np.array_equal(image[:, :, 0], image[:, :, 2])
    assert len(np.unique(outputs["cartoon"].image.reshape(-1, 3), axis=0)) <= 16  # 8 colours, 8 outlines
    coffee = rgb(COFFEE)  # a sharp photo: the watercolour wash flattens its texture

    def flat(pixels: np.ndarray) -> float:
        return float((np.abs(cv2.Laplacian(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), cv2.CV_64F)) <= 2).mean())

    assert flat(optik.style(coffee, style="watercolor").image) > 1.5 * flat(coffee)
    coloured = optik.style(cat, style="pencil", preserve_color=True).image  # a coloured pencil drawing
    assert np.abs(chroma(coloured) - chroma(cat)).mean() < 3  # near-white paper clips some colour


def test_transparency_and_gray_inputs():
    logo = cv2.cvtColor(cv2.imread(str(EXAMPLES / "logo.png"), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)
    result = optik.style(logo, style=0, size=128, device="cpu")
    assert result.image.shape == logo.shape and np.array_equal(result.image[:, :, 3], logo[:, :, 3])
    camera = optik.style(str(EXAMPLES / "camera.png"), style=19, size=128, device="cpu").image
    assert camera.shape == (512, 512, 3) and np.abs(chroma(camera)).mean() > 5  # gray in, colour out


def test_style_arguments():
    assert parse_style("19") == parse_style("blue-swirls") == parse_style(19)
    assert parse_style(" Cartoon ").kind == "filter"
    assert [name for name in STYLE_NAMES if name in FILTERS or name.isdigit()] == []
    assert len(set(STYLE_NAMES)) == 26
    for bad in ("26", "-1", "blue-swirl", "3:x", "3:-1,4:1", "3:0", "missing.jpg", "", True):
        with pytest.raises(UsageError):
            parse_style(bad)
    with pytest.raises(UsageError, match="did you mean blue-swirls"):
        parse_style("blue-swirl")


def test_cli_records_and_outputs(tmp_path):
    out = tmp_path / "out"
    result = run_optik(
        "style",
        CHELSEA,
        COFFEE,
        "--style",
        "red-bricks",
        "--size",
        "256",
        "-o",
        f"{out}/",
        "--format",
        "jsonl",
        "--threads",
        "1",
    )
    assert result.returncode == 0, result.stderr
    records = jsonl(result.stdout)
    assert [Path(r["output"]).name for r in records] == ["chelsea.png", "coffee.png"]
    first = records[0]
    assert first["style"] == {"kind": "preset", "index": 17, "name": "red-bricks"} and first["model"] == "multistyle26"
    assert (first["width"], first["height"], first["output_width"], first["output_height"]) == (451, 300, 451, 300)
    assert first["processing"] == {"width": 256, "height": 170} and first["tiles"] == 1 and first["strength"] == 1.0
    assert set(first["timing_ms"]) == {"pre", "infer", "post"} and first["weights_sha256"]
    assert cv2.imread(str(out / "coffee.png")).shape == (400, 600, 3)
    again = run_optik("style", CHELSEA, "--style", "3", "-o", str(out / "chelsea.png"))
    assert again.returncode == 3 and "exists" in again.stderr  # never overwrites without --overwrite
    piped = run_optik("style", COFFEE, "--style", "sketch", "-o", "-", "--format", "jsonl")
    assert piped.returncode == 0 and piped.stdout.startswith(b"\x89PNG")  # the image alone on stdout
    assert json.loads(piped.stderr.splitlines()[0])["style"] == {"kind": "filter", "name": "sketch"}


def test_cli_bad_inputs_fail_per_file_and_exit_3(tmp_path):
    shutil.copy(CHELSEA, tmp_path / "cat.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "corrupt.png").write_bytes(Path(COFFEE).read_bytes()[:300])
    cv2.imwrite(str(tmp_path / "tiny.png"), np.full((8, 40, 3), 90, np.uint8))
    cv2.imwrite(str(tmp_path / "thread.png"), np.full((1, 300, 3), 200, np.uint8))
    result = run_optik("style", str(tmp_path), "--style", "pencil", "-o", str(tmp_path / "out"), "--format", "jsonl")
    assert result.returncode == 3, result.stderr
    records = {Path(r["path"]).name: r for r in jsonl(result.stdout)}
    assert set(records) == {"cat.png", "empty.jpg", "corrupt.png", "tiny.png", "thread.png"}
    assert records["cat.png"]["output"].endswith("cat.png") and "error" not in records["cat.png"]
    assert all("error" in records[bad] for bad in ("empty.jpg", "corrupt.png")) and "Traceback" not in result.stderr
    # images with a side under 16 px are enlarged for the network and come back at their own size
    assert cv2.imread(records["tiny.png"]["output"]).shape == (8, 40, 3)
    assert records["thread.png"]["processing"] == {"width": 300, "height": 16}
    assert len([line for line in result.stderr.splitlines() if line.startswith("optik: error:")]) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--style", "van-gogh"], "no style of that name"),
        (["--style", "3"], "give -o"),
    ],
)
def test_cli_bad_style_is_a_usage_error(tmp_path, args, message):
    extra = [] if "give -o" in message else ["-o", str(tmp_path / "x.png")]
    result = run_optik("style", CHELSEA, *args, *extra)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "x.png").exists()


def test_cli_list_and_gallery(tmp_path):
    listing = run_optik("style", "--list")
    lines = listing.stdout.decode().splitlines()
    assert listing.returncode == 0 and lines[19].split() == ["19", "blue-swirls"] and len(lines) == 31
    as_json = json.loads(run_optik("style", "--list", "--format", "json").stdout)
    assert [row["name"] for row in as_json] == [*STYLE_NAMES, *FILTERS]
    sheet = tmp_path / "sheet.png"
    result = run_optik("style", ASTRONAUT, "--gallery", str(sheet), "--size", "64", "--threads", "1")
    assert result.returncode == 0, result.stderr
    pixels = cv2.imread(str(sheet))
    assert pixels.shape == (6 + 4 * (64 + 20 + 6), 6 + 8 * (64 + 6), 3)  # 31 thumbnails: 8 columns, 4 rows
