"""Where a folder's time goes: optik's pipeline stage by stage, against the bare forward pass on the same images.

    .venv/bin/python bench/overhead.py [--threads 1] [--images 160] [--only classify-320x240,detect-640x480]

Workloads (JPEGs written once to bench/data/ by bench/classify.py's and bench/detect.py's generators):
  classify-320x240    mobilenet_v2, batch 8: small images, where per-image costs show
  classify-1600x1200  mobilenet_v2, batch 8: decode-heavy
  detect-640x480      nanodet, batch 8
Each stage's CPU time is measured on the thread that runs it (``getrusage(RUSAGE_THREAD)``: user and system
separately): read (the file), decode, prepare (resize, crop, letterbox), to_batch (stacking and normalising),
model (the network through its backend), forward (rest) (what the family's ``forward`` does on the main
thread besides: softmax, NanoDet's box decoding and NMS), finish (top-k, boxes to the original pixels,
records; on the worker threads). What the process spent beyond those is the pipeline's own overhead (thread
pool, futures, queues, the garbage collector). ``bare`` runs the same model on the same prepared batches alone.
With one thread (the default here) the network's work stays on the calling thread, so the stages add up.
"""

from __future__ import annotations

import optik  # noqa: F401  first, as in the optik command: torch then loads with OpenMP threads that sleep

# isort: split
import argparse
import os
import resource
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
STAGES = ("read", "decode", "prepare", "to_batch", "model", "forward (rest)", "finish")


class StageClock:
    """CPU time (user, system) and calls per stage, summed over threads; nested stages count in the innermost."""

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
        self.lock = threading.Lock()
        self.local = threading.local()

    def wrap(self, stage: str, function: Callable) -> Callable:
        def timed(*args: Any, **kwargs: Any) -> Any:
            outer = getattr(self.local, "stage", None)
            start = resource.getrusage(resource.RUSAGE_THREAD)
            self.local.stage = stage
            try:
                return function(*args, **kwargs)
            finally:
                end = resource.getrusage(resource.RUSAGE_THREAD)
                self.local.stage = outer
                user, system = end.ru_utime - start.ru_utime, end.ru_stime - start.ru_stime
                with self.lock:
                    totals = self.totals[stage]
                    totals[0] += user
                    totals[1] += system
                    totals[2] += 1
                    if outer is not None:  # exclusive times: the outer stage does not count this one
                        self.totals[outer][0] -= user
                        self.totals[outer][1] -= system

        return timed


def task_for(workload: str) -> tuple[Any, list[Path]]:
    sys.path.insert(0, str(HERE))
    from classify import make_images
    from optik.registry import get_spec
    from optik.registry.loading import load
    from optik.tasks.classify import Classifier
    from optik.tasks.detect import NanoDetDetector
    from optik.tasks.settings import ClassifySettings, DetectSettings

    kind, size = workload.split("-")
    width, height = map(int, size.split("x"))
    if kind == "classify":
        paths = make_images(HERE / "data" / f"classify-{size}", ARGS.images, width, height)
        return Classifier(load(get_spec("mobilenet_v2"), "cpu", backend=ARGS.backend), ClassifySettings()), paths
    paths = make_images(HERE / "data" / "detect-640x480", ARGS.images, 640, 480)
    return NanoDetDetector(load(get_spec("nanodet"), "cpu", backend=ARGS.backend), DetectSettings()), paths


def profile(workload: str) -> None:
    import optik.preprocess.decode as decode_module
    import optik.tasks.classify
    import optik.tasks.detect
    from optik import pipeline
    from optik.io import inputs
    from optik.io.inputs import discover
    from optik.registry.loading import LoadedModel

    task, paths = task_for(workload)
    items = discover([str(p) for p in paths])
    list(pipeline.run(task, items[:16], 8))  # warm-up (and the export or trace of the first call)
    clock = StageClock()
    inputs.read_regular_file = clock.wrap("read", inputs.read_regular_file)
    decode_module.decode = clock.wrap("decode", decode_module.decode)
    task.prepare = clock.wrap("prepare", task.prepare)
    task.forward = clock.wrap("forward (rest)", task.forward)
    for module in (optik.tasks.classify, optik.tasks.detect):
        module.to_batch = clock.wrap("to_batch", module.to_batch)
    task.finish = clock.wrap("finish", task.finish)
    LoadedModel.__call__ = clock.wrap("model", LoadedModel.__call__)
    start, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    outcomes = list(pipeline.run(task, items, 8, workers=2))
    wall, end = time.perf_counter() - wall, resource.getrusage(resource.RUSAGE_SELF)
    totals = {stage: list(clock.totals[stage]) for stage in STAGES}
    assert all(o.error is None for o in outcomes), [o.error for o in outcomes if o.error][:3]
    bare_ms = bare_forward(task, outcomes)
    count = len(outcomes)
    process = (end.ru_utime - start.ru_utime, end.ru_stime - start.ru_stime)
    accounted = [sum(totals[s][i] for s in STAGES) for i in (0, 1)]
    model = f"{task.model.spec.name} ({task.model.backend})"
    print(f"\n### {workload}: {count} images, {model}, {ARGS.threads} thread(s)\n")
    print("| stage | user ms / image | system ms / image | share of CPU |")
    print("| --- | ---: | ---: | ---: |")
    total = sum(process)
    rows = [(stage, *totals[stage][:2]) for stage in STAGES]
    rows.append(("pipeline overhead (the rest)", process[0] - accounted[0], process[1] - accounted[1]))
    for stage, user, system in rows:
        print(f"| {stage} | {user / count * 1e3:.2f} | {system / count * 1e3:.2f} | {(user + system) / total:.0%} |")
    print(f"| **all** | {process[0] / count * 1e3:.2f} | {process[1] / count * 1e3:.2f} | 100% |")
    print(
        f"\nwall: {count / wall:.1f} images/s end to end; bare forward {bare_ms:.2f} ms / image "
        f"(end to end {wall / count * 1e3 / bare_ms:.2f} × bare); load average {os.getloadavg()[0]:.1f}"
    )


def bare_forward(task: Any, outcomes: list) -> float:
    """Milliseconds per image of the model alone on the same prepared inputs, batch 8."""
    from optik.preprocess.transforms import to_batch

    arrays = [task.prepare(outcome.item.load(10**9, None)).array for outcome in outcomes[:64]]
    tensors = [to_batch(arrays[i : i + 8], task.spec) for i in range(0, len(arrays), 8)]
    task.model(tensors[0])
    start = time.perf_counter()
    for tensor in tensors:
        task.model(tensor)
    return (time.perf_counter() - start) / len(arrays) * 1e3


ARGS = argparse.Namespace()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--images", type=int, default=160)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--only", default="classify-320x240,classify-1600x1200,detect-640x480")
    parser.parse_args(namespace=ARGS)
    torch.set_num_threads(ARGS.threads)
    for workload in ARGS.only.split(","):
        profile(workload)


if __name__ == "__main__":
    main()
