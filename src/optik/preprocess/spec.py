"""How a model wants its input (:class:`InputSpec`): plain data, so that reading the model table loads
neither torch nor OpenCV; :mod:`optik.preprocess.transforms` carries it out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ResizeMode = Literal[
    "resize-crop", "crop-resize", "letterbox", "letterbox-warp", "stretch", "fit", "fit-within", "none"
]
Interpolation = Literal["bilinear-antialias", "bicubic-antialias", "lanczos", "bilinear", "bicubic", "area", "nearest"]


@dataclass(frozen=True)
class InputSpec:
    """How a model wants its input, as its card states it.

    ``resize``: ``resize-crop`` resizes the shorter side to ``resize_size`` then centre-crops ``size``
    (torchvision); ``crop-resize`` centre-crops ``size/resize_size`` of the shorter side then resizes
    (TensorFlow); ``letterbox`` keeps the aspect ratio and pads (``letterbox-warp``: NanoDet's sub-pixel
    centred warp, :func:`~optik.preprocess.geometry.letterbox_warp`); ``stretch`` ignores it; ``fit``
    scales the longer side to ``size`` (``fit-within``: only down), neither side below ``min_side``;
    ``none`` keeps the image as it is. Values become ``(pixel * scale - mean) / std`` in ``color`` order.
    """

    size: tuple[int, int] | None = None
    resize: ResizeMode = "none"
    resize_size: int | None = None
    interpolation: Interpolation = "bilinear"
    color: Literal["RGB", "BGR"] = "RGB"
    scale: float = 1 / 255
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    min_side: int = 1  # fit, fit-within

    def describe(self) -> str:
        size = f"{self.size[1]}×{self.size[0]}" if self.size else "any size"
        resize = f"{self.resize} {self.resize_size}" if self.resize_size else self.resize
        return (
            f"{size}, {resize}, {self.interpolation}, {self.color}, ×{self.scale:g}, "
            f"mean {list(self.mean)}, std {list(self.std)}"
        )
