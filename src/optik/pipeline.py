"""The one run path: read + decode + prepare (threads) → batch → forward → finish + deliver (threads).

The CLI, the Python API and the Ray Data stages all run tasks through :func:`run`. Outcomes come
back in input order, each as soon as it and everything before it is done, so JSON Lines stream
while the batch goes on. A failing input becomes an error outcome in its place; the rest go on.
``deliver`` (the output stage) runs on the worker threads right after ``finish``, so encoding and
writing overlap with the next forward pass.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from optik.errors import InputError, ModelUnavailable, OptikError
from optik.preprocess.decode import DEFAULT_MAX_PIXELS, Image
from optik.tasks.base import Prepared, Task


class Source(Protocol):
    """One input: a file, stdin or an in-memory image (:mod:`optik.io.inputs`)."""

    source: str  # how records name it
    relative: Path  # where its outputs go below an output directory

    def load(self, max_pixels: int, min_side: int | None) -> Image: ...


@dataclass
class Outcome:
    """What happened to one input."""

    item: Source
    result: Any = None
    error: str | None = None
    skipped: bool = False
    timing_ms: dict[str, float] = field(default_factory=dict)


def _error_text(exc: BaseException, item: Source) -> str:
    if isinstance(exc, OptikError):
        return str(exc)
    return f"{item.source}: {exc.__class__.__name__}: {exc}"


def _settled(outcome: Outcome) -> Future:
    future: Future = Future()
    future.set_result(outcome)
    return future


def _prepare(
    task: Task, item: Source, max_pixels: int, refuse: Callable[[Source], None] | None
) -> tuple[Prepared, float]:
    start = time.perf_counter()
    if refuse is not None:
        refuse(item)  # e.g. an existing output without --overwrite: before decoding
    prepared = task.prepare(item.load(max_pixels, task.decode_min_side))
    prepared.item = item
    return prepared, (time.perf_counter() - start) * 1e3


def _finish(
    task: Task,
    prepared: Prepared,
    output: Any,
    outcome: Outcome,
    slot: Future,
    deliver: Callable[[Source, Any], None] | None,
) -> None:
    start = time.perf_counter()
    try:
        outcome.result = task.finish(prepared, output)
        if deliver is not None:
            deliver(outcome.item, outcome.result)
    except ModelUnavailable as exc:
        slot.set_exception(exc)
        return
    except Exception as exc:
        outcome.result, outcome.error = None, _error_text(exc, outcome.item)
    outcome.timing_ms["post"] = (time.perf_counter() - start) * 1e3
    slot.set_result(outcome)


def run(
    task: Task,
    items: Iterable[Source],
    batch_size: int = 8,
    workers: int = 2,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    skip: Callable[[Source], bool] | None = None,
    refuse: Callable[[Source], None] | None = None,
    deliver: Callable[[Source, Any], None] | None = None,
) -> Iterator[Outcome]:
    """Yield one :class:`Outcome` per item, in input order.

    At most one batch plus one image per worker is decoded ahead, so memory stays bounded on large
    images; a task that works image by image says so with ``batch_limit = 1``. ``skip`` leaves an item
    alone (``--skip-existing``), ``refuse`` may raise before it is decoded, ``deliver`` receives each
    result (the output stage).
    """
    batch_size = min(batch_size, task.batch_limit or batch_size)
    window = batch_size + workers
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="optik") as pool:
        pending: deque[tuple[Source, Future | None]] = deque()
        slots: deque[Future] = deque()  # one per item, in input order
        queue = iter(items)

        def top_up() -> None:
            while len(pending) < window:
                item = next(queue, None)
                if item is None:
                    return
                skipped = skip is not None and skip(item)
                pending.append((item, None if skipped else pool.submit(_prepare, task, item, max_pixels, refuse)))

        def drain(block: bool) -> Iterator[Outcome]:
            while slots and (block or slots[0].done()):
                yield slots.popleft().result()

        try:
            top_up()
            while pending:
                batch: list[tuple[Prepared, Outcome, Future]] = []
                while pending and len(batch) < batch_size:
                    item, future = pending[0]
                    if future is None:
                        pending.popleft()
                        slots.append(_settled(Outcome(item, skipped=True)))
                        top_up()
                        continue
                    try:
                        prepared, pre_ms = future.result()
                    except ModelUnavailable:
                        raise
                    except Exception as exc:
                        pending.popleft()
                        slots.append(_settled(Outcome(item, error=_error_text(exc, item))))
                        top_up()
                        continue
                    if batch and prepared.key != batch[0][0].key:
                        break  # a different shape starts the next batch
                    pending.popleft()
                    slot: Future = Future()
                    slots.append(slot)
                    batch.append((prepared, Outcome(item, timing_ms={"pre": pre_ms}), slot))
                    top_up()
                if batch:
                    _forward(task, batch, pool, deliver)
                yield from drain(block=False)
            yield from drain(block=True)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _forward(
    task: Task,
    batch: list[tuple[Prepared, Outcome, Future]],
    pool: ThreadPoolExecutor,
    deliver: Callable[[Source, Any], None] | None,
) -> None:
    start = time.perf_counter()
    try:
        outputs = task.forward([prepared.array for prepared, _, _ in batch])
    except ModelUnavailable:
        raise
    except Exception as exc:
        for _, outcome, slot in batch:
            failure = InputError(f"{outcome.item.source}: inference failed ({exc})")
            outcome.error = _error_text(failure, outcome.item)
            slot.set_result(outcome)
        return
    infer_ms = (time.perf_counter() - start) * 1e3 / len(batch)
    for (prepared, outcome, slot), output in zip(batch, outputs, strict=True):
        outcome.timing_ms["infer"] = infer_ms
        pool.submit(_finish, task, prepared, output, outcome, slot, deliver)
