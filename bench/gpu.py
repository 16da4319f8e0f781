"""GPU readiness: every model's forward in fp32/fp16, NCHW/channels-last, at several batch sizes, eager and
torch.compile; Real-ESRGAN against its official way of running; classify without a JPEG-decode bottleneck.

    .venv/bin/python bench/gpu.py                        # on a CUDA machine (about 10 minutes)
    .venv/bin/python bench/gpu.py --device cpu --quick   # the smoke run the tests do (tests/test_backends.py)
    .venv/bin/python bench/gpu.py --models realesrgan-x4plus --batches 1,8,16 --no-compile

1. Forward throughput per model (optik's modules as loaded, weights on the device): images/s (output
   megapixels/s for the upscalers) for each dtype × memory format × batch size × eager/compiled, and the
   speed-up over fp32 NCHW batch 1 eager, measured in the same run. Times come from CUDA events after a
   warm-up (compiling is not timed; its seconds are printed).
2. Real-ESRGAN x4plus the official way (the ``realesrgan`` package's RealESRGANer: fp16, NCHW, one 256² tile
   per call) against optik's best configuration on the same tiles: output megapixels/s and the ratio
   (the issue's goal: ≥ 2×).
3. Classify that is not decode-bound: JPEGs decoded by ``torchvision.io.decode_jpeg`` on the device in
   batches, resized and cropped there, fp16 channels-last forward; against optik's own pipeline (decode on
   the CPU) on the same files.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from optik.errors import ModelUnavailable
from optik.registry import get_spec
from optik.registry.backends import EAGER
from optik.registry.loading import load

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Workload:
    """One model's forward as its family runs it: the module part called, one image's input shape, any
    second input, and whether throughput counts output megapixels (upscalers) or images."""

    model: str
    shape: tuple[int, int, int]  # C, H, W of one image
    part: str = ""  # "" = the whole module; else the submodule the family calls
    extra: Callable[[int, torch.device, torch.dtype], tuple] = lambda n, device, dtype: ()
    output_scale: int = 0  # > 0: report output megapixels/s at this upscaling factor


WORKLOADS = [
    Workload("mobilenet_v2", (3, 224, 224)),
    Workload("efficientnet_lite0", (3, 224, 224)),
    Workload("nanodet", (3, 416, 416)),
    Workload("centernet", (3, 512, 512)),
    Workload("selfie", (3, 256, 256)),
    Workload("meet", (3, 144, 256)),
    Workload("isnet", (3, 1024, 1024)),
    Workload("realesrgan-x4plus", (3, 256, 256), output_scale=4),
    Workload("realesrgan-x4plus-anime", (3, 256, 256), output_scale=4),
    Workload("realesr-animevideov3", (3, 256, 256), output_scale=4),
    Workload(
        "multistyle26",
        (3, 512, 512),
        extra=lambda n, device, dtype: (torch.eye(26, device=device, dtype=dtype)[19],),
    ),
    Workload("arbitrary_style", (3, 256, 256), part="predictor"),
    Workload(
        "arbitrary_style",
        (3, 384, 384),
        part="transformer",
        extra=lambda n, device, dtype: (torch.rand(n, 100, device=device, dtype=dtype),),
    ),
    Workload("ppocr-v6", (3, 736, 736)),
    Workload("ppocr-v6", (3, 48, 320), part="rec"),
]
QUICK_MODELS = ("selfie", "realesr-animevideov3")


class Clock:
    """Milliseconds of a function on the device: CUDA events there, the wall clock on a CPU."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def median_ms(self, function: Callable[[], Any], repeat: int) -> float:
        times = []
        for _ in range(repeat):
            if self.cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                function()
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end))
            else:
                begin = time.perf_counter()
                function()
                times.append((time.perf_counter() - begin) * 1e3)
        return statistics.median(times)


def variant(module: torch.nn.Module, dtype: torch.dtype, channels_last: bool) -> torch.nn.Module:
    """A copy of ``module`` in ``dtype`` and memory format."""
    copied = copy.deepcopy(module).to(dtype=dtype)
    return copied.to(memory_format=torch.channels_last) if channels_last else copied


