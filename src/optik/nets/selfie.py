"""MediaPipe Selfie (256x256) and Google Meet (144x256) segmentation as plain PyTorch modules.

Both are a MobileNetV3-style encoder (hard-swish, squeeze-excite) with an LR-ASPP head and three
attention-gated decoder stages, ending in a stride-2 transposed convolution. Batch norm is
folded into the convolution biases. TensorFlow "SAME" padding is reproduced exactly: for stride 2
it pads more at the bottom/right than at the top/left.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SELFIE_SIZE = (256, 256)  # (H, W)
MEET_SIZE = (144, 256)
# The TF.js graph computes hard-swish as x * relu6(x + 3) * c with c = 1/6 stored as float16.
# Using that exact constant keeps the port within 3e-4 of TF.js (with 1/6 the maximum difference
# in the output probability is 0.12).
HSWISH_SCALE = 0.1666259765625


def hard_swish(x: Tensor) -> Tensor:
    """Hard-swish with the graph's float16 1/6."""
    return x * F.relu6(x + 3.0) * HSWISH_SCALE


class HardSwish(nn.Module):
    """Module form of :func:`hard_swish`."""

    def forward(self, x: Tensor) -> Tensor:
        return hard_swish(x)


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow SAME padding (asymmetric when the stride is 2)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(in_ch, out_ch, kernel, stride, padding=0, groups=groups)

    def forward(self, x: Tensor) -> Tensor:
        pads: list[int] = []
        for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride), strict=True):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


_ACTS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "hswish": HardSwish, "linear": nn.Identity}


class SqueezeExcite(nn.Module):
    """Global average, 1x1 reduce + ReLU, 1x1 expand + sigmoid, channel-wise gate."""

    def __init__(self, ch: int, squeeze: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(ch, squeeze, 1)
        self.expand = nn.Conv2d(squeeze, ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.expand(F.relu(self.reduce(x.mean((2, 3), keepdim=True)))))


class InvertedResidual(nn.Module):
    """1x1 expand + act, depthwise k x k + act, optional SE, linear 1x1 project, residual if shapes match."""

    def __init__(self, in_ch: int, mid: int, out_ch: int, kernel: int, stride: int, act: str, squeeze: int = 0) -> None:
        super().__init__()
        self.expand = nn.Conv2d(in_ch, mid, 1)
        self.depthwise = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self.act = _ACTS[act]()
        self.se = SqueezeExcite(mid, squeeze) if squeeze else nn.Identity()
        self.project = nn.Conv2d(mid, out_ch, 1)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: Tensor) -> Tensor:
        y = self.project(self.se(self.act(self.depthwise(self.act(self.expand(x))))))
        return x + y if self.residual else y


class LRASPP(nn.Module):
    """Lite R-ASPP head: act(1x1 conv) gated by sigmoid(1x1 conv of the global average)."""

    def __init__(self, in_ch: int, out_ch: int, act: str = "relu") -> None:
        super().__init__()
        self.branch = nn.Conv2d(in_ch, out_ch, 1)
        self.act = _ACTS[act]()
        self.gate = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.branch(x)) * torch.sigmoid(self.gate(x.mean((2, 3), keepdim=True)))


