"""Detect throughput: optik end to end vs the bare forward pass, per model, on 640×480 JPEGs.

    python bench/detect.py [--images 48] [--batch-size 8] [--threads 1] [--models nanodet,mtcnn]

Builds 640×480 JPEGs from scikit-image's sample photos (random crops and flips; bench/data/, reused),
then for each model, in this process:
  bare   the network alone on inputs already decoded and prepared (NanoDet: the 416×416 forward pass
         on batches; MTCNN: its P/R/O-Net cascade, which is its forward pass, one image at a time)
  e2e    optik's pipeline: read + decode + prepare + batch + forward + decode/NMS + records
  e2e -o the same, also drawing and writing an annotated image per input (JPEG, as the input)
and prints images/s, ms per image and the ratios as a Markdown table (paste into bench/README.md).
``--threads 1`` by default: the figures are meant for a shared 2-core box, where two OpenMP threads
fighting other processes run many times slower.
"""

from __future__ import annotations

import optik  # noqa: F401  first, as in the optik command: torch then loads with OpenMP threads that sleep

# isort: split
import argparse
import tempfile
import time
from pathlib import Path

from classify import make_images  # bench/ is the script's folder, so on sys.path

HERE = Path(__file__).resolve().parent
SIZE = (640, 480)


def bare(model: str, paths: list[Path], batch_size: int) -> float:
    """Seconds for the network alone on already prepared inputs."""
    from optik.io.inputs import discover
    from optik.preprocess.decode import DEFAULT_MAX_PIXELS
    from optik.tasks import create_task
    from optik.tasks.settings import DetectSettings

    detector = create_task("detect", DetectSettings(), model, "cpu")
    items = discover([str(p) for p in paths])
    arrays = [detector.prepare(item.load(DEFAULT_MAX_PIXELS, None)).array for item in items]
    if model == "mtcnn":  # the P/R/O-Net cascade is its forward pass, one image at a time
        detector.forward(arrays[:1])  # warm-up
        start = time.perf_counter()
        for array in arrays:
            detector.forward([array])
        return time.perf_counter() - start
    from optik.preprocess.transforms import to_batch

    loaded = detector.model
    batches = [
        to_batch(arrays[i : i + batch_size], detector.spec, loaded.device, loaded.dtype)
        for i in range(0, len(arrays), batch_size)
    ]
    loaded(batches[0])  # warm-up
    start = time.perf_counter()
    for batch in batches:
        loaded(batch)
    return time.perf_counter() - start


def end_to_end(model: str, paths: list[Path], batch_size: int, annotate: bool) -> float:
    """Seconds for optik's pipeline over the files, optionally writing annotated images (the output stage)."""
    from optik import pipeline
    from optik.io.inputs import discover
    from optik.io.outputs import OutputPlan, OutputStage
    from optik.tasks import create_task
    from optik.tasks.settings import DetectSettings

    items = discover([str(p) for p in paths])
    detector = create_task("detect", DetectSettings(), model, "cpu")
    with tempfile.TemporaryDirectory() as out:
        stage = OutputStage(OutputPlan(f"{out}/", many=True, overwrite=True)) if annotate else None
        list(pipeline.run(detector, items[:batch_size], batch_size, deliver=stage))  # warm-up (writes a few)
        start = time.perf_counter()
        outcomes = list(pipeline.run(detector, items, batch_size, workers=2, deliver=stage))
        elapsed = time.perf_counter() - start
    assert all(o.error is None for o in outcomes), [o.error for o in outcomes if o.error]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", default="nanodet,mtcnn")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    paths = make_images(HERE / "data" / "detect-640x480", args.images, *SIZE)
    print(
        f"{len(paths)} JPEGs of {SIZE[0]}×{SIZE[1]}, batch {args.batch_size}, torch {torch.__version__}, "
        f"{args.threads} thread(s), CPU\n"
    )
    print("| model | run | images/s | ms / image | ratio to bare |")
    print("| --- | --- | ---: | ---: | ---: |")
    for model in args.models.split(","):
        base = bare(model, paths, args.batch_size)
        rows = [("bare forward pass", base)]
        rows.append(("optik end to end (records)", end_to_end(model, paths, args.batch_size, False)))
        rows.append(("end to end + annotated JPEG (-o)", end_to_end(model, paths, args.batch_size, True)))
        for name, seconds in rows:
            rate = len(paths) / seconds
            print(f"| {model} | {name} | {rate:.1f} | {1e3 / rate:.1f} | {base / seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
