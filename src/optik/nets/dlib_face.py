"""dlib's ResNet face descriptor (``dlib_face_recognition_resnet_model_v1``, Davis King 2017).

A ResNet-34 with a few layers removed and the widths halved, trained with a metric loss so that
two 150x150 face chips of the same person give 128-d descriptors closer than 0.6 (euclidean).
dlib defines it in ``examples/dnn_face_recognition_ex.cpp`` (the output on top, the input at the bottom)::

    fc_no_bias<128, avg_pool_everything<
        ares_down<256> ares<256> ares<256> ares_down<256>     (level 0 and 1)
        ares<128> ares<128> ares_down<128>                    (level 2)
        ares<64> ares<64> ares<64> ares_down<64>              (level 3)
        ares<32> ares<32> ares<32>                            (level 4)
        max_pool<3,3,2,2> relu<affine<con<32,7,7,2,2<input_rgb_image_sized<150>>>>>>>

``affine`` is dlib's inference form of batch norm: a per-channel ``gamma * x + beta``. dlib's
convolutions pad ``k // 2`` at stride 1 and nothing at stride 2, and its pools pad nothing (floor
division of sizes, as PyTorch). One residual unit is::

    ares:       relu(x + affine(con3x3(relu(affine(con3x3(x))))))
    ares_down:  relu(avg_pool2x2/2(x) + affine(con3x3(relu(affine(con3x3/2(x))))))

dlib's ``add_prev`` adds tensors of different shapes by zero-padding both to the larger one:
missing channels at the end (the shortcut of 32→64, 64→128, 128→256) and missing rows/columns at
the bottom/right (at 8x8 → 3x3 + 4x4 and 4x4 → 1x1 + 2x2 the stride-2 conv yields one row and
column less than the pool). Spatial sizes: 150 → 72 (conv) → 35 (max pool) → 17 → 8 → 4 → 2,
then the global mean of 256 channels and a bias-free 256→128 matrix. The descriptor is returned
as dlib returns it, not L2-normalised (norms are around 1.4-1.5).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CHIP_SIZE = 150
MEAN_RGB = (122.782, 117.001, 104.298)  # dlib's input_rgb_image_sized: (pixel - mean) / 256
INPUT_DIVISOR = 256.0
DESCRIPTOR_SIZE = 128
SAME_PERSON_DISTANCE = 0.6  # dlib's threshold on the euclidean distance of two descriptors
# (input width, output width, downsample) of the 14 residual units, input side first
UNITS = (
    *[(32, 32, False)] * 3,
    (32, 64, True),
    *[(64, 64, False)] * 3,
    (64, 128, True),
    *[(128, 128, False)] * 2,
    (128, 256, True),
    *[(256, 256, False)] * 2,
    (256, 256, True),
)


class ChannelAffine(nn.Module):
    """dlib's ``affine`` layer in its per-channel mode: ``weight[c] * x + bias[c]`` (frozen batch norm)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return torch.addcmul(self.bias.view(1, -1, 1, 1), x, self.weight.view(1, -1, 1, 1))


def add_zero_padded(a: Tensor, b: Tensor) -> Tensor:
    """dlib's ``add_prev``: ``a + b`` where the smaller of the two is zero-padded at the end of the
    channels and at the bottom/right of the rows and columns to the larger shape."""
    channels, rows, columns = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))

    def grow(x: Tensor) -> Tensor:
        return F.pad(x, (0, columns - x.shape[3], 0, rows - x.shape[2], 0, channels - x.shape[1]))

    return grow(a) + grow(b)


class ResidualUnit(nn.Module):
    """``ares`` (same width and size) or ``ares_down`` (stride-2 conv, 2x2 average-pool shortcut)."""

    def __init__(self, in_channels: int, out_channels: int, downsample: bool):
        super().__init__()
        stride, padding = (2, 0) if downsample else (1, 1)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding)
        self.affine1 = ChannelAffine(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        self.affine2 = ChannelAffine(out_channels)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        residual = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2) if self.downsample else x
        return F.relu(add_zero_padded(residual, shortcut))


class DlibFaceNet(nn.Module):
    """150x150 RGB face chips, NCHW float in 0..255 → 128-d descriptors (dlib's scale, unnormalised)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 32, 7, 2, 0)
        self.affine = ChannelAffine(32)
        self.units = nn.Sequential(*(ResidualUnit(*unit) for unit in UNITS))
        self.fc = nn.Linear(256, DESCRIPTOR_SIZE, bias=False)
        self.register_buffer("mean", torch.tensor(MEAN_RGB).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = (x - self.mean) / INPUT_DIVISOR
        x = F.max_pool2d(F.relu(self.affine(self.conv(x))), 3, 2)
        return self.fc(self.units(x).mean((2, 3)))
