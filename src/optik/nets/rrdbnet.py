"""RRDBNet (ESRGAN generator, Wang et al. 2018) as used by Real-ESRGAN; parameter names as BasicSR's."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs; the fifth is scaled by 0.2 and added to the input.

    Each conv reads every feature map before it: they are written into one buffer as they are made (a slice of
    it is each conv's input), instead of concatenated again for every conv (3x less copying)."""

    def __init__(self, num_feat: int = 64, num_grow: int = 32):
        super().__init__()
        self.num_grow = num_grow
        self.conv1 = nn.Conv2d(num_feat, num_grow, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow, num_grow, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow, num_grow, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow, num_grow, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        if torch.jit.is_tracing():  # traces and ONNX exports: a graph of concatenations
            x1 = self.lrelu(self.conv1(x))
            x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
            x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
            x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
            return torch.add(x, self.conv5(torch.cat((x, x1, x2, x3, x4), 1)), alpha=0.2)
        n, channels, height, width = x.shape
        shape = (n, channels + 4 * self.num_grow, height, width)
        features = torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=_layout(x))
        features[:, :channels] = x
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            features[:, channels : channels + self.num_grow] = self.lrelu(conv(features[:, :channels]))
            channels += self.num_grow
        return torch.add(x, self.conv5(features), alpha=0.2)


def _layout(x: Tensor) -> torch.memory_format:
    """The memory format of ``x``, for a buffer laid out like it."""
    channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if channels_last else torch.contiguous_format


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks, scaled by 0.2, plus the input."""

    def __init__(self, num_feat: int = 64, num_grow: int = 32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow)

    def forward(self, x: Tensor) -> Tensor:
        return torch.add(x, self.rdb3(self.rdb2(self.rdb1(x))), alpha=0.2)


class RRDBNet(nn.Module):
    """Super-resolution generator: RGB in [0,1] (NCHW) → RGB upscaled by ``scale``, ~[0,1], unclamped.

    The trunk always upsamples x4 (two nearest x2 + conv stages). As in BasicSR, ``scale`` 2 or 1
    first pixel-unshuffles the input by 2 or 4 (so ``conv_first`` takes 12 or 48 channels), which is
    what the official ``RealESRGAN_x2plus`` checkpoint expects; the ncnn x4 models use ``scale=4``.
    """

    def __init__(self, num_block: int = 23, num_feat: int = 64, num_grow: int = 32, scale: int = 4):
        super().__init__()
        if scale not in (1, 2, 4):
            raise ValueError(f"RRDBNet scale must be 1, 2 or 4, not {scale}")
        self.unshuffle = 4 // scale
        self.conv_first = nn.Conv2d(3 * self.unshuffle**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, 3, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))
