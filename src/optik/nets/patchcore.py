"""PatchCore (Roth et al. 2022, Towards Total Recall in Industrial Anomaly Detection) on an embedded ImageNet backbone.

Each image becomes a grid of patch features: the outputs of two middle stages of the backbone (stride 8 and 16),
each averaged over its 3×3 neighbourhood, the coarser one upsampled to the finer grid, concatenated. A memory
bank holds patch features of normal images (a coreset of them); a patch's anomaly is its distance to the nearest
patch in the bank. :class:`PatchCore` is the fitted detector as one module: the backbone stages it needs and the
bank, so that a model directory loads and runs like any registry model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from optik.nets.efficientnet_lite import EfficientNetLite
from optik.nets.mobilenetv2 import MobileNetV2

#: The backbones' stages whose outputs make the patch features: the last of the stride-8 and of the stride-16
#: resolution (measured against other pairs and triples: bench/README.md, "train and anomaly").
TAPS = {"mobilenet_v2": (6, 13), "efficientnet_lite0": (5, 11)}
_NETWORKS = {"mobilenet_v2": MobileNetV2, "efficientnet_lite0": EfficientNetLite}
_NEIGHBOURHOOD = 3
_QUERY_CHUNK = 8192  # patches compared with the bank at a time (bounds the distance matrix)


def patch_features(stages: Sequence[nn.Module], x: Tensor, taps: tuple[int, ...]) -> Tensor:
    """N×D×h×w float32: the outputs of the stages in ``taps`` (run in order from the input), each averaged over
    its 3×3 neighbourhood and brought to the first tap's grid, concatenated along the channels."""
    maps = []
    for index, stage in enumerate(stages[: max(taps) + 1]):
        x = stage(x)
        if index in taps:
            # zero padding counted: border patches (whose convolutions saw padding) weigh less, which measured far
            # better than averaging only inside the image (image AUROC 0.76 against 0.51 on the tissue texture)
            maps.append(F.avg_pool2d(x.float(), _NEIGHBOURHOOD, 1, _NEIGHBOURHOOD // 2))
    size = maps[0].shape[2:]
    return torch.cat(
        [m if m.shape[2:] == size else F.interpolate(m, size, mode="bilinear", align_corners=False) for m in maps], 1
    )


def nearest_distances(queries: Tensor, bank: Tensor) -> Tensor:
    """The euclidean distance of each row of ``queries`` (Q×D) to its nearest row of ``bank`` (B×D)."""
    return torch.cat([torch.cdist(chunk, bank).amin(1) for chunk in torch.split(queries, _QUERY_CHUNK)])


class PatchCore(nn.Module):
    """A fitted detector: NCHW normalised RGB → N×h×w distances of each patch to the normal patches in the bank."""

    def __init__(self, backbone: str, taps: tuple[int, ...], bank_size: int, dim: int):
        super().__init__()
        self.taps = tuple(taps)
        self.stages = nn.ModuleList(_NETWORKS[backbone]().stages()[: max(self.taps) + 1])
        self.register_buffer("bank", torch.zeros(bank_size, dim))

    def forward(self, x: Tensor) -> Tensor:
        features = patch_features(self.stages, x, self.taps)
        count, dim, height, width = features.shape
        queries = features.permute(0, 2, 3, 1).reshape(-1, dim)
        return nearest_distances(queries, self.bank.float()).reshape(count, height, width)
