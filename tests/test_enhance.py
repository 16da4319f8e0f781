"""enhance end to end: real Real-ESRGAN weights on real photos, tiling, depth/alpha/gray, classical ops, -o.

The x4plus runs stay at 48×48 inputs (about a second each on one core); larger images use the
compact realesr-animevideov3.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import optik
from optik.errors import InputError, UsageError
from optik.preprocess import tiling
from optik.preprocess.adjust import Operation
from optik.preprocess.decode import Image
from optik.registry import load_model
from optik.tasks import enhance as enhance_task
from tests.conftest import EXAMPLES
from tests.helpers import jsonl, optik_process, psnr, write_rgb
from tests.helpers import optik as cli

V3 = "realesr-animevideov3"


def gradient_energy(image: np.ndarray) -> float:
    gray = image.astype(np.float32).mean(axis=2) if image.ndim == 3 else image.astype(np.float32)
    return float(np.abs(np.diff(gray, axis=0)).mean() + np.abs(np.diff(gray, axis=1)).mean())


def shrink(image: np.ndarray, factor: int = 4) -> np.ndarray:
    return cv2.resize(image, (image.shape[1] // factor, image.shape[0] // factor), interpolation=cv2.INTER_AREA)


def bicubic(image: np.ndarray, factor: int = 4) -> np.ndarray:
    return cv2.resize(image, (image.shape[1] * factor, image.shape[0] * factor), interpolation=cv2.INTER_CUBIC)


@pytest.fixture(scope="module")
def photo(sample):
    """Held-out crops (not the fidelity tests' crops), 192×192 RGB."""
    crops = {
        "rocket": ("rocket", np.s_[100:292, 250:442]),
        "coffee": ("coffee", np.s_[150:342, 300:492]),
        "astronaut": ("astronaut", np.s_[250:442, 280:472]),
    }
    return lambda name: np.ascontiguousarray(sample(crops[name][0])[crops[name][1]])


def read(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


# --- the networks on real pictures -------------------------------------------------------------


def test_x4plus_beats_bicubic_on_sharp_edges():
    """On hard-edged content (the example logo), ×4 from a ×4 area-downscale beats bicubic in PSNR."""
    logo = cv2.cvtColor(read(EXAMPLES / "logo.png")[150:342, 150:342, :3], cv2.COLOR_BGR2RGB)
    small = shrink(logo)
    result = optik.enhance(small)
    assert result.model == "realesrgan-x4plus" and result.scale == 4
    assert result.image.shape == (192, 192, 3) and result.image.dtype == np.uint8
    assert (result.output_width, result.output_height) == (192, 192)
    assert psnr(result.image, logo) > psnr(bicubic(small), logo) + 0.3


def test_x4plus_is_sharp_on_photos_where_bicubic_blurs(photo):
    """A GAN upscaler trades PSNR for detail: on a clean photo it restores the edge energy bicubic
    loses while staying close to the original (PSNR within 4 dB of bicubic; see bench/README.md)."""
    original = photo("rocket")
    small = shrink(original)
    out = optik.enhance(small).image
    smooth = bicubic(small)
    assert abs(gradient_energy(out) / gradient_energy(original) - 1) < 0.25
    assert gradient_energy(smooth) / gradient_energy(original) < 0.7
    assert psnr(out, original) > psnr(smooth, original) - 4


def test_scale_1_restores_a_noisy_photo(sample):
    """--scale 1: restoration at the original size; the noise goes, the photo stays."""
    clean = np.ascontiguousarray(sample("chelsea")[50:98, 50:98])
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 12, clean.shape), 0, 255).astype(np.uint8)
    restored = optik.enhance(noisy, scale=1)
    assert restored.image.shape == clean.shape
    assert psnr(restored.image, clean) > psnr(noisy, clean) + 3
    denoised = optik.enhance(noisy, model="none", operations=["denoise"]).image
    assert psnr(denoised, clean) > psnr(noisy, clean) + 1


def test_scales_and_sizes(photo):
    image = photo("astronaut")[:50, :75]
    for scale, size in ((2, (100, 150)), (1, (50, 75)), (1.5, (75, 112)), (4, (200, 300))):
        result = optik.enhance(image, model=V3, scale=scale)
        assert result.image.shape[:2] == size, scale
        assert (result.output_height, result.output_width) == size
    assert optik.enhance(image, model="none").image.shape[:2] == (50, 75)  # classical: same size by default
    assert optik.enhance(image, model="none", scale=2).image.shape[:2] == (100, 150)


# --- tiling ------------------------------------------------------------------------------------


