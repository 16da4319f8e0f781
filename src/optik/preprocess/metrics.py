"""Image measurements without a network, for ``optik compare`` and ``optik check`` (numpy and OpenCV only).

Pairs of images of one size, brought to one form by :func:`comparable` (one depth, gray kept as one plane,
colour premultiplied by alpha plus the alpha plane when either image has alpha, so that differences
hidden under full transparency do not count and changes of transparency do):

- :func:`psnr`, over every plane, as ``skimage.metrics.peak_signal_noise_ratio``;
- :func:`ssim`, scikit-image's ``structural_similarity`` with its defaults (7×7 uniform window, sample
  covariance, K1 = 0.01, K2 = 0.03, the border of 3 px cropped) on the luma plane (OpenCV's BT.601 gray,
  as Wang et al.'s reference code takes ``rgb2gray``) and the alpha plane, averaged;
- :func:`ms_ssim`, Wang, Simoncelli & Bovik's multi-scale SSIM (2003) with the same window at five scales;
- :func:`pixel_diff`, pixelmatch's count of pixels whose YIQ colour distance exceeds a tolerance, pixels
  that look like anti-aliasing excused (Vyšniauskas 2009, as pixelmatch detects them);
- :func:`abs_diff`, the largest and the mean absolute difference, in 8-bit levels.

Single images: :func:`exposure` (clipped highlights and shadows, mean luminance), :func:`noise_sigma`
and :func:`color_cast`. Sharpness and the perceptual hash are :mod:`optik.preprocess.fingerprint`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from optik.preprocess.decode import Image

SSIM_WINDOW = 7
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003, finest scale first
MS_SSIM_MIN_SIDE = SSIM_WINDOW * 2 ** (len(MS_SSIM_WEIGHTS) - 1)  # 112: the coarsest scale still holds a window
_K1, _K2 = 0.01, 0.03
_BAND_ROWS = 64  # SSIM runs in bands of rows that stay in cache

# pixelmatch's YIQ colour distance (Kotsarenko & Ramos 2010): delta = 0.5053 y² + 0.299 i² + 0.1957 q² of the
# difference, on 0-255 values; 35215 is the largest possible delta
_YIQ = np.array(
    [
        [0.29889531, 0.58662247, 0.11448223],
        [0.59597799, -0.27417610, -0.32180189],
        [0.21147017, -0.52261711, 0.31114694],
    ],
    np.float32,
)
_YIQ_WEIGHTS = np.array([0.5053, 0.299, 0.1957], np.float32)
YIQ_MAX_DELTA = 35215.0
# the largest delta per unit of squared difference: a pixel whose channels all differ by at most
# sqrt(limit / (3 * _YIQ_GAIN)) cannot exceed ``limit``, so only the others are looked at closely
_YIQ_GAIN = float(np.linalg.eigvalsh((_YIQ.T * _YIQ_WEIGHTS) @ _YIQ).max())
# pixelmatch visits the 8 neighbours column by column (x outer, y inner); ties go to the first visited
_NEIGHBOURS = tuple((dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0))

CLIPPED_HIGH, CLIPPED_LOW = 250, 5  # luma levels (of 255) from which a pixel counts as blown out / crushed
_ANALYSIS_SIDE = 256  # colour statistics are taken on the image shrunk to this shorter side


# --- pairs --------------------------------------------------------------------------------------------------------


@dataclass
class Comparable:
    """A pair brought to one form: ``a`` and ``b`` are H×W×C planes of one integer type — the colour (one
    plane for two gray images, else RGB), premultiplied by alpha when either image has alpha, then alpha."""

    a: np.ndarray
    b: np.ndarray
    peak: int  # 255 or 65535
    color_planes: int  # 1 or 3
    has_alpha: bool

    @property
    def identical(self) -> bool:
        return cv2.norm(_rows(self.a), _rows(self.b), cv2.NORM_INF) == 0


def _rows(planes: np.ndarray) -> np.ndarray:
    """H×W×C planes as an H×(W·C) one-channel view (OpenCV takes at most 4 channels)."""
    return planes.reshape(planes.shape[0], -1)


def _at_depth(values: np.ndarray, sixteen: bool) -> np.ndarray:
    return values.astype(np.uint16) * 257 if sixteen and values.dtype == np.uint8 else values


def comparable(a: Image, b: Image) -> Comparable:
    """``a`` and ``b`` (the same size) as :class:`Comparable` planes: 8-bit unless either is 16-bit."""
    if a.pixels.shape != b.pixels.shape:
        raise ValueError(f"sizes differ: {a.width}×{a.height} and {b.width}×{b.height}")
    sixteen = np.uint16 in (a.pixels.dtype, b.pixels.dtype)
    peak = 65535 if sixteen else 255
    color_planes = 1 if a.gray and b.gray else 3
    has_alpha = a.alpha is not None or b.alpha is not None

    def planes(image: Image) -> np.ndarray:
        colour = _at_depth(image.pixels[:, :, :color_planes], sixteen)
        if not has_alpha:
            return np.ascontiguousarray(colour)
        if image.alpha is None:
            alpha = np.full(colour.shape[:2], peak, colour.dtype)
        else:
            alpha = _at_depth(image.alpha, sixteen)
        weights = np.repeat(alpha[:, :, None], color_planes, axis=2)
        premultiplied = cv2.multiply(np.ascontiguousarray(colour), weights, scale=1 / peak)
        return np.dstack([premultiplied.reshape(colour.shape), alpha])

    return Comparable(planes(a), planes(b), peak, color_planes, has_alpha)


def psnr(pair: Comparable) -> float:
    """Peak signal-to-noise ratio in dB over every plane (``inf`` when the planes are equal)."""
    squared = cv2.norm(_rows(pair.a), _rows(pair.b), cv2.NORM_L2SQR)
    mse = squared / pair.a.size
    return float("inf") if mse == 0 else float(10 * np.log10(pair.peak**2 / mse))


def abs_diff(pair: Comparable) -> tuple[float, float]:
    """The largest and the mean absolute difference over every plane, in 8-bit levels (16-bit ÷ 257)."""
    difference = cv2.absdiff(_rows(pair.a), _rows(pair.b))
    scale = 255 / pair.peak
    return float(difference.max()) * scale, float(cv2.sumElems(difference)[0]) / difference.size * scale


def ssim_planes(pair: Comparable) -> list[tuple[np.ndarray, np.ndarray]]:
    """The planes SSIM compares: luma (BT.601, OpenCV's RGB → gray, of the premultiplied colour), then alpha."""
    if pair.color_planes == 1:
        planes = [(np.ascontiguousarray(pair.a[:, :, 0]), np.ascontiguousarray(pair.b[:, :, 0]))]
    else:
        colour_a, colour_b = (np.ascontiguousarray(p[:, :, :3]) for p in (pair.a, pair.b))
        planes = [(cv2.cvtColor(colour_a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(colour_b, cv2.COLOR_RGB2GRAY))]
    if pair.has_alpha:
        planes.append((np.ascontiguousarray(pair.a[:, :, -1]), np.ascontiguousarray(pair.b[:, :, -1])))
    return planes


def ssim(pair: Comparable) -> float | None:
    """Mean structural similarity of the :func:`ssim_planes` (1 = identical); None when a side is under 7 px."""
    values = [_ssim_terms(x, y, pair.peak) for x, y in ssim_planes(pair)]
    return None if values[0] is None else float(np.mean([ssim_mean for ssim_mean, _ in values]))


def ms_ssim(pair: Comparable, weights: Sequence[float] = MS_SSIM_WEIGHTS) -> float | None:
    """Multi-scale SSIM of the :func:`ssim_planes`, averaged: the contrast-structure means of the finer scales
    and the SSIM mean of the coarsest (each halved by 2×2 averaging), raised to ``weights`` and multiplied
    (negative factors count as 0). None when the shorter side is under ``7 × 2^(scales - 1)`` px."""
    if min(pair.a.shape[:2]) < SSIM_WINDOW * 2 ** (len(weights) - 1):
        return None
    values = []
    for x, y in ssim_planes(pair):
        product = 1.0
        for scale, weight in enumerate(weights):
            last = scale == len(weights) - 1
            ssim_mean, cs_mean = _ssim_terms(x, y, pair.peak, contrast=not last)
            product *= max(ssim_mean if last else cs_mean, 0.0) ** weight
            if not last:
                x, y = _halve(x), _halve(y)
        values.append(product)
    return float(np.mean(values))


def _halve(plane: np.ndarray) -> np.ndarray:
    """Each 2×2 block averaged (an odd last row or column dropped), as float64."""
    h, w = plane.shape[0] // 2 * 2, plane.shape[1] // 2 * 2
    x = plane[:h, :w].astype(np.float64)
    return (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2]) / 4


def _ssim_terms(x: np.ndarray, y: np.ndarray, peak: int, contrast: bool = False) -> tuple[float, float | None] | None:
    """The mean of the SSIM map over the valid region (3 px in from the border), and with ``contrast`` the mean
    of its contrast-structure factor, computed only on bands of rows whose windows see a difference: elsewhere
    both are exactly 1, as they are in scikit-image. None when the plane is smaller than the window."""
    height, width = x.shape
    radius = SSIM_WINDOW // 2
    if min(height, width) < SSIM_WINDOW:
        return None
    changed = cv2.reduce(cv2.absdiff(x, y), 1, cv2.REDUCE_MAX).ravel() > 0
    window = np.convolve(changed, np.ones(SSIM_WINDOW), mode="same") > 0  # output rows whose window changed
    window[:radius], window[height - radius :] = False, False
    valid_rows, valid_width = height - 2 * radius, width - 2 * radius
    ssim_sum = cs_sum = float(valid_rows - np.count_nonzero(window)) * valid_width  # unchanged: exactly 1
    c1, c2, _ = _constants(peak)
    sums = _sums_uint8 if x.dtype == np.uint8 else _sums_float
    rows = np.flatnonzero(window)
    for run in np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1) if len(rows) else []:
        for top in range(run[0], run[-1] + 1, _BAND_ROWS):
            bottom = min(top + _BAND_ROWS, run[-1] + 1)
            band = sums(x[top - radius : bottom + radius], y[top - radius : bottom + radius])
            product, squares, covariance, variances = (s[radius:-radius, radius : width - radius] for s in band)
            real = np.float32 if product.dtype == np.int32 else np.float64
            luminance = (2 * product).astype(real) + real(c1), squares.astype(real) + real(c1)
            structure = (2 * covariance).astype(real) + real(c2), variances.astype(real) + real(c2)
            if contrast:
                factor = structure[0] / structure[1]
                cs_sum += float(factor.sum(dtype=np.float64))
                ssim_sum += float(np.einsum("ij,ij->", luminance[0] / luminance[1], factor, dtype=np.float64))
            else:
                ratio = luminance[0] * structure[0]
                ratio /= luminance[1] * structure[1]
                ssim_sum += float(ratio.sum(dtype=np.float64))
    count = valid_rows * valid_width
    return ssim_sum / count, cs_sum / count if contrast else None


