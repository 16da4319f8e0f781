"""Our MobileNetV2 and our OpenCV/torch preprocessing reproduce torchvision's model and transforms;
our EfficientNet-Lite0 reproduces the upstream PyTorch port's reference outputs (WEIGHTS.md §4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image as PILImage

import optik
from optik.convert.classifiers import convert_mobilenet_v2

PHOTOS = ("chelsea", "coffee", "astronaut", "motorcycle", "rocket")


@pytest.fixture(scope="module")
def torchvision_mobilenet(source_files):
    weights = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1
    model = torchvision.models.mobilenet_v2()
    state = convert_mobilenet_v2(source_files("mobilenet_v2"))
    model.load_state_dict(state)
    return model.eval(), weights.transforms()


@pytest.mark.parametrize("photo", PHOTOS)
def test_mobilenet_v2_matches_torchvision(photo, sample, torchvision_mobilenet):
    model, transforms = torchvision_mobilenet
    rgb = sample(photo)
    with torch.inference_mode():
        reference = torch.softmax(model(transforms(PILImage.fromarray(rgb))[None]), 1)[0].numpy()
    ours = optik.classify(rgb, top_k=5)
    top5 = np.argsort(-reference)[:5]
    assert [p.index for p in ours.predictions] == list(top5)
    for prediction in ours.predictions:
        assert abs(prediction.score - reference[prediction.index]) < 0.01


def test_mobilenet_v2_reference_numbers(sample):
    """WEIGHTS.md: chelsea → Egyptian cat 0.7166, tiger cat 0.1471, tabby 0.1295; coffee → espresso 0.9921."""
    cat = optik.classify(sample("chelsea"), top_k=3)
    assert [p.label for p in cat.predictions] == ["Egyptian cat", "tiger cat", "tabby"]
    assert np.allclose([p.score for p in cat.predictions], [0.7166, 0.1471, 0.1295], atol=0.01)
    assert abs(optik.classify(sample("coffee")).top.score - 0.9921) < 0.005


def test_efficientnet_lite0_reference_numbers(sample):
    """WEIGHTS.md (upstream code, crop + PIL bicubic + (x-127)/128): chelsea → tiger cat 0.4084,
    Egyptian cat 0.3403, tabby 0.1669; coffee → espresso 0.9511, cup 0.0150, consomme 0.0078."""
    cat = optik.classify(sample("chelsea"), model="efficientnet_lite0", top_k=3)
    assert [p.label for p in cat.predictions] == ["tiger cat", "Egyptian cat", "tabby"]
    assert np.allclose([p.score for p in cat.predictions], [0.4084, 0.3403, 0.1669], atol=0.02)
    coffee = optik.classify(sample("coffee"), model="efficientnet_lite0", top_k=3)
    assert [p.label for p in coffee.predictions] == ["espresso", "cup", "consomme"]
    assert abs(coffee.top.score - 0.9511) < 0.02


def test_fp16_storage_keeps_fidelity(source_files, sample):
    """The embedded fp16 weights against the original fp32 checkpoint, same preprocessing."""
    from optik.nets.mobilenetv2 import MobileNetV2
    from optik.preprocess.transforms import prepare, to_batch
    from optik.registry import get_spec, load_model

    original = MobileNetV2().eval()
    state = convert_mobilenet_v2(source_files("mobilenet_v2"))
    original.load_state_dict(state)
    embedded = load_model("mobilenet_v2", "cpu")
    spec = get_spec("mobilenet_v2").input_spec()
    batch = to_batch([prepare(sample(p), spec)[0] for p in PHOTOS], spec, torch.device("cpu"), torch.float32)
    with torch.inference_mode():
        difference = (torch.softmax(original(batch), 1) - torch.softmax(embedded(batch), 1)).abs().max()
    assert difference < 2e-3
