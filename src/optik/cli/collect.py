"""Running a task over inputs for a command whose records are not one per image (``dedupe``, ``faces cluster``):
the same pipeline, progress line and error lines as every task, the results kept for what comes after."""

from __future__ import annotations

import sys
from typing import Any

from optik.cli.common import RunOptions, fail


def collect(task: Any, items: list, run: RunOptions) -> tuple[list[tuple[Any, Any]], int]:
    """``(item, result)`` for every input that worked, in input order, and how many failed (each said on stderr)."""
    from optik import pipeline

    results, failed = [], 0
    progress = run.progress
    errors = progress.stream(sys.stderr)
    progress.start(len(items))
    try:
        for outcome in pipeline.run(task, items, run.batch_size, run.workers, run.max_pixels):
            progress.advance(outcome.item.source)
            if outcome.error is not None:
                failed += 1
                fail(outcome.error, errors)
            else:
                results.append((outcome.item, outcome.result))
    finally:
        progress.close()
    return results, failed