def forward_table(args: argparse.Namespace, device: torch.device, clock: Clock) -> None:
    print("\n### 1. Forward throughput per model\n")
    print("| model | part | input | dtype | layout | batch | mode | ms / batch | rate | speed-up |")
    print("| --- | --- | --- | --- | --- | ---: | --- | ---: | ---: | ---: |")
    dtypes = [torch.float32] + ([torch.float16] if device.type == "cuda" else [])
    wanted = set(args.models.split(",")) if args.models else set(QUICK_MODELS if args.quick else ())
    for work in WORKLOADS:
        if wanted and work.model not in wanted:
            continue
        try:
            loaded = load(get_spec(work.model), device, backend=EAGER)
        except ModelUnavailable as exc:
            print(f"| {work.model} | {work.part or '–'} | skipped: {exc} |")
            continue
        base = loaded.module.get_submodule(work.part) if work.part else loaded.module
        shape = (work.shape[0], *(min(side, 64) for side in work.shape[1:])) if args.quick else work.shape
        baseline = None
        for dtype in dtypes:
            for channels_last in (False, True):
                module = variant(base, dtype, channels_last)
                for batch in args.batch_sizes:
                    inputs = torch.rand(batch, *shape, device=device, dtype=dtype)
                    if channels_last:
                        inputs = inputs.contiguous(memory_format=torch.channels_last)
                    extra = work.extra(batch, device, dtype)
                    for mode in args.modes:
                        call = torch.compile(module) if mode == "compile" else module
                        try:
                            with torch.inference_mode():
                                started = time.perf_counter()
                                call(inputs, *extra)  # compiles
                                first_s = time.perf_counter() - started
                                call(inputs, *extra)
                                if device.type == "cuda":
                                    torch.cuda.synchronize()
                                ms = clock.median_ms(lambda c=call, x=inputs, e=extra: c(x, *e), args.repeat)
                        except torch.OutOfMemoryError:
                            print(f"| {work.model} | {work.part or '–'} | out of memory at batch {batch} |")
                            torch.cuda.empty_cache()
                            break
                        units = batch * (shape[1] * shape[2] * work.output_scale**2 / 1e6 or 1)
                        rate = units / ms * 1e3
                        baseline = baseline or rate
                        unit = "MP/s" if work.output_scale else "img/s"
                        note = f" (compiled in {first_s:.0f} s)" if mode == "compile" else ""
                        print(
                            f"| {work.model} | {work.part or '–'} | {shape[1]}×{shape[2]} | {str(dtype)[6:]} | "
                            f"{'NHWC' if channels_last else 'NCHW'} | {batch} | {mode}{note} | {ms:.2f} | "
                            f"{rate:.1f} {unit} | {rate / baseline:.2f} |",
                            flush=True,
                        )
        del loaded, base
        if device.type == "cuda":
            torch.cuda.empty_cache()


