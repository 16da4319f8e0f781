"""Model input specs and the resize / crop / normalise steps that turn an image into a tensor."""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from optik.preprocess.geometry import Affine, letterbox, letterbox_warp
from optik.preprocess.spec import InputSpec, Interpolation

_CV2_INTERPOLATION = {
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
    "nearest": cv2.INTER_NEAREST,
}


def resize(pixels: np.ndarray, width: int, height: int, interpolation: Interpolation) -> np.ndarray:
    """Resize uint8 H×W×C pixels; the ``*-antialias`` modes match torchvision/PIL downscaling, ``lanczos`` is
    Pillow's (antialiased when shrinking)."""
    if (pixels.shape[1], pixels.shape[0]) == (width, height):
        return pixels
    if interpolation == "lanczos":
        from PIL import Image as PILImage  # Pillow comes with torchvision

        return np.array(PILImage.fromarray(pixels).resize((width, height), PILImage.LANCZOS))
    if interpolation.endswith("-antialias"):
        tensor = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None]
        mode = interpolation.removesuffix("-antialias")
        if mode == "bicubic":  # uint8 bicubic is not implemented in torch; round and clamp like PIL
            out = F.interpolate(tensor.float(), (height, width), mode=mode, antialias=True, align_corners=False)
            out = out.round_().clamp_(0, 255).to(torch.uint8)
        else:
            out = F.interpolate(tensor, (height, width), mode=mode, antialias=True, align_corners=False)
        return out[0].permute(1, 2, 0).numpy()
    return cv2.resize(pixels, (width, height), interpolation=_CV2_INTERPOLATION[interpolation])


def _centre_crop(pixels: np.ndarray, crop_h: int, crop_w: int) -> tuple[np.ndarray, int, int]:
    height, width = pixels.shape[:2]
    top, left = int(round((height - crop_h) / 2.0)), int(round((width - crop_w) / 2.0))
    return pixels[top : top + crop_h, left : left + crop_w], top, left


def prepare(pixels: np.ndarray, spec: InputSpec) -> tuple[np.ndarray, Affine]:
    """Resize/crop RGB uint8 pixels as ``spec`` asks; return them with the map back to the original."""
    height, width = pixels.shape[:2]
    if spec.resize == "none" or spec.size is None:
        return pixels, Affine(1.0, 1.0)
    out_h, out_w = spec.size
    if spec.resize == "stretch":
        return resize(pixels, out_w, out_h, spec.interpolation), Affine(out_w / width, out_h / height)
    if spec.resize in ("fit", "fit-within"):
        longest = out_w if spec.resize == "fit" else min(out_w, max(width, height))
        scale = longest / max(width, height)
        new_w, new_h = max(spec.min_side, round(width * scale)), max(spec.min_side, round(height * scale))
        return resize(pixels, new_w, new_h, spec.interpolation), Affine(new_w / width, new_h / height)
    if spec.resize == "letterbox":
        return letterbox(pixels, spec.size, _CV2_INTERPOLATION[spec.interpolation.removesuffix("-antialias")])
    if spec.resize == "letterbox-warp":
        return letterbox_warp(pixels, spec.size, _CV2_INTERPOLATION[spec.interpolation.removesuffix("-antialias")])
    short = min(height, width)
    if spec.resize == "resize-crop":  # torchvision: int() truncation of the longer side
        target = spec.resize_size or out_h
        new_w, new_h = (
            (target, int(target * height / width)) if width <= height else (int(target * width / height), target)
        )
        resized = resize(pixels, new_w, new_h, spec.interpolation)
        cropped, top, left = _centre_crop(resized, out_h, out_w)
        scale_x, scale_y = new_w / width, new_h / height
        return cropped, Affine(scale_x, scale_y, -left, -top)
    # crop-resize (TensorFlow's _decode_and_center_crop): int() crop side, offsets rounded up
    crop = max(1, int(short * out_h / (spec.resize_size or out_h)))
    top, left = (height - crop + 1) // 2, (width - crop + 1) // 2
    scale = out_w / crop
    cropped = pixels[top : top + crop, left : left + crop]
    return resize(cropped, out_w, out_h, spec.interpolation), Affine(scale, scale, -left * scale, -top * scale)


def to_batch(
    arrays: list[np.ndarray], spec: InputSpec, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Stack same-sized RGB uint8 H×W×3 arrays into a normalised NCHW tensor, normalised on ``device`` (the
    uint8 pixels travel, not floats)."""
    batch = torch.from_numpy(np.stack(arrays)).to(device, non_blocking=True).permute(0, 3, 1, 2)
    if spec.color == "BGR":
        batch = batch.flip(1)
    mean = torch.tensor(spec.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=device).view(1, 3, 1, 1)
    batch = batch.to(torch.float32)  # the one float copy: the arithmetic below works in place
    batch.mul_(spec.scale).sub_(mean).div_(std)
    return batch.to(dtype).contiguous()
