"""Segment speed and memory: our ISNet vs onnxruntime on the original model, and peak memory on 24 MP.

    python bench/segment.py [--threads 1] [--repeat 3] [--size 6000x4000]

Each measurement runs in its own process (so each peak RSS is its own), on CPU:
  isnet-optik   optik's ISNet forward at 1024x1024 as optik runs it (its `auto` backend: ncnn on a CPU)
  isnet-ort     onnxruntime on the original fp16 ONNX from @imgly/background-removal-data, the runtime
                rembg uses: the baseline for the ISNet figures
  selfie        the Selfie forward at 256x256
  e2e-MODEL     optik.segment() on astronaut.png (decode, resize, forward, guided upsampling, measuring)
  big-baseline  decode a SIZE JPEG and write it as an RGBA PNG: the floor for any cut-out at that size
  big-MODEL     `optik segment big.jpg -m MODEL -o cut.png` in-process
  big-unbanded  the same with selfie, the guided filter applied to the whole image at once
ISNet rows need the model pulled (`optik models pull isnet`); they are skipped otherwise. Prints a
Markdown table (paste into bench/README.md).
"""

from __future__ import annotations

import optik  # first, as in the optik command: torch then loads with OpenMP threads that sleep

# isort: split
import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ASTRONAUT = HERE.parent / "examples" / "images" / "astronaut.png"


def _timed(function, repeat: int) -> float:
    """Median milliseconds of ``function()`` after one warm-up call."""
    function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


def _imgly_input(size: int):
    import cv2
    import numpy as np

    rgb = cv2.cvtColor(cv2.imread(str(ASTRONAUT)), cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)[None].astype(np.float32)


def run_isnet_optik(repeat: int, args: argparse.Namespace) -> dict:
    import torch

    from optik.registry import load_model

    model = load_model("isnet", "cpu")  # as optik runs it: its `auto` backend
    batch = torch.from_numpy(_imgly_input(1024) / 255.0)
    model(batch)  # a first run writes the ncnn graph (once; cached)
    return {"ms": _timed(lambda: model(batch), repeat), "backend": model.backend}


def run_isnet_ort(repeat: int, args: argparse.Namespace) -> dict:
    import onnxruntime as ort

    from optik.convert.build import source_files
    from optik.convert.isnet import assemble_isnet_onnx
    from optik.registry import get_spec, upstream

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    model = assemble_isnet_onnx(source_files(get_spec("isnet"), upstream.IMGLY_BACKGROUND_REMOVAL_DATA.unpacked_dir()))
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    feed = {"input": (_imgly_input(1024) - 128.0) / 256.0}
    return {"ms": _timed(lambda: session.run(["output"], feed), repeat)}


def run_selfie(repeat: int, args: argparse.Namespace) -> dict:
    import torch

    from optik.registry import load_model

    module = load_model("selfie", "cpu").module
    batch = torch.from_numpy(_imgly_input(256) / 255.0)
    with torch.inference_mode():
        return {"ms": _timed(lambda: module(batch), repeat * 10)}


def run_e2e(model: str, repeat: int, args: argparse.Namespace) -> dict:
    return {"ms": _timed(lambda: optik.segment(ASTRONAUT, model=model, device="cpu"), repeat)}


def big_image(size: str) -> Path:
    import cv2

    path = HERE / "data" / f"segment-{size}.jpg"
    if not path.exists():
        import skimage.data

        width, height = map(int, size.split("x"))
        photo = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.resize(photo, (width, height), interpolation=cv2.INTER_CUBIC))
    return path


