"""Issue 18, the reading side: special files, bounded reads, bombs refused from the header, orientation applied
once, float and odd TIFFs, one set of extensions, --files-from names, no library noise, small pixel limits."""

from __future__ import annotations

import importlib
import io
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from optik.errors import InputError, UsageError
from optik.io.inputs import InputItem, discover, read_path_list, read_regular_file
from optik.preprocess.decode import CodecMessage, decode, encode, pixel_count_text
from optik.preprocess.headers import FORMATS, IMAGE_EXTENSIONS, OUTPUT_EXTENSIONS, read_header
from tests.fuzz.corpus import minimal_tiff, png_bomb, png_chunk

ROOT = Path(__file__).resolve().parents[1]
decode_module = importlib.import_module("optik.preprocess.decode")  # the package exports a function of that name


def _picture(height: int = 24, width: int = 32) -> np.ndarray:
    """RGB uint8 whose every pixel differs, so any flip or rotation shows."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 7 % 256, y * 11 % 256, (x * 3 + y * 5) % 256], -1).astype(np.uint8)


def _png(rgb: np.ndarray) -> bytes:
    return cv2.imencode(".png", rgb[:, :, ::-1] if rgb.ndim == 3 else rgb)[1].tobytes()


def _tiff(array: np.ndarray, **options: object) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, **options)
    return buffer.getvalue()


def _exif(orientation: int) -> bytes:
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _outcome(call: Callable[[], object], seconds: float = 5) -> object:
    """What ``call`` returns or raises; the test fails (instead of hanging) when it does not finish in time."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds} s"
    return outcome[0]


@pytest.fixture
def no_opencv_decode(monkeypatch):
    """Fails the test if anything reaches OpenCV's decoder."""

    def refuse(*args: object) -> None:
        raise AssertionError("cv2.imdecode was called")

    monkeypatch.setattr(decode_module.cv2, "imdecode", refuse)


# --- 1. special files and bounded reads -----------------------------------------------------------------------------


def test_named_special_files_are_one_line_errors_and_never_block(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "zero.jpg").symlink_to("/dev/zero")
    with socket.socket(socket.AF_UNIX) as unix_socket:
        unix_socket.bind(str(tmp_path / "sock.png"))
    for name, kind in (("pipe.png", "named pipe"), ("zero.jpg", "character device"), ("sock.png", "socket")):
        item = discover([str(tmp_path / name)])[0]
        error = _outcome(item.read)
        assert isinstance(error, InputError) and kind in str(error) and "\n" not in str(error)
    assert "/dev/zero" in str(_outcome(InputItem(str(tmp_path / "zero.jpg"), Path("zero.jpg")).read))


def test_walks_and_globs_skip_and_count_special_files(tmp_path):
    (tmp_path / "a.png").write_bytes(_png(_picture()))
    os.mkfifo(tmp_path / "b.png")
    (tmp_path / "c.jpg").symlink_to("/dev/zero")
    (tmp_path / "d.png").write_bytes(_png(_picture()))
    (tmp_path / "gone.png").symlink_to(tmp_path / "missing.png")
    os.mkfifo(tmp_path / "fifo-without-image-name")
    walked = _outcome(lambda: discover([str(tmp_path)], recursive=True))
    assert [item.relative.name for item in walked] == ["a.png", "d.png", "gone.png"]
    assert sorted(Path(path).name for path in walked.special_files) == ["b.png", "c.jpg"]
    assert [decode(item.read()).width for item in walked[:2]] == [32, 32]
    with pytest.raises(InputError, match="broken symbolic link"):
        walked[2].read()
    globbed = discover([f"{tmp_path}/*.*"])
    assert len(globbed) == 3 and len(globbed.special_files) == 2
    os.remove(tmp_path / "a.png")
    os.remove(tmp_path / "d.png")
    os.remove(tmp_path / "gone.png")
    with pytest.raises(UsageError, match="2 special files skipped"):
        discover([str(tmp_path)])


def test_reads_are_bounded_by_the_file_size_limit(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    path.write_bytes(bytes(1000))
    assert len(read_regular_file(str(path), 1000)) == 1000
    with pytest.raises(InputError, match="1000 bytes is over the file size limit of 999 bytes"):
        read_regular_file(str(path), 999)
    item = discover([str(path)], max_file_size=500)[0]
    with pytest.raises(InputError, match="over the file size limit of 500 bytes"):
        item.read()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(bytes(600))))
    with pytest.raises(InputError, match="stdin: more than"):
        InputItem("-", Path("stdin"), max_file_size=500).read()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(bytes(500))))
    assert len(InputItem("-", Path("stdin"), max_file_size=500).read()) == 500


