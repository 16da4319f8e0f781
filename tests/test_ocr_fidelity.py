"""The PP-OCRv6 small ports against onnxruntime running rapidocr 3.10.0's original ONNX files.

Pre-processing is rapidocr's: BGR, ``(x/255 - 0.5)/0.5``; the detector gets the image scaled so that
its short side is at least 736, each side rounded to a multiple of 32 (OpenCV bilinear); line crops
are perspective-warped (bicubic), batched 6 at a time in order of aspect ratio, resized to height 48
and zero-padded to the widest (at least 320) — optik's own :mod:`optik.preprocess.text_lines`. Each
network runs with the converted float32 weights and with every tensor of two or more dimensions
rounded to float16 (the embedded storage).
Reference figures come from WEIGHTS-wave2 §3.1 and from rapidocr 3.10.0's own pipeline
(``use_cls=False``, onnxruntime 1.32, OpenCV 4.14), written out below.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from optik.convert.ppocr import DET_FILE, REC_FILE, convert_ppocr_det, convert_ppocr_rec, read_characters
from optik.convert.sources import SourceFiles
from optik.nets.ppocr import NUM_CLASSES, REC_HEIGHT, PPOCRv6Detector, PPOCRv6Recognizer
from optik.nets.ppocr_post import ctc_greedy_decode, db_boxes, reading_order, scale_boxes
from optik.preprocess.text_lines import crop_line, line_batches
from optik.registry import get_spec
from optik.registry.labels import label_set
from optik.registry.onnxruntime_backend import export
from tests.helpers import psnr

STORAGE = ["float32", "float16"]
SPEC = get_spec("ppocr-v6")

# rapidocr 3.10.0 on page() (use_cls=False): boxes [x, y] clockwise from top-left, text, score
PAGE_LINES = (
    ([[3, 9], [296, 10], [295, 36], [3, 35]], "Region-based segmentation", 0.99995),
    ([[2, 45], [379, 47], [379, 68], [2, 66]], "Let us first determine markers of the coins and the", 0.98581),
    ([[1, 62], [380, 63], [380, 87], [1, 86]], "background. These markers are pixels that we can label", 0.99302),
    ([[1, 79], [380, 81], [380, 105], [1, 104]], "unambiguously as either object or background. Here,", 0.98883),
    ([[1, 95], [381, 97], [381, 124], [1, 122]], "the markers are found at the two extreme parts of the", 0.99859),
    ([[4, 114], [173, 120], [173, 140], [3, 133]], "histogram of grey values:", 0.99798),
    ([[38, 167], [243, 175], [242, 190], [37, 186]], "markers = np.zeros like(coins)", 0.96882),
)
# rapidocr 3.10.0's boxes on the rendered receipt below
RECEIPT_BOXES = (
    [[117, 36], [361, 36], [361, 71], [117, 71]],
    [[101, 90], [378, 91], [378, 115], [101, 113]],
    [[20, 132], [250, 131], [250, 163], [20, 165]],
    [[23, 182], [296, 180], [296, 209], [24, 210]],
    [[21, 230], [336, 227], [337, 255], [21, 257]],
    [[98, 275], [378, 275], [378, 308], [98, 308]],
    [[22, 326], [315, 326], [315, 351], [22, 351]],
    [[22, 371], [303, 370], [303, 398], [22, 399]],
    [[40, 418], [439, 418], [439, 446], [40, 446]],
)
# (text, font, scale, thickness) of each receipt line, top to bottom
RECEIPT_LINES = (
    ("CORNER CAFE", cv2.FONT_HERSHEY_DUPLEX, 1.1, 2),
    ("12 Market Street, Springfield", cv2.FONT_HERSHEY_SIMPLEX, 0.6, 1),
    ("2x Espresso 5.80", cv2.FONT_HERSHEY_SIMPLEX, 0.8, 2),
    ("1x Cheesecake 4.50", cv2.FONT_HERSHEY_COMPLEX, 0.8, 1),
    ("Sparkling water 0.5l 2.90", cv2.FONT_HERSHEY_TRIPLEX, 0.7, 1),
    ("TOTAL EUR 13.20", cv2.FONT_HERSHEY_DUPLEX, 1.0, 2),
    ("VAT 19% included: 2.11", cv2.FONT_HERSHEY_PLAIN, 1.5, 1),
    ("Card payment **** 4821", cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC, 0.7, 1),
    ("Thank you for your visit!", cv2.FONT_HERSHEY_COMPLEX_SMALL, 1.2, 1),
)


def render_receipt() -> np.ndarray:
    """A till receipt (RGB, grey only): a light-on-dark header, then lines in six Hershey fonts and sizes."""
    image = np.full((560, 480, 3), 248, np.uint8)
    cv2.rectangle(image, (0, 0), (480, 92), (60, 60, 60), -1)
    y = 0
    for i, (text, font, scale, thickness) in enumerate(RECEIPT_LINES):
        (width, height), baseline = cv2.getTextSize(text, font, scale, thickness)
        y += height + baseline + (30 if i == 0 else 22)
        x = (480 - width) // 2 if i in (0, 1, 5, 8) else 24
        colour = (250, 250, 250) if i == 0 else (25, 25, 25)
        cv2.putText(image, text, (x, y), font, scale, colour, thickness, cv2.LINE_AA)
    return image


def grey_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=2)


def det_input(rgb: np.ndarray) -> np.ndarray:
    """rapidocr's detector input for an RGB image (it works in BGR), as its own code computes it."""
    height, width = rgb.shape[:2]
    ratio = 736 / min(height, width) if min(height, width) < 736 else 1.0
    size_h, size_w = (int(round(int(side * ratio) / 32) * 32) for side in (height, width))
    resized = cv2.resize(np.ascontiguousarray(rgb[:, :, ::-1]), (size_w, size_h)).astype(np.float32)
    return ((resized / 255 - 0.5) / 0.5).transpose(2, 0, 1)[None].copy()


