"""What every task provides to the pipeline, and the checks every output goes through."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from optik.errors import InputError
from optik.io.inputs import InputItem
from optik.preprocess.decode import Image


@dataclass
class Prepared:
    """One image ready for the network: the input array, what is needed to map results back, a batch key."""

    image: Image
    array: np.ndarray
    context: Any = None
    key: tuple = field(default=())
    item: InputItem | None = None  # the input it came from (set by the pipeline; None in the Python API)


class Result(Protocol):
    def to_record(self) -> dict[str, Any]: ...

    def to_text(self) -> str: ...

    def csv_rows(self) -> list[dict[str, Any]]: ...


class Task(Protocol):
    """prepare (worker threads) → forward (one batch on the device) → finish (worker threads).

    A task may set ``decode_min_side``: the shorter side it needs at most, so that large JPEGs
    can be decoded at a reduced scale (see :func:`optik.preprocess.decode.decode`), and
    ``batch_limit``: the most images one forward call takes (1 for tile-by-tile tasks).
    """

    def prepare(self, image: Image) -> Prepared: ...

    def forward(self, arrays: list[np.ndarray]) -> list[Any]: ...

    def finish(self, prepared: Prepared, output: Any) -> Result: ...


def check_sane(values: np.ndarray, what: str, name: str, allow_constant: bool = False) -> None:
    """A NaN, infinite, all-black or all-constant model output is an error, never a silent result."""
    if not np.isfinite(values).all():
        raise InputError(f"{name}: the model produced NaN or infinite {what}")
    if not allow_constant and values.size > 1 and float(values.max()) == float(values.min()):
        raise InputError(f"{name}: the model produced constant {what} (all {float(values.max()):g})")
