"""CUDA: device placement, fp16 and CPU/GPU agreement (skipped without a GPU)."""

from __future__ import annotations

import pytest
import torch

import optik
from tests.conftest import EXAMPLES
from tests.helpers import jsonl
from tests.helpers import optik as run_optik

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_model_lands_on_the_gpu_in_the_asked_dtype():
    model = optik.load_model("mobilenet_v2", device="cuda", half=True)
    assert next(model.module.parameters()).device.type == "cuda"
    assert next(model.module.parameters()).dtype == torch.float16


@pytest.mark.parametrize("model", ["mobilenet_v2", "efficientnet_lite0"])
def test_gpu_fp16_agrees_with_cpu(model, sample):
    photos = [sample(name) for name in ("chelsea", "coffee", "astronaut")]
    cpu = optik.classify(photos, model=model, device="cpu")
    gpu = optik.classify(photos, model=model, device="cuda", half=True)
    for a, b in zip(cpu, gpu, strict=True):
        assert a.top.index == b.top.index
        assert abs(a.top.score - b.top.score) < 0.01


def test_cli_records_the_gpu():
    result = run_optik("classify", str(EXAMPLES / "coffee.png"), "--device", "cuda", "--half", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    record = jsonl(result.stdout)[0]
    assert record["device"].startswith("cuda") and record["dtype"] == "float16"
