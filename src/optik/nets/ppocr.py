"""PP-OCRv6 small text detector and recogniser (PaddleOCR) as plain PyTorch modules.

Both share the PPLCNetV4 backbone: a stride-4 stem, then blocks that mix space with a 3x3 depthwise
convolution (optionally gated by squeeze-excite) and channels with a 1x1 expand (x2) + GELU + 1x1
compress, residual when the shape is kept. The weights are the deployed (re-parameterised) form of
the ONNX export: batch norms folded into conv biases, the training-time 1x1/identity branches of
each depthwise conv merged into one 3x3 kernel, the dilated branches of the neck's large kernels
merged into one 7x7 kernel.

* :class:`PPOCRv6Detector` (DBNet): backbone features at strides 4/8/16/32 → RepLKFPN neck (96
  channels, 7x7 depthwise smoothing, residual squeeze-excite) → DB head (3x3 conv, two 2x transposed
  convs, sigmoid). Input BGR ``(x/255 - 0.5)/0.5``, sides multiples of 32; output the text
  probability map at input resolution ``[N, 1, H, W]``.
* :class:`PPOCRv6Recognizer` (SVTR_LCNet): the backbone downsamples height 48 → 3 and width by 4, a
  3x2 average pool gives one row of ``W/8`` columns, the light-SVTR neck (two global-attention
  blocks of width 120 beside a 1x1 skip) and a linear CTC head give ``[N, W/8, 18710]`` softmax
  probabilities (class 0 = CTC blank).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Detector backbone stages: (in, out, stride, squeeze-excite) per block; outputs 48/96/192/384 channels.
DET_STAGES: tuple[tuple[tuple[int, int, int, bool], ...], ...] = (
    ((48, 48, 1, True), (48, 48, 1, False)),
    ((48, 96, 2, False), (96, 96, 1, True), (96, 96, 1, False)),
    ((96, 192, 2, False), (192, 192, 1, True), (192, 192, 1, False), (192, 192, 1, True), (192, 192, 1, False)),
    ((192, 384, 2, False), (384, 384, 1, True), (384, 384, 1, False)),
)
#: Recogniser backbone blocks: (in, out, (stride_h, stride_w), squeeze-excite); height halves twice.
REC_BLOCKS: tuple[tuple[int, int, tuple[int, int], bool], ...] = (
    (96, 96, (1, 1), True),
    (96, 96, (1, 1), False),
    (96, 96, (1, 1), False),
    (96, 192, (2, 1), False),
    *((192, 192, (1, 1), se) for se in (True, False, True, False, True, False)),
    (192, 384, (2, 1), False),
    (384, 384, (1, 1), True),
    (384, 384, (1, 1), False),
)
REC_HEIGHT = 48
NUM_CLASSES = 18710  # CTC blank + 18708 characters + space


def _pad_bottom_right(x: Tensor, value: float = 0.0) -> Tensor:
    """Paddle's SAME padding of a 2x2 window at stride 1: one row and column after the data."""
    return F.pad(x, (0, 1, 0, 1), value=value)


