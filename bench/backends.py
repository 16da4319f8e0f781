"""Forward time per model and backend against the model's original runtime, in one run (CPU).

    .venv/bin/python bench/backends.py [--threads 1,2] [--repeat 5] [--models nanodet,isnet] [--quick]

For each embedded (and pulled, when present) model, on real photos prepared as optik prepares them:
optik through each backend (`torch-eager`, `torch-nnpack`, `torch-frozen`, `onnxruntime`, `ncnn`; see
optik.registry.backends) and the original runtime where one runs in Python — onnxruntime on the original ONNX
(ISNet, the style models, PP-OCR), ncnn (Real-ESRGAN), the original PyTorch code (torchvision's MobileNetV2,
facenet-pytorch's MTCNN). All of them run alternately, `--repeat` times after a warm-up (the export or trace
on the first call is not timed), and the median is reported, at each thread count of `--threads` (each count
in a process of its own: NNPACK's thread pool keeps the size it had on its first use). The machine's load
average is printed with the table: on a shared box take the ratios, not the times.

A backend that does not reach the family's calls is left out (–): frozen TorchScript and ncnn for families that
call `model.module` or its parts (style, MTCNN, PP-OCR's recogniser); so is ncnn where it cannot translate the
network and falls back to PyTorch. The last columns: optik's `auto` choice
(registry.backends.MEASURED) and its time over the original runtime's. `--quick`: one small case per kind,
run once (a smoke test).
"""

from __future__ import annotations

import optik  # noqa: F401  first, as in the optik command: torch then loads with OpenMP threads that sleep

# isort: split
import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import cv2
import numpy as np
import skimage.data
import torch

from optik.errors import ModelUnavailable
from optik.registry import get_spec
from optik.registry.backends import (
    BACKENDS,
    CALLED_PARTS,
    COMPILE,
    EAGER,
    MEASURED,
    NCNN,
    NNPACK,
    ONNXRUNTIME,
    onnxruntime_parts,
    resolve,
)
from optik.registry.loading import load

TIMED_BACKENDS = tuple(name for name in BACKENDS if name != COMPILE)  # compiling takes ~30 s per shape on a CPU


def photos() -> list[np.ndarray]:
    """Eight scikit-image photos, RGB uint8."""
    return [
        skimage.data.astronaut(),
        skimage.data.chelsea(),
        skimage.data.coffee(),
        skimage.data.rocket(),
        skimage.data.stereo_motorcycle()[0],
        skimage.data.hubble_deep_field(),
        skimage.data.immunohistochemistry(),
        skimage.data.retina(),
    ]


def prepared(model: str, count: int) -> torch.Tensor:
    """``count`` photos as the model's row prepares them, as one batch."""
    from optik.preprocess.transforms import prepare, to_batch

    spec = get_spec(model).input_spec()
    arrays = [prepare(photo, spec)[0] for photo in (photos() * 2)[:count]]
    return to_batch(arrays, spec)


def unit_rgb(side: int, height: int | None = None, source: str = "coffee") -> torch.Tensor:
    """A photo resized to side×height, NCHW float32 in [0, 1]."""
    image = getattr(skimage.data, source)()
    image = cv2.resize(image, (side, height or side), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255).contiguous()


def ort_session(path: Any, threads: int) -> Any:
    """onnxruntime with its defaults but the thread count (as rembg and rapidocr run it)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    model = path if isinstance(path, bytes) else str(path)
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def package_files(model: str) -> Any:
    from optik.convert.build import source_files

    spec = get_spec(model)
    return source_files(spec, spec.weights.package.unpacked_dir())


# The original runtimes: (model's inputs as torch tensors, threads) → a function that runs the original once.


def ncnn_original(model: str) -> Callable[[tuple, int], Callable[[], Any]]:
    def make(inputs: tuple, threads: int) -> Callable[[], Any]:
        import ncnn

        files = package_files(model)
        net = ncnn.Net()
        net.opt.use_vulkan_compute = False
        net.opt.num_threads = threads
        net.load_param(str(files.one(".param")))
        net.load_model(str(files.one(".bin")))
        data = inputs[0][0].numpy().copy()

        def run() -> Any:
            extractor = net.create_extractor()
            extractor.input("data", ncnn.Mat(data))
            return np.array(extractor.extract("output")[1])

        return run

    return make


def isnet_original(inputs: tuple, threads: int) -> Callable[[], Any]:
    from optik.convert.isnet import assemble_isnet_onnx

    session = ort_session(assemble_isnet_onnx(package_files("isnet")), threads)
    feed = {"input": inputs[0].numpy()}  # same values: both take the normalised image
    return partial(session.run, None, feed)


def style_original(model: str, file: str, feed: Callable[[tuple], dict]) -> Callable[[tuple, int], Callable[[], Any]]:
    def make(inputs: tuple, threads: int) -> Callable[[], Any]:
        session = ort_session(package_files(model).one(file), threads)
        return partial(session.run, None, feed(inputs))

    return make


def page(side: int) -> torch.Tensor:
    """scikit-image's scanned page resized to side², as PP-OCR takes it: RGB in [-1, 1]."""
    grey = cv2.resize(skimage.data.page(), (side, side), interpolation=cv2.INTER_LINEAR)
    return torch.from_numpy(grey)[None, None].float().div(127.5).sub(1).expand(1, 3, -1, -1).contiguous()


