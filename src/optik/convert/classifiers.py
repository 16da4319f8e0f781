"""Converters for the classifiers shipped as PyTorch state-dict pickles."""

from __future__ import annotations

import torch

from optik.convert.sources import SourceFiles


def _load_pickle(files: SourceFiles) -> dict[str, torch.Tensor]:
    (path,) = files.values()
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {key: value for key, value in state.items() if not key.endswith("num_batches_tracked")}


def convert_mobilenet_v2(files: SourceFiles) -> dict[str, torch.Tensor]:
    """torchvision's IMAGENET1K_V1 checkpoint; keys already match :class:`MobileNetV2`."""
    return _load_pickle(files)


def convert_efficientnet_lite0(files: SourceFiles) -> dict[str, torch.Tensor]:
    """ML Illustrated's port in lukemelas naming; keys already match :class:`EfficientNetLite`."""
    return _load_pickle(files)