class _MaxPoolSameUpper(torch.autograd.Function):
    """2x2 max pool at stride 1 that exports as the original graph's ``MaxPool`` with ``auto_pad=SAME_UPPER``
    (onnxruntime pads inside the kernel: no ``Pad`` copy of the stem's largest feature map)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return F.max_pool2d(_pad_bottom_right(x, float("-inf")), 2, 1)

    @staticmethod
    def symbolic(g: Any, x: Any) -> Any:
        return g.op("MaxPool", x, kernel_shape_i=[2, 2], strides_i=[1, 1], auto_pad_s="SAME_UPPER")


def _max_pool_2x2_same(x: Tensor) -> Tensor:
    """2x2 max pool at stride 1 with SAME padding: the maximum of four shifted views in PyTorch (3x faster
    than ``F.max_pool2d`` on one CPU thread), one ``MaxPool`` in an ONNX export (8x faster in onnxruntime
    than the views' slices)."""
    if torch.onnx.is_in_onnx_export():
        return _MaxPoolSameUpper.apply(x)
    padded = _pad_bottom_right(x, float("-inf"))
    top = torch.maximum(padded[..., :-1, :-1], padded[..., :-1, 1:])
    return torch.maximum(top, torch.maximum(padded[..., 1:, :-1], padded[..., 1:, 1:]))


class Stem(nn.Module):
    """Stride-4 stem: 3x3/2 conv; a 2x2 max pool beside two 2x2 convs; concat; 3x3/2 conv; 1x1 conv (all ReLU)."""

    def __init__(self, mid: int, out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, mid, 3, 2, 1)
        self.branch_a = nn.Conv2d(mid, mid // 2, 2)
        self.branch_b = nn.Conv2d(mid // 2, mid, 2)
        self.conv2 = nn.Conv2d(2 * mid, mid, 3, 2, 1)
        self.conv3 = nn.Conv2d(mid, out, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.conv1(x))
        branch = F.relu(self.branch_a(_pad_bottom_right(x)))
        branch = F.relu(self.branch_b(_pad_bottom_right(branch)))
        pooled = _max_pool_2x2_same(x)
        return F.relu(self.conv3(F.relu(self.conv2(torch.cat([pooled, branch], 1)))))


class SqueezeExcite(nn.Module):
    """Channel gate ``clamp(slope * W2 relu(W1 mean(x)) + 0.5, 0, 1)``; ``residual`` adds ``x`` back.

    The backbone's hard sigmoid has slope 1/6 (PyTorch's), the neck's 0.2 (Paddle's default): a gain before
    ``F.hardsigmoid`` (slope 1/6), which an ONNX export keeps as the original's ``HardSigmoid`` (onnxruntime
    folds the gain into the conv before it and fuses the two).
    """

    def __init__(self, channels: int, slope: float, residual: bool = False) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, channels // 4, 1)
        self.expand = nn.Conv2d(channels // 4, channels, 1)
        self.slope = slope
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        gate = self.expand(F.relu(self.reduce(x.mean((2, 3), keepdim=True))))
        gated = x * F.hardsigmoid(gate * (6 * self.slope))
        return x + gated if self.residual else gated


class LCNetV4Block(nn.Module):
    """3x3 depthwise conv (+ squeeze-excite), then 1x1 expand x2 + GELU + 1x1 compress, residual if shapes match."""

    def __init__(self, in_ch: int, out_ch: int, stride: int | tuple[int, int], se: bool) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_ch, in_ch, 3, stride, 1, groups=in_ch)
        self.se = SqueezeExcite(in_ch, slope=1 / 6) if se else nn.Identity()
        self.expand = nn.Conv2d(in_ch, 2 * in_ch, 1)
        self.compress = nn.Conv2d(2 * in_ch, out_ch, 1)
        self.residual = in_ch == out_ch and stride in (1, (1, 1))

    def forward(self, x: Tensor) -> Tensor:
        x = self.se(self.depthwise(x))
        y = self.compress(F.gelu(self.expand(x)))
        return x + y if self.residual else y


class RepLKFPN(nn.Module):
    """FPN of the detector: 1x1 laterals with residual SE, top-down nearest 2x sums, then per level a 7x7
    depthwise + 1x1 (to 1/4 of the width) + residual SE, all upsampled to stride 4 and concatenated."""

    def __init__(self, in_channels: tuple[int, ...] = (48, 96, 192, 384), width: int = 96) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1, bias=False) for c in in_channels)
        self.lateral_se = nn.ModuleList(SqueezeExcite(width, 0.2, residual=True) for _ in in_channels)
        self.smooth_dw = nn.ModuleList(nn.Conv2d(width, width, 7, 1, 3, groups=width) for _ in in_channels)
        self.smooth_pw = nn.ModuleList(nn.Conv2d(width, width // 4, 1, bias=False) for _ in in_channels)
        self.smooth_se = nn.ModuleList(SqueezeExcite(width // 4, 0.2, residual=True) for _ in in_channels)

    def forward(self, features: list[Tensor]) -> Tensor:
        # Coarsest level first (strides 32, 16, 8, 4), as the export orders its layers.
        levels = range(len(features) - 1, -1, -1)
        laterals = [self.lateral_se[i](self.lateral[i](features[i])) for i in levels]
        merged = [laterals[0]]
        for lateral in laterals[1:]:
            merged.append(lateral + F.interpolate(merged[-1], scale_factor=2, mode="nearest"))
        outputs = []
        for i, x in zip(levels, merged, strict=True):
            y = self.smooth_se[i](self.smooth_pw[i](self.smooth_dw[i](x)))
            outputs.append(F.interpolate(y, scale_factor=2**i, mode="nearest") if i else y)
        return torch.cat(outputs, 1)


class DBHead(nn.Module):
    """Differentiable-binarisation probability branch: 3x3 conv + ReLU, two 2x2/2 transposed convs, sigmoid."""

    def __init__(self, in_ch: int = 96) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, in_ch // 4, 3, 1, 1)
        self.up1 = nn.ConvTranspose2d(in_ch // 4, in_ch // 4, 2, 2)
        self.up2 = nn.ConvTranspose2d(in_ch // 4, 1, 2, 2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.up2(F.relu(self.up1(F.relu(self.conv(x))))))


class PPOCRv6Detector(nn.Module):
    """PP-OCRv6 small text detector: ``[N,3,H,W]`` (H, W multiples of 32) → text probability ``[N,1,H,W]``."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = Stem(24, 48)
        self.stages = nn.ModuleList(nn.Sequential(*(LCNetV4Block(*block) for block in stage)) for stage in DET_STAGES)
        self.neck = RepLKFPN(tuple(stage[-1][1] for stage in DET_STAGES), 96)
        self.head = DBHead(96)

    def forward(self, x: Tensor) -> Tensor:
        features, x = [], self.stem(x)
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return self.head(self.neck(features))


class SVTRBlock(nn.Module):
    """Pre-norm transformer block: global multi-head self-attention, then a swish MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.fc1 = nn.Linear(dim, int(dim * mlp_ratio))
        self.fc2 = nn.Linear(int(dim * mlp_ratio), dim)

    def forward(self, x: Tensor) -> Tensor:
        n, length, dim = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(n, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, length, dim)
        x = x + self.proj(attended)
        return x + self.fc2(F.silu(self.fc1(self.norm2(x))))


class LightSVTRNeck(nn.Module):
    """1x1 conv to ``dim`` + 1x7 depthwise residual, two SVTR blocks over the columns, LayerNorm, plus a 1x1 skip.

    All convs carry their folded batch norm and a swish. Input ``[N, C, 1, W]``, output ``[N, dim, 1, W]``.
    """

    def __init__(self, in_ch: int = 384, dim: int = 120, depth: int = 2, heads: int = 8, mlp_ratio: float = 2.0):
        super().__init__()
        self.skip = nn.Conv2d(in_ch, dim, 1)
        self.reduce = nn.Conv2d(in_ch, dim, 1)
        self.local = nn.Conv2d(dim, dim, (1, 7), 1, (0, 3), groups=dim)
        self.blocks = nn.ModuleList(SVTRBlock(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        skip = F.silu(self.skip(x))
        z = F.silu(self.reduce(x))
        z = z + F.silu(self.local(z))
        n, dim, height, width = z.shape
        tokens = z.flatten(2).transpose(1, 2)
        for block in self.blocks:
            tokens = block(tokens)
        z = self.norm(tokens).transpose(1, 2).reshape(n, dim, height, width)
        return z + skip


class PPOCRv6Recognizer(nn.Module):
    """PP-OCRv6 small recogniser: ``[N,3,48,W]`` → CTC class probabilities ``[N, W/8, 18710]``."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = Stem(48, 96)
        self.blocks = nn.Sequential(*(LCNetV4Block(*block) for block in REC_BLOCKS))
        self.neck = LightSVTRNeck(REC_BLOCKS[-1][1], 120)
        self.head = nn.Linear(120, NUM_CLASSES)

    def forward(self, x: Tensor) -> Tensor:
        x = F.avg_pool2d(self.blocks(self.stem(x)), (3, 2))  # height 3 → 1, width / 2
        sequence = self.neck(x).squeeze(2).transpose(1, 2)
        return self.head(sequence).softmax(-1)


class PPOCRv6(nn.Module):
    """The PP-OCRv6 small pair as one module: ``det`` finds text, ``rec`` reads each line crop.

    The two run apart (line crops are cut from the image between them); ``forward`` is the detector,
    the first stage, so that a loaded model called on a page batch gives its probability maps.
    """

    def __init__(self) -> None:
        super().__init__()
        self.det = PPOCRv6Detector()
        self.rec = PPOCRv6Recognizer()

    def forward(self, x: Tensor) -> Tensor:
        return self.det(x)