def nhwc(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.permute(0, 2, 3, 1).numpy())


def ppocr_original(file: str) -> Callable[[tuple, int], Callable[[], Any]]:
    def make(inputs: tuple, threads: int) -> Callable[[], Any]:
        session = ort_session(package_files("ppocr-v6").one(file), threads)
        return partial(session.run, None, {session.get_inputs()[0].name: inputs[0].numpy()})

    return make


def torchvision_mobilenet(inputs: tuple, threads: int) -> Callable[[], Any]:
    import torchvision

    net = torchvision.models.mobilenet_v2()
    net.load_state_dict(load(get_spec("mobilenet_v2"), "cpu", backend=EAGER).module.state_dict())
    net.eval()
    return partial(torch.inference_mode()(net), inputs[0].contiguous())


def facenet_mtcnn(inputs: tuple, threads: int) -> Callable[[], Any]:
    from facenet_pytorch import MTCNN

    detector = MTCNN(keep_all=True, device="cpu")
    return partial(detector.detect, inputs[0])


@dataclass
class Case:
    """One model at one input: how its family calls it, and its original runtime."""

    model: str
    what: str
    inputs: Callable[[], tuple]
    call: str = ""  # "" = LoadedModel(...) (every backend applies); else the module attribute the family calls
    original: Callable[[tuple, int], Callable[[], Any]] | None = None
    original_name: str = ""
    quick: bool = False  # part of the --quick smoke run


CASES = [
    Case(
        "mobilenet_v2",
        "batch 8 × 224²",
        lambda: (prepared("mobilenet_v2", 8),),
        original=torchvision_mobilenet,
        original_name="torchvision (PyTorch)",
        quick=True,
    ),
    Case("efficientnet_lite0", "batch 8 × 224²", lambda: (prepared("efficientnet_lite0", 8),)),
    Case("nanodet", "batch 8 × 416²", lambda: (prepared("nanodet", 8),)),
    Case("centernet", "1 × 512²", lambda: (prepared("centernet", 1),)),
    Case("selfie", "1 × 256²", lambda: (prepared("selfie", 1),), quick=True),
    Case("meet", "1 × 144×256", lambda: (prepared("meet", 1),)),
    Case("isnet", "1 × 1024²", lambda: (prepared("isnet", 1),), original=isnet_original, original_name="onnxruntime"),
    Case(
        "realesrgan-x4plus",
        "64² tile",
        lambda: (unit_rgb(64),),
        original=ncnn_original("realesrgan-x4plus"),
        original_name="ncnn",
    ),
    Case(
        "realesrgan-x4plus-anime",
        "96² tile",
        lambda: (unit_rgb(96),),
        original=ncnn_original("realesrgan-x4plus-anime"),
        original_name="ncnn",
    ),
    Case(
        "realesr-animevideov3",
        "192² tile",
        lambda: (unit_rgb(192),),
        original=ncnn_original("realesr-animevideov3"),
        original_name="ncnn",
        quick=True,
    ),
    Case(
        "multistyle26",
        "512²",
        lambda: (unit_rgb(512, source="astronaut"), torch.eye(26)[19]),
        call="module",
        original=style_original(
            "multistyle26",
            "multistyle26.onnx",
            lambda inputs: {"image": inputs[0].numpy(), "style_weights": inputs[1].numpy()},
        ),
        original_name="onnxruntime",
        quick=True,
    ),
    Case(
        "arbitrary_style",
        "predictor 256²",
        lambda: (unit_rgb(256, source="chelsea"),),
        call="module.predictor",
        original=style_original(
            "arbitrary_style", "arbitrary_predict.onnx", lambda inputs: {"style_image": nhwc(inputs[0])}
        ),
        original_name="onnxruntime (int8)",
    ),
    Case(
        "arbitrary_style",
        "transformer 384²",
        lambda: (unit_rgb(384, source="astronaut"), torch.rand(1, 100) * 0.5),
        call="module.transformer",
        original=style_original(
            "arbitrary_style",
            "arbitrary_transform.onnx",
            lambda inputs: {
                "content_image": nhwc(inputs[0]),
                "mobilenet_conv/Conv/BiasAdd": inputs[1].numpy()[:, None, None, :],
            },
        ),
        original_name="onnxruntime (int8)",
    ),
    Case(
        "mtcnn",
        "cascade on 512² photo",
        lambda: (skimage.data.astronaut(),),
        call="module",
        original=facenet_mtcnn,
        original_name="facenet-pytorch",
    ),
    Case(
        "ppocr-v6",
        "detector 1 × 736×736",
        lambda: (page(736),),
        original=ppocr_original("PP-OCRv6_det_small.onnx"),
        original_name="onnxruntime (rapidocr)",
    ),
    Case(
        "ppocr-v6",
        "recogniser 6 × 48×320",
        lambda: (torch.rand(6, 3, 48, 320) * 2 - 1,),
        call="module.rec",
        original=ppocr_original("PP-OCRv6_rec_small.onnx"),
        original_name="onnxruntime (rapidocr)",
    ),
]


