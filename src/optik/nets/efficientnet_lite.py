"""EfficientNet-Lite (Tan & Le 2019, TF ``efficientnet/lite``), names as lukemelas' EfficientNet-PyTorch.

Lite drops squeeze-excitation and swish (ReLU6 everywhere) and keeps TensorFlow's SAME padding,
which is asymmetric for stride 2: the extra row/column goes to the bottom/right.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

# (repeats, kernel, first stride, expansion, in channels, out channels) for Lite0.
_LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
_BN_EPS = 1e-3


class Conv2dSame(nn.Conv2d):
    """Conv2d with TensorFlow SAME padding computed from the input size."""

    def forward(self, x: Tensor) -> Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[2:]), reversed(self.kernel_size), reversed(self.stride), strict=True):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-excitation."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        hidden = in_channels * expansion
        self.has_expansion = expansion != 1
        if self.has_expansion:
            self._expand_conv = nn.Conv2d(in_channels, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=_BN_EPS)
        self._depthwise_conv = Conv2dSame(hidden, hidden, kernel, stride, groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, eps=_BN_EPS)
        self._project_conv = nn.Conv2d(hidden, out_channels, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out_channels, eps=_BN_EPS)
        self.use_skip = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expansion else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.use_skip else y


class ConvBNReLU6(nn.Module):
    """A network's conv and batch norm followed by ReLU6, as one stage (the stem, the head) for :meth:`stages`."""

    def __init__(self, conv: nn.Module, bn: nn.Module):
        super().__init__()
        self.conv, self.bn = conv, bn

    def forward(self, x: Tensor) -> Tensor:
        return F.relu6(self.bn(self.conv(x)))


class EfficientNetLite(nn.Module):
    """ImageNet classifier: NCHW RGB scaled as ``(x - 127) / 128`` → class logits."""

    def __init__(
        self,
        stages: tuple[tuple[int, ...], ...] = _LITE0_STAGES,
        num_classes: int = 1000,
        head_channels: int = 1280,
        dropout: float = 0.2,
    ):
        super().__init__()
        self._conv_stem = Conv2dSame(3, stages[0][4], 3, 2, bias=False)
        self._bn0 = nn.BatchNorm2d(stages[0][4], eps=_BN_EPS)
        blocks = []
        for repeats, kernel, stride, expansion, in_channels, out_channels in stages:
            for i in range(repeats):
                blocks.append(
                    MBConv(
                        in_channels if i == 0 else out_channels,
                        out_channels,
                        kernel,
                        stride if i == 0 else 1,
                        expansion,
                    )
                )
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(stages[-1][5], head_channels, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(head_channels, eps=_BN_EPS)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(head_channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(self._dropout(x.mean((2, 3))))

    def stages(self) -> list[nn.Module]:
        """The feature layers in order: the stem, the 16 MBConv blocks, the 1280-channel head conv (the stem and
        head as :class:`ConvBNReLU6` views over this network's own layers)."""
        return [ConvBNReLU6(self._conv_stem, self._bn0), *self._blocks, ConvBNReLU6(self._conv_head, self._bn1)]

    @property
    def fc(self) -> nn.Linear:
        """The linear layer over the mean of the last stage's map (the class logits)."""
        return self._fc
