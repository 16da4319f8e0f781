"""ocr end to end, as a user meets it: the embedded PP-OCRv6 pair on scikit-image's page(), a rendered
receipt and notice, rotated and large images (small print on a large scan, read tile by tile); records,
plain text, checks, exit codes, redaction.

page()'s expected lines are rapidocr 3.10.0's own output (tests/test_ocr_fidelity.py), so these tests
also prove that optik's whole path (page bounds, detector, DB boxes, crops, batches, decoding, mapping
back) reads an image as rapidocr does.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import optik
from optik.errors import SettingError
from optik.preprocess.draw import pixel_region
from optik.preprocess.text_lines import detector_size, make_page
from optik.tasks.ocr import OcrResult, PPOCRReader, TextLine, check_text, nearest_text
from optik.tasks.settings import TextChecks
from tests.helpers import jsonl, write_rgb
from tests.helpers import optik as run_optik
from tests.test_ocr_fidelity import PAGE_LINES, RECEIPT_LINES, render_receipt

NOTICE = ("WELCOME", "Opening hours 9-17", "Exit B, level 2")


def render_notice(size: int = 320, scale: float = 1.0) -> np.ndarray:
    """A door notice (RGB): three lines in dark blue on white."""
    image = np.full((size, size, 3), 255, np.uint8)
    for y, text, font_scale in zip((70, 150, 230), NOTICE, (1.6, 0.8, 0.9), strict=True):
        origin = (round(20 * scale), round(y * scale))
        cv2.putText(image, text, origin, cv2.FONT_HERSHEY_DUPLEX, font_scale * scale, (20, 20, 120), 2, cv2.LINE_AA)
    return image


@pytest.fixture(scope="module")
def page(sample: Callable[[str], np.ndarray]) -> np.ndarray:
    return sample("page")  # 191×384 gray


@pytest.fixture(scope="module")
def page_result(page: np.ndarray) -> OcrResult:
    return optik.ocr(page)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, page: np.ndarray) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("ocr")
    cv2.imwrite(str(folder / "page.png"), page)
    return {"page": folder / "page.png", "notice": write_rgb(folder / "notice.png", render_notice())}


def test_page_reads_as_rapidocr(page_result: OcrResult):
    result = page_result
    assert (result.model, result.width, result.height) == ("ppocr-v6", 384, 191)
    assert [line.text for line in result.lines] == [text for _, text, _ in PAGE_LINES]
    for line, (corners, _, score) in zip(result.lines, PAGE_LINES, strict=True):
        assert [list(point) for point in line.polygon] == corners  # rapidocr's corners to the pixel
        assert line.score == pytest.approx(score, abs=0.01)
        xs, ys = zip(*corners, strict=True)
        assert line.box == (min(xs), min(ys), max(xs), max(ys))
    assert result.text.splitlines() == [line.text for line in result.lines]
    record = result.to_record()
    assert set(record) == {"path", "model", "width", "height", "text", "lines"}
    assert record["lines"][0] == {
        "text": "Region-based segmentation",
        "score": pytest.approx(1.0, abs=1e-3),
        "box": [3.0, 9.0, 296.0, 36.0],
        "polygon": [[3.0, 9.0], [296.0, 10.0], [295.0, 36.0], [3.0, 35.0]],
    }
    rows = result.csv_rows()
    assert [row["line"] for row in rows] == list(range(1, 8)) and rows[6]["text"] == "markers = np.zeros like(coins)"


def test_receipt_upright_and_rotated():
    """Rendered text in six fonts; turned by 12°, the lines come out as rotated quadrilaterals, read the same."""
    receipt = render_receipt()
    upright = optik.ocr(receipt)
    texts = [line.text for line in upright.lines]
    assert sum(text == line[0] for text, line in zip(texts, RECEIPT_LINES, strict=True)) >= len(RECEIPT_LINES) - 1
    height, width = receipt.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), 12, 1.0)
    rotated = optik.ocr(cv2.warpAffine(receipt, turn, (width, height), borderValue=(248, 248, 248)))
    assert [line.text for line in rotated.lines] == texts
    for line in rotated.lines:
        (x0, y0), (x1, y1) = line.polygon[:2]
        assert np.degrees(np.arctan2(y0 - y1, x1 - x0)) == pytest.approx(12, abs=2.5)  # the top edge climbs 12°


def test_vertical_lines_are_turned_and_read(page: np.ndarray):
    """page() turned a quarter clockwise: each line is a tall crop, turned back before reading (no angle
    classifier: a quarter anticlockwise would read upside down)."""
    texts = [line.text for line in optik.ocr(np.ascontiguousarray(np.rot90(page, -1))).lines]
    for _, text, _ in PAGE_LINES[:-1]:
        assert text in texts
    assert any(text.endswith("markers = np.zeros like(coins)") for text in texts)


def render_small_print(width: int = 4800, height: int = 3200) -> tuple[np.ndarray, list[tuple[str, int, int]]]:
    """A large scan of small print (RGB): twelve blocks of three lines 10 px high (capitals) in a 4×3 grid, and
    one long line across the corner where four of the detector's tiles meet; each line's text and origin."""
    image = np.full((height, width, 3), 255, np.uint8)
    lines: list[tuple[str, int, int]] = []

    def write(text: str, x: int, y: int) -> None:
        cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (30, 30, 30), 1, cv2.LINE_AA)
        lines.append((text, x, y))

    for n in range(12):
        row, col = divmod(n, 4)
        x, y = round((col + 0.15) * width / 4), round((row + 0.3) * height / 3)
        write(f"Lot {n:02d} batch {7 * n + 31} of {1000 + 37 * n}", x, y)
        write(f"Paid {n + 3}.{13 * n % 100:02d} EUR on day {n % 28 + 1}", x, y + 28)
        write(f"Ref AB-{4000 + 71 * n} shelf {n % 9 + 1}", x, y + 56)
    tiles = PPOCRReader.tiles(height, width)
    corner_x, corner_y = tiles[1].core[1].stop, tiles[0].core[0].stop
    write("This line crosses the seams of four tiles and is read once, by QA-5150", corner_x - 300, corner_y + 5)
    return image, lines


def test_small_print_on_large_scans_is_read_tile_by_tile():
    """Beyond 2000 px, where rapidocr scales the image down (10-px print to 4 px, misread), the detector runs
    on tiles at the image's own scale: every line is read exactly, once (also the one across four tiles),
    where it was written."""
    image, lines = render_small_print()
    result = optik.ocr(image)
    assert sorted(line.text for line in result.lines) == sorted(text for text, _, _ in lines)
    for line in result.lines:
        x, y = next((x, y) for text, x, y in lines if text == line.text)
        x1, y1, x2, y2 = line.box
        assert abs(x1 - x) <= 12 and y1 < y < y2 + 4  # from the origin, around the baseline
    x1, y1, x2, y2 = next(line.box for line in result.lines if line.text.startswith("This line crosses"))
    tiles = PPOCRReader.tiles(*image.shape[:2])
    assert x1 < tiles[1].core[1].stop < x2 and y1 < tiles[0].core[0].stop < y2
    bounded, _ = make_page(image, 30, 2000, 32, 8.0, 30)  # what rapidocr reads: 1344×1984
    misread = optik.ocr(bounded).lines
    assert sum(line.text in {text for text, _, _ in lines} for line in misread) < len(lines) / 4  # 5 of 37


def test_large_images_are_tiled_and_mapped_back():
    """A 2400×900 notice is detected at its own scale, tile by tile (rapidocr reads it at 1984×736), and its
    lines come back in the image's own pixels."""
    notice = np.full((900, 2400, 3), 255, np.uint8)
    notice[:, 300:1200] = render_notice(900, 900 / 320)
    assert len(PPOCRReader.tiles(900, 2400)) == 3
    result = optik.ocr(notice)
    assert [line.text for line in result.lines] == list(NOTICE)
    x1, y1, x2, y2 = result.lines[0].box
    assert 300 < x1 < 400 and 50 < y1 < 150 and 900 < x2 < 1200 and 200 < y2 < 300  # ink at x 363-1010, y 101-198