def _window_sums(x: np.ndarray, depth: int) -> np.ndarray:
    return cv2.boxFilter(x, depth, (SSIM_WINDOW, SSIM_WINDOW), normalize=False, borderType=cv2.BORDER_REFLECT)


def _constants(peak: int) -> tuple[float, float, int]:
    """SSIM's C1 and C2 scaled for window sums (N² C1 and N(N − 1) C2, N pixels a window), and N."""
    n = SSIM_WINDOW**2
    return (_K1 * peak) ** 2 * n * n, (_K2 * peak) ** 2 * n * (n - 1), n


def _combine(
    sx: np.ndarray, sy: np.ndarray, energy: np.ndarray, sxy: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """From the window sums of x, y, x² + y² and xy: Σx·Σy, (Σx)² + (Σy)², and N(N − 1) times the sample
    covariance and the sum of the sample variances. In these terms SSIM is
    (2 Σx·Σy + N² C1)(2 cov + N(N − 1) C2) / (((Σx)² + (Σy)² + N² C1)(var + N(N − 1) C2))."""
    n = SSIM_WINDOW**2
    product = sx * sy
    squares = sx * sx + sy * sy
    return product, squares, n * sxy - product, n * energy - squares


def _sums_uint8(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """:func:`_combine` of 8-bit planes in int32: every sum and every cancelling difference fits exactly, so only
    the final ratios round (float32, ~1e-7)."""
    squares = cv2.add(cv2.multiply(x, x, dtype=cv2.CV_32S), cv2.multiply(y, y, dtype=cv2.CV_32S))
    products = cv2.multiply(x, y, dtype=cv2.CV_32S)
    sums = (_window_sums(x, cv2.CV_32S), _window_sums(y, cv2.CV_32S), _window_sums(squares, -1))
    return _combine(*sums, _window_sums(products, -1))


def _sums_float(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """The same in float64, for 16-bit planes and the averaged planes of coarser MS-SSIM scales."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    return _combine(*(_window_sums(p, cv2.CV_64F) for p in (x, y, x * x + y * y, x * y)))


@dataclass
class PixelDiff:
    """Where two images differ by more than the tolerance: ``different`` pixels count, ``antialiased`` ones
    (over the tolerance, but an edge's anti-aliasing in one of the images) are excused."""

    different: np.ndarray  # H×W bool
    antialiased: np.ndarray  # H×W bool

    @property
    def count(self) -> int:
        return int(np.count_nonzero(self.different))

    @property
    def share(self) -> float:
        return self.count / self.different.size


def display_color(image: Image, background: float = 255.0) -> np.ndarray:
    """The colour as seen on ``background`` (0-255) in 8-bit levels: uint8 when the image is 8-bit and opaque,
    else float32 (16-bit ÷ 257, alpha blended)."""
    if image.alpha is None and image.pixels.dtype == np.uint8:
        return image.pixels
    top = 65535.0 if image.pixels.dtype == np.uint16 else 255.0
    colour = image.pixels.astype(np.float32) * np.float32(255 / top)
    if image.alpha is None:
        return colour
    alpha = image.alpha.astype(np.float32)[:, :, None] / np.float32(65535 if image.alpha.dtype == np.uint16 else 255)
    return colour * alpha + np.float32(background) * (1 - alpha)


def yiq_delta(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """pixelmatch's squared YIQ distance (0 to :data:`YIQ_MAX_DELTA`) between …×3 colours in 8-bit levels."""
    difference = a.astype(np.float32) - b.astype(np.float32)
    yiq = difference @ _YIQ.T
    return (yiq * yiq) @ _YIQ_WEIGHTS


def color_delta(a: Image, b: Image) -> np.ndarray:
    """The H×W map of :func:`yiq_delta` as seen on white (pixelmatch's view); with alpha, the larger of the
    distances on white and on black, so that a change of transparency shows whatever the colour."""
    delta = yiq_delta(display_color(a), display_color(b))
    if a.alpha is not None or b.alpha is not None:
        delta = np.maximum(delta, yiq_delta(display_color(a, 0.0), display_color(b, 0.0)))
    return delta


def pixel_diff(a: Image, b: Image, tolerance: float = 0.1, include_aa: bool = False) -> PixelDiff:
    """The pixels of ``a`` and ``b`` (one size) whose :func:`color_delta` exceeds ``35215 × tolerance²``
    (pixelmatch's threshold; 0.1 by default); unless ``include_aa``, those that pixelmatch's detector calls
    anti-aliasing in either image are excused instead of counted."""
    height, width = a.height, a.width
    limit = YIQ_MAX_DELTA * tolerance * tolerance
    views = [(display_color(a), display_color(b))]
    if a.alpha is not None or b.alpha is not None:
        views.append((display_color(a, 0.0), display_color(b, 0.0)))
    views = [(x, y) if x.dtype == y.dtype else (x.astype(np.float32), y.astype(np.float32)) for x, y in views]
    # only pixels with a channel difference over the bound can exceed the limit
    bound = np.sqrt(limit / (3 * _YIQ_GAIN))
    candidates = None
    for view_a, view_b in views:
        difference = cv2.absdiff(view_a, view_b)
        over_bound = cv2.threshold(difference, bound, 255, cv2.THRESH_BINARY, dst=difference)[1]
        over = cv2.cvtColor(over_bound.astype(np.uint8, copy=False), cv2.COLOR_RGB2GRAY)  # nonzero: a channel over
        candidates = over if candidates is None else candidates | over
    index = _flat_nonzero(candidates)
    delta = np.zeros(len(index), np.float32)
    for view_a, view_b in views:
        delta = np.maximum(delta, yiq_delta(view_a.reshape(-1, 3)[index], view_b.reshape(-1, 3)[index]))
    over = index[delta > limit]
    different = np.zeros(height * width, bool)
    antialiased = np.zeros(height * width, bool)
    if len(over) and not include_aa:
        lookup_a, lookup_b = _Lookup.of(a), _Lookup.of(b)
        excused = _antialiased(lookup_a, lookup_b, over) | _antialiased(lookup_b, lookup_a, over)
        antialiased[over[excused]] = True
        over = over[~excused]
    different[over] = True
    return PixelDiff(different.reshape(height, width), antialiased.reshape(height, width))


def _flat_nonzero(mask: np.ndarray) -> np.ndarray:
    """The flat indices of the nonzero pixels of a uint8 mask (OpenCV's search: much faster when they are few)."""
    if not cv2.countNonZero(mask):
        return np.zeros(0, np.int64)
    points = cv2.findNonZero(mask).reshape(-1, 2).astype(np.int64)
    return points[:, 1] * mask.shape[1] + points[:, 0]


_DX = np.array([dx for dx, _ in _NEIGHBOURS])[:, None]
_DY = np.array([dy for _, dy in _NEIGHBOURS])[:, None]


def _neighbourhood(index: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For flat pixel indices (N): whether each is on the border (N), and for its 8 neighbours in pixelmatch's
    order whether they are inside the image (8×N) and their flat indices, clamped to the image (8×N)."""
    ys, xs = np.divmod(index, width)
    nx, ny = xs + _DX, ys + _DY
    inside = (nx >= 0) & (nx < width) & (ny >= 0) & (ny < height)
    flat = np.minimum(np.maximum(ny, 0), height - 1) * width + np.minimum(np.maximum(nx, 0), width - 1)
    border = (xs == 0) | (xs == width - 1) | (ys == 0) | (ys == height - 1)
    return border, inside, flat


@dataclass
class _Lookup:
    """What the anti-aliasing test reads of one image, by flat pixel index: the colour on white (for
    pixelmatch's brightness Y), and keys that are equal exactly when every channel, alpha included, is."""

    width: int
    height: int
    color: np.ndarray  # (H·W)×3 in 8-bit levels
    pixels: np.ndarray  # (H·W)×3 as stored
    alpha: np.ndarray | None  # H·W

    @classmethod
    def of(cls, image: Image) -> _Lookup:
        alpha = None if image.alpha is None else image.alpha.reshape(-1)
        return cls(image.width, image.height, display_color(image).reshape(-1, 3), image.pixels.reshape(-1, 3), alpha)

    def brightness(self, index: np.ndarray) -> np.ndarray:
        return self.color[index].astype(np.float32) @ _YIQ[0]

    def keys(self, index: np.ndarray) -> np.ndarray:
        values = self.pixels[index].astype(np.uint64)
        bits = np.uint64(8 * self.pixels.itemsize)
        keys = values[..., 0] | values[..., 1] << bits | values[..., 2] << (2 * bits)
        if self.alpha is not None:
            keys |= self.alpha[index].astype(np.uint64) << (3 * bits)
        return keys

    def many_siblings(self, index: np.ndarray) -> np.ndarray:
        """Whether each flat pixel ``index`` has three or more neighbours of exactly its value (a pixel on the
        border counts one more, as in pixelmatch)."""
        border, inside, flat = _neighbourhood(index, self.width, self.height)
        same = inside & (self.keys(flat) == self.keys(index))
        return border + np.count_nonzero(same, axis=0) > 2


def _antialiased(image: _Lookup, other: _Lookup, index: np.ndarray) -> np.ndarray:
    """pixelmatch's test, for the flat pixel ``index``es of ``image``: the pixel has at most two neighbours of
    its own brightness, both a darker and a brighter one, and the darkest or the brightest of them has three or
    more identical neighbours in both images (a flat region meeting an edge)."""
    border, inside, flat = _neighbourhood(index, image.width, image.height)
    deltas = image.brightness(index) - image.brightness(flat)
    zeroes = border + np.count_nonzero(inside & (deltas == 0), axis=0)
    darker = np.where(inside & (deltas < 0), deltas, np.inf)
    brighter = np.where(inside & (deltas > 0), deltas, -np.inf)
    columns = np.arange(len(index))
    darkest, brightest = darker.argmin(axis=0), brighter.argmax(axis=0)  # the first of equal ones, as pixelmatch
    possible = (zeroes <= 2) & np.isfinite(darker[darkest, columns]) & np.isfinite(brighter[brightest, columns])
    result = np.zeros(len(index), bool)
    for choice in (darkest, brightest):
        at = flat[choice, columns][possible]
        result[possible] |= image.many_siblings(at) & other.many_siblings(at)
    return result


# --- single images ------------------------------------------------------------------------------------------------


def luma(image: Image) -> np.ndarray:
    """BT.601 luma of the colour as stored (alpha ignored) in 8-bit levels, as float32 (not rounded)."""
    scale = np.float32(255 / 65535) if image.pixels.dtype == np.uint16 else np.float32(1)
    return cv2.cvtColor(image.pixels.astype(np.float32) * scale, cv2.COLOR_RGB2GRAY)


def exposure(levels: np.ndarray) -> tuple[float, float, float]:
    """(clipped highlights, clipped shadows, mean luminance) of :func:`luma`: the shares of pixels at or above
    :data:`CLIPPED_HIGH` and at or below :data:`CLIPPED_LOW` (rounded), and the mean level as a fraction of 255."""
    histogram = cv2.calcHist([levels], [0], None, [256], [-0.5, 255.5]).ravel()
    total = float(histogram.sum())
    highlights = float(histogram[CLIPPED_HIGH:].sum()) / total
    shadows = float(histogram[: CLIPPED_LOW + 1].sum()) / total
    return highlights, shadows, float(histogram @ np.arange(256)) / total / 255


def noise_sigma(levels: np.ndarray) -> float:
    """An estimate of the noise's standard deviation in 8-bit levels: the median absolute value of the finest
    diagonal Haar wavelet coefficients over 0.6745 (Donoho & Johnstone's MAD estimator, as scikit-image's
    ``estimate_sigma``). Fine texture reads as a little noise; flat areas give it exactly."""
    height, width = levels.shape[0] // 2 * 2, levels.shape[1] // 2 * 2
    x = levels[:height, :width]
    diagonal = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2
    return float(np.median(np.abs(diagonal))) / 0.6745 if diagonal.size else 0.0


def color_cast(rgb: np.ndarray) -> float:
    """How far the average colour is from neutral, in CIELAB a*b* units (ΔE): the chroma of the mean a*, b* of
    the image shrunk to a shorter side of 256 px. A scene of one dominant colour reads as a cast too."""
    scale = _ANALYSIS_SIDE / min(rgb.shape[:2])
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    lab = cv2.cvtColor(small.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    return float(np.hypot(lab[:, :, 1].mean(), lab[:, :, 2].mean()))
