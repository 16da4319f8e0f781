"""The embedded MobileNetV2 as a measuring instrument: a perceptual distance between two images and an embedding
per image (for near-duplicates), for ``optik compare`` and ``optik check``.

The perceptual distance follows LPIPS (Zhang et al. 2018) *without its learned weights*, so it is not LPIPS
and its numbers are not comparable with LPIPS scores: both images (alpha composited on white, shrunk to
:data:`PERCEPTUAL_SIDE` px on the long side) go through the ImageNet backbone; at the last block of the
stride-4, 8, 16 and 32 resolutions the features are normalised to unit length along the channels, and the
distance is the mean over those four layers of the spatial mean of the squared differences: 0 for the same
picture, at most 4. The stride-2 block is left out: without LPIPS's weights it scores a 1-px shift like strong
blur. Global brightness and contrast changes (gamma) move it little; PSNR and SSIM see those.

The embedding is the backbone's pooled 1280-d feature of the image stretched to 224×224, unit length, so the
dot product of two is their cosine similarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from optik.preprocess.decode import Image
from optik.preprocess.metrics import display_color

if TYPE_CHECKING:
    import torch

    from optik.registry.loading import LoadedModel

MODEL = "mobilenet_v2"
PERCEPTUAL_SIDE = 512
EMBEDDING_SIDE = 224
LAYERS = (3, 6, 13, 17)  # the last block of the stride-4, 8, 16 and 32 resolutions in MobileNetV2's ``features``


@dataclass(frozen=True)
class _NoSpec:
    name: str = "none"


@dataclass(frozen=True)
class NoNetwork:
    """Stands in for the loaded model of a run that measures without a network: it names no model in records."""

    spec: _NoSpec = _NoSpec()
    device: str = "cpu"
    dtype_name: str = "numpy"

    def provenance(self) -> dict[str, str]:
        return {}


def on_white(image: Image) -> np.ndarray:
    """RGB uint8 as seen on a white page (16-bit rounded to 8, alpha composited)."""
    color = display_color(image)
    return color if color.dtype == np.uint8 else (color + 0.5).astype(np.uint8)


def perceptual_input(image: Image) -> np.ndarray:
    """The image as the perceptual distance sees it: on white, the long side shrunk to :data:`PERCEPTUAL_SIDE`."""
    pixels = on_white(image)
    scale = PERCEPTUAL_SIDE / max(image.width, image.height)
    if scale >= 1:
        return pixels
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def embedding_input(image: Image) -> np.ndarray:
    """The image as the embedding sees it: on white, stretched to 224×224."""
    interpolation = cv2.INTER_AREA if min(image.width, image.height) >= EMBEDDING_SIDE else cv2.INTER_LINEAR
    return cv2.resize(on_white(image), (EMBEDDING_SIDE, EMBEDDING_SIDE), interpolation=interpolation)


class Backbone:
    """MobileNetV2's ``features`` on the loaded model's device and dtype."""

    def __init__(self, model: LoadedModel):
        self.model = model
        self.spec = model.spec.input_spec()

    @classmethod
    def load(cls, device: str = "auto", half: bool = False, weights: str | Path | None = None) -> Backbone:
        from optik.registry import get_spec
        from optik.registry.backends import EAGER
        from optik.registry.loading import load

        # eager PyTorch: the layers are called one by one, so no other backend would run them
        return cls(load(get_spec(MODEL, "classify"), device, half, Path(weights) if weights else None, EAGER))

    def _layers(self, arrays: list[np.ndarray], taps: tuple[int, ...]) -> list[torch.Tensor]:
        """The outputs of ``features[i]`` for every ``i`` in ``taps``, as float32 NCHW."""
        import torch

        from optik.preprocess.transforms import to_batch

        batch = self.model.tensor(to_batch(arrays, self.spec, self.model.device, self.model.dtype))
        outputs = []
        with torch.inference_mode():
            for index, layer in enumerate(self.model.module.features[: max(taps) + 1]):
                batch = layer(batch)
                if index in taps:
                    outputs.append(batch.float())
        return outputs

    def perceptual(self, pairs: list[np.ndarray]) -> list[float]:
        """The distance of each 2×H×W×3 pair of :func:`perceptual_input` arrays (all of one size)."""
        features = self._layers([image for pair in pairs for image in pair], LAYERS)
        total = 0
        for layer in features:
            unit = layer / (layer.norm(dim=1, keepdim=True) + 1e-10)
            total = total + (unit[0::2] - unit[1::2]).square().sum(1).mean((1, 2))
        return [float(value) for value in (total / len(features)).cpu()]

    def embed(self, arrays: list[np.ndarray]) -> np.ndarray:
        """N×1280 unit vectors for N :func:`embedding_input` arrays."""
        pooled = self._layers(arrays, (len(self.model.module.features) - 1,))[0].mean((2, 3))
        pooled = pooled / (pooled.norm(dim=1, keepdim=True) + 1e-10)
        return pooled.cpu().numpy()
