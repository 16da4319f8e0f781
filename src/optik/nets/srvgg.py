"""SRVGGNetCompact (Real-ESRGAN's compact VGG-style upscaler); parameter names as BasicSR's."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class SRVGGNetCompact(nn.Module):
    """RGB in [0,1] (NCHW) → RGB upscaled by ``upscale``, ~[0,1], unclamped.

    ``body`` alternates 3x3 convs and per-channel PReLUs (``body.0`` conv 3→F, ``body.1`` PReLU, …,
    ``body.{2*num_conv+2}`` conv F→3·upscale²); the result is pixel-shuffled and added to the
    nearest-neighbour upsampled input. The ncnn ``UP2X``/``UP3X`` files are this x4 network followed
    by a bicubic resize by 0.5 / 0.75; that step is left to the caller
    (``F.interpolate(y, scale_factor=s, mode="bicubic", align_corners=False)``).
    """

    def __init__(self, num_feat: int = 64, num_conv: int = 16, upscale: int = 4):
        super().__init__()
        self.upscale = upscale
        layers: list[nn.Module] = [nn.Conv2d(3, num_feat, 3, 1, 1), nn.PReLU(num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), nn.PReLU(num_feat)]
        layers.append(nn.Conv2d(num_feat, 3 * upscale * upscale, 3, 1, 1))
        self.body = nn.Sequential(*layers)
        self.upsampler = nn.PixelShuffle(upscale)

    def forward(self, x: Tensor) -> Tensor:
        out = self.upsampler(self.body(x))
        return out + F.interpolate(x, scale_factor=self.upscale, mode="nearest")