def test_page_geometry_follows_rapidocr():
    """Bounds (rapidocr's): the longer side to 2000 at most, the shorter to 30 at least, in steps of 32; a strip
    (wider than 8× its height) gets black rows above and below; the detector sees the shorter side at 736 or
    more."""
    page, to_page = make_page(np.zeros((900, 2400, 3), np.uint8), 30, 2000, 32, 8.0, 30)
    assert page.shape[:2] == (736, 1984) and detector_size(736, 1984, 736, 32) == (736, 1984)
    assert (to_page.scale_x, to_page.scale_y) == (1984 / 2400, 736 / 900)
    strip = np.full((40, 600, 3), 255, np.uint8)
    padded, to_page = make_page(strip, 30, 2000, 32, 8.0, 30)
    assert padded.shape[:2] == (150, 600) and to_page.offset_y == 55
    assert (padded[:55] == 0).all() and (padded[55:95] == 255).all() and (padded[95:] == 0).all()
    tiny, to_page = make_page(np.full((5, 60, 3), 255, np.uint8), 30, 2000, 32, 8.0, 30)
    assert tiny.shape[:2] == (88, 352) and (to_page.scale_y, to_page.offset_y) == (6.4, 28)  # 32×352, then padded
    assert detector_size(191, 384, 736, 32) == (736, 1472)
    assert detector_size(1200, 1600, 736, 32) == (1216, 1600)