def realesrgan_official(args: argparse.Namespace, device: torch.device, clock: Clock) -> None:
    """Real-ESRGAN's own way (RealESRGANer.tile_process: fp16 on CUDA, NCHW, one tile per call, the output
    assembled on the device and brought back once) against optik's configurations on the same tiles."""
    model = "realesr-animevideov3" if args.quick else "realesrgan-x4plus"
    side = 32 if args.quick else 256
    tiles = 2 if args.quick else 32
    half = device.type == "cuda"
    dtype = torch.float16 if half else torch.float32
    print(f"\n### 2. {model}: the official way vs optik, {tiles} tiles of {side}² (output MP/s)\n")
    print("| model | way | dtype | layout | batch | mode | output MP/s | ratio |")
    print("| --- | --- | --- | --- | ---: | --- | ---: | ---: |")
    module = load(get_spec(model), device, backend=EAGER).module
    data = torch.rand(tiles, 3, side, side, device=device, dtype=dtype)
    megapixels = tiles * (side * 4) ** 2 / 1e6
    configurations = [("official (RealESRGANer)", variant(module, dtype, False), 1, False, "eager")]
    for batch in args.batch_sizes:
        for mode in args.modes:
            configurations.append(("optik", variant(module, dtype, True), batch, True, mode))
    baseline = None
    for way, net, batch, channels_last, mode in configurations:
        call = batched(net, data, batch, channels_last, mode)
        with torch.inference_mode():
            call()
            ms = clock.median_ms(call, max(1, args.repeat // 2))
        rate = megapixels / ms * 1e3
        baseline = baseline or rate
        layout = "NHWC" if channels_last else "NCHW"
        print(
            f"| {model} | {way} | {str(dtype)[6:]} | {layout} | {batch} | {mode} | {rate:.2f} | {rate / baseline:.2f} |"
        )


def batched(net: torch.nn.Module, data: torch.Tensor, batch: int, channels_last: bool, mode: str) -> Callable:
    call = torch.compile(net) if mode == "compile" else net
    layout = torch.channels_last if channels_last else torch.contiguous_format

    def run() -> None:
        outputs = [call(chunk.contiguous(memory_format=layout)) for chunk in data.split(batch)]
        torch.cat(outputs).float().clamp_(0, 1).cpu()

    return run


def classify_on_device(args: argparse.Namespace, device: torch.device, clock: Clock) -> None:
    """JPEG decode on the device (nvJPEG through torchvision.io.decode_jpeg), resize and crop there, fp16
    channels-last forward; against optik's pipeline on the same files."""
    import torchvision
    from torchvision.io import decode_jpeg

    sys.path.insert(0, str(HERE))
    from classify import make_images

    count, size = (8, (320, 240)) if args.quick else (256, (1600, 1200))
    paths = make_images(HERE / "data" / f"classify-{size[0]}x{size[1]}", count, *size)
    encoded = [torchvision.io.read_file(str(path)) for path in paths]
    half = device.type == "cuda"
    loaded = load(get_spec("mobilenet_v2"), device, half=half, backend=EAGER)
    spec = loaded.spec.input_spec()
    mean = torch.tensor(spec.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=device).view(1, 3, 1, 1)
    net = variant(loaded.module, loaded.dtype, True)
    batch = 8 if args.quick else 64

    def on_device() -> None:
        for start in range(0, count, batch):
            images = decode_jpeg(encoded[start : start + batch], device=device)
            crops = [resize_crop(image, spec.resize_size or 256, spec.size[0]) for image in images]
            x = ((torch.stack(crops).float() / 255 - mean) / std).to(loaded.dtype)
            net(x.contiguous(memory_format=torch.channels_last)).float().softmax(1).topk(5)[0].cpu()

    def optik_pipeline() -> None:
        import optik

        optik.classify([str(path) for path in paths], device=str(device), half=half)

    print(f"\n### 3. classify mobilenet_v2, {count} JPEGs of {size[0]}×{size[1]}: decode_jpeg on {device} vs optik\n")
    print("| run | images/s | ratio |")
    print("| --- | ---: | ---: |")
    rates = {}
    for name, run in (
        ("optik pipeline (CPU decode)", optik_pipeline),
        (f"decode_jpeg on {device} + forward", on_device),
    ):
        with torch.inference_mode():
            run()
            rates[name] = count / clock.median_ms(run, max(1, args.repeat // 4)) * 1e3
    first = next(iter(rates.values()))
    for name, rate in rates.items():
        print(f"| {name} | {rate:.1f} | {rate / first:.2f} |")


def resize_crop(image: torch.Tensor, short: int, crop: int) -> torch.Tensor:
    """torchvision's Resize(short, antialias) + CenterCrop(crop) on one C×H×W uint8 image on the device."""
    height, width = image.shape[1:]
    scale = short / min(height, width)
    size = (max(crop, int(height * scale)), max(crop, int(width * scale)))
    resized = F.interpolate(image[None].float(), size, mode="bilinear", antialias=True, align_corners=False)[0]
    top, left = (size[0] - crop) // 2, (size[1] - crop) // 2
    return resized[:, top : top + crop, left : left + crop].round().clamp(0, 255)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="a few small cases, once each: the CPU smoke run")
    parser.add_argument("--models", default="", help="only these models in section 1, comma-separated")
    parser.add_argument("--batches", default="", help="batch sizes (default 1,8,32; quick: 1,2)")
    parser.add_argument("--repeat", type=int, default=0, help="timed runs per measurement (default 20; quick: 1)")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (slow to compile on a CPU)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: use --device cpu")
    args.batch_sizes = [int(b) for b in (args.batches or ("1,2" if args.quick else "1,8,32")).split(",")]
    args.repeat = args.repeat or (1 if args.quick else 20)
    args.modes = ["eager"] + ([] if args.no_compile or args.quick else ["compile"])
    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{name}, torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}")
    clock = Clock(device)
    forward_table(args, device, clock)
    realesrgan_official(args, device, clock)
    classify_on_device(args, device, clock)


if __name__ == "__main__":
    main()
