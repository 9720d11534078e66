"""Real PNG files with the standard library: what SaveImage and PreviewImage write."""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def solid_png(width: int, height: int, color: int, text: dict[str, str] | None = None) -> bytes:
    """An 8-bit RGB PNG of one colour (``color`` is 0xRRGGBB, as EmptyImage takes it)."""
    pixel = bytes(((color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF))
    row = b"\x00" + pixel * width
    raw = row * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = [_chunk(b"IHDR", header)]
    for key, value in (text or {}).items():
        chunks.append(_chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode("latin-1", "replace")))
    chunks.append(_chunk(b"IDAT", zlib.compress(raw, 6)))
    chunks.append(_chunk(b"IEND", b""))
    return SIGNATURE + b"".join(chunks)


def read_png_size(path: str) -> tuple[int, int] | None:
    """(width, height) of a PNG file, or None if it is not one."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(24)
    except OSError:
        return None
    if len(head) < 24 or head[:8] != SIGNATURE or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])
