"""Images for the tests, made with Pillow (which the test extra installs, via matplotlib)."""

from __future__ import annotations

import base64
import io
import random
from typing import Any

from PIL import Image

GIF = b"GIF89a" + b"\x01\x00\x01\x00" + b"\x00" * 20
"""The smallest GIF header the format sniffing and the simulator read (1x1)."""


def png(size: tuple[int, int] = (4, 3), color: str = "red") -> bytes:
    """A PNG of one colour."""
    return encoded(Image.new("RGB", size, color), "PNG")


def jpeg(size: tuple[int, int], color: str = "blue") -> bytes:
    """A JPEG of one colour."""
    return encoded(Image.new("RGB", size, color), "JPEG")


def noise_png(side: int) -> bytes:
    """A PNG of random pixels: it does not compress, so it is large for its size."""
    rng = random.Random(0)
    pixels = bytes(rng.getrandbits(8) for _ in range(side * side * 3))
    return encoded(Image.frombytes("RGB", (side, side), pixels), "PNG")


def encoded(image: Any, fmt: str) -> bytes:
    """``image`` saved in ``fmt``."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def decoded(part: dict[str, Any]) -> tuple[str, bytes]:
    """The MIME type and bytes of a part's data URL."""
    url = part["image_url"]["url"]
    head, _, data = url.partition(",")
    assert head.startswith("data:") and head.endswith(";base64")
    return head[5:-7], base64.b64decode(data, validate=True)
