"""segment end to end: real photos, the embedded Selfie weights, classical methods, output images, checks."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import optik
from optik.errors import InputError, ModelUnavailable, UsageError
from optik.preprocess import masks
from optik.registry import get_spec, is_available, loading, upstream, weights
from optik.tasks.segment import SegmentResult
from tests.conftest import EXAMPLES
from tests.helpers import jsonl
from tests.helpers import optik as run_optik

ASTRONAUT = str(EXAMPLES / "astronaut.png")
SELFIE_ASTRONAUT = 0.5449  # WEIGHTS.md: TF.js fraction of p > 0.5 at 256x256


def read(path: Path | str) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


@pytest.fixture(scope="module")
def selfie_astronaut() -> SegmentResult:
    return optik.segment(ASTRONAUT, model="selfie")


def test_selfie_on_astronaut_matches_the_reference_fraction(selfie_astronaut):
    result = selfie_astronaut
    assert result.mask.shape == (512, 512) and result.mask.dtype == np.uint8
    assert result.foreground == pytest.approx(SELFIE_ASTRONAUT, abs=3e-3)  # after our resize + guided upsampling
    x1, y1, x2, y2 = result.box
    assert x1 < 10 and y1 < 40 and x2 > 480 and y2 == 512  # she fills the frame from the hair down
    assert result.mask[110, 225] == 255 and result.mask[40, 480] == 0  # face in, backdrop out
    rgba = result.cutout()
    assert rgba.shape == (512, 512, 4) and np.array_equal(rgba[:, :, 3], result.mask)


def test_selfie_is_a_person_segmenter(sample):
    """The honest limitation on its card: it calls most of a cat photo "person"."""
    assert optik.segment(sample("chelsea"), model="selfie").foreground > 0.85


def test_cutout_mask_and_records_from_the_cli(tmp_path, selfie_astronaut):
    out = tmp_path / "cut.png"
    run = run_optik("segment", ASTRONAUT, "-m", "selfie", "-o", str(out), "--format", "jsonl")
    assert run.returncode == 0, run.stderr
    (record,) = jsonl(run.stdout)
    assert {"path", "model", "width", "height", "foreground", "box", "output", "weights_sha256"} <= set(record)
    assert record["model"] == "selfie" and (record["width"], record["height"]) == (512, 512)
    assert record["foreground"] == pytest.approx(selfie_astronaut.foreground, abs=1e-6)
    assert record["box"] == list(selfie_astronaut.box) and record["output"] == str(out)
    cutout = read(out)
    assert cutout.shape == (512, 512, 4) and cutout.dtype == np.uint8  # RGBA at full size
    # alpha is the mask, soft edges kept (±1 level: the CLI's process may run other thread counts)
    assert np.abs(cutout[:, :, 3].astype(int) - selfie_astronaut.mask).max() <= 1
    assert 0.03 < ((cutout[:, :, 3] > 0) & (cutout[:, :, 3] < 255)).mean() < 0.2
    assert np.array_equal(cutout[:, :, :3], read(ASTRONAUT))  # colours untouched
    mask_dir = tmp_path / "masks"
    run = run_optik("segment", ASTRONAUT, "-m", "selfie", "--mode", "mask", "-o", f"{mask_dir}/")
    assert run.returncode == 0, run.stderr
    mask = read(mask_dir / "astronaut.png")
    assert mask.ndim == 2 and mask.dtype == np.uint8 and np.abs(mask.astype(int) - selfie_astronaut.mask).max() <= 1


def test_overlay_and_background_modes(tmp_path, selfie_astronaut):
    photo, alpha = read(ASTRONAUT)[:, :, ::-1].astype(int), selfie_astronaut.mask
    inside, outside = alpha == 255, alpha == 0
    tinted = selfie_astronaut.render("overlay").pixels.astype(int)
    assert np.abs(tinted[outside] - photo[outside]).max() == 0
    expected = photo[inside] + (np.array((255, 0, 160)) - photo[inside]) * (127 / 255)
    assert np.abs(tinted[inside] - expected).max() <= 1
    coffee = read(EXAMPLES / "coffee.png")[:, :, ::-1]
    onto = selfie_astronaut.render("bg", coffee).pixels.astype(int)
    backdrop = masks.cover(coffee, 512, 512).astype(int)
    assert (onto[outside] == backdrop[outside]).all() and (onto[inside] == photo[inside]).all()
    blue = tmp_path / "blue.png"
    run = run_optik("segment", ASTRONAUT, "-m", "selfie", "--bg", "#2255aa", "-o", str(blue))
    assert run.returncode == 0, run.stderr
    replaced = read(blue)[:, :, ::-1].astype(int)
    assert (replaced[outside] == (0x22, 0x55, 0xAA)).all() and (replaced[inside] == photo[inside]).all()
    edge = (alpha > 0) & (alpha < 255)
    mixed = photo[edge] * alpha[edge, None] / 255 + np.array((0x22, 0x55, 0xAA)) * (1 - alpha[edge, None] / 255)
    assert np.abs(replaced[edge] - mixed).max() <= 1  # soft edges blend


def test_cutout_keeps_the_input_alpha_and_png_goes_to_stdout(tmp_path, selfie_astronaut):
    rgba = np.dstack([read(ASTRONAUT), np.full((512, 512), 255, np.uint8)])
    rgba[:, :256, 3] = 0  # the left half was already transparent
    source = tmp_path / "half.png"
    cv2.imwrite(str(source), rgba)
    run = run_optik("segment", str(source), "-m", "selfie", "-o", "-")
    assert run.returncode == 0, run.stderr
    out = cv2.imdecode(np.frombuffer(run.stdout, np.uint8), cv2.IMREAD_UNCHANGED)  # stdout holds only the PNG
    assert out.shape == (512, 512, 4)
    assert (out[:, :256, 3] == 0).all()
    assert np.abs(out[:, 256:, 3].astype(int) - selfie_astronaut.mask[:, 256:]).max() <= 1
    assert "foreground 0.5" in run.stderr  # the record went to stderr


def test_otsu_on_the_cameraman():
    result = optik.segment(EXAMPLES / "camera.png", model="otsu")
    assert result.findings["threshold"] == 102
    assert result.foreground == pytest.approx(0.321, abs=0.01)
    assert result.mask[300, 230] == 255 and result.mask[30, 30] == 0  # dark coat in, bright sky out


@pytest.mark.parametrize("k", [2, 3])
def test_kmeans_clusters_coffee(k):
    result = optik.segment(EXAMPLES / "coffee.png", model="kmeans", k=k)
    clusters = result.findings["clusters"]
    assert len(clusters) == k and sum(c["fraction"] for c in clusters) == pytest.approx(1, abs=1e-5)
    (background,) = [c for c in clusters if c["background"]]
    assert result.foreground == pytest.approx(1 - background["fraction"], abs=0.01)
    assert background["color"][0] > 150  # the orange-brown table around the cup
    dark = min(clusters, key=lambda c: sum(c["color"]))
    assert not dark["background"] and sum(dark["color"]) < 120  # the coffee is foreground


def test_grabcut_with_a_box(selfie_astronaut):
    result = optik.segment(ASTRONAUT, model="grabcut", box=(20, 10, 500, 512))
    assert result.findings["seed"] == {"from": "given", "box": [20, 10, 500, 512]}
    x1, y1, x2, _ = result.box
    assert x1 >= 18 and y1 >= 8 and x2 <= 502  # nothing outside the box (guided edges may bleed a pixel)
    assert result.mask[110, 225] == 255 and result.mask[40, 480] == 0
    person, cut = selfie_astronaut.mask >= 128, result.mask >= 128
    assert (person & cut).sum() / (person | cut).sum() > 0.6
    with pytest.raises(InputError, match="no background to learn from"):
        optik.segment(ASTRONAUT, model="grabcut", box=(0, 0, 512, 512))


def test_grabcut_seeded_by_the_detector(selfie_astronaut):
    """box="auto": nanodet's best box (the astronaut, without the helmet she holds, which selfie counts
    as person) seeds grabcut; measured IoU with selfie's mask 0.61, against 0.44 for the centred default."""
    best = optik.detect(ASTRONAUT, model="nanodet").detections[0]
    assert best.label == "person"
    result = optik.segment(ASTRONAUT, model="grabcut", box="auto")
    seed = result.findings["seed"]
    assert {key: seed[key] for key in ("from", "label", "score")} == {
        "from": "nanodet",
        "label": "person",
        "score": round(best.score, 4),
    }
    x1, y1, x2, y2 = best.box
    assert seed["box"] == [
        int(np.floor(x1)),
        int(np.floor(y1)),
        int(np.ceil(x2)),
        min(512, int(np.ceil(y2))),
    ]
    assert result.mask[110, 225] == 255 and result.mask[40, 480] == 0  # face in, backdrop out
    assert result.mask[450, 400] == 0  # the helmet is outside the person box
    person, cut = selfie_astronaut.mask >= 128, result.mask >= 128
    centred = optik.segment(ASTRONAUT, model="grabcut").mask >= 128
    iou, iou_centred = ((person & m).sum() / (person | m).sum() for m in (cut, centred))
    assert iou > 0.58 and iou > iou_centred + 0.1, (iou, iou_centred)


