"""compare throughput against the decode-only limit, on two folders of 1-MP PNGs (a golden set and new renders).

    python bench/compare.py [--pairs 200] [--repeats 5] [--workers 2]

Builds, once (bench/data/compare-1mp/), ``golden/`` with PNGs of 1155×866 (crops and flips of scikit-image's
photos) and ``new/`` with their new renders, a CI run's mix:
  same    half of them: the same pixels, re-encoded (other PNG compression, so other bytes)
  local   a quarter: a local regression (a 40-80 px box of another colour, a line of text moved)
  global  a quarter: every pixel changed a little (a JPEG q90 round trip saved as PNG)
and ``new-global/`` with every image globally changed (the worst case for the metrics).

Then, in this process, alternately (load hits both alike), ``--repeats`` times each:
  decode  the pipeline over the pairs with a task that only decodes both images (the limit)
  compare optik compare's task: PSNR, SSIM, pixel diff, max/mean difference (no perceptual distance)
and prints the medians as a Markdown table. Both use the pipeline's threads as ``optik compare`` does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = (1155, 866)  # 1.0 MP


def make_folders(root: Path, count: int) -> None:
    import cv2
    import numpy as np
    import skimage.data as data

    if len(list((root / "new-global").glob("*.png"))) >= count:
        return
    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket(), data.stereo_motorcycle()[0]]
    rng = np.random.default_rng(0)
    for folder in ("golden", "new", "new-global"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        photo = photos[index % len(photos)]
        h, w = photo.shape[:2]
        crop_h, crop_w = int(h * rng.uniform(0.7, 1.0)), int(w * rng.uniform(0.7, 1.0))
        top, left = rng.integers(0, h - crop_h + 1), rng.integers(0, w - crop_w + 1)
        crop = np.ascontiguousarray(photo[top : top + crop_h, left : left + crop_w][:, :: rng.choice((1, -1))])
        golden = cv2.cvtColor(cv2.resize(crop, SIZE, interpolation=cv2.INTER_CUBIC), cv2.COLOR_RGB2BGR)
        name = f"render{index:04d}.png"
        cv2.imwrite(str(root / "golden" / name), golden, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        jpeg = cv2.imencode(".jpg", golden, [cv2.IMWRITE_JPEG_QUALITY, 90])[1]
        changed = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
        cv2.imwrite(str(root / "new-global" / name), changed, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        new = golden.copy()
        if index % 4 == 1:  # local
            x, y = int(rng.integers(0, SIZE[0] - 80)), int(rng.integers(0, SIZE[1] - 80))
            new[y : y + int(rng.integers(40, 80)), x : x + int(rng.integers(40, 80))] = rng.integers(0, 255, 3)
            cv2.putText(new, "Total: 42", (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (20, 20, 20), 2, cv2.LINE_AA)
        elif index % 4 == 3:  # global
            new = changed
        cv2.imwrite(str(root / "new" / name), new, [cv2.IMWRITE_PNG_COMPRESSION, 1])


class DecodeOnly:
    """A task that only decodes (the pipeline's load decodes both images of each pair)."""

    decode_min_side = None
    batch_limit = None

    def prepare(self, pair):
        from optik.tasks.base import Prepared

        return Prepared(pair.new, None)

    def forward(self, arrays):
        return [None] * len(arrays)

    def finish(self, prepared, output):
        return None


def seconds(task, pairs: list, workers: int) -> tuple[float, float]:
    """(wall-clock, CPU) seconds of one run of the pipeline over ``pairs``, each result dropped once it is out
    (as ``optik compare`` drops it once its record is written)."""
    from optik import pipeline

    start, cpu = time.perf_counter(), time.process_time()
    errors = [outcome.error for outcome in pipeline.run(task, pairs, workers=workers) if outcome.error]
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert not errors, errors[:3]
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=max(2, min(4, os.cpu_count() or 2)))
    args = parser.parse_args()

    from optik.io.pairs import find_pairs
    from optik.tasks.compare import Comparer
    from optik.tasks.settings import CompareSettings

    root = HERE / "data" / "compare-1mp"
    make_folders(root, args.pairs)
    print(
        f"{args.pairs} pairs of {SIZE[0]}×{SIZE[1]} PNGs, {args.workers} pipeline workers, "
        f"median of {args.repeats} alternating runs; load average before: {os.getloadavg()[0]:.2f}\n"
    )
    print("| new folder | decode only, pairs/s | compare, pairs/s | compare / decode | CPU ms/pair: decode | compare |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for folder in ("new", "new-global"):
        pairs = find_pairs([str(root / folder)], str(root / "golden"))[: args.pairs]
        tasks = {"decode": DecodeOnly(), "compare": Comparer(CompareSettings(min_ssim=0.9))}
        seconds(tasks["compare"], pairs[:8], args.workers)  # warm-up
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in tasks}
        for _ in range(args.repeats):
            for name, task in tasks.items():
                times[name].append(seconds(task, pairs, args.workers))
        decode, compare = (len(pairs) / statistics.median(t for t, _ in times[name]) for name in tasks)
        cpu = [1e3 * statistics.median(c for _, c in times[name]) / len(pairs) for name in tasks]
        print(
            f"| {folder}/ | {decode:.1f} | {compare:.1f} | **{compare / decode:.2f}** | {cpu[0]:.0f} | {cpu[1]:.0f} |",
            flush=True,
        )
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
