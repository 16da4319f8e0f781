"""Image headers read without decoding a pixel: format, size, EXIF orientation, TIFF sample layout.

Every format optik decodes (through OpenCV) has a parser here, so the pixel limit is checked before any
decoder allocates anything: the sizes come from the same header fields the decoders use. A file whose
size cannot be established raises :class:`HeaderError` and is never handed to a decoder.

The parsers only slice and unpack bytes; malformed input of any kind becomes a :class:`HeaderError`.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

SCAN_LIMIT = 1 << 16  # text headers (PNM, PAM, PFM, Radiance) must end within this many bytes


class HeaderError(ValueError):
    """The header is missing, truncated or inconsistent (the message is a short reason)."""


@dataclass(frozen=True)
class Header:
    """What a file's header says about the image it holds."""

    format: str  # "PNG", "JPEG", "WebP", "TIFF", …
    width: int
    height: int
    orientation: int = 1  # EXIF/TIFF orientation 1–8 as stored (1: none)
    channels: int = 0  # colour components, when the header tells (JPEG)
    working_pixels: int = 0  # the largest buffer the decoder allocates, in pixels, when more than the image (TIFF)
    sample_format: str = ""  # TIFF: "uint", "int" or "float" ("" for formats with fixed sample types)
    bits_per_sample: int = 0  # TIFF
    associated_alpha: bool = False  # TIFF: the colour is stored premultiplied by alpha

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _unpack(fmt: str, data: bytes, offset: int) -> tuple:
    try:
        return struct.unpack_from(fmt, data, offset)
    except struct.error:
        raise HeaderError("truncated") from None


def _positive(width: int, height: int) -> tuple[int, int]:
    if width <= 0 or height <= 0:
        raise HeaderError(f"size {width}×{height}")
    return width, height


# --- TIFF and EXIF -----------------------------------------------------------------------------------------------

_TIFF_FIELD_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 6: 1, 7: 1, 8: 2, 9: 4, 16: 8, 17: 8}  # type → bytes (integer types)
_TIFF_FIELD_CODES = {1: "B", 2: "B", 3: "H", 4: "I", 6: "b", 7: "B", 8: "h", 9: "i", 16: "Q", 17: "q"}
_TAG_WIDTH, _TAG_LENGTH, _TAG_BITS, _TAG_ORIENTATION = 256, 257, 258, 274
_TAG_SAMPLES, _TAG_ROWS_PER_STRIP, _TAG_TILE_WIDTH, _TAG_TILE_LENGTH = 277, 278, 322, 323
_TAG_EXTRA_SAMPLES, _TAG_SAMPLE_FORMAT = 338, 339


def _tiff_tags(data: bytes) -> dict[int, int]:
    """The first value of every integer field in the first IFD of a TIFF (classic or BigTIFF, either byte order)."""
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None:
        raise HeaderError("no byte order mark")
    (version,) = _unpack(order + "H", data, 2)
    if version == 42:
        (ifd,) = _unpack(order + "I", data, 4)
        count_code, entry_size, value_size = "H", 12, 4
    elif version == 43:
        (ifd,) = _unpack(order + "Q", data, 8)
        count_code, entry_size, value_size = "Q", 20, 8
    else:
        raise HeaderError(f"unknown version {version}")
    (entries,) = _unpack(order + count_code, data, ifd)
    first_entry = ifd + struct.calcsize(count_code)
    if first_entry + entries * entry_size > len(data):
        raise HeaderError("truncated directory")
    tags: dict[int, int] = {}
    for index in range(entries):
        entry = first_entry + index * entry_size
        tag, kind = _unpack(order + "HH", data, entry)
        (count,) = _unpack(order + ("Q" if value_size == 8 else "I"), data, entry + 4)
        size = _TIFF_FIELD_SIZES.get(kind)
        if size is None or count == 0:
            continue  # rationals, floats, undefined blobs: none of the fields read here
        value_at = entry + 4 + value_size
        if count * size > value_size:  # stored elsewhere: the field holds an offset
            (value_at,) = _unpack(order + ("Q" if value_size == 8 else "I"), data, value_at)
        (tags[tag],) = _unpack(order + _TIFF_FIELD_CODES[kind], data, value_at)
    return tags


def _orientation(value: int | None) -> int:
    return value if value in range(1, 9) else 1