def test_grabcut_auto_falls_back_to_the_centred_box_and_says_so(tmp_path):
    rocket = str(EXAMPLES / "rocket.jpg")  # nanodet finds nothing in it
    torso = str(tmp_path / "torso.png")  # the astronaut from the shoulders down: her box is the whole image
    cv2.imwrite(torso, read(ASTRONAUT)[200:512, 40:340])
    run = run_optik("segment", rocket, torso, "-m", "grabcut", "--box", "auto", "--format", "jsonl")
    assert run.returncode == 0, run.stderr
    records = jsonl(run.stdout)
    assert [record["seed"]["from"] for record in records] == ["centred"] * 2
    assert [record["seed"]["box"] for record in records] == [[64, 42, 576, 385], [30, 31, 270, 281]]  # 10 % in
    assert f"{rocket}: nanodet found nothing; grabcut seeded by the centred box" in run.stderr
    assert f"{torso}: nanodet's best box (person) covers the whole image; grabcut seeded by" in run.stderr
    assert 0.2 < records[0]["foreground"] < 0.6  # the rocket; the torso's suit touches every border, so
    assert records[1]["foreground"] < 0.2  # grabcut learns it as background: a fallback, not a good cut


def test_watershed_counts_the_coins(sample):
    result = optik.segment(sample("coins"), model="watershed", polygons=True)
    assert 22 <= result.findings["regions"] <= 27  # 24 coins (plus the glare band at the top)
    assert 0.3 < result.foreground < 0.4
    assert len(result.polygons) >= 20
    assert all(0 <= x <= 384 and 0 <= y <= 303 for polygon in result.polygons for x, y in polygon)
    areas = sum(cv2.contourArea(np.array(p, np.int32)) for p in result.polygons)
    assert areas / (384 * 303) == pytest.approx(result.foreground, abs=0.05)


