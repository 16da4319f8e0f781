"""MTCNN face detector (Zhang et al. 2016) as ported by facenet-pytorch: P-Net, R-Net, O-Net and the cascade.

Module and parameter names match facenet-pytorch's state dicts. :func:`detect_faces` reimplements
``facenet_pytorch.models.utils.detect_face.detect_face`` for one RGB uint8 image, including its
conventions: 1-based inclusive crop boxes, ``+1`` widths in box regression and landmarks, area
resampling (``F.interpolate(mode="area")``), and a final "Min" NMS.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import nms


class PNet(nn.Module):
    """Proposal net, fully convolutional: image → (box regression [N,4,h,w], face prob [N,2,h,w])."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, 3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, 3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, 3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), self.conv4_1(x).softmax(1)


class RNet(nn.Module):
    """Refinement net on 24x24 crops: → (box regression [N,4], face prob [N,2])."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, 3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, 3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, 2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = self.prelu4(self.dense4(x.permute(0, 3, 2, 1).flatten(1)))  # TF (W, H, C) flatten order
        return self.dense5_2(x), self.dense5_1(x).softmax(1)


class ONet(nn.Module):
    """Output net on 48x48 crops: → (box regression [N,4], landmarks [N,10] (5 x, 5 y), face prob [N,2])."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, 3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, 2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).flatten(1)))
        return self.dense6_2(x), self.dense6_3(x), self.dense6_1(x).softmax(1)


def _normalise(x: Tensor) -> Tensor:
    return (x - 127.5) * 0.0078125


def _resample(image: Tensor, size: tuple[int, int]) -> Tensor:
    return F.interpolate(image, size=size, mode="area")


def _regress(boxes: Tensor, reg: Tensor) -> Tensor:
    """Apply box regression as fractions of the inclusive width/height (``x2 - x1 + 1``)."""
    wh = (boxes[:, 2:4] - boxes[:, :2] + 1).repeat(1, 2)
    return boxes[:, :4] + reg * wh


def _square(boxes: Tensor) -> Tensor:
    """Grow each box to a square of its longer side about its centre."""
    wh = boxes[:, 2:4] - boxes[:, :2]
    side = wh.max(1, keepdim=True).values
    top_left = boxes[:, :2] + wh * 0.5 - side * 0.5
    return torch.cat((top_left, top_left + side), 1)


