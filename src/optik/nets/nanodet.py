"""NanoDet-g (RangiLyu/nanodet legacy ``nanodet-g.yml``): CSP backbone, PAN, GFL head, COCO-80.

Batch norm is folded into the convolution biases (as in the exported weights). Input: NCHW BGR
normalised with mean ``[103.53, 116.28, 123.675]`` and std ``[57.375, 57.12, 58.395]``, sides a
multiple of 32 (416x416 canonically).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import batched_nms

STRIDES = (8, 16, 32)
REG_MAX = 10  # box sides are distributions over the REG_MAX + 1 bins 0…REG_MAX (in strides)


class ConvAct(nn.Module):
    """Conv (padding ``k // 2``, folded BN bias) followed by LeakyReLU(0.1)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(self.conv(x), 0.1)


class TinyResBlock(nn.Module):
    """c → c/2 → c/2, output ``concat[mid, in]`` (c channels)."""

    def __init__(self, channels: int):
        super().__init__()
        self.in_conv = ConvAct(channels, channels // 2)
        self.mid_conv = ConvAct(channels // 2, channels // 2)

    def forward(self, x: Tensor) -> Tensor:
        x = self.in_conv(x)
        return torch.cat((self.mid_conv(x), x), 1)


class CspBlock(nn.Module):
    """in_conv (c → c, stride s), ``num_res`` tiny res blocks, res_out_conv; output 2c channels."""

    def __init__(self, channels: int, num_res: int, stride: int):
        super().__init__()
        self.in_conv = ConvAct(channels, channels, 3, stride)
        self.res_blocks = nn.Sequential(*(TinyResBlock(channels) for _ in range(num_res)))
        self.res_out_conv = ConvAct(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        x = self.in_conv(x)
        return torch.cat((self.res_out_conv(self.res_blocks(x)), x), 1)


class CustomCspNet(nn.Module):
    """Stem conv 3x3/2, max pool 3x3/2, four CSP stages; returns strides 8, 16, 32 (128/256/512 ch)."""

    def __init__(self):
        super().__init__()
        self.stages = nn.ModuleList(
            [
                ConvAct(3, 32, 3, 2),
                nn.MaxPool2d(3, 2, 1),
                CspBlock(32, 1, 1),
                CspBlock(64, 2, 2),
                CspBlock(128, 2, 2),
                CspBlock(256, 3, 2),
            ]
        )

    def forward(self, x: Tensor) -> list[Tensor]:
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i >= 3:
                outs.append(x)
        return outs


class PAN(nn.Module):
    """1x1 laterals (bias, no norm/act), top-down then bottom-up bilinear add (align_corners False)."""

    def __init__(self, in_channels: tuple[int, ...] = (128, 256, 512), out_channels: int = 128):
        super().__init__()
        self.lateral_convs = nn.ModuleList(nn.Conv2d(c, out_channels, 1) for c in in_channels)

    def forward(self, feats: list[Tensor]) -> list[Tensor]:
        laterals = [conv(f) for conv, f in zip(self.lateral_convs, feats, strict=True)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + _resize(laterals[i], laterals[i - 1])
        for i in range(len(laterals) - 1):
            laterals[i + 1] = laterals[i + 1] + _resize(laterals[i], laterals[i + 1])
        return laterals


def _resize(x: Tensor, like: Tensor) -> Tensor:
    return F.interpolate(x, size=like.shape[2:], mode="bilinear", align_corners=False)


class NanoDetHead(nn.Module):
    """Per level: one 3x3 conv + LeakyReLU, then a 1x1 conv to class logits and box distributions."""

    def __init__(self, num_classes: int = 80, channels: int = 128, levels: int = 3):
        super().__init__()
        self.num_classes = num_classes
        self.cls_convs = nn.ModuleList(ConvAct(channels, channels) for _ in range(levels))
        self.gfl_cls = nn.ModuleList(nn.Conv2d(channels, num_classes + 4 * (REG_MAX + 1), 1) for _ in range(levels))

    def forward(self, feats: list[Tensor]) -> tuple[Tensor, Tensor]:
        scores, boxes = [], []
        for feat, conv, out in zip(feats, self.cls_convs, self.gfl_cls, strict=True):
            y = out(conv(feat)).flatten(2).transpose(1, 2)  # [N, H*W, C], index y*W + x
            scores.append(y[..., : self.num_classes].sigmoid())
            boxes.append(y[..., self.num_classes :])
        return torch.cat(scores, 1), torch.cat(boxes, 1)


class NanoDet(nn.Module):
    """NanoDet-g: ``x`` [N,3,H,W] → (sigmoid scores [N,A,80], box logits [N,A,44]).

    Anchors A run over strides 8, 16, 32 in turn, row-major within each level (3549 for 416x416).
    """

    def __init__(self, num_classes: int = 80):
        super().__init__()
        self.backbone = CustomCspNet()
        self.fpn = PAN()
        self.head = NanoDetHead(num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.head(self.fpn(self.backbone(x)))


def anchor_centers(height: int, width: int, strides: tuple[int, ...] = STRIDES) -> tuple[Tensor, Tensor]:
    """Cell centres ``((x + 0.5) * s, (y + 0.5) * s)`` [A, 2] and each anchor's stride [A]."""
    centers, anchor_strides = [], []
    for s in strides:
        h, w = -(-height // s), -(-width // s)
        y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        centers.append(torch.stack((x.flatten(), y.flatten()), 1).float().add(0.5).mul(s))
        anchor_strides.append(torch.full((h * w,), float(s)))
    return torch.cat(centers), torch.cat(anchor_strides)


def decode_nanodet(
    scores: Tensor,
    box_logits: Tensor,
    input_size: tuple[int, int] = (416, 416),
    score_threshold: float = 0.05,
    iou_threshold: float = 0.6,
    max_detections: int = 100,
    nms_pre: int = 1000,
    strides: tuple[int, ...] = STRIDES,
) -> list[tuple[Tensor, Tensor, Tensor]]:
    """GFL decode and class-wise NMS (upstream ``get_bboxes``): per image (boxes, scores, labels).

    Box sides are the expectation of the softmax over the bins times the stride, measured from the
    cell centre; boxes (x1, y1, x2, y2) are in input pixels, clipped to ``input_size`` (h, w). Per
    level only the ``nms_pre`` anchors with the highest class score are kept (as upstream); then
    every (anchor, class) with score > ``score_threshold`` is a candidate for NMS.
    """
    height, width = input_size
    centers, anchor_strides = anchor_centers(height, width, strides)
    centers, anchor_strides = centers.to(scores.device), anchor_strides.to(scores.device)
    if scores.shape[1] != len(centers):
        raise ValueError(f"{scores.shape[1]} anchors do not fit a {height}x{width} input")
    level_sizes = [-(-height // s) * -(-width // s) for s in strides]
    bins = torch.arange(REG_MAX + 1, dtype=box_logits.dtype, device=box_logits.device)
    results = []
    for image_scores, logits in zip(scores, box_logits, strict=True):
        dist = logits.reshape(-1, 4, REG_MAX + 1).softmax(-1) @ bins * anchor_strides[:, None]
        boxes = torch.cat((centers - dist[:, :2], centers + dist[:, 2:]), 1)
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
        keep = torch.cat(
            [
                start + level.max(1).values.topk(min(nms_pre, len(level))).indices
                for start, level in zip(_starts(level_sizes), image_scores.split(level_sizes), strict=True)
            ]
        )
        anchors, labels = torch.nonzero(image_scores[keep] > score_threshold, as_tuple=True)
        anchors = keep[anchors]
        cand_boxes, cand_scores = boxes[anchors], image_scores[anchors, labels]
        pick = batched_nms(cand_boxes, cand_scores, labels, iou_threshold)[:max_detections]
        results.append((cand_boxes[pick], cand_scores[pick], labels[pick]))
    return results


def _starts(sizes: list[int]) -> list[int]:
    return [sum(sizes[:i]) for i in range(len(sizes))]
