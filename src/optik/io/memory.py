"""What the Python API accepts as images, turned into pipeline inputs: paths, directories and globs
(through :func:`optik.io.inputs.discover`), numpy arrays, PIL images, encoded bytes and torch tensors.

Arrays are RGB (H×W×3), RGBA (H×W×4) or gray (H×W), uint8 or uint16 — or BGR/BGRA with
``channels="BGR"`` (what OpenCV's ``imread`` returns). Tensors follow torchvision: C×H×W (or a batch
N×C×H×W), uint8 or float in [0, 1], RGB.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from optik.errors import InputError
from optik.preprocess.decode import Image, decode

Channels = Literal["RGB", "BGR"]


@dataclass(frozen=True)
class MemoryItem:
    """An image that is already in memory: decoded (``image``) or encoded (``data``, e.g. PNG bytes)."""

    source: str  # how records name it: "<array 0>", "<bytes 1>" …
    relative: Path
    image: Image | None = field(default=None, repr=False)
    data: bytes | None = field(default=None, repr=False)

    is_stdin = False

    def load(self, max_pixels: int, min_side: int | None) -> Image:
        if self.data is not None:
            return decode(self.data, self.source, max_pixels, min_side)
        assert self.image is not None
        if self.image.width * self.image.height > max_pixels:
            raise InputError(f"{self.source}: {self.image.width}×{self.image.height} is over the pixel limit")
        return self.image


def _array_image(array: np.ndarray, name: str, channels: Channels) -> Image:
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise InputError(f"{name}: the array holds NaN or infinite values")
        array = (np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8)
    if not array.flags.writeable:  # e.g. np.asarray of a PIL image: torch wants memory it may write
        array = array.copy()
    if channels == "BGR" and array.ndim == 3 and array.shape[2] in (3, 4):
        array = np.concatenate([array[:, :, 2::-1], array[:, :, 3:]], axis=2)
    return Image.from_array(array, name)


def _tensor_images(tensor: Any, name: str) -> list[Image]:
    """C×H×W or N×C×H×W, uint8 or float [0, 1] → images."""
    if tensor.dim() == 3:
        tensor = tensor[None]
    if tensor.dim() != 4 or tensor.shape[1] not in (1, 3, 4):
        raise InputError(f"{name}: expected a C×H×W or N×C×H×W tensor, got shape {tuple(tensor.shape)}")
    arrays = tensor.detach().cpu().permute(0, 2, 3, 1).numpy()
    return [_array_image(a[:, :, 0] if a.shape[2] == 1 else a, f"{name}[{i}]", "RGB") for i, a in enumerate(arrays)]


def as_items(images: Any, channels: Channels = "RGB") -> tuple[list[Any], bool]:
    """The pipeline inputs for what the Python API was given, and whether it was a single image (whose
    result is returned alone rather than in a list)."""
    from optik.io.inputs import discover

    single = not isinstance(images, list | tuple) and not _is_batch(images)
    items: list[Any] = []
    for index, image in enumerate(_flatten(images)):
        if isinstance(image, str | Path):
            found = discover([str(image)], recursive=False)
            single = single and len(found) == 1 and Path(image).is_file()
            items += found
        elif isinstance(image, np.ndarray):
            name = f"<array {index}>"
            items.append(MemoryItem(name, Path(f"array-{index}.png"), _array_image(image, name, channels)))
        elif isinstance(image, bytes | bytearray | memoryview):
            items.append(MemoryItem(f"<bytes {index}>", Path(f"bytes-{index}.png"), data=bytes(image)))
        elif _is_pil(image):
            name = f"<PIL image {index}>"
            mode = "RGBA" if "A" in image.getbands() else "L" if image.mode in ("1", "L") else "RGB"
            pixels = _array_image(np.asarray(image.convert(mode)), name, "RGB")
            items.append(MemoryItem(name, Path(f"image-{index}.png"), pixels))
        elif _is_tensor(image):
            name = f"<tensor {index}>"
            for k, decoded in enumerate(_tensor_images(image, name)):
                items.append(MemoryItem(decoded.name, Path(f"tensor-{index}-{k}.png"), decoded))
        else:
            kind = type(image).__name__
            raise InputError(f"{kind} is not an image: pass paths, arrays, PIL images, bytes or tensors")
    if not items:
        raise InputError("no images given")
    return items, single and len(items) == 1


def _flatten(images: Any) -> Iterable[Any]:
    return images if isinstance(images, list | tuple) else [images]


def _is_pil(value: Any) -> bool:
    return type(value).__module__.startswith("PIL.") and hasattr(value, "getbands")


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "dim")


def _is_batch(value: Any) -> bool:
    """A N×C×H×W tensor is many images."""
    return _is_tensor(value) and value.dim() == 4
