"""The default thread plan against every ``--threads`` choice, and start-up against ``import torch``.

    python bench/threads.py [--rounds 3]

Workloads (separate ``optik`` processes, wall time; rounds interleave the variants, each round in a rotated
order, medians reported):
  classify   24 JPEGs of 1600×1200 (bench/data/classify-1600x1200, made by bench/classify.py's generator)
  detect     24 JPEGs of 640×480 with nanodet
  enhance    a 200×150 crop of coffee through realesrgan-x4plus-anime (one image at a time: torch gets every CPU)
  segment    4 JPEGs of 1600×1200 through isnet, when it is pulled (idem)
and ``one image``: ``optik classify one.jpg`` against ``python -c "import torch"``. The machine's load
average is printed with the results: on a shared box the ratios hold, the times do not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OPTIK = [sys.executable, "-m", "optik"]


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def workloads(scratch: Path) -> dict[str, list[str]]:
    sys.path.insert(0, str(HERE))
    import cv2
    import skimage.data

    from classify import make_images

    big = make_images(HERE / "data" / "classify-1600x1200", 24, 1600, 1200)
    small = make_images(HERE / "data" / "detect-640x480", 24, 640, 480)
    crop = scratch / "coffee.png"
    cv2.imwrite(str(crop), cv2.cvtColor(skimage.data.coffee()[100:250, 200:400], cv2.COLOR_RGB2BGR))
    enhance = ["enhance", str(crop), "-m", "realesrgan-x4plus-anime", "-o", str(scratch / "x4.png")]
    jobs = {
        "classify": [*OPTIK, "classify", *map(str, big), "-q"],
        "detect": [*OPTIK, "detect", *map(str, small), "-q"],
        "enhance": [*OPTIK, *enhance, "--overwrite", "-q"],
    }
    from optik.registry import get_spec, is_available

    if is_available(get_spec("isnet")):
        cutouts = ["segment", *map(str, big[:4]), "-m", "isnet", "-o", str(scratch / "cut") + "/"]
        jobs["segment"] = [*OPTIK, *cutouts, "--overwrite", "-q"]
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cpus = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        jobs = workloads(Path(tmp))
        one = str(HERE / "data" / "classify-1600x1200" / "img0000.jpg")
        variants = {"default": []} | {f"--threads {n}": ["--threads", str(n)] for n in range(1, cpus + 1)}
        times: dict[tuple[str, str], list[float]] = {}
        for round_number in range(args.rounds):
            shift = round_number % len(variants)  # each variant goes first in some round
            order = [*variants.items()][shift:] + [*variants.items()][:shift]
            for job, command in jobs.items():
                for variant, extra in order:
                    times.setdefault((job, variant), []).append(wall([*command, *extra]))
            times.setdefault(("start-up", "import torch"), []).append(wall([sys.executable, "-c", "import torch"]))
            times.setdefault(("start-up", "optik classify one.jpg"), []).append(wall([*OPTIK, "classify", one, "-q"]))
    print(f"{cpus} CPUs, load average {os.getloadavg()[0]:.2f} at the end, {args.rounds} rounds, medians (s)\n")
    print("| workload | " + " | ".join(variants) + " | default / best |")
    print("| --- |" + " --- |" * (len(variants) + 1))
    for job in jobs:
        medians = {variant: statistics.median(times[job, variant]) for variant in variants}
        cells = " | ".join(f"{medians[v]:.2f}" for v in variants)
        print(f"| {job} | {cells} | {medians['default'] / min(medians.values()):.2f} |")
    torch_s = statistics.median(times["start-up", "import torch"])
    one_s = statistics.median(times["start-up", "optik classify one.jpg"])
    print(f"\nimport torch {torch_s:.2f} s, optik classify one.jpg {one_s:.2f} s: {one_s / torch_s:.2f}×")


if __name__ == "__main__":
    main()
