"""The style networks run tile by tile, with instance-norm statistics of the whole image.

Every instance norm of a style net normalises by the mean and variance of its whole feature map, so
tiles run independently would each get their own statistics and visibly different colours. Here
the two full-resolution chains of a net (``contract``: full → 1/4 resolution; ``expand``: 1/4 →
full) run tile by tile, and before each norm one pass over the tiles sums that layer's output over
the whole map, so every tile is normalised with the same, global statistics. Each tile is read
with a halo wide enough that the wrong padding at its inner edges never reaches the part that is
kept, and tile corners sit on multiples of 4 so the stride-2 grids match the untiled run: the
result equals the untiled network up to float rounding. The residual blocks in between run on the
whole 1/4-resolution map (1/16 of the pixels) as they are.

Cost: one extra pass per normalised layer of a chain but the last (whose statistics are summed while
its pre-norm output is stored, then normalised at once); memory is one tile's activations plus
the 1/4-resolution map and the output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from optik.nets.stylenet import (
    ConvCIN,
    ConvStyleNorm,
    MultiStyleNet,
    StyleTransformer,
    _pad_to_4,
    _reflect_conv,
    _upsample2,
)

#: Full-resolution pixels each tile reads beyond its own on every side (the chains' receptive
#: fields reach 8); a multiple of 4 so the stride-2 grids stay aligned.
HALO = 16

Stats = tuple[Tensor, Tensor]


@dataclass
class Step:
    """One layer of a chain: optional nearest x2 upsample, reflect-padded conv, optional norm, activation."""

    conv: nn.Conv2d
    act: Callable[[Tensor], Tensor]
    affine: tuple[Tensor, Tensor] | None = None  # the norm's scale and shift, [1, C, 1, 1]
    upsample: bool = False
    eps: float = 1e-5

    @property
    def factor(self) -> Fraction:
        """Output size over input size."""
        return Fraction(2 if self.upsample else 1, self.conv.stride[0])

    def conv_only(self, x: Tensor) -> Tensor:
        return _reflect_conv(self.conv, _upsample2(x) if self.upsample else x)

    def after_conv(self, x: Tensor, stats: Stats | None) -> Tensor:
        """The norm (with the given whole-map statistics) and the activation."""
        if self.affine is not None:
            mean, var = stats
            scale, shift = self.affine
            x = (x - mean) * torch.rsqrt(var + self.eps) * scale + shift
        return self.act(x)

    def __call__(self, x: Tensor, stats: Stats | None) -> Tensor:
        return self.after_conv(self.conv_only(x), stats)


def _stats(total: Tensor, sum_sq: Tensor, count: int, dtype: torch.dtype) -> Stats:
    """Mean and biased variance per channel from float64 sums, as [1, C, 1, 1]."""
    mean = total / count
    var = (sum_sq / count - mean.square()).clamp_min(0)
    return mean.to(dtype).view(1, -1, 1, 1), var.to(dtype).view(1, -1, 1, 1)


def _blocks(height: int, width: int, tile: int) -> list[tuple[int, int, int, int]]:
    """Non-overlapping ``(top, bottom, left, right)`` blocks of at most ``tile`` covering the map."""
    return [
        (top, min(top + tile, height), left, min(left + tile, width))
        for top in range(0, height, tile)
        for left in range(0, width, tile)
    ]


def run_chain(steps: list[Step], x: Tensor, tile: int, halo: int) -> tuple[Tensor, int]:
    """Run ``steps`` over the whole map ``x`` [1,C,H,W] in tiles of ``tile`` input pixels; global norm stats.

    ``tile`` and ``halo`` are in input pixels; for chains that downsample they (and H, W) must be
    multiples of the total stride. Returns the output map and the number of tiles.
    """
    height, width = x.shape[2:]
    blocks = _blocks(height, width, tile)
    stats: list[Stats | None] = [None] * len(steps)

    def windows() -> Iterator[tuple[Tensor, tuple[int, int, int, int]]]:
        for top, bottom, left, right in blocks:
            y0, y1 = max(top - halo, 0), min(bottom + halo, height)
            x0, x1 = max(left - halo, 0), min(right + halo, width)
            yield x[:, :, y0:y1, x0:x1], (top - y0, bottom - y0, left - x0, right - x0)

    def valid(y: Tensor, crop: tuple[int, int, int, int], factor: Fraction) -> Tensor:
        top, bottom, left, right = (int(edge * factor) for edge in crop)
        return y[:, :, top:bottom, left:right]

    def factor_of(count: int) -> Fraction:
        factor = Fraction(1)
        for step in steps[:count]:
            factor *= step.factor
        return factor

    def sums(kept: Tensor) -> tuple[Tensor, Tensor]:
        kept = kept.double()
        return kept.sum(dim=(0, 2, 3)), kept.square().sum(dim=(0, 2, 3))

    last = len(steps) - 1
    for j, step in enumerate(steps[:last]):  # one pass per norm; the last layer's comes with the output
        if step.affine is None:
            continue
        total = sum_sq = 0
        count = 0
        for window, crop in windows():
            y = window
            for k in range(j):
                y = steps[k](y, stats[k])
            kept = valid(step.conv_only(y), crop, factor_of(j + 1))
            part, part_sq = sums(kept)
            total, sum_sq, count = total + part, sum_sq + part_sq, count + kept.shape[2] * kept.shape[3]
        stats[j] = _stats(total, sum_sq, count, x.dtype)

    factor = factor_of(len(steps))
    out: Tensor | None = None
    total = sum_sq = 0
    for (window, crop), (top, bottom, left, right) in zip(windows(), blocks, strict=True):
        y = window
        for step, step_stats in zip(steps[:last], stats, strict=False):
            y = step(y, step_stats)
        y = valid(steps[last].conv_only(y), crop, factor)  # before the last norm: its statistics come after
        if steps[last].affine is not None:
            part, part_sq = sums(y)
            total, sum_sq = total + part, sum_sq + part_sq
        if out is None:
            out = y.new_empty(1, y.shape[1], int(height * factor), int(width * factor))
        out[:, :, int(top * factor) : int(bottom * factor), int(left * factor) : int(right * factor)] = y
    if steps[last].affine is not None:
        stats[last] = _stats(total, sum_sq, out.shape[2] * out.shape[3], x.dtype)
    out = steps[last].after_conv(out, stats[last])
    return out, len(blocks)


def _cin(layer: ConvCIN, weights: Tensor, act: Callable[[Tensor], Tensor], upsample: bool = False) -> Step:
    gamma = (weights @ layer.norm.gamma)[:, :, None, None]
    beta = (weights @ layer.norm.beta)[:, :, None, None]
    return Step(layer.conv, act, (gamma, beta), upsample, layer.norm.eps)


def _style_norm(layer: ConvStyleNorm, style: Tensor, act: Callable[[Tensor], Tensor], upsample: bool) -> Step:
    scale = layer.norm.scale(style)[:, :, None, None]
    shift = layer.norm.shift(style)[:, :, None, None]
    return Step(layer.conv, act, (scale, shift), upsample, layer.norm.eps)


def _check_tile(tile: int) -> None:
    if tile < 4 * HALO or tile % 4:
        raise ValueError(f"tile must be a multiple of 4 and at least {4 * HALO}, got {tile}")


@torch.inference_mode()
def multistyle_tiled(net: MultiStyleNet, image: Tensor, weights: Tensor, tile: int) -> tuple[Tensor, int]:
    """``net(image, weights)`` for one image [1,3,H,W] and weights [26] or [1,26], in tiles of ``tile`` px."""
    _check_tile(tile)
    height, width = image.shape[2:]
    weights = weights.reshape(1, -1).to(image.dtype)
    contract = [_cin(layer, weights, F.relu) for layer in net.contract]
    x, tiles = run_chain(contract, _pad_to_4(image), tile, HALO)
    for block in net.res:
        x = block(x, weights)
    expand = [
        _cin(net.expand[0], weights, F.relu, upsample=True),
        _cin(net.expand[1], weights, F.relu, upsample=True),
        _cin(net.expand[2], weights, torch.sigmoid),
    ]
    x, _ = run_chain(expand, x, tile // 4, HALO // 4)
    return x[:, :, :height, :width], tiles


@torch.inference_mode()
def transformer_tiled(net: StyleTransformer, image: Tensor, style: Tensor, tile: int) -> tuple[Tensor, int]:
    """``net(image, style)`` for one image [1,3,H,W] and style vector [1,100], in tiles of ``tile`` px."""
    _check_tile(tile)
    height, width = image.shape[2:]
    style = style.reshape(1, -1).to(image.dtype)
    contract = [Step(conv, F.relu) for conv in net.contract]
    x, tiles = run_chain(contract, _pad_to_4(image), tile, HALO)
    for block in net.residual:
        x = block(x, style)
    expand = [
        _style_norm(net.expand[0], style, F.relu, upsample=True),
        _style_norm(net.expand[1], style, F.relu, upsample=True),
        _style_norm(net.expand[2], style, torch.sigmoid, upsample=False),
    ]
    x, _ = run_chain(expand, x, tile // 4, HALO // 4)
    return x[:, :, :height, :width], tiles