def test_api_takes_paths_arrays_and_transparency(files: dict[str, Path]):
    notice = render_notice()
    from_path, from_array = optik.ocr([files["notice"], notice])
    assert [line.text for line in from_path.lines] == list(NOTICE) == [line.text for line in from_array.lines]
    assert from_path.path == str(files["notice"]) and from_array.path.startswith("<array")
    ink = np.zeros((320, 320, 4), np.uint8)  # dark text on a transparent background: read on white
    ink[..., 3] = 255 - notice.min(2)
    assert optik.ocr(ink).text == "\n".join(NOTICE)
    confident = optik.ocr(notice, min_score=0.98)
    assert [line.text for line in confident.lines] == ["WELCOME", "Exit B, level 2"]  # "Opening…" scores 0.974
    with pytest.raises(SettingError, match="min_score"):
        optik.ocr(notice, min_score=1.5)


def test_redaction_changes_only_pixels_inside_line_boxes(page_result: OcrResult, page: np.ndarray):
    inside = np.zeros(page.shape, bool)
    for line in page_result.lines:
        x0, y0, x1, y1 = pixel_region(line.box, page.shape[1], page.shape[0])
        inside[y0:y1, x0:x1] = True
    for mode in ("blur", "pixelate", "fill"):
        hidden = page_result.render(mode)
        assert hidden.gray and hidden.pixels.shape == (*page.shape, 3)
        changed = (hidden.pixels != np.repeat(page[..., None], 3, 2)).any(2)
        assert changed.any() and not (changed & ~inside).any()
    assert (page_result.render("fill").pixels[inside] == 0).all()
    annotated = page_result.render()
    assert annotated.pixels.shape == (191, 2 * 384, 3)  # the image, and the text written beside it
    assert (annotated.pixels[:, 384:] == 255).mean() > 0.5 and (annotated.pixels[:, 384:] < 128).any()


def test_checks_find_wrapped_phrases_and_name_the_nearest_text(page_result: OcrResult):
    def failure(**checks: object) -> str | None:
        return check_text(page_result, TextChecks(**checks))

    assert failure(expect_text=("Region-based segmentation", "coins and the background")) is None  # wraps a line
    assert failure(expect_text="REGION-BASED", ignore_case=True) is None
    assert failure(expect_text="REGION-BASED") == (
        "no text containing 'REGION-BASED' (nearest: 'Region-based' in line 1)"
    )
    assert "nearest: 'markers' in line 2" in failure(expect_text="markets")
    assert failure(forbid_text="extreme") == (
        "found forbidden text 'extreme' in line 5: 'the markers are found at the two extreme parts of the'"
    )
    assert failure(expect_text=r"^histogram of \w+ values:$", regex=True) is None
    assert failure(forbid_text=r"lorem|ipsum|TODO", regex=True) is None
    assert failure(min_lines=7, max_lines=7) is None
    assert failure(min_lines=8) == "7 line(s) of text, fewer than the minimum of 8"
    assert failure(max_lines=6) == "7 line(s) of text, more than the maximum of 6"
    blank = OcrResult("blank.png", "ppocr-v6", 10, 10)
    assert check_text(blank, TextChecks(expect_text="x")) == "no text containing 'x' (no text found at all)"
    assert nearest_text("two extreme", ["at the two extremes", "two"]) == ("two extremes", 1)
    line = TextLine("x", 0.9, ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)))
    assert OcrResult("a.png", "ppocr-v6", 1, 1, [line], heading=True).to_text() == "==> a.png <==\nx"
    assert blank.to_text() is None  # nothing printed for an image without text


@pytest.mark.parametrize(
    ("checks", "field"),
    [
        ({"expect_text": "(", "regex": True}, "expect_text"),
        ({"forbid_text": "[a-", "regex": True}, "forbid_text"),
        ({"expect_text": " "}, "expect_text"),
        ({"min_lines": 3, "max_lines": 2}, "min_lines"),
    ],
)
def test_bad_checks_are_setting_errors(checks: dict, field: str):
    with pytest.raises(SettingError) as raised:
        TextChecks(**checks)
    assert raised.value.field == field


