"""Fidelity of the native segmentation ports against the original runtimes.

Selfie and Meet: reference outputs of the original TF.js graphs (TensorFlow.js 4.22.0, pure-JS CPU
backend) stored in ``fixtures/selfie_tfjs.npz`` by ``fixtures/make_selfie_tfjs.py``.
ISNet: onnxruntime on the original fp16 ONNX, run live; pull-only (AGPL), so these tests run only
when the package is already in the cache.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from optik.convert.isnet import assemble_isnet_onnx, convert_isnet
from optik.convert.selfie import convert_meet, convert_selfie
from optik.nets.isnet import ISNetDIS
from optik.nets.selfie import MEET_SIZE, SELFIE_SIZE, MeetSegmenter, SelfieSegmenter
from optik.registry import get_spec, upstream
from optik.registry.loading import LoadedModel

SELFIE_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "selfie_tfjs.npz"

needs_isnet = pytest.mark.skipif(
    not upstream.IMGLY_BACKGROUND_REMOVAL_DATA.is_unpacked(),
    reason="ISNet (AGPL, pull-only) is not in the cache; `make fixtures` pulls it",
)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _imgly_resize(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """@imgly/background-removal 1.4.5's bilinear: ``src = dst * in / out``, rounded to uint8."""
    h, w = image.shape[:2]
    sy, sx = np.arange(out_h) * (h / out_h), np.arange(out_w) * (w / out_w)
    y1, x1 = np.floor(sy).astype(int), np.floor(sx).astype(int)
    y2, x2 = np.minimum(np.ceil(sy), h - 1).astype(int), np.minimum(np.ceil(sx), w - 1).astype(int)
    dy, dx = (sy - y1)[:, None, None], (sx - x1)[None, :, None]
    src = image.reshape(h, w, -1).astype(np.float64)
    value = (
        (1 - dx) * (1 - dy) * src[y1][:, x1]
        + dx * (1 - dy) * src[y1][:, x2]
        + (1 - dx) * dy * src[y2][:, x1]
        + dx * dy * src[y2][:, x2]
    )
    return np.floor(value + 0.5).astype(np.uint8).reshape(out_h, out_w, *image.shape[2:])


# WEIGHTS.md: fraction of pixels with person probability > 0.5 on astronaut under TF.js
ASTRONAUT_FRACTION = {"selfie": 0.5449, "meet": 0.3439}


@pytest.fixture(scope="module")
def tfjs_nets(source_files: Callable) -> dict[str, nn.Module]:
    selfie, meet = SelfieSegmenter().eval(), MeetSegmenter().eval()
    selfie.load_state_dict(convert_selfie(source_files("selfie")))
    meet.load_state_dict(convert_meet(source_files("meet")))
    return {"selfie": selfie, "meet": meet}


@pytest.mark.parametrize("model", ["selfie", "meet"])
def test_tfjs_weights_are_exact_in_float16(tfjs_nets: dict[str, nn.Module], model: str) -> None:
    """The TF.js weights are float16-quantised, so storing the port as float16 loses nothing."""
    for name, tensor in tfjs_nets[model].state_dict().items():
        assert torch.equal(tensor, tensor.half().float()), name


@pytest.mark.parametrize("model", ["selfie", "meet"])
@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee"])
def test_selfie_and_meet_match_tfjs(
    tfjs_nets: dict[str, nn.Module], sample: Callable[[str], np.ndarray], model: str, name: str
) -> None:
    reference = np.load(SELFIE_FIXTURE)
    size = SELFIE_SIZE if model == "selfie" else MEET_SIZE
    image = cv2.resize(sample(name), size[::-1], interpolation=cv2.INTER_LINEAR)
    assert hashlib.sha256(image.tobytes()).hexdigest() == str(reference[f"{model}_{name}_input_sha256"])
    with torch.no_grad():
        output = tfjs_nets[model](torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0)
    prob = output[0, -1].numpy()  # Selfie: the only channel; Meet: channel 1 = person
    expected = reference[f"{model}_{name}_prob"].astype(np.float32)
    assert prob.shape == expected.shape == size
    assert _iou(prob > 0.5, expected > 0.5) >= 0.98
    assert np.abs(prob - expected).mean() <= 0.01
    if name == "astronaut":
        assert (expected > 0.5).mean() == pytest.approx(ASTRONAUT_FRACTION[model], abs=2e-4)  # float16-stored
        assert (prob > 0.5).mean() == pytest.approx(ASTRONAUT_FRACTION[model], abs=5e-4)


@pytest.fixture(scope="module")
def isnet_onnx(source_files: Callable) -> bytes:
    return assemble_isnet_onnx(source_files("isnet"))


@pytest.fixture(scope="module")
def isnet(isnet_onnx: bytes) -> LoadedModel:
    """The port as optik runs it (channels-last when the registry row says so)."""
    spec = get_spec("isnet")
    module = ISNetDIS().eval()
    module.load_state_dict(convert_isnet(isnet_onnx))
    if spec.channels_last:
        module = module.to(memory_format=torch.channels_last)
    return LoadedModel(spec, module, "", torch.device("cpu"), torch.float32)


@pytest.fixture(scope="module")
def isnet_session(isnet_onnx: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return ort.InferenceSession(isnet_onnx, options, providers=["CPUExecutionProvider"])


@pytest.mark.pulled
@needs_isnet
@pytest.mark.parametrize(("name", "p_mean", "foreground"), [("astronaut", 0.5340, 0.5353), ("chelsea", 0.7380, 0.7728)])
def test_isnet_matches_onnxruntime(
    isnet: LoadedModel,
    isnet_session: ort.InferenceSession,
    sample: Callable[[str], np.ndarray],
    name: str,
    p_mean: float,
    foreground: float,
) -> None:
    image = sample(name)
    pixels = _imgly_resize(image, 1024, 1024).transpose(2, 0, 1)[None].astype(np.float32)
    expected = isnet_session.run(["output"], {"input": (pixels - 128.0) / 256.0})[0][0, 0]
    prob = isnet(torch.from_numpy(pixels / 255.0))[0, 0].numpy()
    assert prob.shape == expected.shape == (1024, 1024)
    assert _iou(prob >= 0.5, expected >= 0.5) >= 0.98
    assert np.abs(prob - expected).mean() <= 0.01
    # WEIGHTS.md numbers: p mean at 1024, foreground of the uint8 mask resized back to the image
    mask = _imgly_resize(np.trunc(prob * 255.0).astype(np.uint8), *image.shape[:2])
    assert prob.mean() == pytest.approx(p_mean, abs=5e-4)
    assert (mask >= 128).mean() == pytest.approx(foreground, abs=5e-4)
