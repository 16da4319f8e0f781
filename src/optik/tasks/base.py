"""What every task provides to the pipeline, the base of the family adapters, and the output checks.

A task is a family adapter bound to one loaded model and the task's settings: ``prepare`` (worker
threads) → ``forward`` (one batch on the device) → ``finish`` (worker threads) → a result. Results
are data: they render their images on demand, and only the output stage (:mod:`optik.io.outputs`)
writes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from optik.errors import InputError

if TYPE_CHECKING:
    from optik.io.inputs import InputItem
    from optik.preprocess.decode import Image
    from optik.registry.loading import LoadedModel


@dataclass
class Prepared:
    """One image ready for the network: the input array, what is needed to map results back, a batch key."""

    image: Image
    array: np.ndarray
    context: Any = None
    key: tuple = field(default=())
    item: InputItem | None = None  # the input it came from (set by the pipeline)


class Result(Protocol):
    """A task's answer for one image: a record, a line of text, CSV rows."""

    def to_record(self) -> dict[str, Any]: ...

    def to_text(self) -> str: ...

    def csv_rows(self) -> list[dict[str, Any]]: ...


class ImageResult:
    """A result with a picture: :meth:`render` makes it, :meth:`save` writes it (atomically, in the format
    of the path's extension; PNG without one)."""

    def render(self) -> Image:
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        from optik.io.outputs import save_image

        return save_image(self.render(), Path(path))


class Task(Protocol):
    """prepare → forward → finish. ``decode_min_side``: the shorter side the task needs at most, so that
    large JPEGs can be decoded reduced; ``batch_limit``: the most images one forward call takes."""

    model: LoadedModel
    decode_min_side: int | None
    batch_limit: int | None

    def prepare(self, image: Image) -> Prepared: ...

    def forward(self, arrays: list[np.ndarray]) -> list[Any]: ...

    def finish(self, prepared: Prepared, output: Any) -> Result: ...


#: Input pixels in one forward call on a CPU, where batching large inputs only costs: ISNet's 1024² images
#: take 2.9 s each one at a time through optik's pipeline, 3.5 s each four at a time (bench/cutouts.py).
CPU_BATCH_PIXELS = 1 << 20


class Family:
    """Base of the family adapters: the loaded model, its registry row, the task's settings (checked
    against the row). Subclasses provide prepare, forward and finish."""

    decode_min_side: int | None = None
    batch_limit: int | None = None
    csv_fields: tuple[str, ...] = ("path", "model")  # the CSV columns of the task's records

    @staticmethod
    def notify(text: str) -> None:
        """Progress within one input (``tile 3/70``); the CLI replaces it with its progress line's."""

    def __init__(self, model: LoadedModel, settings: Any):
        settings.check(model.spec)
        self.model, self.settings = model, settings

    @property
    def name(self) -> str:
        return self.model.spec.name


def check_sane(values: np.ndarray, what: str, name: str, allow_constant: bool = False) -> None:
    """A NaN, infinite, all-black or all-constant model output is an error, never a silent result."""
    if not np.isfinite(values).all():
        raise InputError(f"{name}: the model produced NaN or infinite {what}")
    if not allow_constant and values.size > 1 and float(values.max()) == float(values.min()):
        raise InputError(f"{name}: the model produced constant {what} (all {float(values.max()):g})")