# --- 2. decompression bombs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        png_bomb(20000, 20000),
        png_bomb(20000, 20000, before_data=png_chunk(b"tEXt", b"a\0b", crc=0)),  # the old probe failed, OpenCV decoded
        png_bomb(
            30000, 30000, after_data=png_chunk(b"eXIf", _exif(6)[6:])
        ),  # the old probe inflated it all to get there
        minimal_tiff({256: 64, 257: 64, 258: 8, 262: 1, 322: 15872, 323: 15872}, bytes(4096)),  # 1 GB tile buffer
        minimal_tiff({256: 100_000, 257: 100_000, 258: 16, 262: 1}, bytes(64), big_endian=True),
    ],
    ids=["zlib-20000", "bad-text-crc", "exif-after-data", "huge-tiles", "header-only-tiff"],
)
def test_bombs_are_refused_from_the_header_before_any_decoder_runs(data, no_opencv_decode):
    with pytest.raises(InputError, match="over the limit of 100 megapixels") as info:
        decode(data, "bomb.png")
    assert "\n" not in str(info.value)


def test_every_format_is_sized_from_its_header_and_unknown_data_is_never_decoded(no_opencv_decode):
    assert {image_format.name for image_format in FORMATS} >= {"PNG", "JPEG", "WebP", "TIFF", "BMP", "GIF", "PNM"}
    for data in (b"\x76\x2f\x31\x01" + bytes(64), b"random bytes " * 9, b"\0\0\0\x18ftypheic" + bytes(32)):
        with pytest.raises(InputError, match="not a readable image"):
            decode(data, "odd")
    with pytest.raises(InputError, match="over OpenCV's decoding limit"):
        decode(png_bomb(40000, 40000), "huge.png", max_pixels=2_000_000_000)


def test_opencv_failures_become_one_line_reasons_with_the_original_kept(monkeypatch):
    def assertion(*args: object) -> None:
        raise cv2.error("OpenCV(4.14.0) loadsave.cpp:1: error: (-215:Assertion failed) size in function 'x'\n> more")

    monkeypatch.setattr(decode_module.cv2, "imdecode", assertion)
    with pytest.raises(InputError) as info:
        decode(_png(_picture()), "x.png")
    assert str(info.value) == "x.png: not a readable image (corrupt or truncated PNG data)"
    assert isinstance(info.value.__cause__, CodecMessage) and "Assertion failed" in str(info.value.__cause__)


@pytest.mark.parametrize("extension", [".png", ".jpg", ".webp", ".gif", ".bmp", ".ppm", ".avif"])
def test_header_sizes_match_what_opencv_decodes(extension):
    data = cv2.imencode(extension, _picture(37, 53)[:, :, ::-1])[1].tobytes()
    header = read_header(data)
    assert (header.width, header.height) == (53, 37)
    assert decode(data).pixels.shape == (37, 53, 3)


# --- 3. orientation applied exactly once ----------------------------------------------------------------------------

