"""Classify throughput: optik end to end vs the bare forward pass and vs a naive per-image loop.

    python bench/classify.py [--images 240] [--batch-size 16] [--size 1600x1200] [--rounds 3]

Builds a folder of real-size JPEGs from scikit-image's sample photos (random crops, flips and
rescales; bench/data/, reused), then in separate processes (so each peak RSS is its own):
  e2e    optik's pipeline: read + decode + resize + batch + forward + top-k, threads overlapping
  draft  the same with --draft (large JPEGs decoded at reduced scale in the DCT domain)
  bare   the model's forward pass alone on the same batch size, inputs already prepared (the limit)
  naive  what a user would write: PIL open, torchvision transforms, one image at a time
  naive-ort  the same loop over the fastest runtime: torchvision's network exported to ONNX, onnxruntime
and prints images/s, the ratios and peak memory as a Markdown table (paste into bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent


def make_images(folder: Path, count: int, width: int, height: int) -> list[Path]:
    import cv2
    import numpy as np
    import skimage.data as data

    folder.mkdir(parents=True, exist_ok=True)
    existing = sorted(folder.glob("*.jpg"))
    if len(existing) >= count:
        return existing[:count]
    photos = [
        data.astronaut(),
        data.chelsea(),
        data.coffee(),
        data.rocket(),
        data.stereo_motorcycle()[0],
        data.hubble_deep_field(),
        data.immunohistochemistry(),
        data.retina(),
    ]
    rng = np.random.default_rng(0)
    for index in range(count):
        photo = photos[index % len(photos)]
        h, w = photo.shape[:2]
        crop_h, crop_w = int(h * rng.uniform(0.6, 1.0)), int(w * rng.uniform(0.6, 1.0))
        top, left = rng.integers(0, h - crop_h + 1), rng.integers(0, w - crop_w + 1)
        crop = photo[top : top + crop_h, left : left + crop_w]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        size = (width, height) if rng.random() < 0.7 else (height, width)
        resized = cv2.resize(np.ascontiguousarray(crop), size, interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(
            str(folder / f"img{index:04d}.jpg"),
            cv2.cvtColor(resized, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, 90],
        )
    return sorted(folder.glob("*.jpg"))[:count]


def run_e2e(paths: list[str], batch_size: int, model: str, draft: bool = False) -> dict:
    from optik import pipeline
    from optik.io.inputs import discover
    from optik.tasks import create_task
    from optik.tasks.settings import ClassifySettings

    task = create_task("classify", ClassifySettings(draft=draft), model, "cpu")
    items = discover(paths)
    list(pipeline.run(task, items[: batch_size * 2], batch_size))  # warm-up
    start = time.perf_counter()
    outcomes = list(pipeline.run(task, items, batch_size))
    elapsed = time.perf_counter() - start
    assert all(o.error is None for o in outcomes)
    return {"images": len(outcomes), "seconds": elapsed}


def run_bare(paths: list[str], batch_size: int, model: str) -> dict:
    import torch

    from optik.registry import load_model

    loaded = load_model(model, "cpu")
    size = loaded.spec.input_spec().size
    batch = torch.randn(batch_size, 3, *size)
    loaded(batch)  # warm-up
    batches = -(-len(paths) // batch_size)
    start = time.perf_counter()
    for _ in range(batches):
        loaded(batch)
    elapsed = time.perf_counter() - start
    return {"images": batches * batch_size, "seconds": elapsed}


def run_naive(paths: list[str], batch_size: int, model: str) -> dict:
    import torch
    import torchvision
    from PIL import Image

    weights = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1
    net = torchvision.models.mobilenet_v2()
    from optik.registry import load_model

    net.load_state_dict(load_model("mobilenet_v2", "cpu").module.state_dict())
    net.eval()
    transforms = weights.transforms()
    start = time.perf_counter()
    with torch.inference_mode():
        for path in paths:
            probabilities = torch.softmax(net(transforms(Image.open(path).convert("RGB"))[None]), 1)
            probabilities.topk(5)
    return {"images": len(paths), "seconds": time.perf_counter() - start}


def run_naive_onnxruntime(paths: list[str], batch_size: int, model: str) -> dict:
    """The naive loop over the fastest runtime: the same weights exported to ONNX, onnxruntime one image at a time."""
    import tempfile

    import onnxruntime
    import torch
    import torchvision
    from PIL import Image

    from optik.registry import load_model

    net = torchvision.models.mobilenet_v2()
    net.load_state_dict(load_model("mobilenet_v2", "cpu", backend="torch").module.state_dict())
    transforms = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.transforms()
    with tempfile.TemporaryDirectory() as folder:
        onnx_file = f"{folder}/mobilenet_v2.onnx"
        torch.onnx.export(net.eval(), torch.randn(1, 3, 224, 224), onnx_file, dynamo=False, input_names=["x"])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = onnxruntime.InferenceSession(onnx_file, options, providers=["CPUExecutionProvider"])
    start = time.perf_counter()
    for path in paths:
        logits = session.run(None, {"x": transforms(Image.open(path).convert("RGB"))[None].numpy()})[0]
        torch.softmax(torch.from_numpy(logits), 1).topk(5)
    return {"images": len(paths), "seconds": time.perf_counter() - start}


def child(mode: str, paths_file: str, batch_size: int, model: str) -> None:
    paths = json.loads(Path(paths_file).read_text())
    runs = {
        "e2e": run_e2e,
        "draft": partial(run_e2e, draft=True),
        "bare": run_bare,
        "naive": run_naive,
        "naive-ort": run_naive_onnxruntime,
    }
    result = runs[mode](paths, batch_size, model)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=240)
    parser.add_argument("--batch-size", type=int, default=8, help="optik's default")
    parser.add_argument("--size", default="1600x1200", help="JPEG size WxH (some are rotated to HxW)")
    parser.add_argument("--model", default="mobilenet_v2")
    parser.add_argument("--rounds", type=int, default=3, help="runs of every mode, alternating; medians")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATHS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.batch_size, args.model)
        return
    width, height = map(int, args.size.split("x"))
    paths = make_images(HERE / "data" / f"classify-{args.size}", args.images, width, height)
    paths_file = HERE / "data" / "classify-paths.json"
    paths_file.write_text(json.dumps([str(p) for p in paths]))
    modes = ("bare", "e2e", "draft", "naive", "naive-ort")
    rounds: dict[str, list[dict]] = {mode: [] for mode in modes}
    for _ in range(args.rounds):  # the modes alternate, so the box's load hits them alike
        for mode in modes:
            command = [
                sys.executable,
                __file__,
                "--child",
                mode,
                str(paths_file),
                "--batch-size",
                str(args.batch_size),
                "--model",
                args.model,
            ]
            run = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            run["rate"] = run["images"] / run["seconds"]
            rounds[mode].append(run)
            print(f"{mode:9} {run['rate']:7.1f} images/s  peak RSS {run['peak_rss_mb']:.0f} MB", file=sys.stderr)
    results = {mode: sorted(runs, key=lambda run: run["rate"])[len(runs) // 2] for mode, runs in rounds.items()}
    import torch

    bare, e2e, draft, naive, naive_ort = (results[m]["rate"] for m in ("bare", "e2e", "draft", "naive", "naive-ort"))
    print(
        f"\n{args.images} JPEGs of {args.size}, {args.model}, batch {args.batch_size}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, medians of {args.rounds}, "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| run | images/s | ratio | peak RSS |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| bare forward pass (the limit) | {bare:.1f} | 1.00 | {results['bare']['peak_rss_mb']:.0f} MB |")
    print(
        f"| optik end to end | {e2e:.1f} | {e2e / bare:.2f} × bare, {e2e / naive:.2f} × naive, "
        f"{e2e / naive_ort:.2f} × naive onnxruntime | "
        f"{results['e2e']['peak_rss_mb']:.0f} MB |"
    )
    print(
        f"| optik end to end, `--draft` (JPEG DCT-reduced decode) | {draft:.1f} | {draft / bare:.2f} × bare, "
        f"{draft / naive:.2f} × naive, {draft / naive_ort:.2f} × naive onnxruntime | "
        f"{results['draft']['peak_rss_mb']:.0f} MB |"
    )
    print(
        f"| naive loop (PIL + torchvision, one at a time) | {naive:.1f} | {naive / bare:.2f} × bare | "
        f"{results['naive']['peak_rss_mb']:.0f} MB |"
    )
    print(
        f"| naive loop (PIL + torchvision transforms, onnxruntime, one at a time) | {naive_ort:.1f} | "
        f"{naive_ort / bare:.2f} × bare | {results['naive-ort']['peak_rss_mb']:.0f} MB |"
    )


if __name__ == "__main__":
    main()