class Upsample(nn.Module):
    """Bilinear x2 upsampling (half-pixel centres) followed by a 1x1 convolution."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False))


class Fuse(nn.Module):
    """Decoder stage: ``skip * gate + up``, then ``y = act(1x1 conv)`` and ``y + act(depthwise 3x3 (y))``.

    The gate is an SE-style sigmoid computed from the global average of ``skip + up`` (Selfie) or of
    their concatenation (Meet).
    """

    def __init__(self, ch: int, concat: bool = False, conv_act: str = "relu", dw_act: str = "relu") -> None:
        super().__init__()
        self.concat = concat
        self.reduce = nn.Conv2d(2 * ch if concat else ch, ch, 1)
        self.expand = nn.Conv2d(ch, ch, 1)
        self.conv = nn.Conv2d(ch, ch, 1)
        self.conv_act = _ACTS[conv_act]()
        self.depthwise = SameConv2d(ch, ch, 3, groups=ch)
        self.dw_act = _ACTS[dw_act]()

    def forward(self, skip: Tensor, up: Tensor) -> Tensor:
        both = torch.cat((skip, up), 1) if self.concat else skip + up
        gate = torch.sigmoid(self.expand(F.relu(self.reduce(both.mean((2, 3), keepdim=True)))))
        y = self.conv_act(self.conv(skip * gate + up))
        return y + self.dw_act(self.depthwise(y))


class _Segmenter(nn.Module):
    """Stem (3x3/2 + hard-swish), inverted residual blocks, LR-ASPP, three gated decoder stages, 2x2/2 deconv."""

    def __init__(self, blocks: nn.Sequential, head: LRASPP, out_ch: int, **fuse: bool | str) -> None:
        super().__init__()
        self.stem = SameConv2d(3, 16, 3, stride=2)
        self.blocks = blocks  # 0: 1/4, 1-2: 1/8, 3-7: 1/16
        self.head = head
        self.up8 = Upsample(head.branch.out_channels, 24)
        self.fuse8 = Fuse(24, **fuse)
        self.up4 = Upsample(24, 16)
        self.fuse4 = Fuse(16, **fuse)
        self.up2 = Upsample(16, 16)
        self.fuse2 = Fuse(16, **fuse)
        self.final = nn.ConvTranspose2d(16, out_ch, 2, stride=2)

    def logits(self, x: Tensor) -> Tensor:
        """The network before its output activation."""
        x2 = hard_swish(self.stem(x))
        x4 = self.blocks[0](x2)
        x8 = self.blocks[1:3](x4)
        x16 = self.blocks[3:](x8)
        y = self.fuse8(x8, self.up8(self.head(x16)))
        y = self.fuse4(x4, self.up4(y))
        y = self.fuse2(x2, self.up2(y))
        return self.final(y)


class SelfieSegmenter(_Segmenter):
    """Person segmentation: NCHW RGB in [0, 1], 256x256 → sigmoid person probability [N, 1, 256, 256]."""

    def __init__(self) -> None:
        blocks = nn.Sequential(
            InvertedResidual(16, 16, 16, 3, 2, "relu", squeeze=8),
            InvertedResidual(16, 72, 24, 3, 2, "relu"),
            InvertedResidual(24, 88, 24, 3, 1, "relu"),
            InvertedResidual(24, 96, 32, 5, 2, "hswish", squeeze=24),
            InvertedResidual(32, 128, 32, 5, 1, "hswish", squeeze=32),
            InvertedResidual(32, 128, 32, 5, 1, "hswish", squeeze=32),
            InvertedResidual(32, 96, 32, 5, 1, "hswish", squeeze=24),
            InvertedResidual(32, 96, 32, 5, 1, "hswish", squeeze=24),
        )
        super().__init__(blocks, LRASPP(32, 128), out_ch=1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.logits(x))


class MeetSegmenter(_Segmenter):
    """Google Meet segmentation: NCHW RGB in [0, 1], 144x256 (H x W) → softmax [N, 2, H, W], channel 1 = person.

    The same design with ReLU6, full-width SE and gates computed from the concatenation.
    """

    def __init__(self) -> None:
        blocks = nn.Sequential(
            InvertedResidual(16, 16, 16, 3, 2, "relu6", squeeze=16),
            InvertedResidual(16, 72, 24, 3, 2, "relu6"),
            InvertedResidual(24, 88, 24, 3, 1, "relu6"),
            InvertedResidual(24, 96, 32, 5, 2, "hswish", squeeze=96),
            InvertedResidual(32, 128, 32, 5, 1, "hswish", squeeze=128),
            InvertedResidual(32, 128, 32, 5, 1, "hswish", squeeze=128),
            InvertedResidual(32, 96, 32, 5, 1, "hswish", squeeze=96),
            InvertedResidual(32, 72, 24, 5, 1, "hswish", squeeze=72),
        )
        super().__init__(blocks, LRASPP(24, 128, act="relu6"), out_ch=2, concat=True, conv_act="linear", dw_act="relu6")

    def forward(self, x: Tensor) -> Tensor:
        return torch.softmax(self.logits(x), dim=1)