def _crops(image: Tensor, boxes: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """Crops of the boxes (truncated, 1-based inclusive, clipped to the image) resampled to size x size.

    Returns the normalised crops and a mask of the boxes that gave a non-empty crop.
    """
    height, width = image.shape[2:]
    b = boxes.trunc().int().tolist()
    crops, valid = [], []
    for x0, y0, x1, y1 in b:
        x0, y0, x1, y1 = max(x0, 1), max(y0, 1), min(x1, width), min(y1, height)
        ok = y1 > y0 - 1 and x1 > x0 - 1
        valid.append(ok)
        if ok:
            crops.append(_resample(image[:, :, y0 - 1 : y1, x0 - 1 : x1], (size, size)))
    mask = torch.tensor(valid, dtype=torch.bool)
    if not crops:
        return image.new_zeros((0, 3, size, size)), mask
    return _normalise(torch.cat(crops)), mask


def _nms_min(boxes: Tensor, scores: Tensor, threshold: float) -> Tensor:
    """Greedy NMS with overlap = intersection / smaller area, inclusive (``+1``) pixel extents."""
    order = scores.argsort(descending=True)
    area = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    keep = []
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(int(i))
        wh = torch.minimum(boxes[i, 2:], boxes[rest, 2:]) - torch.maximum(boxes[i, :2], boxes[rest, :2]) + 1
        inter = wh.clamp(min=0).prod(1)
        order = rest[inter / torch.minimum(area[i], area[rest]) <= threshold]
    return torch.tensor(keep, dtype=torch.long)


def _pyramid_scales(height: int, width: int, min_face_size: int, factor: float) -> list[float]:
    scale, side, scales = 12.0 / min_face_size, min(height, width) * 12.0 / min_face_size, []
    while side >= 12:
        scales.append(scale)
        scale, side = scale * factor, side * factor
    return scales


def _propose(image: Tensor, pnet: PNet, scale: float, threshold: float) -> Tensor:
    """P-Net on one pyramid level: candidate rows (x1, y1, x2, y2, score, 4 regressions) after NMS 0.5."""
    height, width = image.shape[2:]
    level = _resample(image, (int(height * scale + 1), int(width * scale + 1)))
    reg, probs = pnet(_normalise(level))
    prob = probs[0, 1]
    ys, xs = torch.nonzero(prob >= threshold, as_tuple=True)
    cell = torch.stack((xs, ys), 1).to(image.dtype)
    rows = torch.cat(
        (
            ((2 * cell + 1) / scale).floor(),
            ((2 * cell + 12) / scale).floor(),
            prob[ys, xs, None],
            reg[0, :, ys, xs].T,
        ),
        1,
    )
    return rows[nms(rows[:, :4], rows[:, 4], 0.5)]


@torch.no_grad()
def detect_faces(
    image_rgb_uint8: np.ndarray,
    pnet: PNet,
    rnet: RNet,
    onet: ONet,
    min_face_size: int = 20,
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
    factor: float = 0.709,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the cascade on one RGB uint8 image → (boxes [K,4] x1,y1,x2,y2, probs [K], landmarks [K,5,2]).

    Faces come in descending probability. Landmarks are left eye, right eye, nose, mouth left,
    mouth right (image pixels, as facenet-pytorch: 0-based from the 1-based crop box).
    """
    if image_rgb_uint8.ndim != 3 or image_rgb_uint8.shape[2] != 3 or image_rgb_uint8.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image [H,W,3], got {image_rgb_uint8.dtype} {image_rgb_uint8.shape}")
    param = next(pnet.parameters())
    image = torch.as_tensor(np.ascontiguousarray(image_rgb_uint8), device=param.device)
    image = image.permute(2, 0, 1)[None].to(param.dtype)
    height, width = image.shape[2:]
    empty = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))

    # Stage 1: P-Net over the image pyramid, NMS per level then across levels, regress, square.
    scales = _pyramid_scales(height, width, min_face_size, factor)
    if not scales:
        return empty
    rows = torch.cat([_propose(image, pnet, s, thresholds[0]) for s in scales])
    if len(rows) == 0:
        return empty
    rows = rows[nms(rows[:, :4], rows[:, 4], 0.7)]
    wh = (rows[:, 2:4] - rows[:, :2]).repeat(1, 2)  # stage 1 regresses with exclusive widths
    boxes = _square(rows[:, :4] + rows[:, 5:9] * wh)

    # Stage 2: R-Net on 24x24 crops.
    crops, valid = _crops(image, boxes, 24)
    if len(crops) == 0:
        return empty
    reg, probs = rnet(crops)
    boxes, score = boxes[valid.to(boxes.device)], probs[:, 1]
    keep = score > thresholds[1]
    boxes, score, reg = boxes[keep], score[keep], reg[keep]
    pick = nms(boxes, score, 0.7)
    boxes = _square(_regress(boxes[pick], reg[pick]))

    # Stage 3: O-Net on 48x48 crops, landmarks, regress, "Min" NMS.
    crops, valid = _crops(image, boxes, 48)
    if len(crops) == 0:
        return empty
    reg, marks, probs = onet(crops)
    boxes, score = boxes[valid.to(boxes.device)], probs[:, 1]
    keep = score > thresholds[2]
    boxes, score, reg, marks = boxes[keep], score[keep], reg[keep], marks[keep]
    wh = boxes[:, 2:4] - boxes[:, :2] + 1
    landmarks = torch.stack(
        (wh[:, :1] * marks[:, :5] + boxes[:, :1] - 1, wh[:, 1:] * marks[:, 5:] + boxes[:, 1:2] - 1), 2
    )
    boxes = _regress(boxes, reg)
    pick = _nms_min(boxes, score, 0.7)
    return (
        boxes[pick].cpu().float().numpy(),
        score[pick].cpu().float().numpy(),
        landmarks[pick].cpu().float().numpy(),
    )


class MTCNN(nn.Module):
    """The cascade as one module: ``pnet``, ``rnet``, ``onet`` (state dict keys ``pnet.*``, ``rnet.*``, ``onet.*``).

    ``forward`` takes one RGB uint8 image (any size) and returns :func:`detect_faces`' arrays.
    """

    def __init__(self):
        super().__init__()
        self.pnet, self.rnet, self.onet = PNet(), RNet(), ONet()

    def forward(
        self, image_rgb_uint8: np.ndarray, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return detect_faces(image_rgb_uint8, self.pnet, self.rnet, self.onet, thresholds=thresholds)
