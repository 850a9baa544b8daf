"""``image_url`` content parts: checked the way Bedrock's Claude checks images, and measured.

Heroku serves Claude through Amazon Bedrock, whose Claude API takes base64 images only (no URLs),
PNG, JPEG, GIF or WebP, at most 5 MB of base64 and 8000 pixels a side each (Anthropic's vision docs,
Bedrock's own errors; the project's notes on Heroku's API, §3 "Message content"). Whether Heroku
itself fetches ``http(s)`` URLs is unconfirmed, so the simulator fails closed and refuses them. The
size errors are worded as Bedrock's; the others are the simulator's own (Heroku's are unconfirmed).

The pixel size is read from the header bytes (PNG IHDR, JPEG SOFn, GIF screen descriptor, WebP
VP8/VP8L/VP8X), without Pillow, so the simulated answer can say what arrived.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass
from typing import Any

from .errors import invalid

# Anthropic's per-image limit, 5 MB, which Bedrock measures on the base64 text: its 400 for a 4.8 MB
# GIF reads "image exceeds 5 MB maximum: 6405384 bytes > 5242880 bytes" (langchain-ai/langchain#21654).
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_SIDE = 8000  # Anthropic's largest width or height, in pixels
_DATA_URL = re.compile(r"data:image/(png|jpeg|gif|webp);base64,(.*)", re.DOTALL)
# JPEG start-of-frame markers: C0..CF except DHT (C4), JPG (C8) and DAC (CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


@dataclass(frozen=True)
class Image:
    """An image that arrived: its format and pixel size."""

    format: str
    width: int
    height: int
    size: int  # decoded bytes

    def describe(self) -> str:
        """``"PNG, 2x3 pixels, 67 bytes"``."""
        return f"{self.format.upper()}, {self.width}x{self.height} pixels, {self.size} bytes"


def check_image_part(part: dict[str, Any], where: str, model_id: str, vision: bool) -> Image:
    """The image of an ``image_url`` part, or a 400 saying what is wrong with it."""
    if not vision:
        raise invalid(f"Invalid request: {where}: model '{model_id}' does not accept image input")
    image_url = part.get("image_url")
    url = image_url.get("url") if isinstance(image_url, dict) else None
    if not isinstance(url, str) or not url:
        raise invalid(f"Invalid request: {where}.image_url.url is required")
    if url.startswith(("http://", "https://")):
        raise invalid(f"Invalid request: {where}: image URLs are not supported; send a base64 data URL")
    match = _DATA_URL.fullmatch(url)
    if match is None:
        raise invalid(
            f"Invalid request: {where}: the image must be a data:image/(png|jpeg|gif|webp);base64, URL"
        )
    declared, encoded = match.groups()
    if len(encoded) > MAX_IMAGE_BYTES:
        raise invalid(
            f"Invalid request: {where}.image.source.base64: image exceeds 5 MB maximum: "
            f"{len(encoded)} bytes > {MAX_IMAGE_BYTES} bytes"
        )
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"Invalid request: {where}: the image is not valid base64") from None
    actual = sniff(data)
    if actual is None or actual != declared:
        raise invalid(
            f"Invalid request: {where}: the image was specified using the image/{declared} media type, "
            f"but the data is {'image/' + actual if actual else 'not a supported image'}"
        )
    size = dimensions(data, actual)
    if size is None:
        raise invalid(f"Invalid request: {where}: could not process image")
    if max(size) > MAX_SIDE:
        raise invalid(
            f"Invalid request: {where}.image.source.base64.data: At least one of the image dimensions "
            f"exceed max allowed size: {MAX_SIDE} pixels"
        )
    return Image(actual, size[0], size[1], len(data))


def sniff(data: bytes) -> str | None:
    """The format named by the magic number of ``data``, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def dimensions(data: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) read from the header of ``data``, or None when the header is broken."""
    try:
        if kind == "png":
            return _png(data)
        if kind == "gif":
            width, height = struct.unpack("<HH", data[6:10])
            return (width, height) if width and height else None
        if kind == "jpeg":
            return _jpeg(data)
        return _webp(data)
    except (struct.error, IndexError):
        return None


def _png(data: bytes) -> tuple[int, int] | None:
    """The IHDR chunk, which must come first."""
    if data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return (width, height) if width and height else None


def _jpeg(data: bytes) -> tuple[int, int] | None:
    """Walk the marker segments to the first start-of-frame."""
    index = 2
    while index + 4 <= len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            index += 2
            continue
        (length,) = struct.unpack(">H", data[index + 2 : index + 4])
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return (width, height) if width and height else None
        index += 2 + length
    return None


def _webp(data: bytes) -> tuple[int, int] | None:
    """The first chunk: lossy VP8, lossless VP8L or extended VP8X."""
    chunk = data[12:16]
    if chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            return None
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return None