def seam_jump(tiled: np.ndarray, whole: np.ndarray, seams: list[int]) -> float:
    """How much tiling changed the step across the seams, in levels, averaged over rows and columns
    (a visible grid is a step the untiled picture does not have)."""

    def steps(image: np.ndarray, axis: int) -> np.ndarray:
        return np.diff(image.astype(np.float32), axis=axis).take([s - 1 for s in seams], axis=axis)

    return float(max(np.abs(steps(tiled, a) - steps(whole, a)).mean() for a in (0, 1)))


@pytest.mark.parametrize(
    ("model", "size", "tile", "pad", "min_agreement", "max_jump"),
    [
        (V3, 96, 32, enhance_task.DEFAULT_TILE_PAD, 50, 0.5),
        ("realesrgan-x4plus", 48, 24, enhance_task.DEFAULT_TILE_PAD, 40, 1.5),
    ],
)
def test_tiled_equals_untiled_without_seams(sample, model, size, tile, pad, min_agreement, max_jump):
    original = np.ascontiguousarray(sample("coffee")[: size * 4, 100 : 100 + size * 4])
    small = shrink(original)
    whole = optik.enhance(small, model=model, tile=0)
    tiled = optik.enhance(small, model=model, tile=tile, tile_pad=pad)
    assert whole.tiles == 1 and tiled.tiles == (size // tile) ** 2 and tiled.tile == tile
    assert psnr(tiled.image, whole.image) > min_agreement
    assert abs(psnr(tiled.image, original) - psnr(whole.image, original)) < 0.5
    seams = [4 * tile * k for k in range(1, size // tile)]
    assert seam_jump(tiled.image, whole.image, seams) < max_jump


def test_tiling_plan_and_feathered_stitching():
    tiles = tiling.plan(100, 250, tile=128, pad=8)
    assert [t.core for t in tiles] == [(slice(0, 100), slice(0, 125)), (slice(0, 100), slice(125, 250))]
    assert tiles[1].region == (slice(0, 100), slice(117, 250)) and tiles[1].offset == (0, 8)
    assert tiling.spans(10, 4) == [(0, 3), (3, 7), (7, 10)]
    image = np.random.default_rng(1).random((90, 130, 3)).astype(np.float32)
    blur = lambda region: cv2.GaussianBlur(region, (0, 0), 1.5)  # noqa: E731
    cropped, count = tiling.run_tiled(image, blur, tile=40, pad=8)
    assert count == 12 and np.abs(cropped - blur(image))[8:-8, 8:-8].max() < 1e-6
    # tiles that disagree by an offset are blended, not stitched with steps
    offset = lambda region: np.full((*region.shape[:2], 1), float(region.shape[1]), np.float32)  # noqa: E731
    hard, _ = tiling.run_tiled(image[:, :90], offset, tile=40, pad=8)  # regions 38, 46, 38 wide
    soft, _ = tiling.run_tiled(image[:, :90], offset, tile=40, pad=8, feather=8)
    assert np.abs(np.diff(hard[0, :, 0])).max() == 8 and np.abs(np.diff(soft[0, :, 0])).max() < 1
    doubled, _ = tiling.run_tiled(image[:, :, 0], lambda r: np.kron(r, np.ones((2, 2), np.float32)), 40, 8, scale=2)
    assert np.array_equal(doubled, np.kron(image[:, :, 0], np.ones((2, 2), np.float32)))
    with pytest.raises(ValueError):
        tiling.run_tiled(image, blur, tile=40, pad=4, feather=8)


def test_memory_decides_the_tile_and_errors_clearly(monkeypatch):
    assert tiling.auto_tile(2000, pad=16, free=8 * 2**30) == 512  # capped
    assert tiling.auto_tile(16000, pad=16, free=2**30) == 144  # sqrt(2^29 / 16000) - 2·16, floored to 8
    with pytest.raises(InputError, match="not enough free memory"):
        tiling.auto_tile(16000, pad=16, free=20 * 2**20)
    assert tiling.available_memory("cpu") > 0
    loaded = load_model(V3, "cpu")
    image = Image(np.full((200, 240, 3), 128, np.uint8), name="big.png")
    auto = enhance_task.Enhancer(loaded)
    if tiling.available_memory("cpu") > 2**30:
        assert auto._auto_tile(image.pixels) == 0  # fits in one tile
    monkeypatch.setattr(enhance_task, "available_memory", lambda device: 64 * 2**20)
    assert auto._auto_tile(image.pixels) == 80  # (64 MiB - the 11.5 MB canvas) / 2 at 2000 B/px: 117 px - 2·16
    monkeypatch.setattr(enhance_task, "available_memory", lambda device: 16 * 2**20)
    with pytest.raises(InputError, match=r"big.png: 960×800 output needs about 23 MiB, 16 MiB free"):
        auto.prepare(image)


# --- depth, alpha, gray ------------------------------------------------------------------------


def test_alpha_gray_and_16_bit_are_preserved(tmp_path, photo):
    logo = read(EXAMPLES / "logo.png")[150:214, 150:214]  # BGRA with a transparent background
    cv2.imwrite(str(tmp_path / "logo.png"), logo)
    gray = cv2.cvtColor(photo("astronaut")[:64, :64], cv2.COLOR_RGB2GRAY)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    deep = cv2.cvtColor(photo("coffee")[:64, :64], cv2.COLOR_RGB2BGR).astype(np.int32) * 257 + np.arange(64)[:, None]
    deep = deep.clip(0, 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    out = tmp_path / "out"
    result = cli("enhance", str(tmp_path), "-m", V3, "-s", "2", "-o", str(out), "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    assert {r["path"].rsplit("/", 1)[-1]: r["output_width"] for r in jsonl(result.stdout)} == {
        "deep.png": 128,
        "gray.png": 128,
        "logo.png": 128,
    }
    rgba = read(out / "logo.png")
    assert rgba.shape == (128, 128, 4) and rgba.dtype == np.uint8
    expected_alpha = cv2.resize(logo[:, :, 3], (128, 128), interpolation=cv2.INTER_CUBIC)
    assert np.abs(rgba[:, :, 3].astype(int) - expected_alpha).max() <= 1
    assert read(out / "gray.png").shape == (128, 128)
    sixteen = read(out / "deep.png")
    assert sixteen.shape == (128, 128, 3) and sixteen.dtype == np.uint16
    assert np.count_nonzero(sixteen % 257) > sixteen.size // 2  # real 16-bit values, not 8-bit ones scaled up
    eight = optik.enhance(cv2.cvtColor((deep // 257).astype(np.uint8), cv2.COLOR_BGR2RGB), model=V3, scale=2).image
    assert psnr(cv2.cvtColor(sixteen, cv2.COLOR_BGR2RGB) / 257.0, eight) > 35
    tiff = cli("enhance", str(tmp_path / "deep.png"), "-m", "none", "-s", "2", "-o", str(tmp_path / "deep.tif"))
    assert tiff.returncode == 0 and read(tmp_path / "deep.tif").dtype == np.uint16


def test_python_api_keeps_the_kind_of_array(photo):
    rgba = np.dstack([photo("rocket")[:32, :32], np.full((32, 32), 200, np.uint8)])
    assert optik.enhance(rgba, model=V3).image.shape == (128, 128, 4)
    gray = cv2.cvtColor(photo("rocket")[:32, :32], cv2.COLOR_RGB2GRAY)
    assert optik.enhance(gray, model=V3, scale=2).image.shape == (64, 64)
    many = optik.enhance([gray, rgba], model="none", scale=0.5, operations=["gamma=1.5"])
    assert [r.image.shape for r in many] == [(16, 16), (16, 16, 4)]
    assert many[0].operations == ["gamma=1.5"]


# --- classical operations ----------------------------------------------------------------------


def test_classical_operations_do_what_they_say(photo):
    image = photo("coffee")
    cast = np.clip(image.astype(np.float32) * (1.0, 0.8, 0.6) * 0.7 + 20, 0, 255).astype(np.uint8)

    def run(operation: str, source: np.ndarray = cast) -> np.ndarray:
        return optik.enhance(source, model="none", operations=[operation]).image

    means = run("white-balance").reshape(-1, 3).mean(axis=0)
    assert means.max() - means.min() < 1.5 and np.ptp(cast.reshape(-1, 3).mean(axis=0)) > 30
    levelled = run("auto-levels")
    assert np.percentile(levelled, 0.5) <= 2 and np.percentile(levelled, 99.5) >= 253
    assert np.ptp(cast) < 200
    assert run("clahe").std() > cast.std()
    assert run("gamma=2").mean() > cast.mean() + 20 and run("gamma=0.5").mean() < cast.mean() - 20
    assert gradient_energy(run("sharpen")) > 1.3 * gradient_energy(cast)
    assert gradient_energy(run("sharpen=2")) > gradient_energy(run("sharpen=0.5"))
    for bad in ("blur", "gamma", "clahe=2", "sharpen=-1", "denoise=x"):
        with pytest.raises(UsageError):
            Operation.parse(bad)


def test_16_bit_operations_match_8_bit_ones(photo):
    image = photo("coffee")[:96, :96]
    for operation in ("denoise", "clahe", "auto-levels", "white-balance", "gamma=1.4", "sharpen"):
        eight = optik.enhance(image, model="none", operations=[operation]).image
        deep = optik.enhance(image.astype(np.uint16) * 257, model="none", operations=[operation]).image
        assert deep.dtype == np.uint16
        assert psnr(deep / 257.0, eight) > 40, operation


def test_cli_operation_order_denoise_first(tmp_path, photo):
    source = write_rgb(tmp_path / "in.png", photo("coffee")[:64, :64])
    args = ("enhance", str(source), "-m", "none", "--format", "jsonl", "--overwrite", "-o", str(tmp_path / "o.png"))
    first = cli(*args, "--sharpen", "0.5", "--gamma", "1.2", "--denoise", "--clahe")
    assert first.returncode == 0, first.stderr
    assert jsonl(first.stdout)[0]["operations"] == ["denoise=10", "sharpen=0.5", "gamma=1.2", "clahe"]
    a = read(tmp_path / "o.png")
    second = cli(*args, "--clahe", "--denoise=10", "--gamma", "1.2", "--sharpen", "0.5")
    assert jsonl(second.stdout)[0]["operations"] == ["denoise=10", "clahe", "gamma=1.2", "sharpen=0.5"]
    assert not np.array_equal(a, read(tmp_path / "o.png"))  # the order given is the order run
    assert cli(*args, "--gamma", "0").returncode == 2


# --- sanity checks, bad inputs, outputs --------------------------------------------------------


def test_nan_or_black_model_output_is_an_error_for_that_image(tmp_path, photo):
    from safetensors.torch import load_file, save_file

    state = load_file(str(Path(optik.__file__).parents[2] / "models" / f"{V3}.safetensors"))
    save_file({k: v.float() * float("nan") for k, v in state.items()}, str(tmp_path / "nan.safetensors"))
    anime = load_file(str(Path(optik.__file__).parents[2] / "models" / "realesrgan-x4plus-anime.safetensors"))
    save_file({k: v.float() * 0 for k, v in anime.items()}, str(tmp_path / "black.safetensors"))
    image = write_rgb(tmp_path / "in" / "photo.png", photo("rocket")[:16, :16])
    flat = write_rgb(tmp_path / "in" / "flat.png", np.full((16, 16, 3), 90, np.uint8))
    target = tmp_path / "x.png"
    nan = cli("enhance", str(image), "-m", V3, "--weights", str(tmp_path / "nan.safetensors"), "-o", str(target))
    assert nan.returncode == 3 and "NaN" in nan.stderr and not target.exists()
    black = cli(
        "enhance",
        str(tmp_path / "in"),
        "-m",
        "realesrgan-x4plus-anime",
        "--weights",
        str(tmp_path / "black.safetensors"),
        "-o",
        str(tmp_path / "out"),
    )
    assert black.returncode == 3 and "photo.png: the model produced all-black pixels" in black.stderr
    assert "flat.png: the model produced all-black pixels" in black.stderr  # flat, but not black
    assert not (tmp_path / "out").exists() and "Traceback" not in black.stderr
    # a flat picture through a working model comes out flat: that is not an error
    fine = cli("enhance", str(flat), "-m", V3, "-o", str(tmp_path / "flat_x4.png"))
    assert fine.returncode == 0 and np.ptp(read(tmp_path / "flat_x4.png")) <= 8


def test_bad_inputs_fail_per_file_and_exit_3(tmp_path, photo):
    folder = tmp_path / "in"
    write_rgb(folder / "good.png", photo("rocket")[:24, :24])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "corrupt.png").write_bytes((EXAMPLES / "coffee.png").read_bytes()[:300])
    (folder / "notes.png").write_text("not an image")
    result = cli("enhance", str(folder), "-m", V3, "-o", str(tmp_path / "out"), "--format", "jsonl")
    assert result.returncode == 3
    records = {Path(r["path"]).name: r for r in jsonl(result.stdout)}
    assert set(records) == {"good.png", "empty.jpg", "corrupt.png", "notes.png"}
    assert records["good.png"]["output_width"] == 96 and "error" in records["corrupt.png"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good.png"]
    assert len([line for line in result.stderr.splitlines() if line.startswith("optik: error:")]) == 3


def test_output_conventions(tmp_path, photo):
    nested = tmp_path / "in" / "sub"
    source = write_rgb(tmp_path / "in" / "a.jpg", photo("rocket")[:20, :20])
    write_rgb(nested / "b.png", photo("coffee")[:20, :20])
    common = ("-m", "none", "-s", "2")
    missing = cli("enhance", str(source), *common)
    assert missing.returncode == 2 and "-o" in missing.stderr
    assert cli("enhance", str(source), *common, "-o", str(tmp_path / "noext")).returncode == 2
    # a file
    single = cli("enhance", str(source), *common, "-o", str(tmp_path / "one.png"))
    assert single.returncode == 0 and read(tmp_path / "one.png").shape == (40, 40, 3)
    assert "one.png" in single.stdout.decode() and "20×20 → 40×40" in single.stdout.decode()
    # existing files are refused without --overwrite, before any work; --skip-existing leaves them
    again = cli("enhance", str(source), *common, "-o", str(tmp_path / "one.png"))
    assert again.returncode == 3 and "exists (use --overwrite" in again.stderr
    assert cli("enhance", str(source), *common, "-o", str(tmp_path / "one.png"), "--overwrite").returncode == 0
    skipped = cli("enhance", str(source), *common, "-o", str(tmp_path / "one.png"), "--skip-existing")
    assert skipped.returncode == 0 and "1 skipped" in skipped.stderr
    inplace = cli("enhance", str(source), *common, "-o", str(source), "--overwrite")
    assert inplace.returncode == 3 and "is the input itself" in inplace.stderr
    # a directory mirrors the inputs, keeping each one's format
    mirrored = cli("enhance", "-r", str(tmp_path / "in"), *common, "-o", str(tmp_path / "out"))
    assert mirrored.returncode == 0, mirrored.stderr
    assert read(tmp_path / "out" / "a.jpg").shape == (40, 40, 3)
    assert read(tmp_path / "out" / "sub" / "b.png").shape == (40, 40, 3)
    # stdout: a PNG and nothing else; the record goes to stderr
    piped = optik_process("enhance", "-", *common, "-o", "-", "--format", "jsonl", stdin=source.read_bytes())
    assert piped.returncode == 0 and piped.stdout[:8] == b"\x89PNG\r\n\x1a\n"
    decoded = cv2.imdecode(np.frombuffer(piped.stdout, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.shape == (40, 40, 3)
    assert '"output": "-"' in piped.stderr and '"output_width": 40' in piped.stderr
    several = cli("enhance", str(source), str(nested / "b.png"), *common, "-o", "-")
    assert several.returncode == 2


def test_json_csv_records(tmp_path, photo):
    source = write_rgb(tmp_path / "a.png", photo("rocket")[:32, :32])
    args = ("enhance", str(source), "-m", V3, "--tile", "16", "--sharpen", "-o", str(tmp_path / "out") + "/")
    record = jsonl(cli(*args, "--format", "jsonl").stdout)[0]
    assert record["model"] == V3 and record["scale"] == 4.0 and record["tiles"] == 4 and record["tile"] == 16
    assert (record["width"], record["height"], record["output_width"], record["output_height"]) == (32, 32, 128, 128)
    assert record["operations"] == ["sharpen=1"] and record["timing_ms"]["infer"] > 0
    assert record["output"] == str(tmp_path / "out" / "a.png") and len(record["weights_sha256"]) == 64
    rows = cli(*args, "--format", "csv", "--overwrite").stdout.decode().splitlines()
    assert (
        rows[0]
        == "path,output,model,width,height,output_width,output_height,scale,tile,tiles,operations,check,skipped,error"
    )
    assert f",{V3},32,32,128,128,4.0,16,4,sharpen=1," in rows[1]


@pytest.mark.parametrize("channels_last", [False, True])
def test_dense_block_writes_one_buffer_as_a_trace_concatenates(channels_last):
    """RRDBNet's dense blocks fill one feature buffer in eager mode and concatenate when traced (for exports):
    both compute the same (random weights: an equivalence of two code paths, not of a model)."""
    import torch

    from optik.nets.rrdbnet import RRDB

    torch.manual_seed(0)
    block = RRDB(num_feat=16, num_grow=8).eval()
    x = torch.randn(2, 16, 20, 24)
    if channels_last:
        block, x = block.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)
    with torch.no_grad():
        traced = torch.jit.trace(block, x)
        torch.testing.assert_close(block(x), traced(x), rtol=1e-5, atol=1e-5)
        assert "aten::cat" in str(traced.inlined_graph) and block(x).is_contiguous(
            memory_format=torch.channels_last if channels_last else torch.contiguous_format
        )
