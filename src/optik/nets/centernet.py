"""CenterNet with a MobileNetV3 backbone (610265158/mobilenetv3_centernet, TF1), COCO-80.

A reduced-width MobileNetV3-Large (ReLU / hard-swish inverted residuals, hard-sigmoid squeeze-excite)
with a U-shaped head: the stride-32 features go up three times through two separable convolutions
(3x3 and 5x5 depthwise) summed and a legacy bilinear x2 resize, each time concatenated with a reduced
lateral from the backbone and ReLU-ed; a squeeze-excite gate, then a 3x3 separable convolution each
for the 80 class heatmaps (sigmoid) and the 4 box sides (x16), at stride 4.

Batch norm is folded into the convolution biases (as in the exported weights). TensorFlow SAME
padding is reproduced exactly (asymmetric for stride 2), as is TF1's legacy ``ResizeBilinear``
(``align_corners=False, half_pixel_centers=False``: source ``= dst * in / out``), which is not what
``F.interpolate(..., align_corners=False)`` computes. Input: NCHW RGB, 0-255 unnormalised, sides a
multiple of 32 (512x512 canonically).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

STRIDE = 4  # heatmap cell size in input pixels
TOP_K = 100  # peaks the graph keeps
WH_SCALE = 16.0  # the wh head's output is multiplied by this in-graph
# The graph computes hard-swish as (x * c) * relu6(x + 3) and hard-sigmoid as c * relu6(x + 3), with
# c = 1/6 stored as float16; the exact constant keeps the port within float32 rounding of TF.js.
HSWISH_SCALE = 0.1666259765625

# (expand, kernel, stride, activation, squeeze channels or 0, out) per inverted residual block; the
# input of each is the previous output (16 from the stem). Block 0 has no expansion (expand == in).
BLOCKS: tuple[tuple[int, int, int, str, int, int], ...] = (
    (16, 3, 1, "relu", 0, 16),
    (64, 3, 2, "relu", 0, 24),
    (72, 3, 1, "relu", 0, 24),
    (72, 5, 2, "relu", 24, 32),
    (96, 5, 1, "relu", 24, 32),
    (96, 5, 1, "relu", 24, 32),
    (192, 3, 2, "hswish", 0, 64),
    (160, 3, 1, "hswish", 0, 64),
    (144, 3, 1, "hswish", 0, 64),
    (144, 3, 1, "hswish", 0, 64),
    (384, 3, 1, "hswish", 96, 88),
    (528, 3, 1, "hswish", 136, 88),
    (528, 5, 2, "hswish", 136, 120),
    (720, 5, 1, "hswish", 184, 120),
    (720, 5, 1, "hswish", 184, 120),
)


def hard_swish(x: Tensor) -> Tensor:
    return x * HSWISH_SCALE * F.relu6(x + 3.0)


def hard_sigmoid(x: Tensor) -> Tensor:
    return HSWISH_SCALE * F.relu6(x + 3.0)


_ACTS = {"relu": F.relu, "hswish": hard_swish}


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow SAME padding (for stride 2 the extra pixel goes bottom/right).

    With stride 1 and an odd kernel SAME is the symmetric ``k // 2``, left to the convolution itself.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = True):
        padding = kernel // 2 if stride == 1 and kernel % 2 else 0
        super().__init__(in_ch, out_ch, kernel, stride, padding=padding, groups=groups, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        if self.padding != (0, 0) or self.kernel_size == (1, 1):
            return super().forward(x)
        pads: list[int] = []
        for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride), strict=True):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class SqueezeExcite(nn.Module):
    """Global mean, 1x1 reduce + ReLU, 1x1 expand + hard-sigmoid, channel-wise gate."""

    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.expand = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return hard_sigmoid(self.expand(F.relu(self.reduce(x.mean((2, 3), keepdim=True))))) * x


class InvertedResidual(nn.Module):
    """1x1 expand + act (absent in block 0), depthwise k x k + act, optional SE, linear 1x1 project,
    residual when the stride is 1 and the channels match."""

    def __init__(self, in_ch: int, mid: int, kernel: int, stride: int, act: str, squeeze: int, out_ch: int):
        super().__init__()
        self.expand = nn.Conv2d(in_ch, mid, 1) if mid != in_ch else None
        self.depthwise = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self.se = SqueezeExcite(mid, squeeze) if squeeze else None
        self.project = nn.Conv2d(mid, out_ch, 1)
        self.act = _ACTS[act]
        self.residual = stride == 1 and in_ch == out_ch

    def expanded(self, x: Tensor) -> Tensor:
        """The activated expansion (the head taps it for two of its laterals)."""
        return x if self.expand is None else self.act(self.expand(x))

    def finish(self, x: Tensor, expanded: Tensor) -> Tensor:
        y = self.act(self.depthwise(expanded))
        if self.se is not None:
            y = self.se(y)
        y = self.project(y)
        return x + y if self.residual else y

    def forward(self, x: Tensor) -> Tensor:
        return self.finish(x, self.expanded(x))


class MobileNetV3(nn.Module):
    """Stem 3x3/2 + hard-swish and the 15 blocks; returns the stride 4, 8, 16 taps and the stride-32 output.

    Taps (as the head uses them): block 3's expansion (72 ch, stride 4), block 5's expansion (96 ch,
    stride 8), block 11's output (88 ch, stride 16), block 14's output (120 ch, stride 32).
    """

    def __init__(self):
        super().__init__()
        self.stem = SameConv2d(3, 16, 3, 2)
        blocks, in_ch = [], 16
        for mid, kernel, stride, act, squeeze, out_ch in BLOCKS:
            blocks.append(InvertedResidual(in_ch, mid, kernel, stride, act, squeeze, out_ch))
            in_ch = out_ch
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        x = hard_swish(self.stem(x))
        taps = {}
        for i, block in enumerate(self.blocks):
            expanded = block.expanded(x)
            if i in (3, 5):
                taps[i] = expanded
            x = block.finish(x, expanded)
            if i == 11:
                taps[i] = x
        return taps[3], taps[5], taps[11], x


class SeparableConv(nn.Module):
    """Depthwise k x k (SAME, no bias) then pointwise 1x1 with bias."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int):
        super().__init__()
        self.depthwise = SameConv2d(in_ch, in_ch, kernel, groups=in_ch, bias=False)
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


