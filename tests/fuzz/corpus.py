"""A deterministic corpus of bad and unusual image inputs (issue 18), for fuzzing every way optik reads.

``make_corpus(directory)`` writes ≥ 300 inputs below ``directory`` and returns one :class:`Case` per
input: good images of every format and layout optik reads (orientations, 16-bit, float, palette, alpha,
animations, 1×N), files truncated at many cut points, zero-byte and random files, wrong extensions,
decompression bombs (real zlib PNG bombs of 20000²–60000² that stay a few MB, header-only bombs of every
format), NaN/Inf and unsupported TIFF samples, odd file names (non-UTF-8 bytes, newlines, spaces, ``#``)
and special files (a FIFO, links to ``/dev/zero`` and ``/dev/null``, a socket). Everything is derived
from one seed, so two corpora are byte-identical.

    python -m tests.fuzz.corpus DIR    # write the corpus, print the manifest (tab-separated)
"""

from __future__ import annotations

import io
import os
import socket
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import tifffile
from PIL import Image as PILImage

Outcome = Literal["ok", "error", "skip", "any"]
SEED = 18


@dataclass(frozen=True)
class Case:
    """One corpus input and what optik must make of it.

    ``expected``: when met in a recursive walk of the corpus directory — "ok" (decoded), "error" (a
    one-line input error), "skip" (not an input: special files, which are counted, hidden folders and
    names without an image extension), "any" (decoded or a one-line error: damaged data some codecs
    tolerate). ``named``: the same when the path is given by name (on the command line or in a list).
    """

    path: Path
    kind: str
    expected: Outcome
    named: Outcome

    @property
    def special(self) -> bool:
        """A FIFO, device or socket: skipped and counted in walks, an error when named."""
        return self.kind.startswith("special/")