def rec_batches(crops: list[np.ndarray]) -> list[tuple[list[int], np.ndarray]]:
    """(crop indices, input batch) as optik (and rapidocr) batch line crops."""
    config = SPEC.config
    return line_batches(crops, SPEC.input_spec(), config.rec_height, config.rec_min_width, config.rec_batch)


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def stored(state: dict[str, torch.Tensor], storage: str) -> dict[str, torch.Tensor]:
    """``state`` as the embedded file keeps it: tensors of 2+ dimensions in ``storage``, read back as float32."""
    dtype = getattr(torch, storage)
    return {name: t.to(dtype).float() if t.ndim >= 2 else t for name, t in state.items()}


def run(net: nn.Module, batch: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return net(torch.from_numpy(batch)).numpy()


@pytest.fixture(scope="module")
def files(source_files: Callable[[str], SourceFiles]) -> SourceFiles:
    return source_files("ppocr-v6")


@pytest.fixture(scope="module")
def det_session(files: SourceFiles) -> ort.InferenceSession:
    return session(files.one(DET_FILE))


@pytest.fixture(scope="module")
def rec_session(files: SourceFiles) -> ort.InferenceSession:
    return session(files.one(REC_FILE))


@pytest.fixture(scope="module")
def detectors(files: SourceFiles) -> dict[str, nn.Module]:
    state = convert_ppocr_det(files.one(DET_FILE))
    nets = {storage: PPOCRv6Detector().eval() for storage in STORAGE}
    for storage, net in nets.items():
        net.load_state_dict(stored(state, storage), strict=True)
    return nets


@pytest.fixture(scope="module")
def recognisers(files: SourceFiles) -> dict[str, nn.Module]:
    state = convert_ppocr_rec(files.one(REC_FILE))
    nets = {storage: PPOCRv6Recognizer().eval() for storage in STORAGE}
    for storage, net in nets.items():
        net.load_state_dict(stored(state, storage), strict=True)
    return nets


@pytest.fixture(scope="module")
def characters(files: SourceFiles) -> list[str]:
    return read_characters(files.one(REC_FILE))


@pytest.fixture(scope="module")
def images(sample: Callable[[str], np.ndarray]) -> dict[str, np.ndarray]:
    """RGB inputs: the book page and the handwritten formulae (grey, as 3 channels) and the rendered receipt."""
    return {"page": grey_rgb(sample("page")), "text": grey_rgb(sample("text")), "receipt": render_receipt()}


@pytest.fixture(scope="module")
def det_reference(det_session: ort.InferenceSession, images: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """onnxruntime's probability map [H, W] of each image."""
    return {name: det_session.run(None, {"x": det_input(image)})[0][0, 0] for name, image in images.items()}


@pytest.fixture(scope="module")
def det_maps(detectors: dict[str, nn.Module], images: dict[str, np.ndarray]) -> dict[tuple[str, str], np.ndarray]:
    """The port's probability map [H, W] by (storage, image)."""
    return {
        (storage, name): run(net, det_input(image))[0, 0]
        for storage, net in detectors.items()
        for name, image in images.items()
    }


def test_parameter_counts_and_characters(
    detectors: dict[str, nn.Module], recognisers: dict[str, nn.Module], characters: list[str]
) -> None:
    assert sum(p.numel() for p in detectors["float32"].parameters()) == 2_453_353
    assert sum(p.numel() for p in recognisers["float32"].parameters()) == 5_266_550
    assert len(characters) + 2 == NUM_CLASSES == 18710
    assert characters[:3] == ["!", '"', "#"] and "a" in characters and "中" in characters
    assert label_set(SPEC.labels) == tuple(characters)  # the label set file is the ONNX metadata, written out


@pytest.mark.parametrize("storage", STORAGE)
@pytest.mark.parametrize("name", ["page", "text", "receipt"])
def test_detector_matches_onnxruntime(
    det_maps: dict[tuple[str, str], np.ndarray], det_reference: dict[str, np.ndarray], storage: str, name: str
) -> None:
    prob, expected = det_maps[storage, name], det_reference[name]
    assert prob.shape == expected.shape
    assert psnr(prob, expected, peak=1.0) >= (80 if storage == "float32" else 40)
    mask, expected_mask = prob > 0.3, expected > 0.3
    assert (mask & expected_mask).sum() / (mask | expected_mask).sum() >= 0.98


def test_detector_reference_figures(
    det_maps: dict[tuple[str, str], np.ndarray], det_reference: dict[str, np.ndarray]
) -> None:
    """WEIGHTS-wave2 §3.1: page() at 736x1472 → mean 0.17500, fraction above 0.3 0.17920, max 0.9999."""
    for prob in (det_reference["page"], det_maps["float32", "page"], det_maps["float16", "page"]):
        assert prob.shape == (736, 1472)
        assert prob.mean() == pytest.approx(0.17500, abs=1e-4)
        assert (prob > 0.3).mean() == pytest.approx(0.17920, abs=5e-4)
        assert prob.max() == pytest.approx(0.9999, abs=1e-4)


@pytest.mark.parametrize(("name", "expected"), [("page", [line[0] for line in PAGE_LINES]), ("receipt", RECEIPT_BOXES)])
def test_db_boxes_reproduce_rapidocr(
    det_reference: dict[str, np.ndarray], images: dict[str, np.ndarray], name: str, expected: tuple
) -> None:
    """On the original runtime's map, the DB post-processing gives rapidocr's boxes to the pixel."""
    prob = det_reference[name]
    boxes, scores = scale_boxes(*db_boxes(prob), prob.shape, images[name].shape[:2])
    assert boxes[reading_order(boxes)].tolist() == list(expected)
    assert np.all(scores >= 0.5)


def line_crops(image: np.ndarray, prob: np.ndarray) -> list[np.ndarray]:
    """The line crops of ``image`` from the boxes in its probability map, in reading order."""
    boxes, _ = scale_boxes(*db_boxes(prob), prob.shape, image.shape[:2])
    return [crop_line(image, box) for box in boxes[reading_order(boxes)]]


@pytest.mark.parametrize("storage", STORAGE)
@pytest.mark.parametrize("name", ["page", "receipt"])
def test_recogniser_matches_onnxruntime(
    det_maps: dict[tuple[str, str], np.ndarray],
    recognisers: dict[str, nn.Module],
    rec_session: ort.InferenceSession,
    characters: list[str],
    images: dict[str, np.ndarray],
    storage: str,
    name: str,
) -> None:
    crops = line_crops(images[name], det_maps[storage, name])
    assert len(crops) == (len(PAGE_LINES) if name == "page" else len(RECEIPT_LINES))
    texts: list[str] = [""] * len(crops)
    for indices, batch in rec_batches(crops):
        expected_probs = rec_session.run(None, {"x": batch})[0]
        probs = run(recognisers[storage], batch)
        assert probs.shape == expected_probs.shape
        assert probs.shape[::2] == (len(indices), NUM_CLASSES)
        decoded = ctc_greedy_decode(probs, characters)
        for i, (text, score), (expected_text, expected_score) in zip(
            indices, decoded, ctc_greedy_decode(expected_probs, characters), strict=True
        ):
            assert text == expected_text
            assert score == pytest.approx(expected_score, abs=0.01)
            texts[i] = text
    if name == "page":
        assert texts == [text for _, text, _ in PAGE_LINES]
    else:  # the rendered text itself, but for at most one misread line
        assert sum(text == line[0] for text, line in zip(texts, RECEIPT_LINES, strict=True)) >= len(texts) - 1


def test_recogniser_reference_figures(
    recognisers: dict[str, nn.Module],
    rec_session: ort.InferenceSession,
    characters: list[str],
    images: dict[str, np.ndarray],
) -> None:
    """WEIGHTS-wave2 §3.1: the title crop page()[9:36, 3:296] at 48x521 → [1, 65, 18710], its text, mean prob 1.0."""
    title = cv2.resize(images["page"][9:36, 3:296, ::-1], (521, REC_HEIGHT)).astype(np.float32)
    batch = ((title / 255 - 0.5) / 0.5).transpose(2, 0, 1)[None].copy()
    for probs in (rec_session.run(None, {"x": batch})[0], *(run(net, batch) for net in recognisers.values())):
        assert probs.shape == (1, 65, NUM_CLASSES)
        ((text, score),) = ctc_greedy_decode(probs, characters)
        assert text == "Region-based segmentation"
        assert score == pytest.approx(1.0, abs=1e-3)


def test_full_page_reads_as_rapidocr(
    det_maps: dict[tuple[str, str], np.ndarray],
    recognisers: dict[str, nn.Module],
    characters: list[str],
    images: dict[str, np.ndarray],
) -> None:
    """The float16-stored pair with the post-processing reads page() as rapidocr 3.10.0 does (use_cls=False)."""
    prob = det_maps["float16", "page"]
    boxes, _ = scale_boxes(*db_boxes(prob), prob.shape, images["page"].shape[:2])
    boxes = boxes[reading_order(boxes)]
    crops = [crop_line(images["page"], box) for box in boxes]
    results: list[tuple[str, float]] = [("", 0.0)] * len(crops)
    for indices, batch in rec_batches(crops):
        for i, result in zip(indices, ctc_greedy_decode(run(recognisers["float16"], batch), characters), strict=True):
            results[i] = result
    assert boxes.tolist() == [line[0] for line in PAGE_LINES]
    for (text, score), (_, expected_text, expected_score) in zip(results, PAGE_LINES, strict=True):
        assert text == expected_text
        assert score == pytest.approx(expected_score, abs=0.01)


def test_exports_have_the_original_graphs_ops(
    files: SourceFiles,
    detectors: dict[str, nn.Module],
    recognisers: dict[str, nn.Module],
    det_reference: dict[str, np.ndarray],
    images: dict[str, np.ndarray],
    tmp_path: Path,
) -> None:
    """The exports that optik's onnxruntime backend runs keep the original graphs' squeeze-excite gates
    (HardSigmoid, fused into the conv before it) and SAME-padded 2x2 MaxPool, not clip or slice/max forms that
    onnxruntime cannot fuse (they made the detector 10 % slower than rapidocr's file); and they compute what
    the original does."""
    nets = {DET_FILE: (detectors["float32"], (1, 3, 64, 64)), REC_FILE: (recognisers["float32"], (2, 3, 48, 64))}
    for name, (net, shape) in nets.items():
        path = export(net, (torch.rand(shape),), tmp_path, "dynamic")
        ops = Counter(node.op_type for node in onnx.load(str(path)).graph.node)
        original = Counter(node.op_type for node in onnx.load(str(files.one(name))).graph.node)
        assert [ops[op] for op in ("Conv", "HardSigmoid", "MaxPool")] == [
            original[op] for op in ("Conv", "HardSigmoid", "MaxPool")
        ]
        assert ops["Clip"] == ops["Max"] == 0
        if name == DET_FILE:
            prob = session(path).run(None, {"input0": det_input(images["page"])})[0][0, 0]
            assert psnr(prob, det_reference["page"], peak=1.0) >= 80


def test_ctc_decode_merges_repeats_and_drops_blanks() -> None:
    characters = ["a", "b"]  # classes: 0 blank, 1 "a", 2 "b", 3 space
    steps = [1, 1, 0, 1, 2, 2, 3, 0]
    probs = np.full((1, len(steps), 4), 0.1, np.float32)
    probs[0, np.arange(len(steps)), steps] = [0.9, 0.7, 0.8, 0.6, 0.5, 0.9, 0.4, 0.99]
    ((text, score),) = ctc_greedy_decode(probs, characters)
    assert text == "aab "
    assert score == pytest.approx(np.mean([0.9, 0.6, 0.5, 0.4]))
    assert ctc_greedy_decode(np.eye(4, dtype=np.float32)[[0, 0]][None], characters) == [("", 0.0)]
    with pytest.raises(ValueError, match="classes"):
        ctc_greedy_decode(probs[..., :3], characters)
