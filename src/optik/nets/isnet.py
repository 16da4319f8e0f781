"""IS-Net (DIS, Qin et al. 2022) as in xuebinqin/DIS ``models/isnet.py``, batch norm folded.

Module names follow DIS (``stage1.rebnconvin.conv_s1`` …) so the ONNX export's node names map
onto them. Every REBNCONV is a plain ``Conv2d`` with the folded bias followed by ReLU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

INPUT_SIZE = 1024


def _upsample_like(x: Tensor, like: Tensor) -> Tensor:
    return F.interpolate(x, size=like.shape[2:], mode="bilinear", align_corners=False)


class REBNCONV(nn.Module):
    """3x3 convolution (batch norm folded into its bias) + ReLU, with optional dilation."""

    def __init__(self, in_ch: int, out_ch: int, dirate: int = 1) -> None:
        super().__init__()
        self.conv_s1 = nn.Conv2d(in_ch, out_ch, 3, padding=dirate, dilation=dirate)
        self.relu_s1 = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu_s1(self.conv_s1(x))


class RSU(nn.Module):
    """Residual U-block RSU-L: a ``height``-level U-Net inside a residual connection.

    Levels 1 … height-1 are joined by 2x2 max pooling (ceil mode); the innermost conv is dilated 2.
    Subclasses ``RSU7`` … ``RSU4`` only fix ``height``.
    """

    height: int

    def __init__(self, in_ch: int, mid_ch: int, out_ch: int) -> None:
        super().__init__()
        n = self.height
        self.rebnconvin = REBNCONV(in_ch, out_ch)
        self.rebnconv1 = REBNCONV(out_ch, mid_ch)
        for i in range(1, n - 1):
            setattr(self, f"pool{i}", nn.MaxPool2d(2, stride=2, ceil_mode=True))
            setattr(self, f"rebnconv{i + 1}", REBNCONV(mid_ch, mid_ch))
        setattr(self, f"rebnconv{n}", REBNCONV(mid_ch, mid_ch, dirate=2))
        for i in range(n - 1, 1, -1):
            setattr(self, f"rebnconv{i}d", REBNCONV(mid_ch * 2, mid_ch))
        self.rebnconv1d = REBNCONV(mid_ch * 2, out_ch)

    def forward(self, x: Tensor) -> Tensor:
        n = self.height
        hxin = self.rebnconvin(x)
        skips = [self.rebnconv1(hxin)]
        for i in range(1, n - 1):
            skips.append(getattr(self, f"rebnconv{i + 1}")(getattr(self, f"pool{i}")(skips[-1])))
        hx = getattr(self, f"rebnconv{n}")(skips[-1])
        for i in range(n - 1, 0, -1):
            skip = skips[i - 1]
            hx = getattr(self, f"rebnconv{i}d")(torch.cat((hx, skip), 1))
            if i > 1:
                hx = _upsample_like(hx, skips[i - 2])
        return hx + hxin


class RSU7(RSU):
    height = 7


class RSU6(RSU):
    height = 6


class RSU5(RSU):
    height = 5


class RSU4(RSU):
    height = 4


class RSU4F(nn.Module):
    """RSU-4F: no pooling; dilations 1, 2, 4, 8 keep the full resolution."""

    def __init__(self, in_ch: int, mid_ch: int, out_ch: int) -> None:
        super().__init__()
        self.rebnconvin = REBNCONV(in_ch, out_ch)
        self.rebnconv1 = REBNCONV(out_ch, mid_ch)
        self.rebnconv2 = REBNCONV(mid_ch, mid_ch, dirate=2)
        self.rebnconv3 = REBNCONV(mid_ch, mid_ch, dirate=4)
        self.rebnconv4 = REBNCONV(mid_ch, mid_ch, dirate=8)
        self.rebnconv3d = REBNCONV(mid_ch * 2, mid_ch, dirate=4)
        self.rebnconv2d = REBNCONV(mid_ch * 2, mid_ch, dirate=2)
        self.rebnconv1d = REBNCONV(mid_ch * 2, out_ch)

    def forward(self, x: Tensor) -> Tensor:
        hxin = self.rebnconvin(x)
        hx1 = self.rebnconv1(hxin)
        hx2 = self.rebnconv2(hx1)
        hx3 = self.rebnconv3(hx2)
        hx4 = self.rebnconv4(hx3)
        hx3d = self.rebnconv3d(torch.cat((hx4, hx3), 1))
        hx2d = self.rebnconv2d(torch.cat((hx3d, hx2), 1))
        hx1d = self.rebnconv1d(torch.cat((hx2d, hx1), 1))
        return hx1d + hxin


class ISNetDIS(nn.Module):
    """Dichotomous image segmentation: NCHW RGB in [0, 1] → foreground probability [N, 1, H, W].

    The input is normalised as img.ly's background-removal does, ``(255 x - 128) / 256``. The model
    was run at 1024x1024; other sizes work but change the result. ``side_outputs`` also returns
    the sigmoid of side outputs 2-6, each upsampled to the input size.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(3, 64, 3, stride=2, padding=1)
        self.stage1 = RSU7(64, 32, 64)
        self.pool12 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.stage2 = RSU6(64, 32, 128)
        self.pool23 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.stage3 = RSU5(128, 64, 256)
        self.pool34 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.stage4 = RSU4(256, 128, 512)
        self.pool45 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.stage5 = RSU4F(512, 256, 512)
        self.pool56 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.stage6 = RSU4F(512, 256, 512)
        self.stage5d = RSU4F(1024, 256, 512)
        self.stage4d = RSU4(1024, 128, 256)
        self.stage3d = RSU5(512, 64, 128)
        self.stage2d = RSU6(256, 32, 64)
        self.stage1d = RSU7(128, 16, 64)
        self.side1 = nn.Conv2d(64, 1, 3, padding=1)
        self.side2 = nn.Conv2d(64, 1, 3, padding=1)
        self.side3 = nn.Conv2d(128, 1, 3, padding=1)
        self.side4 = nn.Conv2d(256, 1, 3, padding=1)
        self.side5 = nn.Conv2d(512, 1, 3, padding=1)
        self.side6 = nn.Conv2d(512, 1, 3, padding=1)

    def forward(self, x: Tensor, side_outputs: bool = False) -> Tensor | list[Tensor]:
        hx1 = self.stage1(self.conv_in((x * 255.0 - 128.0) / 256.0))
        hx2 = self.stage2(self.pool12(hx1))
        hx3 = self.stage3(self.pool23(hx2))
        hx4 = self.stage4(self.pool34(hx3))
        hx5 = self.stage5(self.pool45(hx4))
        hx6 = self.stage6(self.pool56(hx5))
        hx5d = self.stage5d(torch.cat((_upsample_like(hx6, hx5), hx5), 1))
        hx4d = self.stage4d(torch.cat((_upsample_like(hx5d, hx4), hx4), 1))
        hx3d = self.stage3d(torch.cat((_upsample_like(hx4d, hx3), hx3), 1))
        hx2d = self.stage2d(torch.cat((_upsample_like(hx3d, hx2), hx2), 1))
        hx1d = self.stage1d(torch.cat((_upsample_like(hx2d, hx1), hx1), 1))
        mask = torch.sigmoid(_upsample_like(self.side1(hx1d), x))
        if not side_outputs:
            return mask
        sides = (self.side2(hx2d), self.side3(hx3d), self.side4(hx4d), self.side5(hx5d), self.side6(hx6))
        return [mask, *(torch.sigmoid(_upsample_like(side, x)) for side in sides)]
