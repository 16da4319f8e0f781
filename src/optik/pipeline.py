"""Runs a task over many inputs: read + decode + prepare (threads) → batch → forward → finish (threads).

Outcomes come back in input order, each as soon as it and everything before it is done, so
JSON Lines stream while the batch goes on. A failing input becomes an error outcome; the rest go on.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from optik.errors import InputError, ModelUnavailable, OptikError
from optik.io.inputs import InputItem
from optik.preprocess.decode import DEFAULT_MAX_PIXELS, decode
from optik.tasks.base import Prepared, Task


@dataclass
class Outcome:
    """What happened to one input."""

    item: InputItem
    result: Any = None
    error: str | None = None
    skipped: bool = False
    timing_ms: dict[str, float] = field(default_factory=dict)


def _error_text(exc: BaseException, item: InputItem) -> str:
    if isinstance(exc, OptikError):
        return str(exc)
    return f"{item.source}: {exc.__class__.__name__}: {exc}"


def _prepare(
    task: Task, item: InputItem, max_pixels: int, refuse: Callable[[InputItem], None] | None
) -> tuple[Prepared, float]:
    start = time.perf_counter()
    if refuse is not None:
        refuse(item)  # e.g. an existing output without --overwrite: before decoding
    image = decode(item.read(), item.source, max_pixels, getattr(task, "decode_min_side", None))
    prepared = task.prepare(image)
    prepared.item = item
    return prepared, (time.perf_counter() - start) * 1e3


def _finish(task: Task, prepared: Prepared, output: Any, outcome: Outcome) -> Outcome:
    start = time.perf_counter()
    try:
        outcome.result = task.finish(prepared, output)
    except ModelUnavailable:
        raise
    except Exception as exc:
        outcome.error = _error_text(exc, outcome.item)
    outcome.timing_ms["post"] = (time.perf_counter() - start) * 1e3
    return outcome


def run(
    task: Task,
    items: list[InputItem],
    batch_size: int = 8,
    workers: int = 2,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    skip: Callable[[InputItem], bool] | None = None,
    refuse: Callable[[InputItem], None] | None = None,
) -> Iterator[Outcome]:
    """Yield one :class:`Outcome` per item, in order.

    At most one batch plus one image per worker is decoded ahead, so memory stays bounded on large images;
    a task that works image by image says so with ``batch_limit = 1``.
    """
    batch_size = min(batch_size, getattr(task, "batch_limit", batch_size))
    window = batch_size + workers
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="optik") as pool:
        pending: deque[tuple[InputItem, Future | None]] = deque()
        finished: deque[Future | Outcome] = deque()
        queue = iter(items)

        def top_up() -> None:
            while len(pending) < window:
                item = next(queue, None)
                if item is None:
                    return
                skipped = skip is not None and skip(item)
                pending.append((item, None if skipped else pool.submit(_prepare, task, item, max_pixels, refuse)))

        def drain(block: bool) -> Iterator[Outcome]:
            while finished and (block or not isinstance(finished[0], Future) or finished[0].done()):
                head = finished.popleft()
                yield head.result() if isinstance(head, Future) else head

        try:
            top_up()
            while pending:
                batch: list[tuple[Prepared, Outcome]] = []
                while pending and len(batch) < batch_size:
                    item, future = pending[0]
                    if future is None:
                        pending.popleft()
                        finished.append(Outcome(item, skipped=True))
                        top_up()
                        continue
                    try:
                        prepared, pre_ms = future.result()
                    except ModelUnavailable:
                        raise
                    except Exception as exc:
                        pending.popleft()
                        finished.append(Outcome(item, error=_error_text(exc, item)))
                        top_up()
                        continue
                    if batch and prepared.key != batch[0][0].key:
                        break  # a different shape starts the next batch
                    pending.popleft()
                    batch.append((prepared, Outcome(item, timing_ms={"pre": pre_ms})))
                    top_up()
                if batch:
                    _forward(task, batch, pool, finished)
                yield from drain(block=False)
            yield from drain(block=True)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _forward(
    task: Task, batch: list[tuple[Prepared, Outcome]], pool: ThreadPoolExecutor, finished: deque
) -> Iterator[Outcome]:
    start = time.perf_counter()
    try:
        outputs = task.forward([prepared.array for prepared, _ in batch])
    except ModelUnavailable:
        raise
    except Exception as exc:
        for _, outcome in batch:
            outcome.error = _error_text(InputError(f"{outcome.item.source}: inference failed ({exc})"), outcome.item)
            finished.append(outcome)
        return
    infer_ms = (time.perf_counter() - start) * 1e3 / len(batch)
    for (prepared, outcome), output in zip(batch, outputs, strict=True):
        outcome.timing_ms["infer"] = infer_ms
        finished.append(pool.submit(_finish, task, prepared, output, outcome))
