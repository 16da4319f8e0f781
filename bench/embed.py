"""Embed throughput (optik's pipeline vs the bare forward pass) and search speed over 100k vectors.

    python bench/embed.py [--images 96] [--rounds 3] [--threads 1] [--vectors 100000]

1. Embed: JPEGs of 1024x768 cut from scikit-image's photos, in a temporary folder. Per model, rounds of
   ``bare`` (the embedder module alone on batches of 8 already decoded, resized and normalised: the limit) and
   ``pipeline`` (``optik.pipeline.run`` over the files: read, decode, resize, perceptual hash and sharpness on
   2 worker threads, batches of 8, the forward pass, the unit-length check), interleaved A/B in one process;
   medians of images/s and their ratio (target ≥ 0.8), and the preparation's own cost per image on one
   thread: where no core is idle (a loaded machine) the pipeline cannot hide it, and the ratio tends to
   forward / (forward + preparation).
2. Search: ``--vectors`` random unit vectors of 1280 dimensions (the embed rows' size), exact top-10 for single
   queries and for batches of 32: NumPy, and faiss's IndexFlatIP when ``faiss`` imports; median ms per query.
"""

from __future__ import annotations

import optik  # noqa: F401  first, as in the optik command: torch then loads with OpenMP threads that sleep

# isort: split
import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from classify import make_images  # bench/ is the script's folder, so on sys.path
from optik import pipeline
from optik.io.inputs import discover
from optik.preprocess.transforms import prepare, to_batch
from optik.tasks import create_task
from optik.tasks.settings import EmbedSettings
from optik.tasks.similar import VectorSearch, faiss_module

BATCH = 8


def bare_forward(task: object, batches: list[torch.Tensor], count: int) -> float:
    """Images/s of the embedder module alone on prepared batches."""
    start = time.perf_counter()
    for batch in batches:
        task.model(batch)
    return count / (time.perf_counter() - start)


def end_to_end(task: object, items: list) -> float:
    """Images/s of the pipeline over the files."""
    start = time.perf_counter()
    outcomes = list(pipeline.run(task, items, BATCH, workers=2))
    assert all(o.error is None for o in outcomes)
    return len(outcomes) / (time.perf_counter() - start)


def preparation_ms(task: object, items: list) -> float:
    """Milliseconds per image of what the worker threads do before the forward pass (read, decode, resize,
    perceptual hash, sharpness), on the calling thread."""
    start = time.perf_counter()
    for item in items:
        task.prepare(item.load(100_000_000, task.decode_min_side))
    return (time.perf_counter() - start) * 1e3 / len(items)


def bench_embed(paths: list[str], rounds: int) -> None:
    print("| model | bare forward (img/s) | pipeline (img/s) | pipeline / bare | preparation (ms/img) |")
    print("| --- | --- | --- | --- | --- |")
    for model in ("efficientnet_lite0-embed", "mobilenet_v2-embed"):
        task = create_task("embed", EmbedSettings(), model, "cpu")
        arrays = [prepare(cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB), task.spec)[0] for p in paths]
        batches = [to_batch(arrays[i : i + BATCH], task.spec) for i in range(0, len(arrays), BATCH)]
        items = discover(paths)
        bare_forward(task, batches, len(paths)), end_to_end(task, items)  # warm-up
        speeds: dict[str, list[float]] = {"bare": [], "pipeline": [], "preparation": []}
        for _ in range(rounds):  # interleaved, so that all see the same load
            speeds["bare"].append(bare_forward(task, batches, len(paths)))
            speeds["pipeline"].append(end_to_end(task, items))
            speeds["preparation"].append(preparation_ms(task, items))
        bare, piped, prep = (statistics.median(speeds[k]) for k in ("bare", "pipeline", "preparation"))
        print(f"| {model} | {bare:.1f} | {piped:.1f} | {piped / bare:.2f} | {prep:.1f} |")


def bench_search(count: int, dim: int = 1280) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((count, dim), np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[rng.integers(0, count, 64)] + 0.01 * rng.standard_normal((64, dim), np.float32)
    print(
        f"\n| search over {count:,} x {dim} (float32, {vectors.nbytes / 1e6:.0f} MB) | single query (ms) "
        "| batch of 32 (ms/query) | build (s) |"
    )
    print("| --- | --- | --- | --- |")
    backends = ["numpy"] + (["faiss"] if faiss_module() is not None else [])
    for backend in backends:
        start = time.perf_counter()
        search = VectorSearch(vectors, backend)
        build = time.perf_counter() - start
        single, batched = [], []
        for query in queries[:32]:
            start = time.perf_counter()
            search.search(query, 10)
            single.append((time.perf_counter() - start) * 1e3)
        for _ in range(3):
            start = time.perf_counter()
            search.search(queries[:32], 10)
            batched.append((time.perf_counter() - start) * 1e3 / 32)
        name = backend if backend == "numpy" else f"faiss {faiss_module().__version__} IndexFlatIP"
        print(f"| {name} | {statistics.median(single):.1f} | {statistics.median(batched):.2f} | {build:.2f} |")
    if "faiss" not in backends:
        print("| faiss | not installed (pip install faiss-cpu) | | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--vectors", type=int, default=100_000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    print(
        f"# bench/embed.py: torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} cores, "
        f"load average {load[0]:.1f} at the start\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        bench_embed([str(path) for path in make_images(Path(tmp), args.images, 1024, 768)], args.rounds)
    bench_search(args.vectors)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
