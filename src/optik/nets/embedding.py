"""The ImageNet classifiers read as image embedders: GeM-pooled features of their last (1280-channel) layer.

The modules subclass the classifiers, so that they load the very same weights files (the unused classifier
matrix included) and only ``forward`` differs: the 1280-channel map the classifier would average is pooled
with generalised mean pooling (GeM, Radenović et al. 2018, ``p = 3``: between the mean and the maximum, so
that strong local features count more than in the classifier's mean) and L2-normalised.
Measured on bench/retrieval.py's set (crops, mirror images, re-encodes, colour and size changes of 53
photos among one another): GeM pooling of this layer retrieves better than the mean the classifiers use,
the 320-channel layer below it, a middle layer, or the logits (see bench/README.md).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from optik.nets.efficientnet_lite import EfficientNetLite
from optik.nets.mobilenetv2 import MobileNetV2

GEM_POWER = 3.0
_GEM_FLOOR = 1e-6  # GeM needs positive values; ReLU6 outputs are ≥ 0


def gem_pool(features: Tensor, power: float = GEM_POWER) -> Tensor:
    """Generalised mean over the spatial positions of NCHW ``features``: ``mean(x^p)^(1/p)`` per channel."""
    return features.float().clamp(min=_GEM_FLOOR).pow(power).mean((2, 3)).pow(1.0 / power)


def normalised(vectors: Tensor) -> Tensor:
    return F.normalize(vectors, dim=1)


class MobileNetV2Embedder(MobileNetV2):
    """MobileNetV2 → 1280-d unit vectors (GeM of ``features[18]``, the last 1x1 conv + BN + ReLU6)."""

    def forward(self, x: Tensor) -> Tensor:
        return normalised(gem_pool(self.features(x)))


class EfficientNetLiteEmbedder(EfficientNetLite):
    """EfficientNet-Lite → 1280-d unit vectors (GeM of the head: ``_conv_head`` + ``_bn1`` + ReLU6)."""

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return normalised(gem_pool(F.relu6(self._bn1(self._conv_head(x)))))
