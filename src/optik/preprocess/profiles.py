"""What a file says about its colours, read from its bytes without decoding: the embedded ICC profile (PNG
``iCCP``, JPEG ``APP2 ICC_PROFILE``, WebP ``ICCP``, TIFF tag 34675), the profile's description, and so the
colour space a viewer will assume (``sRGB`` when nothing says otherwise).

Like :mod:`optik.preprocess.headers`, the readers only slice bytes; anything malformed reads as "no profile".
"""

from __future__ import annotations

import struct
import zlib

from optik.preprocess.headers import Header

MAX_PROFILE_BYTES = 16 << 20  # a compressed iCCP chunk never inflates to more than this
_TIFF_ICC_TAG = 34675


def icc_profile(data: bytes, header: Header) -> bytes | None:
    """The ICC profile embedded in an image file, or None."""
    reader = {"PNG": _png, "JPEG": _jpeg, "WebP": _webp, "TIFF": _tiff}.get(header.format)
    if reader is None:
        return None
    try:
        return reader(data)
    except (struct.error, zlib.error, ValueError, IndexError):
        return None


def describe_icc(profile: bytes) -> tuple[str, str]:
    """(colour space signature — ``RGB``, ``GRAY``, ``CMYK`` … —, description) of an ICC profile; the
    description is the ``desc`` tag (v2 text or v4 ``mluc``), or ``""``."""
    space = profile[16:20].decode("latin-1").strip() if len(profile) >= 20 else ""
    try:
        return space, _description(profile)
    except (struct.error, UnicodeDecodeError, IndexError):
        return space, ""


def color_space(header: Header, profile: bytes | None, gray: bool) -> str:
    """``sRGB``, ``gray``, ``CMYK`` or the description of the embedded profile (``Display P3``, ``Adobe RGB
    (1998)`` …); ``sRGB`` also for colour images without a profile, which viewers show as sRGB."""
    if profile is not None:
        space, description = describe_icc(profile)
        if "srgb" in description.lower():
            return "sRGB"
        if space == "CMYK":
            return "CMYK"
        return description or ("gray" if space == "GRAY" else space or "unknown profile")
    if header.format == "JPEG" and header.channels == 4:
        return "CMYK"
    return "gray" if gray else "sRGB"


def _description(profile: bytes) -> str:
    (count,) = struct.unpack_from(">I", profile, 128)
    for entry in range(min(count, 256)):
        signature, offset, size = struct.unpack_from(">4sII", profile, 132 + 12 * entry)
        if signature != b"desc":
            continue
        kind = profile[offset : offset + 4]
        if kind == b"desc":  # v2: an ASCII count and the text
            (length,) = struct.unpack_from(">I", profile, offset + 8)
            return profile[offset + 12 : offset + 12 + min(length, size)].split(b"\0")[0].decode("latin-1").strip()
        if kind == b"mluc":  # v4: the first of the localised UTF-16 records
            length, start = struct.unpack_from(">II", profile, offset + 20)
            return profile[offset + start : offset + start + length].decode("utf-16-be").strip("\0 ")
    return ""


def _png(data: bytes) -> bytes | None:
    position = 8
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        body = data[position + 8 : position + 8 + length]
        if kind == b"iCCP":
            compressed = body[body.index(b"\0") + 2 :]  # name, NUL, compression method
            inflater = zlib.decompressobj()
            profile = inflater.decompress(compressed, MAX_PROFILE_BYTES)
            return profile if not inflater.unconsumed_tail else None
        if kind in (b"IDAT", b"IEND"):
            return None
        position += 12 + length
    return None


def _jpeg(data: bytes) -> bytes | None:
    parts: dict[int, bytes] = {}
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        if marker == 0xDA:  # start of scan: no more metadata
            break
        (length,) = struct.unpack_from(">H", data, position + 2)
        segment = data[position + 4 : position + 2 + length]
        if marker == 0xE2 and segment.startswith(b"ICC_PROFILE\0") and len(segment) > 14:
            parts[segment[12]] = segment[14:]  # sequence number, count, then the chunk
        position += 2 + length
    return b"".join(parts[number] for number in sorted(parts)) or None


def _webp(data: bytes) -> bytes | None:
    position = 12
    while position + 8 <= len(data):
        kind, length = struct.unpack_from("<4sI", data, position)
        if kind == b"ICCP":
            return data[position + 8 : position + 8 + length]
        position += 8 + length + (length & 1)
    return None


def _tiff(data: bytes) -> bytes | None:
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or struct.unpack_from(order + "H", data, 2)[0] != 42:  # BigTIFF profiles: not read
        return None
    (directory,) = struct.unpack_from(order + "I", data, 4)
    (entries,) = struct.unpack_from(order + "H", data, directory)
    for index in range(entries):
        tag, _, count, offset = struct.unpack_from(order + "HHII", data, directory + 2 + 12 * index)
        if tag == _TIFF_ICC_TAG and count <= MAX_PROFILE_BYTES:
            return data[offset : offset + count] if count > 4 else None
    return None
