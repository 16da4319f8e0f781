"""Overlapping tiles: run a function on an image piece by piece, in bounded memory, without seams.

The image is cut into a grid of *cores* of at most ``tile`` pixels a side (evenly sized, so there
is no sliver at the edge). A function sees each core with ``pad`` pixels of context around it
(clipped at the image border) and returns that region scaled by an integer ``scale``. By default
only the core of each result is kept — the padded border, where the function lacked context, is
cropped — and written straight into the output, so memory is one tile plus the output. With
``feather`` > 0 neighbouring results are blended instead over a band of ``2 · feather`` input pixels
across each seam (for functions whose tiles differ in more than their border, e.g. per-tile
normalisation).

>>> tiles = plan(100, 250, tile=128, pad=8)
>>> len(tiles), tiles[0].core, tiles[0].region
(2, (slice(0, 100, None), slice(0, 125, None)), (slice(0, 100, None), slice(0, 133, None)))
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optik.errors import InputError

MIN_TILE = 32


@dataclass(frozen=True)
class Tile:
    """``core``: the rows/columns of the input this tile owns; ``region``: the core with its context."""

    core: tuple[slice, slice]
    region: tuple[slice, slice]

    @property
    def offset(self) -> tuple[int, int]:
        """Where the core starts inside the region (rows, columns)."""
        return self.core[0].start - self.region[0].start, self.core[1].start - self.region[1].start


def spans(length: int, tile: int) -> list[tuple[int, int]]:
    """Cut ``[0, length)`` into ``ceil(length / tile)`` nearly equal ``(start, stop)`` pieces."""
    count = max(1, math.ceil(length / max(1, tile)))
    edges = [round(i * length / count) for i in range(count + 1)]
    return list(itertools.pairwise(edges))


def plan(height: int, width: int, tile: int, pad: int) -> list[Tile]:
    """The tiles for an image, row by row; ``tile`` ≤ 0 means one tile for the whole image."""
    tile = tile if tile > 0 else max(height, width)
    tiles = []
    for top, bottom in spans(height, tile):
        for left, right in spans(width, tile):
            region = (
                slice(max(0, top - pad), min(height, bottom + pad)),
                slice(max(0, left - pad), min(width, right + pad)),
            )
            tiles.append(Tile((slice(top, bottom), slice(left, right)), region))
    return tiles


def _ramp(start: int, stop: int, length: int, band: int) -> np.ndarray:
    """Weights along one axis for a core ``[start, stop)`` (output pixels) widened by ``band`` each side:
    linear from 0 to 1 across ``[start - band, start + band)``, mirrored at ``stop``; flat at the image edge."""
    lo, hi = max(0, start - band), min(length, stop + band)
    centres = np.arange(lo, hi, dtype=np.float32) + 0.5
    weights = np.ones(hi - lo, np.float32)
    if start > 0:
        weights = np.minimum(weights, np.clip((centres - (start - band)) / (2 * band), 0, 1))
    if stop < length:
        weights = np.minimum(weights, np.clip(((stop + band) - centres) / (2 * band), 0, 1))
    return weights


def run_tiled(
    image: np.ndarray,
    function: Callable[[np.ndarray], np.ndarray],
    tile: int,
    pad: int,
    scale: int = 1,
    feather: int = 0,
    on_tile: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Apply ``function`` to ``image`` (H×W or H×W×C) tile by tile; return the stitched result and the tile count.

    ``function`` maps an h×w(×C) region to an (h·scale)×(w·scale)(×C') array. Without feathering the
    result has the dtype ``function`` returns; with it, float32 (a weighted mean of the overlaps).
    ``on_tile(done, total)`` is called after each tile.
    """
    if feather > pad:
        raise ValueError(f"feather ({feather}) cannot exceed the tile padding ({pad})")
    height, width = image.shape[:2]
    tiles = plan(height, width, tile, pad)
    out: np.ndarray | None = None
    weight_sum: np.ndarray | None = None
    for done, piece in enumerate(tiles, 1):
        result = function(image[piece.region])
        if on_tile is not None and len(tiles) > 1:
            on_tile(done, len(tiles))
        rows, cols = piece.region[0].stop - piece.region[0].start, piece.region[1].stop - piece.region[1].start
        if result.shape[:2] != (rows * scale, cols * scale):
            raise ValueError(f"tile function returned {result.shape[:2]}, expected {(rows * scale, cols * scale)}")
        if out is None:
            shape = (height * scale, width * scale, *result.shape[2:])
            out = np.empty(shape, result.dtype) if not feather else np.zeros(shape, np.float32)
            weight_sum = np.zeros(shape[:2], np.float32) if feather else None
        (top, bottom), (left, right) = ((s.start * scale, s.stop * scale) for s in piece.core)
        row0, col0 = piece.region[0].start * scale, piece.region[1].start * scale
        if not feather:
            out[top:bottom, left:right] = result[top - row0 : bottom - row0, left - col0 : right - col0]
            continue
        band = feather * scale
        wy, wx = _ramp(top, bottom, height * scale, band), _ramp(left, right, width * scale, band)
        y0, x0 = max(0, top - band), max(0, left - band)
        weights = wy[:, None] * wx[None, :]
        block = result[y0 - row0 : y0 - row0 + len(wy), x0 - col0 : x0 - col0 + len(wx)].astype(np.float32)
        out[y0 : y0 + len(wy), x0 : x0 + len(wx)] += block * (weights[..., None] if block.ndim == 3 else weights)
        weight_sum[y0 : y0 + len(wy), x0 : x0 + len(wx)] += weights
    if feather:
        out /= (weight_sum[..., None] if out.ndim == 3 else weight_sum).clip(min=1e-12)
    return out, len(tiles)


def available_memory(device: str = "cpu") -> int:
    """Bytes that can be allocated now: on CUDA free device memory (plus what torch holds unused);
    on CPU ``MemAvailable`` from /proc/meminfo (else ``os.sysconf``), capped by a cgroup v2 limit."""
    if device.startswith("cuda"):
        import torch

        index = torch.device(device).index or 0
        free, _ = torch.cuda.mem_get_info(index)
        return int(free + torch.cuda.memory_reserved(index) - torch.cuda.memory_allocated(index))
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except OSError:
        pass
    if available is None:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            available = min(available, int(limit) - used)
    except (OSError, ValueError):
        pass
    return max(0, available)


def auto_tile(bytes_per_pixel: float, pad: int, free: int, reserve: int = 0, largest: int = 512) -> int:
    """The largest tile side (a multiple of 8, at most ``largest``) whose padded tile needs at most
    half of ``free`` bytes once ``reserve`` (e.g. the output image) is set aside.

    Raises :class:`InputError` when not even a ``MIN_TILE`` tile fits.
    """
    budget = (free - reserve) / 2
    side = int(math.sqrt(max(budget, 0) / bytes_per_pixel)) - 2 * pad
    if side < MIN_TILE:
        raise InputError(
            f"not enough free memory: {free / 2**20:.0f} MiB free, {reserve / 2**20:.0f} MiB of it needed for the "
            f"output, and a {MIN_TILE}-pixel tile needs {bytes_per_pixel * (MIN_TILE + 2 * pad) ** 2 / 2**20:.0f} MiB"
        )
    return min(largest, side // 8 * 8)
