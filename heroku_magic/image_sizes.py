"""Image sizes: the limits Heroku's Claude models set (via Bedrock), downscaling, thumbnails.

Pillow is optional: with it, an image over the limits is downscaled and a thumbnail is a real small
PNG; without it, an image over the limits is refused and only a small PNG is shown as a thumbnail.
"""

from __future__ import annotations

import base64
import importlib
import io
import struct
from collections.abc import Mapping
from typing import Any

from .errors import OptionsError

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
"""Largest image sent, measured as its base64 text: Anthropic's 5 MB limit per image, which Bedrock checks on the base64."""
# Anthropic's vision docs say "5 MB"; Bedrock's own 400 ("image exceeds 5 MB maximum: 6405384 bytes >
# 5242880 bytes", langchain-ai/langchain#21654, for a 4.8 MB GIF) shows the base64 text is what is
# measured, so about 3.75 MB of image fits. The newer, observed source wins.

MAX_SIDE = 8000
"""Largest width or height Anthropic takes, in pixels (a 400 otherwise)."""

THUMBNAIL_SIDE = 160
"""Largest side of the thumbnail a cell shows for each image, in pixels."""


def human_size(size: int) -> str:
    """``512 B``, ``120 kB``, ``5 MB``, ``7.2 MB`` (powers of 1024)."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} kB"
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


def encoded_size(size: int) -> int:
    """The length of the base64 text of ``size`` bytes (what the 5 MB limit measures)."""
    return 4 * ((size + 2) // 3)


def pillow() -> Any:
    """``PIL.Image``, or None when Pillow is not installed."""
    try:
        return importlib.import_module("PIL.Image")
    except ImportError:
        return None


def fit(data: bytes, mime: str, label: str, max_bytes: int) -> tuple[bytes, str, str | None]:
    """The image as sent: as it is within the limits, else downscaled (with a note saying so) or refused."""
    size = pixel_size(data)
    if encoded_size(len(data)) <= max_bytes and (size is None or max(size) <= MAX_SIDE):
        return data, mime, None
    if pillow() is None:
        raise OptionsError(
            f"--image {label}: {human_size(len(data))} ({human_size(encoded_size(len(data)))} as base64) "
            f"is over the {human_size(max_bytes)} limit, which Bedrock measures on the base64 "
            "(install Pillow to downscale it automatically)"
        )
    return downscale(data, mime, label, max_bytes)


def pixel_size(data: bytes) -> tuple[int, int] | None:
    """The pixel size Pillow reads from the header, or None (no Pillow, or it cannot read it)."""
    pil = pillow()
    if pil is None:
        return None
    try:
        with pil.open(io.BytesIO(data)) as image:  # reads the header only
            width, height = image.size
    except Exception:  # Pillow raises many kinds for a damaged file; the server will say
        return None
    return int(width), int(height)


def downscale(data: bytes, mime: str, label: str, max_bytes: int) -> tuple[bytes, str, str]:
    """The image made small enough with Pillow: (bytes, MIME type, a note saying so)."""
    pil = pillow()
    try:
        source = pil.open(io.BytesIO(data))
        source.load()
    except Exception as exc:  # Pillow raises many kinds for a damaged file
        raise OptionsError(
            f"--image {label}: {human_size(len(data))} is over the limit and cannot be "
            f"read to downscale it: {exc}"
        ) from None
    fmt, target = {"image/jpeg": ("JPEG", "image/jpeg"), "image/webp": ("WEBP", "image/webp")}.get(
        mime, ("PNG", "image/png")
    )
    image = source
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif fmt != "JPEG" and image.mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA")
    width, height = image.size
    scale = min(1.0, (max_bytes / encoded_size(len(data))) ** 0.5, MAX_SIDE / max(width, height))
    for _ in range(16):
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        buffer = io.BytesIO()
        image.resize(size, pil.Resampling.LANCZOS).save(buffer, format=fmt)
        smaller = buffer.getvalue()
        if encoded_size(len(smaller)) <= max_bytes:
            note = (
                f"{label} was downscaled from {width}×{height} ({human_size(len(data))}) to "
                f"{size[0]}×{size[1]} ({human_size(len(smaller))}) to fit the {human_size(max_bytes)} "
                f"limit (as base64) and {MAX_SIDE} pixels a side"
            )
            return smaller, target, note
        scale *= 0.8
    raise OptionsError(f"--image {label}: cannot be downscaled under {human_size(max_bytes)} as base64")


_RAW_THUMBNAIL_BYTES = 64 * 1024  # without Pillow, a PNG this small is shown as it is


def thumbnail(part: Mapping[str, Any]) -> tuple[bytes, int, int] | None:
    """A PNG of an image part, at most :data:`THUMBNAIL_SIDE` pixels a side, and its display size; or None.

    Made with Pillow; without it, a small PNG is shown as it is (the frontend scales it). A URL sent
    as it is has none: it was never downloaded.
    """
    image_url = part.get("image_url")
    url = image_url.get("url", "") if isinstance(image_url, Mapping) else ""
    if not isinstance(url, str) or not url.startswith("data:"):
        return None
    try:
        data = base64.b64decode(url.partition(",")[2], validate=True)
    except ValueError:
        return None
    pil = pillow()
    if pil is None:
        size = _png_size(data)
        if size is None or len(data) > _RAW_THUMBNAIL_BYTES:
            return None
        scale = min(1.0, THUMBNAIL_SIDE / max(size))
        return data, max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
    try:
        with pil.open(io.BytesIO(data)) as image:
            image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            buffer = io.BytesIO()
            small = image if image.mode in ("L", "LA", "RGB", "RGBA") else image.convert("RGBA")
            small.save(buffer, format="PNG")
            return buffer.getvalue(), small.width, small.height
    except Exception:  # a damaged image: the cell shows its [image: ...] line instead
        return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    """A PNG's width and height from its IHDR chunk, or None for anything else."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    width, height = struct.unpack(">II", data[16:24])
    return (width, height) if width and height else None