def exif_orientation(exif: bytes) -> int:
    """The orientation (1–8) in an EXIF block (with or without its ``Exif\\0\\0`` prefix); 1 when unreadable."""
    if exif.startswith(b"Exif\0\0"):
        exif = exif[6:]
    try:
        return _orientation(_tiff_tags(exif).get(_TAG_ORIENTATION))
    except HeaderError:
        return 1  # a broken EXIF block does not make a broken image


_SAMPLE_FORMATS = {1: "uint", 2: "int", 3: "float"}


def _tiff(data: bytes) -> Header:
    tags = _tiff_tags(data)
    if _TAG_WIDTH not in tags or _TAG_LENGTH not in tags:
        raise HeaderError("no image size in the first directory")
    width, height = _positive(tags[_TAG_WIDTH], tags[_TAG_LENGTH])
    if _TAG_TILE_WIDTH in tags and _TAG_TILE_LENGTH in tags:
        block = tags[_TAG_TILE_WIDTH] * tags[_TAG_TILE_LENGTH]
    else:  # strips: OpenCV reads RowsPerStrip rows at a time, even more rows than the image has
        rows = tags.get(_TAG_ROWS_PER_STRIP, 0)
        block = width * (height if rows in (0, 2**32 - 1) else rows)
    return Header(
        "TIFF",
        width,
        height,
        orientation=_orientation(tags.get(_TAG_ORIENTATION)),
        channels=tags.get(_TAG_SAMPLES, 1),
        working_pixels=block,
        sample_format=_SAMPLE_FORMATS.get(tags.get(_TAG_SAMPLE_FORMAT, 1), "unknown"),
        bits_per_sample=tags.get(_TAG_BITS, 1),
        associated_alpha=tags.get(_TAG_EXTRA_SAMPLES) == 1,
    )


# --- PNG, JPEG, WebP, GIF, BMP ------------------------------------------------------------------------------------


def _png(data: bytes) -> Header:
    length, kind = _unpack(">I4s", data, 8)
    if kind != b"IHDR" or length < 8:
        raise HeaderError("the first chunk is not IHDR")
    width, height = _positive(*_unpack(">II", data, 16))
    orientation, position = 1, 8
    while position + 8 <= len(data):  # chunk headers only: eXIf may follow the image data
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind == b"eXIf":
            orientation = exif_orientation(data[position + 8 : position + 8 + length])
            break
        if kind == b"IEND":
            break
        position += 12 + length
    return Header("PNG", width, height, orientation)


_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOF0–SOF15 but DHT, JPG, DAC
_JPEG_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0–7: no length field


def _jpeg(data: bytes) -> Header:
    frame: tuple[int, int, int] | None = None
    orientation: int | None = None
    position = 2
    while True:
        position = data.find(b"\xff", position)
        while 0 <= position < len(data) - 1 and data[position + 1] == 0xFF:
            position += 1  # fill bytes
        if position < 0 or position >= len(data) - 1:
            break
        marker = data[position + 1]
        position += 2
        if marker in _JPEG_STANDALONE_MARKERS or marker == 0:
            continue
        if marker in (0xD9, 0xDA):  # EOI, SOS: the header is over
            break
        (length,) = _unpack(">H", data, position)
        if marker in _JPEG_FRAME_MARKERS and frame is None:
            height, width, components = _unpack(">HHB", data, position + 3)
            frame = width, height, components
        elif marker == 0xE1 and orientation is None and data.startswith(b"Exif\0\0", position + 2):
            orientation = exif_orientation(data[position + 2 : position + length])
        position += length
    if frame is None:
        raise HeaderError("no frame header (SOF) before the image data")
    width, height = _positive(frame[0], frame[1])
    return Header("JPEG", width, height, _orientation(orientation), channels=frame[2])


