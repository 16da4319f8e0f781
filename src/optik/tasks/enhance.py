"""Super-resolution and restoration with Real-ESRGAN, and classical enhancement.

One image's way: ``--denoise`` (before the network, on the small image) → the network at its native
scale, tile by tile (``preprocess.tiling``) → a resample to the asked ``scale`` (area when
shrinking, bicubic when enlarging) → the other classical operations in the order given. Alpha is
resampled on its own (bicubic/area), gray input comes out gray, 16-bit input runs through the
network as float and comes out 16-bit. With the ``none`` model only the resample and the classical
operations run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from optik.errors import InputError
from optik.io.records import image_record, text_line
from optik.preprocess.adjust import apply_operations, from_float, resample, to_float
from optik.preprocess.decode import Image
from optik.preprocess.tiling import auto_tile, available_memory, run_tiled
from optik.registry.loading import LoadedModel
from optik.tasks.base import Family, ImageResult, Prepared, check_sane
from optik.tasks.settings import EnhanceSettings

CSV_FIELDS = (
    "path",
    "output",
    "model",
    "width",
    "height",
    "output_width",
    "output_height",
    "scale",
    "tile",
    "tiles",
    "operations",
)
DEFAULT_TILE_PAD = EnhanceSettings.tile_pad
LARGEST_AUTO_TILE = {"cpu": 256, "cuda": 2048}  # CPU speed is flat above ~96 px: spare the memory


@dataclass
class EnhanceResult(ImageResult):
    """One enhanced image: sizes, how it was made, and the pixels (Python API) or where they went (CLI)."""

    path: str
    model: str
    width: int
    height: int
    output_width: int
    output_height: int
    scale: float
    tile: int
    tiles: int
    operations: list[str] = field(default_factory=list)
    output: str | None = None
    enhanced: Image | None = field(default=None, repr=False)

    @property
    def image(self) -> np.ndarray | None:
        """The enhanced pixels as the Python API returns them: H×W gray, H×W×3 RGB or H×W×4 RGBA."""
        return None if self.enhanced is None else as_array(self.enhanced)

    def render(self) -> Image:
        """The enhanced image (for the output stage)."""
        if self.enhanced is None:
            raise ValueError("this result keeps no image to render")
        return self.enhanced

    def to_record(self) -> dict[str, Any]:
        return image_record(
            self,
            output_width=self.output_width,
            output_height=self.output_height,
            scale=self.scale,
            tile=self.tile,
            tiles=self.tiles,
            operations=self.operations,
        )

    def to_text(self) -> str:
        steps = ", ".join([f"{self.model} ×{self.scale:g}", *self.operations])
        tiles = f", {self.tiles} tile{'s' * (self.tiles != 1)}" if self.tiles else ""
        size = f"{self.width}×{self.height} → {self.output_width}×{self.output_height}"
        return text_line(self.path, self.output, f"{size}, {steps}{tiles}")

    def csv_rows(self) -> list[dict[str, Any]]:
        return [{**self.to_record(), "operations": " ".join(self.operations)}]


@dataclass
class Upscaled:
    """The network's output for one image, at its native scale."""

    pixels: np.ndarray
    tile: int = 0
    tiles: int = 0


def as_array(image: Image) -> np.ndarray:
    """An :class:`Image` as the Python API returns it: H×W gray, H×W×3 RGB or H×W×4 RGBA."""
    if image.alpha is not None:
        return np.dstack([image.pixels, image.alpha])
    return image.pixels[:, :, 0].copy() if image.gray else image.pixels