class _Writer:
    """Writes corpus files and records their cases."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.cases: list[Case] = []

    def add(self, relative: str, data: bytes, kind: str, expected: Outcome, named: Outcome | None = None) -> None:
        path = self.directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.cases.append(Case(path, kind, expected, expected if named is None else named))

    def special(self, relative: str, kind: str, make: Callable[[Path], None]) -> None:
        path = self.directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            make(path)
        except OSError:  # e.g. a socket path over the 107-byte limit: leave that case out
            return
        self.cases.append(Case(path, f"special/{kind}", "skip", "error"))


# --- encoders ------------------------------------------------------------------------------------------------------


def _photo(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth RGB test picture with some noise: compresses like a photo, and every corner differs."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (height + width)], -1)
    return (base + rng.integers(-12, 13, base.shape)).clip(0, 255).astype(np.uint8)


def _cv(extension: str, array: np.ndarray, params: tuple[int, ...] = ()) -> bytes:
    ok, buffer = cv2.imencode(extension, array, list(params))
    assert ok, extension
    return buffer.tobytes()


def _pil(image: PILImage.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def _tiff(array: np.ndarray, **options: object) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, **options)
    return buffer.getvalue()


def _exif(orientation: int) -> bytes:
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def png_chunk(kind: bytes, payload: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + payload) if crc is None else crc
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _zlib_zeros(length: int) -> bytes:
    """A zlib stream of ``length`` zero bytes, built without compressing them all.

    Zeros are compressed once in 16 MiB pieces ended by a full flush (no reference crosses it), so the
    piece can be repeated; the Adler-32 of n zeros is (n mod 65521) << 16 | 1.
    """
    piece_size = 1 << 24
    pieces, rest = divmod(length, piece_size)
    piece = zlib.compressobj(9, zlib.DEFLATED, -15)
    repeated = piece.compress(bytes(piece_size)) + piece.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    ending = tail.compress(bytes(rest)) + tail.flush()
    return b"\x78\xda" + repeated * pieces + ending + struct.pack(">I", (length % 65521) << 16 | 1)


def png_bomb(width: int, height: int, channels: int = 1, before_data: bytes = b"", after_data: bytes = b"") -> bytes:
    """A real PNG of ``width``×``height`` black 8-bit pixels (gray or RGB): a few MB that inflate to W·H·C bytes."""
    color_type = {1: 0, 3: 2}[channels]
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))
    data = png_chunk(b"IDAT", _zlib_zeros(height * (1 + width * channels)))
    return b"\x89PNG\r\n\x1a\n" + header + before_data + data + after_data + png_chunk(b"IEND", b"")


def minimal_tiff(tags: dict[int, int], pixels: bytes = b"", big_endian: bool = False) -> bytes:
    """An uncompressed TIFF with one directory of LONG fields (``StripOffsets`` points at ``pixels``)."""
    order = ">" if big_endian else "<"
    tags = {**tags, 273: 0, 279: len(pixels)}  # StripOffsets, StripByteCounts
    directory_size = 2 + 12 * len(tags) + 4
    tags[273] = 8 + directory_size
    entries = b"".join(struct.pack(order + "HHII", tag, 4, 1, value) for tag, value in sorted(tags.items()))
    header = (b"MM\0*" if big_endian else b"II*\0") + struct.pack(order + "I", 8)
    return header + struct.pack(order + "H", len(tags)) + entries + b"\0\0\0\0" + pixels


def _patched(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
    patched = bytearray(data)
    struct.pack_into(fmt, patched, offset, *values)
    return bytes(patched)


# --- the corpus ----------------------------------------------------------------------------------------------------


def _good_images(writer: _Writer, rng: np.random.Generator) -> dict[str, bytes]:
    """Valid images of every format and layout; returns one sample per format for the damaged variants."""
    rgb = _photo(rng, 48, 64)
    bgr = rgb[:, :, ::-1]
    gray = rgb[:, :, 1]
    alpha = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1))
    bgra = np.dstack([bgr, alpha])
    rgb16 = rgb.astype(np.uint16) * 257
    pil = PILImage.fromarray(rgb)
    frames = [PILImage.fromarray(np.roll(rgb, shift, axis=1)) for shift in (0, 16, 32)]
    samples = {
        "png": _cv(".png", bgr),
        "jpg": _cv(".jpg", bgr, (cv2.IMWRITE_JPEG_QUALITY, 90)),
        "webp": _cv(".webp", bgr),
        "tif": _cv(".tif", bgr),
        "bmp": _cv(".bmp", bgr),
        "gif": _cv(".gif", bgr),
        "ppm": _cv(".ppm", bgr),
        "pam": _cv(".pam", bgr),
        "pfm": _cv(".pfm", bgr.astype(np.float32) / 255),
        "sr": _cv(".sr", bgr),
        "hdr": _cv(".hdr", bgr.astype(np.float32) / 255),
        "jp2": _cv(".jp2", bgr),
        "avif": _cv(".avif", bgr),
        "progressive.jpg": _pil(pil, "JPEG", progressive=True, quality=85),
    }
    variants = {
        **{f"good/sample.{name}": data for name, data in samples.items()},
        "good/rgba.png": _cv(".png", bgra),
        "good/gray.png": _cv(".png", gray),
        "good/gray-alpha.png": _pil(PILImage.fromarray(np.dstack([gray, alpha]), "LA"), "PNG"),
        "good/gray16.png": _cv(".png", rgb16[:, :, 1]),
        "good/rgb16.png": _cv(".png", rgb16[:, :, ::-1]),
        "good/rgba16.png": _cv(".png", np.dstack([rgb16[:, :, ::-1], alpha.astype(np.uint16) * 257])),
        "good/palette.png": _pil(pil.quantize(16), "PNG"),
        "good/palette-transparent.png": _pil(pil.quantize(16), "PNG", transparency=3),
        "good/bilevel.png": _pil(PILImage.fromarray(gray > 128), "PNG"),
        "good/animated.png": _pil(frames[0], "PNG", save_all=True, append_images=frames[1:]),
        "good/exif-after-data.png": samples["png"][:-12] + png_chunk(b"eXIf", _exif(3)[6:]) + samples["png"][-12:],
        "good/gray.jpg": _cv(".jpg", gray),
        "good/cmyk.jpg": _pil(pil.convert("CMYK"), "JPEG"),
        "good/subsampled-444.jpg": _pil(pil, "JPEG", subsampling=0),
        "good/optimized.jpg": _pil(pil, "JPEG", optimize=True),
        "good/broken-exif.jpg": _pil(pil, "JPEG", exif=b"Exif\0\0MM\0*\0\0\0\x08\xff\xff"),
        "good/lossless.webp": _cv(".webp", bgr, (cv2.IMWRITE_WEBP_QUALITY, 101)),
        "good/alpha.webp": _cv(".webp", bgra),
        "good/animated.webp": _pil(frames[0], "WEBP", save_all=True, append_images=frames[1:]),
        "good/exif.webp": _pil(pil, "WEBP", exif=_exif(6)),
        "good/gray.tif": _tiff(gray),
        "good/rgba.tif": _tiff(np.dstack([rgb, alpha]), photometric="rgb", extrasamples=["unassalpha"]),
        "good/rgb16.tif": _tiff(rgb16, photometric="rgb"),
        "good/float32.tif": _tiff(rgb.astype(np.float32) / 255, photometric="rgb"),
        "good/float64.tif": _tiff(gray.astype(np.float64) / 255),
        "good/tiled.tif": _tiff(rgb, photometric="rgb", tile=(32, 32)),
        "good/deflate.tif": _tiff(rgb, photometric="rgb", compression="zlib"),
        "good/lzw.tif": _pil(pil, "TIFF", compression="tiff_lzw"),
        "good/packbits.tif": _pil(PILImage.fromarray(gray), "TIFF", compression="packbits"),
        "good/bigtiff.tif": _tiff(rgb, photometric="rgb", bigtiff=True),
        "good/big-endian.tif": _tiff(rgb16, photometric="rgb", byteorder=">"),
        "good/multipage.tif": _tiff(np.stack([rgb, rgb[::-1]]), photometric="rgb"),
        "good/gray.bmp": _cv(".bmp", gray),
        "good/animated.gif": _pil(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=40, loop=0),
        "good/transparent.gif": _pil(pil.quantize(16), "GIF", transparency=2),
        "good/ascii.pbm": b"P1\n# a comment\n4 2\n0 1 0 1\n1 0 1 0\n",
        "good/ascii.pgm": b"P2\n3 2\n255\n0 128 255\n255 128 0\n",
        "good/ascii.ppm": b"P3\n2 1\n255\n255 0 0  0 0 255\n",
        "good/binary.pbm": _pil(PILImage.fromarray(gray > 128), "PPM"),
        "good/binary.pgm": _cv(".pgm", gray),
        "good/gray.pam": _cv(".pam", gray),
        "good/gray.pfm": _cv(".pfm", gray.astype(np.float32) / 255),
        "good/dib.dib": _cv(".bmp", bgr),
        "good/codestream.j2k": samples["jp2"][samples["jp2"].find(b"jp2c") + 4 :],  # the bare codestream
        "good/one-by-one.gif": _cv(".gif", bgr[:1, :1]),
        "good/one-row.png": _cv(".png", bgr[:1]),
        "good/one-column.png": _cv(".png", bgr[:, :1]),
        "good/one-row.jpg": _cv(".jpg", bgr[:1]),
        "good/one-column.webp": _cv(".webp", bgr[:, :1]),
        "good/one-row.tif": _tiff(rgb[:1], photometric="rgb"),
        "good/tall-1x300.png": _cv(".png", np.repeat(bgr[:, :1], 7, axis=0)[:300]),
        "good/wide-300x1.jpg": _cv(".jpg", np.tile(bgr[:1], (1, 5, 1))[:, :300]),
        "wrong-extension/png-as.jpg": samples["png"],
        "wrong-extension/jpeg-as.png": samples["jpg"],
        "wrong-extension/webp-as.tif": samples["webp"],
        "wrong-extension/tiff-as.webp": samples["tif"],
        "wrong-extension/gif-as.bmp": samples["gif"],
        "wrong-extension/bmp-as.ppm": samples["bmp"],
    }
    for orientation in range(1, 9):
        variants[f"orientation/exif-{orientation}.jpg"] = _pil(pil, "JPEG", exif=_exif(orientation), quality=90)
        variants[f"orientation/tag-{orientation}.tif"] = _tiff(
            rgb, photometric="rgb", extratags=[(274, "H", 1, orientation)]
        )
        variants[f"orientation/exif-{orientation}.png"] = _pil(pil, "PNG", exif=_exif(orientation))
    for relative, data in variants.items():
        writer.add(relative, data, relative.split("/")[0] + "/" + Path(relative).name, "ok")
    return samples


def _damaged(writer: _Writer, rng: np.random.Generator, samples: dict[str, bytes]) -> None:
    """Zero-byte, truncated, corrupted and random files."""
    for extension in sorted({Path(f"x.{name}").suffix for name in samples} | {".jpeg", ".tiff", ".pgm", ".pbm"}):
        writer.add(f"empty/empty{extension}", b"", "empty", "error")
    cuts = (1, 4, 8, 16, 33, 64)
    fractions = (0.1, 0.25, 0.5, 0.75, 0.9)
    for name, data in samples.items():
        for cut in sorted({*cuts, *(int(len(data) * fraction) for fraction in fractions)}):
            relative = f"truncated/{name.replace('.', '-')}-{cut}.{name.split('.')[-1]}"
            writer.add(relative, data[:cut], "truncated", "error")
        damaged = bytearray(data)
        middle = len(damaged) // 2
        damaged[middle : middle + 24] = rng.integers(0, 256, 24, dtype=np.uint8).tobytes()
        writer.add(f"corrupt/sample.{name}", bytes(damaged), "corrupt-middle", "any")
        writer.add(f"corrupt/signature-then-noise.{name}", data[:12] + rng.bytes(4096), "signature-then-noise", "error")
    for index in range(24):
        extension = (".png", ".jpg", ".webp", ".tif", ".gif", ".bmp")[index % 6]
        writer.add(f"random/noise-{index:02d}{extension}", rng.bytes(int(rng.integers(1, 20000))), "random", "error")
    writer.add("random/text.png", b"this is not an image\n" * 40, "text", "error")
    writer.add("random/html.jpg", b"<!doctype html><title>404</title>", "text", "error")


def _bombs(writer: _Writer, samples: dict[str, bytes]) -> None:
    """Real zlib PNG bombs and header-only bombs of every format: all over the default 100 MP limit."""
    exif_rotated = png_chunk(b"eXIf", _exif(6)[6:])
    bad_text = png_chunk(b"tEXt", b"Comment\0made to fail Pillow", crc=0)
    for relative, data in {
        "bombs/zlib-gray-20000.png": png_bomb(20000, 20000),
        "bombs/zlib-gray-40000.png": png_bomb(40000, 40000),
        "bombs/zlib-gray-60000.png": png_bomb(60000, 60000),
        "bombs/zlib-rgb-60000.png": png_bomb(60000, 60000, channels=3),
        "bombs/zlib-bad-text-crc-20000.png": png_bomb(20000, 20000, before_data=bad_text),
        "bombs/zlib-exif-after-data-30000.png": png_bomb(30000, 30000, after_data=exif_rotated),
        "bombs/zlib-gray-12000.png": png_bomb(12000, 12000),  # 144 MP: just over the limit
    }.items():
        writer.add(relative, data, "bomb/zlib", "error")
    huge = 100_000
    jpeg, gif, bmp = samples["jpg"], samples["gif"], samples["bmp"]
    sof = next(i for i in range(2, len(jpeg) - 1) if jpeg[i] == 0xFF and jpeg[i + 1] in (0xC0, 0xC2))
    webp_lossless = _cv(".webp", np.zeros((8, 8, 3), np.uint8), (cv2.IMWRITE_WEBP_QUALITY, 101))
    avif = samples["avif"]
    ispe = avif.find(b"ispe")
    jp2 = samples["jp2"]
    codestream = jp2.find(b"\xff\x4f\xff\x51")
    header_bombs = {
        "bombs/header.png": b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", huge, huge, 8, 2, 0, 0, 0))
        + png_chunk(b"IDAT", zlib.compress(bytes(1000)))
        + png_chunk(b"IEND", b""),
        "bombs/header.jpg": _patched(jpeg, sof + 5, ">HH", 65000, 65000),
        "bombs/header.gif": _patched(gif, 6, "<HH", 65535, 65535),
        "bombs/header.bmp": _patched(bmp, 18, "<ii", huge, huge),
        "bombs/header.tif": minimal_tiff({256: huge, 257: huge, 258: 8, 262: 1, 277: 1, 278: huge}, b"\0" * 64),
        "bombs/header-big-endian.tif": minimal_tiff({256: huge, 257: huge, 258: 8, 262: 1}, b"\0" * 64, True),
        "bombs/huge-tiles.tif": minimal_tiff({256: 64, 257: 64, 258: 8, 262: 1, 322: 15872, 323: 15872}, bytes(4096)),
        "bombs/huge-strips.tif": minimal_tiff({256: 10000, 257: 10, 258: 8, 262: 1, 278: 20000}, bytes(100000)),
        "bombs/header-vp8x.webp": b"RIFF\x16\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0" + b"\xff\x3f\0" * 2,
        "bombs/header-vp8l.webp": _patched(webp_lossless, 21, "<I", 0x3FFF | 0x3FFF << 14),
        "bombs/header.ppm": b"P6\n100000 100000\n255\n" + bytes(300),
        "bombs/header.pam": b"P7\nWIDTH 100000\nHEIGHT 100000\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n"
        + bytes(300),
        "bombs/header.pfm": b"PF\n100000 100000\n-1.0\n" + bytes(300),
        "bombs/header.hdr": b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 100000 +X 100000\n" + bytes(300),
        "bombs/header.sr": _patched(samples["sr"], 4, ">II", huge, huge),
        "bombs/header.jp2": _patched(jp2, codestream + 8, ">II", huge, huge),
        "bombs/header.avif": _patched(avif, ispe + 8, ">II", 60000, 60000),
    }
    for relative, data in header_bombs.items():
        writer.add(relative, data, "bomb/header", "error")


def _unusual_samples(writer: _Writer) -> None:
    """Float TIFFs that are not finite, and sample types OpenCV does not decode."""
    ramp = np.linspace(0, 1, 48 * 64, dtype=np.float32).reshape(48, 64)
    partly = ramp.copy()
    partly[10:20, 10:20] = np.nan
    for name, array in {
        "all-nan": np.full((48, 64), np.nan, np.float32),
        "partly-nan": partly,
        "plus-inf": np.where(ramp > 0.5, np.inf, ramp).astype(np.float32),
        "minus-inf": np.where(ramp > 0.5, -np.inf, ramp).astype(np.float32),
        "float16": ramp.astype(np.float16),
        "uint32": (ramp * 4e9).astype(np.uint32),
        "int16": (ramp * 3e4).astype(np.int16),
        "int8": (ramp * 100).astype(np.int8),
    }.items():
        writer.add(f"samples/{name}.tif", _tiff(array), f"samples/{name}", "error")
    writer.add("samples/nan.pfm", b"Pf\n2 1\n-1.0\n" + np.array([np.nan, 0.5], "<f4").tobytes(), "samples/nan", "error")


def _names(writer: _Writer, png: bytes) -> None:
    """Odd file names holding a good image, files a walk does not take, and special files."""
    for name in (
        os.fsdecode(b"latin1-caf\xe9.png"),
        "line\nbreak.png",
        " leading-space.png",
        "#hash.png",
        "-dash.png",
        "glob[a]*?.png",
        "tab\tname.png",
        "quote'\"name.png",
        "back\\slash.png",
        "日本語.png",
        "UPPER.PNG",
        "x" * 200 + ".png",
    ):
        writer.add(f"names/{name}", png, "names", "ok")
    writer.add(".hidden/inside-hidden.png", png, "hidden-folder", "skip", "ok")
    writer.add("names/no-extension", png, "no-image-extension", "skip", "ok")
    writer.add("names/trailing-space.png ", png, "no-image-extension", "skip", "ok")  # its suffix is ".png "
    writer.add("names/notes.txt", b"not an image\n", "no-image-extension", "skip", "error")
    writer.add("names/image.exr", b"\x76\x2f\x31\x01" + bytes(64), "unsupported-format", "skip", "error")
    writer.special("special/fifo.png", "fifo", os.mkfifo)
    writer.special("special/dev-zero.jpg", "link-to-dev-zero", lambda path: path.symlink_to("/dev/zero"))
    writer.special("special/dev-null.png", "link-to-dev-null", lambda path: path.symlink_to("/dev/null"))
    writer.special("special/socket.png", "socket", _make_socket)
    dangling = writer.directory / "special" / "dangling.png"
    dangling.symlink_to(writer.directory / "special" / "nowhere.png")
    writer.cases.append(Case(dangling, "dangling-link", "error", "error"))


def _make_socket(path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as unix_socket:
        unix_socket.bind(str(path))  # the socket file stays after the socket is closed


def make_corpus(directory: Path) -> list[Case]:
    """Write the corpus below ``directory`` (created; must not hold one already) and return its manifest."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    writer = _Writer(directory)
    samples = _good_images(writer, rng)
    _damaged(writer, rng, samples)
    _bombs(writer, samples)
    _unusual_samples(writer)
    _names(writer, samples["png"])
    return writer.cases


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.fuzz.corpus DIR")
    for case in make_corpus(Path(sys.argv[1])):
        print(f"{case.expected}\t{case.named}\t{case.kind}\t{os.fsencode(case.path)!r}")
