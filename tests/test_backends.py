"""Inference backends: ONNX Runtime on optik's own exports, NNPACK convolutions and frozen TorchScript give the
eager outputs through the real families; the export cache, its key, the fall-back; bench/gpu.py on a CPU."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from optik import api
from optik.errors import SettingError
from optik.nets import stylenet
from optik.registry import get_spec, loading
from optik.registry import onnxruntime_backend as ort_backend
from optik.registry.backends import (
    EAGER,
    FROZEN,
    NCNN,
    NNPACK,
    ONNXRUNTIME,
    NnpackConv2d,
    RoutedModule,
    onnxruntime_parts,
    resolve,
    use_nnpack,
)
from optik.registry.loading import load
from optik.registry.ncnn_backend import NcnnRunner
from optik.tasks import create_task
from optik.tasks.settings import ClassifySettings, DetectSettings, EnhanceSettings, SegmentSettings, StyleSettings
from tests.helpers import psnr

BENCH = Path(__file__).resolve().parent.parent / "bench"
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def results(task: str, settings, model: str, backend: str, images: list[np.ndarray]) -> list:
    return api.run(create_task(task, settings, load(get_spec(model), "cpu", backend=backend)), images)


@pytest.mark.parametrize("model", ["mobilenet_v2", "efficientnet_lite0"])
def test_onnxruntime_classifies_as_eager(model, sample):
    images = [sample(name) for name in PHOTOS]
    eager, ours = (results("classify", ClassifySettings(top_k=5), model, b, images) for b in (EAGER, ONNXRUNTIME))
    for a, b in zip(eager, ours, strict=True):
        assert [p.index for p in a.predictions[:3]] == [p.index for p in b.predictions[:3]]
        assert max(abs(p.score - q.score) for p, q in zip(a.predictions, b.predictions, strict=True)) < 1e-4


@pytest.mark.parametrize("model", ["nanodet", pytest.param("centernet", marks=pytest.mark.pulled)])
def test_onnxruntime_detects_as_eager(model, sample):
    images = [sample(name) for name in ("astronaut", "motorcycle", "coffee")]
    eager, ours = (results("detect", DetectSettings(), model, backend, images) for backend in (EAGER, ONNXRUNTIME))
    assert sum(len(r.detections) for r in eager) >= 3
    for a, b in zip(eager, ours, strict=True):
        assert [d.label for d in a.detections] == [d.label for d in b.detections]
        for d, e in zip(a.detections, b.detections, strict=True):
            assert abs(d.score - e.score) < 1e-3
            assert np.abs(np.subtract(d.box, e.box)).max() < 0.5


@pytest.mark.parametrize("model", ["selfie", pytest.param("meet", marks=pytest.mark.pulled)])
def test_onnxruntime_segments_as_eager(model, sample):
    images = [sample("astronaut"), sample("coffee")]
    eager, ours = (results("segment", SegmentSettings(), model, backend, images) for backend in (EAGER, ONNXRUNTIME))
    for a, b in zip(eager, ours, strict=True):
        assert np.abs(a.mask.astype(int) - b.mask).max() <= 1
        assert abs(a.foreground - b.foreground) < 1e-3


def test_onnxruntime_enhances_tiles_of_every_size_as_eager(sample):
    """One dynamic-shape export serves tiles of different sizes (the edges' regions are smaller)."""
    image = sample("coffee")[100:190, 200:310]
    settings = EnhanceSettings(scale=None, tile=40, tile_pad=8)
    eager, ours = (
        results("enhance", settings, "realesr-animevideov3", backend, [image])[0] for backend in (EAGER, ONNXRUNTIME)
    )
    assert ours.image.shape == eager.image.shape == (360, 440, 3)
    assert psnr(ours.image, eager.image) > 50


@pytest.mark.parametrize("model", ["realesr-animevideov3", "realesrgan-x4plus-anime"])
def test_nnpack_enhances_as_eager(model, sample):
    image = sample("chelsea")[100:164, 200:264]
    eager, ours = (results("enhance", EnhanceSettings(), model, backend, [image])[0] for backend in (EAGER, NNPACK))
    assert psnr(ours.image, eager.image) > 50


@pytest.mark.parametrize("model", ["realesr-animevideov3", "realesrgan-x4plus-anime"])
def test_ncnn_enhances_tiles_of_every_size_as_eager(model, sample, isolated_home):
    """ncnn runs optik's own export written as an ncnn graph (PReLU, leaky ReLU fused into its convolutions,
    the dense blocks' concatenations and weighted residual sums, nearest upsampling, pixel shuffle): the same
    image as eager, tiles of every size from one graph, cached once under $OPTIK_HOME/ncnn."""
    image = sample("coffee")[100:160, 200:270]
    settings = EnhanceSettings(scale=None, tile=40, tile_pad=8)
    eager, ours = (results("enhance", settings, model, backend, [image])[0] for backend in (EAGER, NCNN))
    assert ours.image.shape == eager.image.shape == (240, 280, 3)
    assert psnr(ours.image, eager.image) > 50
    assert load(get_spec(model), "cpu", backend=NCNN).backend == NCNN
    assert sorted(path.suffix for path in (isolated_home / "ncnn" / model).iterdir()) == [".bin", ".param"]


@pytest.mark.pulled
def test_ncnn_cuts_out_as_eager(sample, tmp_path, monkeypatch):
    """ISNet as an ncnn graph: ceil-mode max pooling (padding at the end, also where a blob is one pixel across),
    bilinear resizing to another blob's size (the export's shape arithmetic dropped), sigmoid, the input's
    scaling. The same masks as eager; the weights, pulled as float16, cached as float16."""
    spec = get_spec("isnet")
    pulled = spec.cache_path()
    monkeypatch.setenv("OPTIK_HOME", str(tmp_path))  # a fresh ncnn cache, with the pulled weights in it
    monkeypatch.setattr(loading, "_LOADED", {})
    spec.cache_path().parent.mkdir(parents=True)
    for suffix in (".safetensors", ".json"):  # the weights and the checksum they were pulled with
        spec.cache_path().with_suffix(suffix).symlink_to(pulled.with_suffix(suffix))
    images = [sample("chelsea"), sample("coffee")]
    eager, ours = (results("segment", SegmentSettings(), "isnet", backend, images) for backend in (EAGER, NCNN))
    assert load(spec, "cpu", backend=NCNN).backend == NCNN
    assert sorted(path.suffix for path in (tmp_path / "ncnn" / "isnet").iterdir()) == [".bin", ".param"]
    (graph,) = (tmp_path / "ncnn" / "isnet").glob("*.bin")
    assert graph.stat().st_size < 1.01 * pulled.stat().st_size  # the float16 weights stay float16: 88 MB, not 176
    for a, b in zip(eager, ours, strict=True):
        assert np.abs(a.mask.astype(int) - b.mask).max() <= 1
        assert abs(a.foreground - b.foreground) < 1e-3


class TinyUNet(nn.Module):
    """Plumbing for the ncnn writer (random weights): the input's scaling, ceil-mode pooling down to one pixel,
    bilinear resizing back to a skip's size, a sum and a sigmoid."""

    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(3, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.middle = nn.Conv2d(8, 8, 3, padding=1)
        self.out = nn.Conv2d(8, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = torch.relu(self.down((x - 0.5) / 0.25))
        deep = self.pool(self.pool(self.pool(self.pool(skip))))
        deep = torch.relu(self.middle(deep))
        up = nn.functional.interpolate(deep, size=skip.shape[2:], mode="bilinear", align_corners=False)
        return torch.sigmoid(self.out(up + skip))


def test_ncnn_pools_and_resizes_as_pytorch_on_odd_and_one_pixel_sizes(tmp_path, monkeypatch):
    """One graph for every size: 33×47 pools to 17×24 … 3×3, and 5×3 to 3×2, 2×1, 1×1, 1×1 (where ncnn's own
    ceil mode would make two pixels of one)."""
    monkeypatch.setenv("OPTIK_HOME", str(tmp_path))
    torch.manual_seed(0)
    module = TinyUNet().eval()
    runner = NcnnRunner(module, "tiny-unet", "0" * 64, module)
    with torch.inference_mode():
        for height, width in ((70, 90), (33, 47), (5, 3)):  # the first call writes the graph
            x = torch.rand(1, 3, height, width)
            torch.testing.assert_close(runner(x), module(x), rtol=1e-4, atol=1e-5)
    assert runner.name == NCNN


def test_ncnn_falls_back_to_eager_where_it_cannot_translate(isolated_home, caplog):
    """MobileNetV2's ReLU6 (an ONNX Clip) is not translated: one warning, the eager result, remembered."""
    loaded = load(get_spec("mobilenet_v2"), "cpu", backend=NCNN)
    x = torch.rand(2, 3, 224, 224)
    with caplog.at_level(logging.WARNING, logger="optik"):
        first, second = loaded(x), loaded(x)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and "ncnn graph cannot be used" in warnings[0] and "ONNX Clip" in warnings[0]
    assert loaded.backend == EAGER
    torch.testing.assert_close(first, second, rtol=1e-5, atol=1e-5)
    assert [path.suffix for path in (isolated_home / "ncnn" / "mobilenet_v2").glob("*.failed")] == [".failed"]


def test_nnpack_takes_a_batch_one_image_at_a_time_with_the_eager_result():
    """NNPACK's single-image path is its fast one, so a batch is split; the result is the batch's."""
    assert torch._nnpack_available()  # which also initialises NNPACK, as the backend's resolution does
    conv = nn.Conv2d(8, 16, 3, padding=1)
    batch = torch.rand(3, 8, 20, 24)
    with torch.inference_mode():
        expected = conv(batch)
        use_nnpack(conv)
        assert isinstance(conv, NnpackConv2d)
        torch.testing.assert_close(conv(batch), expected, rtol=1e-4, atol=1e-4)


def test_nnpack_rewrites_the_module_in_place_for_families_that_call_it(sample):
    loaded = load(get_spec("multistyle26"), "cpu", backend=NNPACK)
    convs = [m for m in loaded.module.modules() if isinstance(m, nn.Conv2d)]
    assert sum(isinstance(m, NnpackConv2d) for m in convs) == 16  # the stride-1 ones; the two stride-2 stay
    assert (
        loaded.module.state_dict().keys()
        == load(get_spec("multistyle26"), "cpu", backend=EAGER).module.state_dict().keys()
    )
    image = sample("astronaut")[::2, ::2]
    eager, ours = (results("style", StyleSettings(19), "multistyle26", b, [image])[0] for b in (EAGER, NNPACK))
    assert psnr(ours.image, eager.image) > 50
    assert loaded.provenance()["backend"] == NNPACK


def test_onnxruntime_reaches_the_parts_families_call(sample):
    """Style with a style image calls the predictor and the transformer itself, MTCNN its three nets: each is
    routed. Under ``auto`` only the int8 predictor runs through onnxruntime, the transformer on NNPACK. The style
    vector's integer kernels move it by a step or two of its quantisation (the next test): 48 dB here."""
    loaded = load(get_spec("arbitrary_style"), "cpu", backend=ONNXRUNTIME)
    assert isinstance(loaded.module.transformer, RoutedModule) and isinstance(loaded.module.predictor, RoutedModule)
    auto = load(get_spec("arbitrary_style"), "cpu")
    assert isinstance(auto.module.predictor, RoutedModule) and not isinstance(auto.module.transformer, RoutedModule)
    settings = StyleSettings(sample("chelsea"), strength=0.8, size=192)
    eager, ours, mixed = (
        results("style", settings, "arbitrary_style", b, [sample("coffee")])[0] for b in (EAGER, ONNXRUNTIME, "auto")
    )
    assert psnr(ours.image, eager.image) > 45 and psnr(mixed.image, eager.image) > 45
    assert auto.backend == f"{NNPACK}+{ONNXRUNTIME}" == auto.provenance()["backend"]
    faces = [results("detect", DetectSettings(), "mtcnn", b, [sample("astronaut")])[0] for b in (EAGER, ONNXRUNTIME)]
    assert len(faces[0].detections) == len(faces[1].detections) == 1
    assert np.abs(np.subtract(faces[0].detections[0].box, faces[1].detections[0].box)).max() < 0.5
    assert loaded.backend == load(get_spec("mtcnn"), "cpu", backend=ONNXRUNTIME).backend == ONNXRUNTIME


@pytest.mark.parametrize("unsigned_weights", [False, True], ids=["int8-weights", "uint8-weights"])
def test_arbitrary_predictor_exports_as_an_int8_graph(sample, monkeypatch, tmp_path, unsigned_weights):
    """The predictor's export is the original's int8 graph again, in the form onnxruntime fuses whole: uint8
    activations, SAME padding inside each Conv (a Pad would keep it from fusing), int8 or uint8 weights. Run as
    written it agrees with the float emulation to a step or two of the output's quantisation. Fused, every conv
    and sum is an integer kernel; the weights this CPU gets (int8 with VNNI, uint8 without) compute the graph
    exactly, the vector as the emulation's; the other form is held to what the original holds on AVX2 and
    AVX-512 alike (cosine > 0.97, as tests/test_style_fidelity.py's live test: int8 weights saturate sums on AVX2)."""
    import onnx
    import onnxruntime

    exact = stylenet.unsigned_int8_weights() == unsigned_weights
    monkeypatch.setattr(stylenet, "unsigned_int8_weights", lambda: unsigned_weights)
    monkeypatch.setattr(loading, "_LOADED", {})  # the export's cache key has the weights' type: a new runner
    predictor = load(get_spec("arbitrary_style"), "cpu", backend=ONNXRUNTIME).module.predictor
    style = torch.from_numpy(sample("chelsea")[:256, :256].copy()).permute(2, 0, 1)[None] / 255
    int8 = predictor(style)
    assert predictor.runner.name == ONNXRUNTIME  # the export passed its check
    with torch.inference_mode():
        emulated = load(get_spec("arbitrary_style"), "cpu", backend=EAGER).module.predictor(style)
    assert torch.nn.functional.cosine_similarity(int8, emulated).item() > (0.999 if exact else 0.97)
    (program,) = predictor.runner.programs.values()
    as_written = program.run((style,), optimised=False)
    assert ort_backend.largest_difference([as_written.numpy()], [emulated.numpy()]) < 0.03
    ops = [node.op_type for node in onnx.load(str(program.path)).graph.node]
    assert ops.count("Conv") == 52 and "Pad" not in ops and ops.count("QuantizeLinear") > 52
    options = onnxruntime.SessionOptions()  # fused as onnxruntime runs it (without the CPU-specific layouts)
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp_path / "fused.onnx")
    onnxruntime.InferenceSession(str(program.path), options, providers=["CPUExecutionProvider"])
    fused = onnx.load(options.optimized_model_filepath).graph
    types = {tensor.name: tensor.data_type for tensor in fused.initializer}
    convs = [(types[node.input[2]], types[node.input[3]]) for node in fused.node if node.op_type == "QLinearConv"]
    weights = onnx.TensorProto.UINT8 if unsigned_weights else onnx.TensorProto.INT8
    assert convs == [(onnx.TensorProto.UINT8, weights)] * 52
    assert [node.op_type for node in fused.node].count("QLinearAdd") == 10


def test_frozen_traces_each_shape_and_matches_eager(sample):
    from optik.preprocess.transforms import prepare, to_batch

    spec = get_spec("mobilenet_v2")
    batch = to_batch([prepare(sample(name), spec.input_spec())[0] for name in PHOTOS], spec.input_spec())
    eager, frozen = (load(spec, "cpu", backend=backend) for backend in (EAGER, FROZEN))
    for inputs in (batch, batch[:3]):
        assert (frozen(inputs) - eager(inputs)).abs().max() < 1e-4
    assert len(frozen.runner.traced) == 2


def test_auto_is_the_measured_choice_where_it_applies():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve("auto", "mobilenet_v2", cpu, torch.float32) == ONNXRUNTIME
    assert resolve("torch", "mobilenet_v2", cpu, torch.float32) == EAGER
    assert resolve("torch", "multistyle26", cpu, torch.float32) == NNPACK
    assert resolve("auto", "mobilenet_v2", cuda, torch.float16) == EAGER  # nothing measured there yet
    assert resolve("auto", "realesrgan-x4plus", cpu, torch.float32) == NCNN
    assert resolve("torch", "realesrgan-x4plus", cpu, torch.float32) == NNPACK
    assert resolve("auto", "realesrgan-x4plus", cuda, torch.float16) == EAGER
    with pytest.raises(SettingError, match="CPU"):
        resolve("ncnn", "realesrgan-x4plus", cuda, torch.float32)
    assert resolve("auto", "not-measured", cpu, torch.float32) == EAGER
    assert onnxruntime_parts("auto", "arbitrary_style", cpu, torch.float32) == ("predictor",)
    assert onnxruntime_parts("torch", "arbitrary_style", cpu, torch.float32) == ()
    assert onnxruntime_parts("auto", "arbitrary_style", cuda, torch.float32) == ()
    with pytest.raises(SettingError, match="CPU"):
        resolve("onnxruntime", "mobilenet_v2", cuda, torch.float32)
    with pytest.raises(SettingError, match="not a backend"):
        resolve("tensorrt", "mobilenet_v2", cpu, torch.float32)


def test_records_name_the_backend():
    loaded = load(get_spec("mobilenet_v2"), "cpu")
    assert loaded.provenance()["backend"] == ONNXRUNTIME == loaded.backend
    assert load(get_spec("haar-face"), "cpu").provenance()["backend"] == "opencv"


class BakedBatch(nn.Module):
    """A module whose export bakes in its batch size (``int()`` of a traced size): dynamic shapes do not hold."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.conv(x)
        return y, y.reshape(int(y.shape[0]), -1).mean(1)


def test_exports_are_checked_cached_and_keyed(isolated_home, monkeypatch):
    module = BakedBatch().eval()
    eager = ort_backend.OnnxRuntimeRunner(module, "baked", "0" * 64, lambda *x: module(*x))
    x = torch.rand(2, 3, 40, 48)
    image, means = eager(x)
    reference = module(x)
    assert torch.allclose(image, reference[0], atol=1e-5) and torch.allclose(means, reference[1], atol=1e-5)
    files = sorted(p.suffix for p in (isolated_home / "onnx" / "baked").iterdir())
    assert files == [".failed", ".failed", ".json", ".onnx"]  # dynamic and batch shapes failed; static for (2, …)
    assert eager.name == "onnxruntime"

    def no_export(*args):
        raise AssertionError("exported again")

    monkeypatch.setattr(ort_backend, "export", no_export)
    cached = ort_backend.OnnxRuntimeRunner(module, "baked", "0" * 64, lambda *x: module(*x))
    assert torch.allclose(cached(x)[1], reference[1], atol=1e-5)
    assert ort_backend.cache_key("baked", "1" * 64, (x,), "static") != ort_backend.cache_key(
        "baked", "0" * 64, (x,), "static"
    )
    monkeypatch.setattr(ort_backend.torch, "__version__", "0.0")
    assert ort_backend.cache_key("baked", "0" * 64, (x,), "static") != ort_backend.cache_key(
        "baked", "0" * 64, (x,), "dynamic"
    )


def test_a_mismatching_export_falls_back_to_eager_with_one_warning(isolated_home, monkeypatch, caplog):
    monkeypatch.setattr(ort_backend, "RELATIVE_TOLERANCE", -1.0)  # nothing matches
    monkeypatch.setattr(ort_backend, "_EXPORTED", {})  # nor this process's earlier exports
    loaded = load(get_spec("selfie"), "cpu", backend=ONNXRUNTIME)
    x = torch.rand(1, 3, 256, 256)
    with caplog.at_level(logging.WARNING, logger="optik"):
        first, second = loaded(x), loaded(x)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and "onnxruntime export cannot be used" in warnings[0]
    assert loaded.backend == EAGER and loaded.provenance()["backend"] == EAGER
    assert torch.equal(first, second) and torch.equal(first, loaded.module(x))


@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param(
            "cuda",
            marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")],
        ),
    ],
)
def test_gpu_bench_runs(device):
    """bench/gpu.py must not rot while no GPU is around: its quick run measures every kind of row."""
    run = subprocess.run(
        [sys.executable, str(BENCH / "gpu.py"), "--device", device, "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "| realesr-animevideov3 |" in run.stdout and "decode_jpeg" in run.stdout


def test_backends_bench_runs(tmp_path):
    """bench/backends.py's quick run: ncnn timed where it runs the model (Real-ESRGAN), left out (–) where it falls
    back to PyTorch (Selfie's depthwise convolutions) instead of showing eager times under its name."""
    run = subprocess.run(
        [sys.executable, str(BENCH / "backends.py"), "--quick", "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OPTIK_HOME": str(tmp_path)},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    table = [[cell.strip() for cell in line.split("|")] for line in run.stdout.splitlines() if line.startswith("| ")]
    ncnn = table[0].index("ncnn ms")
    rows = {row[1]: row for row in table}
    assert rows["realesr-animevideov3"][ncnn].isdigit() and rows["selfie"][ncnn] == "–"


@pytest.mark.parametrize(
    ("preset", "imports", "expected"),
    [(None, "optik", "PASSIVE"), ("ACTIVE", "optik", "ACTIVE"), (None, "torch, optik", "None")],
)
def test_importing_optik_first_makes_openmp_threads_sleep(preset, imports, expected):
    """Before torch loads, optik asks libgomp for sleeping threads (spinning ones slow NNPACK, onnxruntime and the
    decode workers); a value of the user's own is kept, and once torch is loaded it is too late to set."""
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    if preset:
        env["OMP_WAIT_POLICY"] = preset
    code = f"import os, {imports}; print(os.environ.get('OMP_WAIT_POLICY'))"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == expected