@pytest.mark.parametrize("name", ["camera", "coins"])
def test_guided_upsampling_is_crisper_than_bilinear(sample, name):
    """A full-resolution segmentation of a real photo, shrunk 8x like a network's output, comes back
    closer to the original with the guided filter than with plain bilinear upsampling."""
    gray = sample(name)
    rgb = cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    _, reference = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    height, width = reference.shape
    low = cv2.resize(reference.astype(np.float32), (width // 8, height // 8), interpolation=cv2.INTER_AREA)
    guided, bilinear = masks.guided_upsample(low, rgb), masks.upsample_bilinear(low, width, height)
    wrong = [((alpha >= 128) != reference).mean() for alpha in (guided, bilinear)]
    soft = [((alpha > 25) & (alpha < 230)).mean() for alpha in (guided, bilinear)]
    assert wrong[0] < 0.6 * wrong[1], wrong  # agrees better with the full-resolution truth
    assert soft[0] < 0.75 * soft[1], soft  # narrower edges


def test_banded_refinement_is_seamless():
    rgb = cv2.cvtColor(read(EXAMPLES / "chelsea.png"), cv2.COLOR_BGR2RGB)
    low = np.random.default_rng(0).random((40, 60), dtype=np.float32)
    assert np.array_equal(masks.guided_upsample(low, rgb, band=7), masks.guided_upsample(low, rgb, band=4096))
    assert np.array_equal(masks.upsample_bilinear(low, 451, 300, band=5), masks.upsample_bilinear(low, 451, 300))


def test_foreground_checks_exit_1(selfie_astronaut):
    coffee = str(EXAMPLES / "coffee.png")  # selfie sees a "person" in 19 % of it
    args = ("-m", "selfie", "--min-foreground", "0.4", "--max-foreground", "0.6", "--format", "jsonl")
    run = run_optik("segment", ASTRONAUT, coffee, *args)
    assert run.returncode == 1
    checks = [record["check"] for record in jsonl(run.stdout)]
    assert checks[0] == {"passed": True}
    assert checks[1]["passed"] is False and checks[1]["reason"].endswith("is below --min-foreground 0.4")
    assert "check failed" in run.stderr and "coffee.png" in run.stderr and "astronaut.png" not in run.stderr


def test_bad_inputs_fail_per_file_and_exit_3(tmp_path):
    shutil.copy(ASTRONAUT, tmp_path / "astronaut.png")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "corrupt.png").write_bytes((EXAMPLES / "coffee.png").read_bytes()[:300])
    out = tmp_path / "out"
    run = run_optik("segment", str(tmp_path), "-m", "otsu", "--mode", "mask", "-o", f"{out}/", "--format", "jsonl")
    assert run.returncode == 3, run.stderr
    records = {Path(r["path"]).name: r for r in jsonl(run.stdout)}
    assert set(records) == {"astronaut.png", "empty.png", "corrupt.png"}
    assert "error" in records["empty.png"] and "error" in records["corrupt.png"]
    assert records["astronaut.png"]["output"] == str(out / "astronaut.png") and (out / "astronaut.png").exists()
    errors = [line for line in run.stderr.splitlines() if line.startswith("optik: error:")]
    assert len(errors) == 2 and "Traceback" not in run.stderr
    again = run_optik("segment", str(tmp_path / "astronaut.png"), "-m", "otsu", "--mode", "mask", "-o", f"{out}/")
    assert again.returncode == 3 and "exists" in again.stderr  # never overwritten without --overwrite


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bg", "white"], "add -o"),
        (["-m", "selfie", "-o", "x.jpg"], "transparency"),
        (["-m", "selfie", "--k", "3"], "--k: is for the kmeans model"),
        (["-m", "grabcut", "--box", "5,5,1,1"], "--box"),
        (["-m", "selfie", "--bg", "#12345", "-o", "x.png"], "neither a colour"),
        (["-m", "selfy"], "did you mean selfie"),
        (["-m", "otsu", "--weights", "w.pth"], "classical method without weights"),
    ],
)
def test_usage_errors(args, message, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from optik.cli import main

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["segment", ASTRONAUT, *args], standalone_mode=False)
    assert isinstance(result.exception, UsageError) and message in str(result.exception)  # exit 2
    assert not list(tmp_path.iterdir())