def run_big(mode: str, args: argparse.Namespace) -> dict:
    source, out = big_image(args.size), HERE / "data" / f"segment-{mode}.png"
    start = time.perf_counter()
    if mode == "big-baseline":
        import numpy as np

        from optik.preprocess.decode import Image, decode, encode

        image = decode(source.read_bytes(), str(source))
        alpha = np.full(image.pixels.shape[:2], 255, np.uint8)
        out.write_bytes(encode(Image(image.pixels, alpha), ".png"))
    else:
        from functools import partial

        from optik.cli import main
        from optik.preprocess import masks

        model = "selfie" if mode == "big-unbanded" else mode.removeprefix("big-")
        if mode == "big-unbanded":
            masks.guided_upsample = partial(masks.guided_upsample, band=1 << 30)
        argv = ["segment", str(source), "-m", model, "-o", str(out), "--overwrite", "-q"]
        main.main(argv, standalone_mode=False)
    elapsed = (time.perf_counter() - start) * 1e3
    out.unlink()
    return {"ms": elapsed}


def child(mode: str, args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    if mode.startswith("big-"):
        result = run_big(mode, args)
    elif mode.startswith("e2e-"):
        result = run_e2e(mode.removeprefix("e2e-"), args.repeat, args)
    else:
        result = {"isnet-optik": run_isnet_optik, "isnet-ort": run_isnet_ort, "selfie": run_selfie}[mode](
            args.repeat, args
        )
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch and onnxruntime")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", default="6000x4000", help="the large input, WxH")
    parser.add_argument("--child", metavar="MODE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args)
        return
    from optik.registry import get_spec, is_available

    has_isnet = is_available(get_spec("isnet"))
    modes = ["selfie", "e2e-selfie", "big-baseline", "big-selfie", "big-unbanded"]
    if has_isnet:
        modes = ["isnet-optik", "isnet-ort", "e2e-isnet", *modes, "big-isnet"]
    else:
        print("isnet is not pulled: ISNet rows skipped (`optik models pull isnet`)", file=sys.stderr)
    results = {}
    for mode in modes:
        command = [sys.executable, __file__, "--child", mode, "--threads", str(args.threads)]
        command += ["--repeat", str(args.repeat), "--size", args.size]
        stdout = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[mode] = json.loads(stdout.splitlines()[-1])  # after the record optik itself prints
        print(
            f"{mode:13} {results[mode]['ms']:9.1f} ms  peak RSS {results[mode]['peak_rss_mb']:.0f} MB", file=sys.stderr
        )
    import torch

    print(f"\nCPU, {args.threads} thread(s), torch {torch.__version__}, median of {args.repeat} after a warm-up\n")
    print("| run | ms | ratio | peak RSS |")
    print("| --- | ---: | ---: | ---: |")

    def row(label: str, mode: str, base: str | None = None, memory_base: str | None = None) -> None:
        result = results[mode]
        ratio = f"{result['ms'] / results[base]['ms']:.2f} × {base}" if base else "1.00"
        memory = f"{result['peak_rss_mb']:.0f} MB"
        if memory_base:
            memory += f" ({result['peak_rss_mb'] / results[memory_base]['peak_rss_mb']:.2f} × {memory_base})"
        print(f"| {label} | {result['ms']:.0f} | {ratio} | {memory} |")

    if has_isnet:
        import onnxruntime

        row(f"ISNet 1024, onnxruntime {onnxruntime.__version__} on the fp16 ONNX (baseline)", "isnet-ort")
        backend = results["isnet-optik"]["backend"]
        row(f"ISNet 1024, optik (auto: {backend}, float32)", "isnet-optik", "isnet-ort", "isnet-ort")
        row("optik.segment(astronaut 512x512, isnet), end to end", "e2e-isnet", "isnet-optik")
    row("Selfie 256 forward", "selfie")
    row("optik.segment(astronaut 512x512, selfie), end to end", "e2e-selfie", "selfie")
    row(f"{args.size} JPEG: decode + write RGBA PNG (baseline)", "big-baseline")
    row(f"{args.size}: `optik segment -m selfie -o cut.png`", "big-selfie", "big-baseline", "big-baseline")
    row(f"{args.size}: selfie, guided filter unbanded", "big-unbanded", "big-baseline", "big-baseline")
    if has_isnet:
        row(f"{args.size}: `optik segment -m isnet -o cut.png`", "big-isnet", "big-baseline", "big-baseline")


if __name__ == "__main__":
    main()