def _webp(data: bytes) -> Header:
    kind = data[12:16]
    if kind == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise HeaderError("no VP8 start code")
        width, height = _unpack("<HH", data, 26)
        width, height = width & 0x3FFF, height & 0x3FFF
    elif kind == b"VP8L":
        signature, bits = _unpack("<BI", data, 20)
        if signature != 0x2F:
            raise HeaderError("no VP8L signature")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    elif kind == b"VP8X":
        if len(data) < 30:
            raise HeaderError("truncated")
        width, height = int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    else:
        raise HeaderError(f"unknown chunk {kind!r}")
    orientation, position = 1, 12
    while kind == b"VP8X" and position + 8 <= len(data):
        chunk, length = struct.unpack_from("<4sI", data, position)
        if chunk == b"EXIF":
            orientation = exif_orientation(data[position + 8 : position + 8 + length])
            break
        position += 8 + length + (length & 1)
    return Header("WebP", *_positive(width, height), orientation)


def _gif(data: bytes) -> Header:
    width, height, flags = _unpack("<HHB", data, 6)  # the logical screen: OpenCV draws every frame into it
    color_table = 3 << ((flags & 0x07) + 1) if flags & 0x80 else 0
    if data[13 + color_table : 14 + color_table] not in (b"!", b",", b";"):  # extension, image or trailer
        raise HeaderError("no block after the screen descriptor")
    return Header("GIF", *_positive(width, height))


def _bmp(data: bytes) -> Header:
    (info_size,) = _unpack("<I", data, 14)
    if info_size == 12:  # OS/2 BITMAPCOREHEADER
        width, height = _unpack("<HH", data, 18)
    elif info_size >= 40:
        width, height = _unpack("<ii", data, 18)
    else:
        raise HeaderError(f"unknown info header size {info_size}")
    return Header("BMP", *_positive(width, abs(height)))  # a negative height: stored top-down


# --- text headers: PNM, PAM, PFM, Radiance HDR ----------------------------------------------------------------------

_PNM_TOKEN = re.compile(rb"(?:\s|#[^\n\r]*)*(\d+)")


def _pnm(data: bytes) -> Header:
    """P1–P6: width and height are the first two numbers after the magic; ``#`` comments run to the line end."""
    head, position, numbers = data[:SCAN_LIMIT], 2, []
    for _ in range(2):
        match = _PNM_TOKEN.match(head, position)
        if match is None:
            raise HeaderError("no size")
        numbers.append(int(match.group(1)))
        position = match.end()
    return Header("PNM", *_positive(*numbers))


def _pam(data: bytes) -> Header:
    head = data[:SCAN_LIMIT]
    end = head.find(b"ENDHDR")
    fields = dict(re.findall(rb"^\s*(WIDTH|HEIGHT)\s+(\d+)", head[:end], re.MULTILINE)) if end > 0 else {}
    if b"WIDTH" not in fields or b"HEIGHT" not in fields:
        raise HeaderError("no WIDTH/HEIGHT before ENDHDR")
    return Header("PAM", *_positive(int(fields[b"WIDTH"]), int(fields[b"HEIGHT"])))


def _pfm(data: bytes) -> Header:
    match = re.match(rb"P[Ff]\s+(\d+)\s+(\d+)\s", data[:SCAN_LIMIT])
    if match is None:
        raise HeaderError("no size")
    return Header("PFM", *_positive(int(match.group(1)), int(match.group(2))))


def _radiance(data: bytes) -> Header:
    match = re.search(rb"\n\n-Y (\d+) \+X (\d+)\n", data[:SCAN_LIMIT])  # the only layout OpenCV reads
    if match is None:
        raise HeaderError("no resolution line (-Y H +X W)")
    return Header("HDR", *_positive(int(match.group(2)), int(match.group(1))))


def _sun_raster(data: bytes) -> Header:
    return Header("Sun raster", *_positive(*_unpack(">II", data, 4)))


# --- box formats: JPEG 2000, AVIF -----------------------------------------------------------------------------------


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """ISO base media / JP2 boxes between ``start`` and ``end``: (type, payload start, payload end)."""
    boxes = []
    while start + 8 <= end:
        size, kind = _unpack(">I4s", data, start)
        header = 8
        if size == 1:
            (size,) = _unpack(">Q", data, start + 8)
            header = 16
        elif size == 0:
            size = end - start
        if size < header:
            raise HeaderError(f"box {kind!r} of impossible size {size}")
        boxes.append((kind, start + header, min(start + size, end)))
        start += size
    return boxes