def test_default_falls_back_to_selfie_and_says_so(tmp_path):
    run = run_optik("segment", ASTRONAUT, "--format", "jsonl", env={"OPTIK_HOME": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    assert jsonl(run.stdout)[0]["model"] == "selfie"
    notes = [line for line in run.stderr.splitlines() if "isnet" in line]
    assert len(notes) == 1 and "optik models pull isnet" in notes[0]


def test_torchvision_models_need_a_pull_then_load_from_torchs_cache(tmp_path, monkeypatch):
    """Plumbing only (no internet here): a randomly initialised LR-ASPP under torchvision's file name."""
    import torchvision

    missing = run_optik("segment", ASTRONAUT, "-m", "lraspp_mobilenet_v3_large", env={"TORCH_HOME": str(tmp_path)})
    assert missing.returncode == 4 and "optik models pull lraspp_mobilenet_v3_large" in missing.stderr
    torch.manual_seed(0)
    net = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None)
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(net.state_dict(), checkpoints / "lraspp_mobilenet_v3_large-d234d4ea.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(loading, "_LOADED", {})  # keep the random model out of this process's cache
    result = optik.segment(ASTRONAUT, model="lraspp_mobilenet_v3_large", device="cpu")
    voc = get_spec("lraspp_mobilenet_v3_large").categories()
    assert len(voc) == 21 and set(result.classes) <= set(voc)
    assert sum(result.classes.values()) == pytest.approx(1, abs=1e-4)
    assert result.mask.shape == (512, 512)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_selfie_on_the_gpu_in_fp16_agrees_with_the_cpu(selfie_astronaut):
    gpu = optik.segment(ASTRONAUT, model="selfie", device="cuda", half=True)
    assert gpu.foreground == pytest.approx(selfie_astronaut.foreground, abs=5e-3)
    assert (np.abs(gpu.mask.astype(int) - selfie_astronaut.mask) > 8).mean() < 0.01


def test_converting_isnet_without_onnx_says_how_to_install_it(monkeypatch):
    from optik.convert.isnet import convert_isnet

    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the optional extra were not installed
    with pytest.raises(ModelUnavailable, match=r"pip install onnx"):
        convert_isnet(b"")


needs_isnet = pytest.mark.skipif(
    not is_available(get_spec("isnet")), reason="pull-only (AGPL): `make fixtures` pulls it"
)
needs_meet = pytest.mark.skipif(not is_available(get_spec("meet")), reason="pull-only: `make fixtures` pulls it")


@pytest.mark.pulled
@needs_isnet
def test_isnet_cuts_out_the_cat(tmp_path):
    out = tmp_path / "cat.png"
    run = run_optik("segment", str(EXAMPLES / "chelsea.png"), "-o", str(out), "--format", "jsonl")
    assert run.returncode == 0, run.stderr
    (record,) = jsonl(run.stdout)
    assert record["model"] == "isnet" and "isnet" not in run.stderr  # the default once pulled, no note
    assert record["foreground"] == pytest.approx(0.7728, abs=3e-3)  # img.ly's own pipeline (WEIGHTS.md)
    assert read(out).shape == (300, 451, 4)


@pytest.mark.pulled
@needs_isnet
def test_isnet_guided_upsampling_recovers_its_full_resolution_edges():
    """ISNet's own 1024 mask of astronaut (512) is the truth; shrunk 4x and brought back, the guided
    filter's edges are closer to it than bilinear's."""
    full = optik.segment(ASTRONAUT, model="isnet").mask.astype(np.float32) / 255
    rgb = cv2.cvtColor(read(ASTRONAUT), cv2.COLOR_BGR2RGB)
    low = cv2.resize(full, (128, 128), interpolation=cv2.INTER_AREA)
    hard = (full >= 0.5).astype(np.uint8)
    edges = cv2.dilate(hard, np.ones((5, 5))) != cv2.erode(hard, np.ones((5, 5)))
    errors = [
        np.abs(a / 255 - full)[edges].mean()
        for a in (masks.guided_upsample(low, rgb), masks.upsample_bilinear(low, 512, 512))
    ]
    assert errors[0] < 0.6 * errors[1], errors


@pytest.mark.pulled
@needs_meet
def test_meet_on_astronaut():
    result = optik.segment(ASTRONAUT, model="meet")
    assert result.foreground == pytest.approx(0.3439, abs=0.01)  # TF.js at 144x256 (WEIGHTS.md)


IMGLY = upstream.IMGLY_BACKGROUND_REMOVAL_DATA
needs_imgly = pytest.mark.skipif(not IMGLY.is_unpacked(), reason="pull-only (AGPL): `make fixtures` pulls it")


def assert_lossless_float16(path: Path, float32: dict[str, torch.Tensor]) -> None:
    """Kernels stored as fp16, the small 1-D tensors as fp32, and every value exactly the fp32 conversion's."""
    from safetensors.torch import load_file

    stored = load_file(str(path))
    assert set(stored) == set(float32)
    for key, value in float32.items():
        assert stored[key].dtype == (torch.float16 if value.dim() >= 2 else torch.float32), key
        assert torch.equal(stored[key].float(), value), key


@pytest.mark.pulled
@pytest.mark.parametrize(("name", "megabytes"), [("isnet", 88.1), ("meet", 0.39)])
def test_pulled_models_are_stored_in_float16_without_loss(name, megabytes, isolated_home):
    from optik.convert.build import convert_weights
    from optik.registry.pull import pull

    spec = get_spec(name)
    path = pull(spec)
    assert path == isolated_home / "models" / f"{name}.safetensors"
    assert spec.weights.storage == "float16" and path.stat().st_size / 1e6 == pytest.approx(megabytes, rel=0.1)
    assert_lossless_float16(path, convert_weights(spec, spec.weights.package.unpacked_dir()))  # fp32 conversion
    assert weights.verify(spec)[0] == path


@pytest.mark.pulled
@needs_imgly
def test_isnet_pulls_from_its_reassembled_onnx(tmp_path, monkeypatch):
    """`optik models pull isnet --from isnet.onnx`: the ONNX alone (no npm) gives the same weights."""
    from optik.convert.build import convert_weights, source_files
    from optik.convert.isnet import assemble_isnet_onnx

    spec = get_spec("isnet")
    model = assemble_isnet_onnx(source_files(spec, IMGLY.unpacked_dir()))
    home = tmp_path / "home"  # no packages at all there
    env = {"OPTIK_HOME": str(home)}
    wrong = tmp_path / "damaged.onnx"
    wrong.write_bytes(model[:-1] + bytes([model[-1] ^ 1]))  # one bit flipped
    run = run_optik("models", "pull", "isnet", "--from", str(wrong), env=env)
    assert run.returncode == 4 and "Traceback" not in run.stderr
    assert "damaged.onnx is neither the @imgly/background-removal-data@1.4.5 archive nor the reassembled" in run.stderr
    assert not (home / "models").exists()
    source = tmp_path / "isnet.onnx"
    source.write_bytes(model)
    run = run_optik("models", "pull", "isnet", "--from", str(source), env=env)
    assert run.returncode == 0, run.stderr
    path = home / "models" / "isnet.safetensors"
    assert_lossless_float16(path, convert_weights(spec, IMGLY.unpacked_dir()))
    monkeypatch.setenv("OPTIK_HOME", str(home))
    monkeypatch.setattr(loading, "_LOADED", {})
    result = optik.segment(EXAMPLES / "chelsea.png", model="isnet")
    assert result.foreground == pytest.approx(0.7728, abs=3e-3)  # img.ly's own pipeline (WEIGHTS.md)