def test_cli_prints_the_plain_text_and_records(files: dict[str, Path]):
    single = run_optik("ocr", str(files["notice"]))
    assert single.returncode == 0 and single.stdout.decode() == "\n".join(NOTICE) + "\n"
    both = run_optik("ocr", str(files["notice"]), str(files["page"]))
    text = both.stdout.decode().splitlines()
    assert text[:4] == [f"==> {files['notice']} <==", *NOTICE] and text[4] == f"==> {files['page']} <=="
    assert text[5:] == [line for _, line, _ in PAGE_LINES]
    records = jsonl(run_optik("ocr", str(files["notice"]), "--format", "jsonl").stdout)
    assert [line["text"] for line in records[0]["lines"]] == list(NOTICE) and records[0]["text"] == "\n".join(NOTICE)
    rows = list(csv.DictReader(io.StringIO(run_optik("ocr", str(files["notice"]), "--format", "csv").stdout.decode())))
    assert [row["text"] for row in rows] == list(NOTICE) and rows[0]["polygon"].count(",") == 4


def test_cli_checks_exit_1_naming_the_image_and_the_nearest_text(files: dict[str, Path]):
    notice = str(files["notice"])
    passed = run_optik("ocr", notice, "--expect-text", "welcome", "--ignore-case", "--forbid-text", "lorem ipsum")
    assert passed.returncode == 0 and "check failed" not in passed.stderr
    failed = run_optik("ocr", notice, "--expect-text", "Opening hours 9-18", "--format", "json")
    assert failed.returncode == 1
    assert f"check failed: {notice}: no text containing 'Opening hours 9-18'" in failed.stderr
    assert "(nearest: 'Opening hours 9-17' in line 2)" in failed.stderr
    (record,) = json.loads(failed.stdout)
    assert record["check"]["passed"] is False
    assert run_optik("ocr", notice, "--forbid-text", "exit b", "--ignore-case").returncode == 1
    assert run_optik("ocr", notice, "--regex", "--forbid-text", r"\d+-\d+").returncode == 1
    assert run_optik("ocr", notice, "--min-lines", "3", "--max-lines", "3").returncode == 0
    assert run_optik("ocr", notice, "--max-lines", "2").returncode == 1


def test_cli_usage_errors_exit_2(files: dict[str, Path]):
    notice = str(files["notice"])
    bad_regex = run_optik("ocr", notice, "--regex", "--expect-text", "(")
    assert bad_regex.returncode == 2 and "--expect-text: '(' is not a regular expression" in bad_regex.stderr
    assert "--redact writes" in run_optik("ocr", notice, "--redact", "fill").stderr
    assert run_optik("ocr", notice, "--min-lines", "3", "--max-lines", "2").returncode == 2
    assert run_optik("ocr", notice, "--ignore-case").returncode == 2


def test_cli_writes_annotated_and_redacted_images(files: dict[str, Path], tmp_path: Path):
    notice = str(files["notice"])
    result = run_optik("ocr", notice, "-o", str(tmp_path / "annotated.png"), "--format", "jsonl")
    assert result.returncode == 0 and jsonl(result.stdout)[0]["output"] == str(tmp_path / "annotated.png")
    assert cv2.imread(str(tmp_path / "annotated.png")).shape == (320, 640, 3)
    assert run_optik("ocr", notice, "--redact", "fill", "-o", str(tmp_path / "redacted.png")).returncode == 0
    redacted = cv2.cvtColor(cv2.imread(str(tmp_path / "redacted.png")), cv2.COLOR_BGR2RGB)
    original = render_notice()
    changed = (redacted != original).any(2)
    inside = np.zeros_like(changed)
    for line in optik.ocr(original).lines:
        x0, y0, x1, y1 = pixel_region(line.box, 320, 320)
        inside[y0:y1, x0:x1] = True
    assert changed.any() and not (changed & ~inside).any() and (redacted[inside] == 0).all()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_fp16_reads_page_as_the_cpu_does(page: np.ndarray, page_result: OcrResult):
    gpu = optik.ocr(page, device="cuda", half=True)
    assert [line.text for line in gpu.lines] == [line.text for line in page_result.lines]
    for mine, cpu in zip(gpu.lines, page_result.lines, strict=True):
        assert mine.score == pytest.approx(cpu.score, abs=0.01)
        assert np.abs(np.subtract(mine.polygon, cpu.polygon)).max() <= 2
