"""Background removal on a folder: `optik segment -m isnet` vs a naive rembg-like loop, end to end.

    python bench/cutouts.py [--images 8] [--size 1600x1200] [--threads N] [--rounds 3]

The same JPEG folder as bench/classify.py (bench/data/, reused); each mode runs in its own process, the
modes alternate round by round (so the box's load hits them alike) and the medians are compared:
  optik      `optik segment DIR -m isnet -o OUT/` in-process: decode ∥ forward (optik's `auto` backend) ∥
             guided upsampling + PNG encode, threads overlapping
  naive-ort  what rembg does for each image, one after another, on the fastest runtime for this model:
             PIL open, resize to 1024² (Lanczos), normalise, onnxruntime on the original fp16 ONNX, min-max
             the mask, resize it back (Lanczos), put it in as alpha, save the PNG
Without `--threads` each runs as its user would get it: optik's default thread plan, onnxruntime's default
(every core). ISNet must be pulled (`optik models pull isnet`). Prints images/s and the ratio as a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from classify import make_images  # bench/ is the script's folder, so on sys.path

HERE = Path(__file__).resolve().parent


def optik_folder(paths: list[Path], out: Path, threads: int | None) -> None:
    from optik.cli import main

    argv = ["segment", *map(str, paths), "-m", "isnet", "-o", f"{out}/", "-q"]
    main.main([*argv, "--threads", str(threads)] if threads else argv, standalone_mode=False)


def naive_folder(paths: list[Path], out: Path, threads: int | None) -> None:
    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    from optik.convert.build import source_files
    from optik.convert.isnet import assemble_isnet_onnx
    from optik.registry import get_spec, upstream

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or 0  # 0: onnxruntime's default, every core
    model = assemble_isnet_onnx(source_files(get_spec("isnet"), upstream.IMGLY_BACKGROUND_REMOVAL_DATA.unpacked_dir()))
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    for path in paths:
        image = Image.open(path).convert("RGB")
        pixels = np.asarray(image.resize((1024, 1024), Image.LANCZOS), np.float32)
        batch = ((pixels - 128.0) / 256.0).transpose(2, 0, 1)[None]
        mask = session.run(None, {"input": batch})[0][0, 0]
        mask = (mask - mask.min()) / max(float(mask.max() - mask.min()), 1e-6)
        alpha = Image.fromarray((mask * 255).astype(np.uint8), "L").resize(image.size, Image.LANCZOS)
        image.putalpha(alpha)
        image.save(out / f"{path.stem}.png")


def child(mode: str, args: argparse.Namespace) -> None:
    width, height = map(int, args.size.split("x"))
    paths = make_images(HERE / "data" / f"classify-{args.size}", args.images, width, height)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        {"optik": optik_folder, "naive-ort": naive_folder}[mode](paths, Path(folder), args.threads)
        elapsed = time.perf_counter() - start
    print(json.dumps({"rate": len(paths) / elapsed, "seconds": elapsed}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", default="1600x1200", help="the JPEGs' size, WxH")
    parser.add_argument("--threads", type=int, help="threads for both (default: each one's own default)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of every mode, alternating; medians")
    parser.add_argument("--child", metavar="MODE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args)
        return
    from optik.registry import get_spec, is_available

    if not is_available(get_spec("isnet")):
        sys.exit("isnet is not pulled: `optik models pull isnet`")
    load_before = os.getloadavg()[0]
    modes = ("optik", "naive-ort")
    rounds: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(args.rounds):
        for mode in modes:
            command = [sys.executable, __file__, "--child", mode, "--images", str(args.images), "--size", args.size]
            command += ["--threads", str(args.threads)] if args.threads else []
            stdout = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rounds[mode].append(json.loads(stdout.splitlines()[-1])["rate"])
            print(f"{mode:10} {rounds[mode][-1]:.3f} images/s", file=sys.stderr)
    rate = {mode: sorted(rates)[len(rates) // 2] for mode, rates in rounds.items()}
    print(
        f"\n{args.images} JPEGs of {args.size}, {args.threads or 'default'} threads, {os.cpu_count()} CPUs, "
        f"medians of {args.rounds} alternating "
        f"rounds, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n"
    )
    print("| run | images/s | × naive-ort |")
    print("| --- | ---: | ---: |")
    for mode in modes:
        print(f"| {mode} | {rate[mode]:.3f} | {rate[mode] / rate['naive-ort']:.2f} |")


if __name__ == "__main__":
    main()
