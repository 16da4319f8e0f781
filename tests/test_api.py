"""The Python API as a user meets it: any image kind, one or many, loaded models, records like the CLI's."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
import torch
from PIL import Image as PILImage

import optik
from optik.errors import InputError, SettingError, UsageError
from tests.conftest import EXAMPLES
from tests.helpers import valid

COFFEE = EXAMPLES / "coffee.png"


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(COFFEE)), cv2.COLOR_BGR2RGB)


def test_every_image_kind_gives_the_same_answer(rgb):
    """Path, str, RGB array, BGR array, PIL image, PNG bytes, CHW uint8 and float tensors: one label."""
    png = COFFEE.read_bytes()
    tensor = torch.from_numpy(rgb).permute(2, 0, 1)
    kinds = [
        optik.classify(COFFEE),
        optik.classify(str(COFFEE)),
        optik.classify(rgb),
        optik.classify(rgb[:, :, ::-1].copy(), channels="BGR"),
        optik.classify(PILImage.open(COFFEE)),
        optik.classify(png),
        optik.classify(tensor),
        optik.classify(tensor.float() / 255),
    ]
    scores = [result.top.score for result in kinds]
    assert {result.top.label for result in kinds} == {"espresso"}
    assert max(scores) - min(scores) < 1e-3  # the float tensor is rounded to 8 bits


def test_many_images_directories_and_globs_come_back_in_order(tmp_path, rgb):
    for name in ("b.png", "a.png"):
        shutil.copy(COFFEE, tmp_path / name)
    folder = optik.classify(tmp_path)
    assert [r.path for r in folder] == [str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    assert len(optik.classify(f"{tmp_path}/*.png")) == 2
    mixed = optik.classify([rgb, COFFEE, torch.from_numpy(rgb).permute(2, 0, 1)[None].repeat(2, 1, 1, 1)])
    assert len(mixed) == 4 and all(r.top.label == "espresso" for r in mixed)
    with pytest.raises(UsageError, match="no images matched"):
        optik.classify(f"{tmp_path}/*.jpg")


def test_a_loaded_model_is_accepted_everywhere(rgb):
    model = optik.load_model("efficientnet_lite0", device="cpu")
    assert optik.classify(rgb, model=model).model == "efficientnet_lite0"
    with pytest.raises(SettingError, match="model: efficientnet_lite0 is a classify model, not a detect model"):
        optik.detect(rgb, model=model)


def test_records_are_the_command_lines(rgb):
    for result in (optik.classify(rgb), optik.detect(rgb), optik.segment(rgb, model="otsu")):
        valid(result.record)
        assert result.record["device"] == "cpu" and set(result.record["timing_ms"]) == {"pre", "infer", "post"}


def test_errors_speak_of_settings_not_flags(rgb):
    with pytest.raises(SettingError) as caught:
        optik.detect(rgb, classes="persn")
    assert str(caught.value).startswith("classes: no class 'persn' (did you mean 'person'?)")
    assert "--" not in str(caught.value)
    assert [d.label for d in optik.detect(EXAMPLES / "astronaut.png", classes="person").detections] == ["person"]
    with pytest.raises(SettingError, match=r"^top_k: 0 is below 1$"):
        optik.classify(rgb, top_k=0)
    with pytest.raises(InputError, match="not an image"):
        optik.classify(3.14)
    with pytest.raises(InputError, match="NaN"):
        optik.classify(np.full((8, 8, 3), np.nan, np.float32))
