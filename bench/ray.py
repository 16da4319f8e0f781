"""optik on Ray Data against the local engine on this box: throughput of one and two actors, and what Ray adds.

    .venv/bin/python bench/ray.py [--images 640] [--rounds 3] [--size 320x240]

Workload: classify (mobilenet_v2, batch 8) over the 160 JPEGs of bench/classify.py's generator
(bench/data/classify-WxH, reused), listed over and over up to N. Each round runs every engine on 8 and on
N images, in an order that rotates from round to round:
  local   the local engine in this process: optik.pipeline.run and the records (run_job without the
          printing), with this machine's thread plan (2 cores: 1 torch thread + 1 decode worker); its model
          is loaded once before the rounds
  ray×1   optik.ray.run on a local Ray (ray.init(num_cpus=2)): one actor of 1 CPU (1 torch thread + 1 decode
          worker), started and loading its model in every run, as a command does
  ray×2   the same with two actors
Each run's wall time is T(n) = fixed + n × per_image: per_image = (T(N) − T(8)) / (N − 8), fixed = T(N) −
N × per_image. Medians over the rounds. Prints a Markdown table (paste into bench/README.md).
"""

from __future__ import annotations

import optik  # noqa: F401  first, as in the optik command: torch then loads with OpenMP threads that sleep

# isort: split
import argparse
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if Path(sys.path[0]).resolve() == HERE:  # run as a script, this file would be `import ray`: Ray must win
    sys.path.pop(0)
ENGINES = ("local", "ray×1", "ray×2")


def local_engine(items: list) -> float:
    """The local engine's wall time on ``items``: every record built and serialised, as run_job does."""
    from optik import pipeline
    from optik.cli.threads import plan_threads
    from optik.io.records import result_record
    from optik.tasks import create_task
    from optik.tasks.settings import ClassifySettings

    task = create_task("classify", ClassifySettings(), "mobilenet_v2", "cpu")  # loaded once: cached per process
    provenance = task.model.provenance()
    start = time.perf_counter()
    for outcome in pipeline.run(task, items, 8, plan_threads().workers):
        assert outcome.error is None, outcome.error
        json.dumps(result_record(outcome.result, provenance, outcome.timing_ms))
    return time.perf_counter() - start


def ray_engine(items: list, actors: int) -> float:
    """optik.ray's wall time on ``items`` with ``actors`` actors of one CPU, actor start and model load included."""
    import optik.ray
    from optik.tasks.settings import ClassifySettings

    start = time.perf_counter()
    rows = list(optik.ray.run("classify", ClassifySettings(), items, model="mobilenet_v2", concurrency=actors))
    elapsed = time.perf_counter() - start
    assert sorted(row.path for row in rows) == sorted(item.source for item in items)
    assert {row.status for row in rows} == {"processed"}
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=640)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", default="320x240")
    args = parser.parse_args()

    import ray.data  # binds `ray`; a bare `import ray` would read as this file to ruff's isort
    import torch

    sys.path.append(str(HERE))
    from classify import make_images
    from optik.cli.threads import plan_threads
    from optik.io.inputs import discover

    width, height = map(int, args.size.split("x"))
    folder = HERE / "data" / f"classify-{args.size}"
    make_images(folder, 160, width, height)
    files = discover([str(folder)])[:160]
    everything = [files[index % len(files)] for index in range(args.images)]
    sizes = (8, len(everything))
    torch.set_num_threads(plan_threads().torch)
    start = time.perf_counter()
    local_engine(everything[:8])
    load_s = time.perf_counter() - start
    logging.getLogger("ray").setLevel(logging.WARNING)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # no line per execution
    runs = {
        "local": local_engine,
        "ray×1": lambda items: ray_engine(items, 1),
        "ray×2": lambda items: ray_engine(items, 2),
    }
    load_before = os.getloadavg()[0]
    times: dict[tuple[str, int], list[float]] = {(engine, n): [] for engine in ENGINES for n in sizes}
    for round_index in range(args.rounds):
        order = ENGINES[round_index % 3 :] + ENGINES[: round_index % 3]
        for engine in order:
            for n in sizes:
                times[engine, n].append(runs[engine](everything[:n]))
        print(f"round {round_index + 1}: " + ", ".join(f"{k[0]} {k[1]}: {v[-1]:.2f} s" for k, v in times.items()))
    load_after = os.getloadavg()[0]
    ray.shutdown()

    small, full = sizes
    median = {key: statistics.median(values) for key, values in times.items()}
    per_image = {engine: (median[engine, full] - median[engine, small]) / (full - small) for engine in ENGINES}
    fixed = {engine: median[engine, full] - full * per_image[engine] for engine in ENGINES}
    local_rate = full / median["local", full]
    print(
        f"\n{full} JPEGs of {args.size} (160 files), classify mobilenet_v2, batch 8, medians of {args.rounds} rounds; "
        f"load average {load_before:.1f} → {load_after:.1f}; local model load {load_s:.1f} s (not in the table)\n"
    )
    print(f"| engine | {full} images: s | images/s | × local | steady images/s | ms/image | fixed s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for engine in ENGINES:
        rate = full / median[engine, full]
        print(
            f"| {engine} | {median[engine, full]:.2f} | {rate:.1f} | {rate / local_rate:.2f} | "
            f"{1 / per_image[engine]:.1f} | {1e3 * per_image[engine]:.2f} | {fixed[engine]:.2f} |"
        )
    added = 1e3 * (per_image["ray×1"] - per_image["local"])
    print(f"\nRay adds {added:+.2f} ms per image (one actor against the local engine on the same CPU budget)")
    print(f"and {fixed['ray×1'] - fixed['local']:.2f} s per run (actor start, torch import, model load, planning).")


if __name__ == "__main__":
    main()