class Lateral(nn.Module):
    """A backbone tap reduced: 1x1 + ReLU, then a 5x5 separable convolution (no activation)."""

    def __init__(self, in_ch: int, mid: int, out_ch: int):
        super().__init__()
        self.reduce = nn.Conv2d(in_ch, mid, 1)
        self.conv = SeparableConv(mid, out_ch, 5)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.relu(self.reduce(x)))


class Upsample(nn.Module):
    """3x3 and 5x5 separable convolutions summed, then the legacy bilinear resize to the lateral's size."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.branch_x = SeparableConv(in_ch, out_ch, 3)
        self.branch_y = SeparableConv(in_ch, out_ch, 5)

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        return resize_bilinear_legacy(self.branch_x(x) + self.branch_y(x), size)


def _legacy_axis(n_in: int, n_out: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    src = torch.arange(n_out, dtype=torch.float64, device=device) * (n_in / n_out)
    low = src.floor()
    i0 = low.long().clamp(max=n_in - 1)
    i1 = src.ceil().long().clamp(max=n_in - 1)
    return i0, i1, (src - low).float()


def _double_legacy(x: Tensor, dim: int) -> Tensor:
    """x2 along ``dim``: ``[a, a + (b - a) * 0.5, b, …, z, z]`` (the legacy sampling, by slicing)."""
    following = torch.cat((x.narrow(dim, 1, x.shape[dim] - 1), x.narrow(dim, x.shape[dim] - 1, 1)), dim)
    return torch.stack((x, x + (following - x) * 0.5), dim + 1).flatten(dim, dim + 1)


def resize_bilinear_legacy(x: Tensor, size: tuple[int, int]) -> Tensor:
    """TF1 ``ResizeBilinear`` with ``align_corners=False, half_pixel_centers=False`` (NCHW).

    Output pixel ``d`` samples the input at ``d * in / out`` (so x2 copies even pixels and averages
    neighbours for odd ones, repeating the last row/column), interpolated as TF.js does:
    ``a + (b - a) * frac`` along the width, then the height.
    """
    height, width = size
    if (height, width) == (2 * x.shape[-2], 2 * x.shape[-1]):  # the head's case, without gathers
        return _double_legacy(_double_legacy(x, x.dim() - 1), x.dim() - 2)
    y0, y1, fy = _legacy_axis(x.shape[-2], height, x.device)
    x0, x1, fx = _legacy_axis(x.shape[-1], width, x.device)
    fx, fy = fx.to(x.dtype), fy.to(x.dtype)
    left, right = x[..., x0], x[..., x1]
    rows = left + (right - left) * fx
    top, bottom = rows[..., y0, :], rows[..., y1, :]
    return top + (bottom - top) * fy[:, None]


class CenterNetHead(nn.Module):
    """Three up steps (32 → 16 → 8 → 4) with ReLU-ed concatenations, an SE gate, the two output convs."""

    def __init__(self, num_classes: int = 80):
        super().__init__()
        self.c5_conv = nn.Conv2d(120, 480, 1)  # "extern1", + hard-swish
        self.c5_upsample = Upsample(480, 128)
        self.c4_reverse = Lateral(88, 22, 128)
        self.c4_upsample = Upsample(256, 96)
        self.c3_reverse = Lateral(96, 24, 96)
        self.c3_upsample = Upsample(192, 64)
        self.c2_reverse = Lateral(72, 18, 64)
        self.se_reduce = nn.Conv2d(128, 32, 1)
        self.se_expand = nn.Conv2d(32, 128, 1, bias=False)
        self.cls_output = SeparableConv(128, num_classes, 3)
        self.wh_output = SeparableConv(128, 4, 3)

    def forward(self, c2: Tensor, c3: Tensor, c4: Tensor, c5: Tensor) -> tuple[Tensor, Tensor]:
        x = hard_swish(self.c5_conv(c5))
        lateral = self.c4_reverse(c4)
        x = F.relu(torch.cat((lateral, self.c5_upsample(x, lateral.shape[-2:])), 1))
        lateral = self.c3_reverse(c3)
        x = F.relu(torch.cat((lateral, self.c4_upsample(x, lateral.shape[-2:])), 1))
        lateral = self.c2_reverse(c2)
        x = F.relu(torch.cat((lateral, self.c3_upsample(x, lateral.shape[-2:])), 1))
        x = x * torch.sigmoid(self.se_expand(F.relu(self.se_reduce(x.mean((2, 3), keepdim=True)))))
        return torch.sigmoid(self.cls_output(x)), self.wh_output(x) * WH_SCALE


class CenterNet(nn.Module):
    """``x`` [N,3,H,W] RGB 0-255 → (heatmap [N,80,H/4,W/4] sigmoid, wh [N,4,H/4,W/4]).

    ``wh`` holds the distances (input pixels) from the cell's corner ``(x*4, y*4)`` to the box's left,
    top, right and bottom sides; :func:`decode_centernet` turns both into boxes.
    """

    def __init__(self, num_classes: int = 80):
        super().__init__()
        self.backbone = MobileNetV3()
        self.head = CenterNetHead(num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.head(*self.backbone(x))


def decode_centernet(
    heatmap: Tensor, wh: Tensor, top_k: int = TOP_K, stride: int = STRIDE
) -> list[tuple[Tensor, Tensor, Tensor]]:
    """The graph's own decode, per image: (boxes x1,y1,x2,y2 in input pixels, scores, labels), best first.

    A heatmap value is a peak when it equals the 3x3 max around it (SAME max pool); the ``top_k``
    peaks over all cells and classes (flattened cell-major, class-minor, as the NHWC graph does) become
    boxes ``(x*s - l, y*s - t, x*s + r, y*s + b)``, unclipped. No score threshold and no NMS.
    """
    n, classes, height, width = heatmap.shape
    peaks = heatmap * (heatmap == F.max_pool2d(heatmap, 3, 1, 1))
    scores, index = peaks.permute(0, 2, 3, 1).reshape(n, -1).topk(min(top_k, classes * height * width))
    labels, cell = index % classes, index // classes
    sides = wh.permute(0, 2, 3, 1).reshape(n, height * width, 4).gather(1, cell[..., None].expand(-1, -1, 4))
    xs, ys = (cell % width).to(wh.dtype) * stride, (cell // width).to(wh.dtype) * stride
    boxes = torch.stack((xs - sides[..., 0], ys - sides[..., 1], xs + sides[..., 2], ys + sides[..., 3]), -1)
    return list(zip(boxes, scores, labels, strict=True))