def reaches(case: Case, backend: str) -> bool:
    """Whether ``backend`` runs ``case`` when its family calls it: calls to the model always; calls to the module
    or its parts when the backend rewrites the module (NNPACK) or routes them (onnxruntime, CALLED_PARTS)."""
    return not case.call or backend in (EAGER, NNPACK) or (backend == ONNXRUNTIME and case.model in CALLED_PARTS)


def runner(case: Case, backend: str, inputs: tuple) -> Callable[[], Any] | None:
    """A function that runs ``case`` once through ``backend`` as the family would; None if it does not apply."""
    loaded = load(get_spec(case.model), "cpu", backend=backend)
    if loaded.backend != backend or not reaches(case, backend):
        return None  # not available here, or not reaching the family's calls
    if not case.call:
        if backend == NCNN:
            loaded(*inputs)  # writes the graph, or falls back to eager where ncnn cannot run the model
            if loaded.backend != NCNN:
                return None
        return partial(loaded, *inputs)
    target: Any = loaded
    for attribute in case.call.split("."):
        target = getattr(target, attribute)
    return partial(torch.inference_mode()(target), *inputs)


def interleaved(functions: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Median milliseconds of each function, run in turn ``repeat`` times after two warm-up rounds (the first
    call exports or traces)."""
    for _ in range(2):
        for function in functions.values():
            function()
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeat):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(values) for name, values in times.items()}


def measure(case: Case, threads: int, repeat: int) -> dict[str, float] | str:
    """Milliseconds per backend and for the original runtime (key ``original``), or why the case was skipped."""
    torch.set_num_threads(threads)
    try:
        inputs = case.inputs()
        functions = {backend: runner(case, backend, inputs) for backend in TIMED_BACKENDS}
    except (ModelUnavailable, KeyError, AttributeError) as exc:
        return f"skipped: {exc}"
    functions = {name: function for name, function in functions.items() if function is not None}
    if case.original is not None:
        try:
            functions["original"] = case.original(inputs, threads)
        except Exception as exc:  # a missing package or runtime: the row goes on without it
            print(f"{case.model}: original runtime unavailable ({exc!r})", file=sys.stderr)
    return interleaved(functions, repeat)


def print_row(case: Case, threads: int, repeat: int, columns: list[str]) -> None:
    """Measure ``case`` and print its table row."""
    result = measure(case, threads, repeat)
    if isinstance(result, str):
        print(f"| {case.model} | {case.what} | {threads} | {result} |", flush=True)
        return
    auto = resolve("auto", case.model, torch.device("cpu"), torch.float32)
    if case.call.removeprefix("module.") in onnxruntime_parts("auto", case.model, torch.device("cpu"), torch.float32):
        auto = ONNXRUNTIME  # a part that auto routes through onnxruntime beside the model's own backend
    cells = ["–" if name not in result else f"{result[name]:.0f}" for name in columns]
    ratio = f"{result[auto] / result['original']:.2f}" if auto in result and "original" in result else "–"
    print(
        f"| {case.model} | {case.what} | {threads} | {' | '.join(cells)} | {case.original_name or '–'} | "
        f"{auto} | {ratio} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default=f"1,{torch.get_num_threads()}", help="thread counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--models", default="", help="only these models, comma-separated")
    parser.add_argument("--quick", action="store_true", help="one small case per kind, once: a smoke test")
    parser.add_argument("--rows-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    wanted = set(filter(None, args.models.split(",")))
    cases = [c for c in CASES if (not wanted or c.model in wanted) and (c.quick or not args.quick)]
    thread_counts = [int(t) for t in dict.fromkeys(args.threads.split(","))]
    repeat = 1 if args.quick else args.repeat
    load_before = os.getloadavg()
    columns = [*TIMED_BACKENDS, "original"]
    if not args.rows_only:
        header = "| model | input | threads | " + " | ".join(f"{c} ms" for c in columns)
        print(f"{header} | runtime | auto | auto / original |", flush=True)
        print("| --- | --- | ---: |" + " ---: |" * len(columns) + " --- | --- | ---: |", flush=True)
    if len(thread_counts) > 1:  # NNPACK's thread pool keeps the size of its first use: a process per count
        for threads in thread_counts:
            command = [sys.executable, __file__, f"--threads={threads}", f"--repeat={args.repeat}", "--rows-only"]
            command += [f"--models={args.models}"] * bool(args.models) + ["--quick"] * args.quick
            subprocess.run(command, check=True)
    else:
        for case in cases:
            print_row(case, thread_counts[0], repeat, columns)
    if args.rows_only:
        return
    load_after = os.getloadavg()
    print(
        f"\ntorch {torch.__version__}, {os.cpu_count()} CPUs, median of {repeat}, load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after; registry.backends.MEASURED has "
        f"{len(MEASURED)} rows; fastest per row above decides them ({ONNXRUNTIME} only where the family calls "
        "the model itself)."
    )


if __name__ == "__main__":
    main()