DISPLAYED = {  # EXIF orientation → the upright picture, from the stored one
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: a.swapaxes(0, 1)[:, ::-1],
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
    8: lambda a: a.swapaxes(0, 1)[::-1],
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_tiff_orientation_is_applied_once(orientation):
    stored = _picture()
    for array in (stored, stored.astype(np.uint16) * 257):
        data = _tiff(array, photometric="rgb", extratags=[(274, "H", 1, orientation)])
        assert np.array_equal(decode(data).pixels, DISPLAYED[orientation](array))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_png_and_webp_exif_orientation_is_applied_once(orientation):
    stored = _picture()
    upright = DISPLAYED[orientation](stored).astype(int)
    pil = PILImage.fromarray(stored)
    for image_format, options in (
        ("JPEG", {"quality": 100, "subsampling": 0}),
        ("PNG", {}),
        ("WEBP", {"lossless": True}),
    ):
        buffer = io.BytesIO()
        pil.save(buffer, image_format, exif=_exif(orientation), **options)
        decoded = decode(buffer.getvalue()).pixels.astype(int)
        assert decoded.shape == upright.shape and np.abs(decoded - upright).mean() < 2, image_format
    png = _png(stored)
    after_data = png[:-12] + png_chunk(b"eXIf", _exif(orientation)[6:]) + png[-12:]  # only a chunk walk finds it
    assert np.array_equal(decode(after_data).pixels, DISPLAYED[orientation](stored))


def test_reduced_jpeg_decode_is_oriented_once_and_keeps_the_stored_size():
    buffer = io.BytesIO()
    PILImage.fromarray(_picture(480, 640)).save(buffer, "JPEG", exif=_exif(6), quality=95)
    image = decode(buffer.getvalue(), "big.jpg", min_side=100)
    assert (image.width, image.height) == (120, 160) and image.original_size == (480, 640)


# --- 4. float and odd TIFFs -----------------------------------------------------------------------------------------


def test_float_tiffs_must_be_finite():
    ramp = np.linspace(0, 1, 48, dtype=np.float32).reshape(6, 8)
    partly = ramp.copy()
    partly[0, :3] = np.nan
    for array, count in ((np.full((6, 8), np.nan, np.float32), "48 of 48"), (partly, "3 of 48")):
        with pytest.raises(InputError, match=f"{count} samples are NaN or infinite"):
            decode(_tiff(array), "nan.tif")
    for infinity in (np.inf, -np.inf):
        with pytest.raises(InputError, match="1 of 48 samples are NaN or infinite"):
            decode(_tiff(np.where(ramp == 1, infinity, ramp).astype(np.float32)), "inf.tif")
    image = decode(_tiff(ramp.astype(np.float64)), "ramp.tif")
    assert image.gray and image.bit_depth == 16
    assert np.array_equal(image.pixels[:, :, 0], (ramp * 65535 + 0.5).astype(np.uint16))


@pytest.mark.parametrize(
    ("dtype", "described"), [(np.float16, "16-bit float"), (np.uint32, "32-bit uint"), (np.int16, "16-bit int")]
)
def test_tiff_sample_types_opencv_cannot_decode_are_refused_up_front(dtype, described, no_opencv_decode):
    with pytest.raises(InputError, match=f"{described} TIFF samples are not supported"):
        decode(_tiff(np.zeros((4, 4), dtype)), "odd.tif")


def test_eight_bit_tiff_alpha_is_not_left_premultiplied():
    rgba = np.dstack([_picture(), np.full((24, 32), 128, np.uint8)])
    image = decode(_tiff(rgba, photometric="rgb", extrasamples=["unassalpha"]))
    assert np.array_equal(image.alpha, rgba[:, :, 3])
    assert np.abs(image.pixels.astype(int) - rgba[:, :, :3]).max() <= 1  # premultiplied, it came out about half


# --- 5. one set of extensions ---------------------------------------------------------------------------------------


def test_walks_take_every_extension_the_decoder_reads(tmp_path):
    assert {".gif", ".ppm", ".pgm", ".pbm", ".pam", ".pfm", ".hdr", ".jp2", ".avif", ".dib", ".jpe"} <= IMAGE_EXTENSIONS
    assert set(IMAGE_EXTENSIONS) == {ext for image_format in FORMATS for ext in image_format.extensions}
    for extension in IMAGE_EXTENSIONS:
        (tmp_path / f"x{extension.upper()}").write_bytes(b"x")
    assert len(discover([str(tmp_path)])) == len(IMAGE_EXTENSIONS)


@pytest.mark.parametrize("extension", [".gif", ".ppm", ".pam", ".pfm", ".sr", ".hdr", ".jp2", ".avif", ".bmp", ".webp"])
def test_formats_beyond_the_common_ones_decode(extension):
    bgr = _picture(40, 48)[:, :, ::-1]
    array = bgr.astype(np.float32) / 255 if extension in (".pfm", ".hdr") else bgr
    image = decode(cv2.imencode(extension, array)[1].tobytes(), f"x{extension}")
    assert (image.width, image.height) == (48, 40)


def test_animations_and_multi_page_tiffs_give_their_first_frame():
    frames = [PILImage.fromarray(np.full((8, 10, 3), value, np.uint8)) for value in (30, 200)]
    for image_format in ("GIF", "PNG", "WEBP"):
        buffer = io.BytesIO()
        frames[0].save(buffer, image_format, save_all=True, append_images=frames[1:], lossless=True)
        assert decode(buffer.getvalue()).pixels[0, 0].tolist() == [30, 30, 30], image_format
    pages = _tiff(np.stack([np.full((8, 10), 30, np.uint8), np.full((8, 10), 200, np.uint8)]))
    assert decode(pages).pixels[0, 0].tolist() == [30, 30, 30]


# --- 6. --files-from ------------------------------------------------------------------------------------------------


def test_path_lists_keep_every_name_exactly():
    listing = b"caf\xe9.png\n#not-a-comment.png\n  spaced.png  \n\nwindows.png\r\n"
    assert read_path_list(io.BytesIO(listing)) == [
        "caf\udce9.png",
        "#not-a-comment.png",
        "  spaced.png  ",
        "windows.png\r",
    ]
    assert read_path_list(io.BytesIO(b"line\nbreak.png\0other.png\0"), nul=True) == ["line\nbreak.png", "other.png"]


def test_files_from_reads_names_that_are_not_utf8(tmp_path):
    directory = os.fsencode(tmp_path)
    with open(directory + b"/caf\xe9 #1.png", "wb") as image:
        image.write(_png(_picture()))
    listing = tmp_path / "list.txt"
    listing.write_bytes(directory + b"/caf\xe9 #1.png\n")
    (item,) = discover([], files_from=str(listing))
    assert os.fsencode(item.source) == directory + b"/caf\xe9 #1.png"
    assert decode(item.read()).width == 32
    with pytest.raises(UsageError, match="cannot read"):
        discover([], files_from=str(tmp_path / "missing.txt"))


# --- 7. library noise -----------------------------------------------------------------------------------------------

NOISY = """
import cv2, numpy as np, tifffile, io
from optik.errors import InputError
from optik.preprocess.decode import decode
png = cv2.imencode(".png", np.zeros((64, 64, 3), np.uint8) + 90)[1].tobytes()
jpeg = bytearray(cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))[1].tobytes())
jpeg[len(jpeg) // 2 : len(jpeg) // 2 + 20] = bytes(20)
tif = io.BytesIO(); tifffile.imwrite(tif, np.zeros((64, 64), np.float16)); tif = tif.getvalue()
for data in (png[: len(png) * 2 // 3], png[:-30] + bytes(30), bytes(jpeg), tif, tif[:100], b"GIF89a" + bytes(20)):
    try:
        print(decode(data, "x").decode_warnings)
    except InputError as error:
        print(error, "|", error.__cause__)
"""


def test_codec_libraries_say_nothing_on_stderr_and_their_words_are_kept():
    run = subprocess.run([sys.executable, "-c", NOISY], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stderr == ""
    assert "libpng error" in run.stdout and "Corrupt JPEG data" in run.stdout
    assert run.stdout.count("not a readable image") >= 4


def test_output_caught_during_a_decode_is_passed_on_unless_it_is_a_library_message(capfd):
    with decode_module._LIBRARY_OUTPUT.catch() as caught:
        os.write(2, b"libpng error: IDAT: CRC error\n[ WARN:0@1.0] global grfmt_tiff.cpp:1 some warning\n")
        sys.stderr.write("optik: error: another thread's own line\n")
    assert caught == ["libpng error: IDAT: CRC error", "[ WARN:0@1.0] global grfmt_tiff.cpp:1 some warning"]
    assert capfd.readouterr().err == "optik: error: another thread's own line\n"


def test_encoding_round_trips_the_output_formats_and_refuses_others_in_one_line():
    image = decode(_png(_picture()))
    for extension in OUTPUT_EXTENSIONS:
        assert decode(encode(image, extension)).pixels.shape == (24, 32, 3)
    with pytest.raises(InputError, match=r"cannot encode an image as \.j2k$") as info:
        encode(image, ".j2k")  # readable, but this OpenCV has no encoder for it
    assert isinstance(info.value.__cause__, CodecMessage) and "encoder" in str(info.value.__cause__)


# --- 8. small pixel limits ------------------------------------------------------------------------------------------


def test_pixel_counts_read_well_at_any_scale():
    assert pixel_count_text(1000) == "1,000 pixels"
    assert pixel_count_text(1_000_000) == "1 megapixel"
    assert pixel_count_text(1_200_000) == "1.2 megapixels"
    assert pixel_count_text(3_600_000_000) == "3600 megapixels"
    with pytest.raises(InputError, match=r"32×24 is 768 pixels, over the limit of 700 pixels"):
        decode(_png(_picture()), "small.png", max_pixels=700)