class Enhancer(Family):
    """A super-resolution network (the row's ``UpscalerConfig``: native scale, memory per pixel), tile by tile."""

    batch_limit = 1  # images go one at a time, tile by tile
    csv_fields = CSV_FIELDS

    def __init__(self, model: LoadedModel, settings: EnhanceSettings | None = None):
        super().__init__(model, settings or EnhanceSettings())
        self.native = self.native_scale()
        self.scale = float(self.settings.scale) if self.settings.scale is not None else float(self.native)
        self.before = [operation for operation in self.settings.operations if operation.name == "denoise"]
        self.after = [operation for operation in self.settings.operations if operation.name != "denoise"]
        self.tile, self.tile_pad = self.settings.tile, self.settings.tile_pad

    def native_scale(self) -> int:
        return self.model.spec.config.native_scale

    @property
    def operations(self) -> list[str]:
        return [str(operation) for operation in (*self.before, *self.after)]

    def output_size(self, image: Image) -> tuple[int, int]:
        return max(1, round(image.width * self.scale)), max(1, round(image.height * self.scale))

    def prepare(self, image: Image) -> Prepared:
        width, height = self.output_size(image)
        itemsize = image.pixels.itemsize  # the network's canvas, then the output with alpha and float temporaries
        needed = image.width * image.height * self.native**2 * 3 * itemsize + width * height * (4 * itemsize + 24)
        free = available_memory("cpu")
        if needed > free:
            raise InputError(
                f"{image.name}: {width}×{height} output needs about {_mebibytes(needed)}, "
                f"{_mebibytes(free)} free (use a smaller scale)"
            )
        pixels = apply_operations(image.pixels, self.before, image.alpha)
        return Prepared(image, pixels, key=())

    def forward(self, arrays: list[np.ndarray]) -> list[Upscaled]:
        return [self._upscale(pixels) for pixels in arrays]

    def _upscale(self, pixels: np.ndarray) -> Upscaled:
        tile = self.tile if self.tile is not None else self._auto_tile(pixels)
        while True:
            try:
                out, tiles = run_tiled(pixels, self._run_net, tile, self.tile_pad, self.native, on_tile=self._tiled)
                break
            except (torch.OutOfMemoryError, MemoryError, RuntimeError) as exc:
                if not _is_out_of_memory(exc):
                    raise
                if self.model.device.type == "cuda":
                    torch.cuda.empty_cache()
                smaller = min(tile if tile > 0 else max(pixels.shape[:2]), max(pixels.shape[:2])) // 2
                if smaller < 32:
                    raise InputError("out of memory even with 32-pixel tiles") from None
                tile = smaller
        return Upscaled(out, tile if tiles > 1 else 0, tiles)

    def _tiled(self, done: int, total: int) -> None:
        self.notify(f"tile {done}/{total}")

    def _auto_tile(self, pixels: np.ndarray) -> int:
        device = self.model.device
        per_pixel = self.model.spec.config.bytes_per_pixel * self.model.dtype.itemsize / 4
        height, width = pixels.shape[:2]
        reserve = 0 if device.type == "cuda" else height * width * self.native**2 * 3 * (4 + pixels.itemsize)
        tile = auto_tile(
            per_pixel, self.tile_pad, available_memory(str(device)), reserve, LARGEST_AUTO_TILE[device.type]
        )
        return 0 if tile >= max(height, width) else tile

    def _run_net(self, region: np.ndarray) -> np.ndarray:
        out = self.model(torch.from_numpy(to_float(region)).permute(2, 0, 1)[None]).float()
        out = out[0].permute(1, 2, 0).cpu().numpy()
        if not np.isfinite(out).all():
            raise InputError("the model produced NaN or infinite values")
        return from_float(out, region.dtype)

    def check_output(self, pixels: np.ndarray, image: Image) -> None:
        """All-black output from an image that is not, or a constant one from an image that is not flat, is
        an error."""
        if not pixels.any() and image.pixels.any():
            raise InputError(f"{image.name}: the model produced all-black pixels")
        check_sane(pixels, "pixels", image.name, allow_constant=int(image.pixels.max()) == int(image.pixels.min()))

    def finish(self, prepared: Prepared, upscaled: Upscaled) -> EnhanceResult:
        image = prepared.image
        self.check_output(upscaled.pixels, image)
        width, height = self.output_size(image)
        pixels = resample(upscaled.pixels, width, height)
        if image.gray:
            pixels = np.repeat(pixels.mean(axis=2, dtype=np.float32).round().astype(pixels.dtype)[:, :, None], 3, 2)
        alpha = resample(image.alpha, width, height) if image.alpha is not None else None
        pixels = apply_operations(pixels, self.after, alpha)
        return EnhanceResult(
            path=image.name,
            model=self.model.spec.name,
            width=image.width,
            height=image.height,
            output_width=width,
            output_height=height,
            scale=self.scale,
            tile=upscaled.tile,
            tiles=upscaled.tiles,
            operations=self.operations,
            enhanced=Image(pixels, alpha, image.gray, image.name),
        )


class ClassicalEnhancer(Enhancer):
    """No network: the resample to ``scale`` (default 1) and the classical operations."""

    def native_scale(self) -> int:
        return 1

    def _upscale(self, pixels: np.ndarray) -> Upscaled:
        return Upscaled(pixels)

    def check_output(self, pixels: np.ndarray, image: Image) -> None:
        """The pixels are the input's own."""


def _mebibytes(size: float) -> str:
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.0f} MiB"


def _is_out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, torch.OutOfMemoryError | MemoryError) or "out of memory" in text or "can't allocate" in text