def _jpeg2000_codestream(data: bytes, start: int) -> Header:
    if data[start : start + 4] != b"\xff\x4f\xff\x51":
        raise HeaderError("no SIZ marker")
    right, bottom, left, top = _unpack(">IIII", data, start + 8)
    (components,) = _unpack(">H", data, start + 40)
    if components not in (1, 3, 4):
        raise HeaderError(f"{components} components (1, 3 or 4 are read)")
    return Header("JPEG 2000", *_positive(right - left, bottom - top), channels=components)


def _j2k(data: bytes) -> Header:
    return _jpeg2000_codestream(data, 0)


def _jp2(data: bytes) -> Header:
    for kind, start, _ in _boxes(data, 0, len(data)):
        if kind == b"jp2c":  # the codestream: its SIZ marker is what the decoder allocates from
            return _jpeg2000_codestream(data, start)
    raise HeaderError("no codestream box")


def _avif(data: bytes) -> Header:
    sizes: list[tuple[int, int]] = []
    containers = {b"meta": 4, b"iprp": 0, b"ipco": 0}  # box type → bytes before its children (FullBox version)

    def walk(start: int, end: int) -> None:
        for kind, payload, payload_end in _boxes(data, start, end):
            if kind in containers:
                walk(payload + containers[kind], payload_end)
            elif kind == b"ispe":
                sizes.append(_unpack(">II", data, payload + 4))

    walk(0, len(data))
    if not sizes:
        raise HeaderError("no image size (ispe)")
    width, height = max(sizes, key=lambda size: size[0] * size[1])  # the canvas, not a grid tile or alpha plane
    return Header("AVIF", *_positive(width, height))


# --- the table: signatures in the order OpenCV tries its decoders ---------------------------------------------------


@dataclass(frozen=True)
class Format:
    """One image format optik decodes: how to recognise it, its file name extensions, its header parser."""

    name: str
    extensions: tuple[str, ...]
    matches: Callable[[bytes], bool]
    parse: Callable[[bytes], Header]


FORMATS: tuple[Format, ...] = (
    Format("BMP", (".bmp", ".dib"), lambda d: d.startswith(b"BM"), _bmp),
    Format("GIF", (".gif",), lambda d: d[:6] in (b"GIF87a", b"GIF89a"), _gif),
    Format("AVIF", (".avif",), lambda d: d[4:8] == b"ftyp" and b"avi" in d[8:64], _avif),
    Format("HDR", (".hdr", ".pic"), lambda d: d.startswith((b"#?RADIANCE", b"#?RGBE")), _radiance),
    Format("JPEG", (".jpg", ".jpeg", ".jpe", ".jfif"), lambda d: d.startswith(b"\xff\xd8\xff"), _jpeg),
    Format("WebP", (".webp",), lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP", _webp),
    Format("Sun raster", (".sr", ".ras"), lambda d: d.startswith(b"\x59\xa6\x6a\x95"), _sun_raster),
    Format("PNM", (".pbm", ".pgm", ".ppm", ".pnm"), lambda d: re.match(rb"P[1-6]\s", d) is not None, _pnm),
    Format("PAM", (".pam",), lambda d: re.match(rb"P7\s", d) is not None, _pam),
    Format("PFM", (".pfm",), lambda d: re.match(rb"P[Ff]\s", d) is not None, _pfm),
    Format("TIFF", (".tif", ".tiff"), lambda d: d[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"), _tiff),
    Format("PNG", (".png", ".apng"), lambda d: d.startswith(b"\x89PNG\r\n\x1a\n"), _png),
    Format("JPEG 2000", (".jp2",), lambda d: d.startswith(b"\0\0\0\x0cjP  \r\n\x87\n"), _jp2),
    Format("JPEG 2000", (".j2k", ".j2c", ".jpc"), lambda d: d.startswith(b"\xff\x4f\xff\x51"), _j2k),
)


def read_header(data: bytes) -> Header:
    """The header of the first format whose signature ``data`` carries; :class:`HeaderError` when none or broken."""
    for candidate in FORMATS:
        if candidate.matches(data):
            try:
                return candidate.parse(data)
            except HeaderError as exc:
                raise HeaderError(f"{candidate.name} header: {exc}") from None
    raise HeaderError("unknown format")


#: Every extension a decodable format may carry (walks and decoding use the same table).
IMAGE_EXTENSIONS = frozenset(extension for image_format in FORMATS for extension in image_format.extensions)
OUTPUT_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"})  # what encode writes well
