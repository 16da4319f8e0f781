"""Classical enhancement with OpenCV on RGB uint8/uint16 H×W×3 pixels: denoise, CLAHE, levels, white
balance, gamma, unsharp mask, and the resampling every scale change goes through.

Every operation returns pixels of the dtype it was given; 16-bit input keeps its 16 bits. ``mask``
(H×W, non-zero = counts) limits the statistics of ``auto_levels`` and ``white_balance`` to visible
pixels, so a transparent background does not skew them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from optik.errors import UsageError


def _peak(pixels: np.ndarray) -> float:
    return 65535.0 if pixels.dtype == np.uint16 else 255.0


def to_float(pixels: np.ndarray) -> np.ndarray:
    """uint8/uint16 → float32 in [0, 1]."""
    return pixels.astype(np.float32) * np.float32(1.0 / _peak(pixels))


def from_float(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float in ~[0, 1] → ``dtype`` (uint8/uint16), clipped and rounded."""
    peak = 65535.0 if dtype == np.uint16 else 255.0
    return (np.clip(values, 0.0, 1.0) * np.float32(peak) + np.float32(0.5)).astype(dtype)


def resample(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to ``width``×``height``: area averaging when shrinking, bicubic when enlarging."""
    if (pixels.shape[1], pixels.shape[0]) == (width, height):
        return pixels
    shrink = width <= pixels.shape[1] and height <= pixels.shape[0]
    return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def denoise(pixels: np.ndarray, strength: float = 10.0) -> np.ndarray:
    """Non-local means (``cv2.fastNlMeansDenoisingColored``, ``h`` = ``hColor`` = ``strength`` in 8-bit units).

    16-bit pixels get the correction the 8-bit filter makes, so the strength means the same at
    both depths and detail the filter leaves alone keeps its 16 bits.
    """
    if pixels.dtype == np.uint8:
        return cv2.fastNlMeansDenoisingColored(pixels, None, strength, strength, 7, 21)
    eight = ((pixels.astype(np.float32) + 128.0) / 257.0).clip(0, 255).astype(np.uint8)
    change = cv2.fastNlMeansDenoisingColored(eight, None, strength, strength, 7, 21).astype(np.float32) - eight
    return (pixels.astype(np.float32) + change * 257.0).clip(0, 65535).round().astype(np.uint16)


def clahe(pixels: np.ndarray, clip: float = 2.0, grid: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of the CIE L* channel (colours keep their hue)."""
    lab = cv2.cvtColor(to_float(pixels), cv2.COLOR_RGB2Lab)
    lightness = (lab[:, :, 0] * (65535.0 / 100.0)).round().astype(np.uint16)
    equalised = cv2.createCLAHE(clipLimit=clip, tileGridSize=(grid, grid)).apply(lightness)
    lab[:, :, 0] = equalised.astype(np.float32) * (100.0 / 65535.0)
    return from_float(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), pixels.dtype)


def _visible(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The H×W×3 values where ``mask`` is set (all of them without a mask, or when none is set)."""
    if mask is None or not mask.any():
        return values.reshape(-1, 3)
    return values[mask.astype(bool)]


def auto_levels(pixels: np.ndarray, mask: np.ndarray | None = None, clip_percent: float = 0.5) -> np.ndarray:
    """Stretch the 0.5th…99.5th percentile of all channels together to full range (hue unchanged)."""
    values = _visible(pixels, mask)
    low, high = np.percentile(values, (clip_percent, 100.0 - clip_percent))
    if high <= low:
        return pixels
    peak = _peak(pixels)
    stretched = (pixels.astype(np.float32) - np.float32(low)) * np.float32(peak / (high - low))
    return from_float(stretched / np.float32(peak), pixels.dtype)


def white_balance(pixels: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Gray world: scale each channel so that its mean equals the mean of the three."""
    means = _visible(pixels, mask).astype(np.float64).mean(axis=0)
    if means.min() <= 0:
        return pixels
    gains = (means.mean() / means).astype(np.float32)
    return from_float(to_float(pixels) * gains, pixels.dtype)


def gamma(pixels: np.ndarray, value: float) -> np.ndarray:
    """``out = in ** (1 / value)``: above 1 brightens the mid-tones, below 1 darkens them."""
    if pixels.dtype == np.uint8:
        table = from_float(np.linspace(0.0, 1.0, 256, dtype=np.float32) ** np.float32(1.0 / value), np.uint8)
        return cv2.LUT(pixels, table)
    return from_float(to_float(pixels) ** np.float32(1.0 / value), pixels.dtype)


def sharpen(pixels: np.ndarray, amount: float = 1.0, sigma: float = 1.0) -> np.ndarray:
    """Unsharp mask: ``in + amount · (in − GaussianBlur(in, sigma))``."""
    values = to_float(pixels)
    blurred = cv2.GaussianBlur(values, (0, 0), sigma)
    return from_float(values + np.float32(amount) * (values - blurred), pixels.dtype)


@dataclass(frozen=True)
class Operation:
    """One classical step as the command line spells it: ``name`` and an optional number."""

    name: str
    value: float | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}={self.value:g}"

    @classmethod
    def parse(cls, text: str | Operation) -> Operation:
        """``"sharpen=0.5"``, ``"clahe"`` or ``"gamma=1.2"`` → an :class:`Operation`, checked."""
        if isinstance(text, Operation):
            return text.checked()
        name, _, value = str(text).partition("=")
        name = name.strip().replace("_", "-")
        try:
            number = float(value) if value.strip() else None
        except ValueError:
            raise UsageError(f"operation {text!r}: {value!r} is not a number") from None
        return cls(name, number).checked()

    def checked(self) -> Operation:
        if self.name not in OPERATIONS:
            raise UsageError(f"unknown operation {self.name!r} (known: {', '.join(OPERATIONS)})")
        _, takes_value, default, low, high = OPERATIONS[self.name]
        if not takes_value:
            if self.value is not None:
                raise UsageError(f"operation {self.name} takes no value")
            return self
        value = self.value if self.value is not None else default
        if value is None:
            raise UsageError(f"operation {self.name} needs a value ({self.name}=NUMBER)")
        if not low < value <= high:
            raise UsageError(f"operation {self.name}: {value:g} is outside ({low:g}, {high:g}]")
        return Operation(self.name, value)

    def apply(self, pixels: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        function = OPERATIONS[self.name][0]
        if self.name in ("auto-levels", "white-balance"):
            return function(pixels, mask)
        return function(pixels) if self.value is None else function(pixels, self.value)


#: name → (function, takes a value, default value, lower bound (exclusive), upper bound)
OPERATIONS: dict[str, tuple[Callable[..., np.ndarray], bool, float | None, float, float]] = {
    "denoise": (denoise, True, 10.0, 0.0, 100.0),
    "clahe": (clahe, False, None, 0.0, 0.0),
    "auto-levels": (auto_levels, False, None, 0.0, 0.0),
    "white-balance": (white_balance, False, None, 0.0, 0.0),
    "gamma": (gamma, True, None, 0.0, 10.0),
    "sharpen": (sharpen, True, 1.0, 0.0, 10.0),
}


def apply_operations(pixels: np.ndarray, operations: Sequence[Operation], mask: np.ndarray | None = None) -> np.ndarray:
    """Run ``operations`` in order."""
    for operation in operations:
        pixels = operation.apply(pixels, mask)
    return pixels
