"""Images for a chat turn: files, URLs and notebook objects as OpenAI ``image_url`` content parts.

Plain Python, no IPython: the magic passes the notebook's namespace as a mapping. Every image is
sent inline, as a base64 ``data:`` URL (Heroku's Bedrock-backed models take base64 only), unless a
URL is passed through as it is (``url_as_is``). Each part carries, under :data:`META`, the image's
name, size and any note (a downscale); :func:`~heroku_magic.events.wire_content` drops that key
before sending, and :func:`~heroku_magic.events.content_text` shows the part as
``[image: NAME, 120 kB]``, so base64 never reaches text, history or static output::

    from heroku_magic.images import content
    conversation.send(content("What is in this picture?", "cat.png", fig))
"""

from __future__ import annotations

import base64
import io
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import OptionsError
from .image_sizes import DEFAULT_MAX_BYTES, fit, human_size

MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
"""Largest download of an image URL (above the send limit, so that Pillow can downscale it)."""

URL_TIMEOUT = 20.0
"""Seconds a URL's image may take to download."""

META = "_heroku_image"
"""The part's private key: ``name``, ``bytes``, ``label`` and ``note``; never sent."""

FORMATS = "PNG, JPEG, GIF or WebP"

_OTHER_FORMATS = (
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"%PDF", "a PDF document"),
    (b"<svg", "an SVG image"),
    (b"<?xml", "an XML/SVG document"),
    (b"\x00\x00\x01\x00", "an ICO icon"),
)


def image_format(data: bytes) -> str | None:
    """The MIME type of a PNG, JPEG, GIF or WebP image, from its first bytes (not its name)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def content(
    text: str, *images: Any, namespace: Mapping[str, Any] | None = None, **options: Any
) -> tuple[dict[str, Any], ...]:
    """A user message's content: ``text`` as a text part, then a part per image (see :func:`image_part`).

    An image may also be a part already built (a mapping with a ``type``). Usable with
    ``Conversation.send(content("Describe this", "chart.png"))``.
    """
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    for image in images:
        if isinstance(image, Mapping) and "type" in image:
            parts.append(dict(image))
        else:
            parts.append(image_part(image, namespace=namespace, **options))
    return tuple(parts)


def image_part(
    image: Any,
    *,
    namespace: Mapping[str, Any] | None = None,
    name: str | None = None,
    max_bytes: int | None = None,
    url_as_is: bool = False,
    timeout: float = URL_TIMEOUT,
    download_limit: int = MAX_DOWNLOAD_BYTES,
) -> dict[str, Any]:
    """An ``image_url`` content part with a base64 ``data:`` URL (or the URL itself, with ``url_as_is``).

    ``image`` is a path (an existing file), an ``http(s)`` URL, a name in ``namespace`` (the
    notebook's variables) or ``"plt"`` (pyplot's current figure, when pyplot is imported), tried in
    that order; or an object: bytes, a PIL image, a matplotlib figure, an IPython ``Image``.
    An image whose base64 is over ``max_bytes`` (:data:`DEFAULT_MAX_BYTES` when None), or wider or
    taller than :data:`MAX_SIDE`, is downscaled when Pillow is installed (the part's note says so),
    refused otherwise. Raises :class:`~heroku_magic.errors.OptionsError` with one line on any problem.
    """
    max_bytes = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    if isinstance(image, Path):
        return _from_file(image, name or str(image), max_bytes)
    if not isinstance(image, str):
        label = name or _object_name(image)
        return _from_object(image, label, max_bytes, url_as_is, timeout, download_limit)
    label = name or image
    path = Path(image).expanduser()
    if path.is_file():
        return _from_file(path, label, max_bytes)
    if image.startswith(("http://", "https://")):
        if url_as_is:
            return _part(image, {"name": label, "label": label})
        return _encoded(_download(image, timeout, max(download_limit, max_bytes)), label, max_bytes)
    if namespace is not None and image in namespace:
        return _from_object(namespace[image], label, max_bytes, url_as_is, timeout, download_limit)
    if image == "plt" and "matplotlib.pyplot" in sys.modules:
        return _from_object(
            sys.modules["matplotlib.pyplot"], label, max_bytes, url_as_is, timeout, download_limit
        )
    if path.exists():
        raise OptionsError(f"--image {image}: not a file")
    tried = ["a file", "an http(s) URL"] + (["a notebook variable"] if namespace is not None else [])
    tried += ["plt (pyplot is not imported)"] if image == "plt" else []
    looks_like_path = os.sep in image or "/" in image or Path(image).suffix != ""
    head = "no such file" if looks_like_path else "not found"
    raise OptionsError(f"--image {image}: {head} (tried {', '.join(tried)})")


def _object_name(image: Any) -> str:
    if isinstance(image, (bytes, bytearray, memoryview)):
        return "bytes"
    return type(image).__name__


def _from_file(path: Path, label: str, max_bytes: int) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise OptionsError(f"--image {label}: no such file") from None
    except OSError as exc:
        raise OptionsError(f"--image {label}: cannot read it: {exc.strerror or exc}") from None
    return _encoded(data, Path(label).name or label, max_bytes)


def _from_object(
    value: Any, label: str, max_bytes: int, url_as_is: bool, timeout: float, download_limit: int
) -> dict[str, Any]:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _encoded(bytes(value), label, max_bytes)
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None and value is pyplot:
        if not pyplot.get_fignums():
            raise OptionsError(
                f"--image {label}: no pyplot figure is open (a shown figure is closed: keep it with "
                "fig = plt.gcf() and pass --image fig)"
            )
        value = pyplot.gcf()
    figure = sys.modules.get("matplotlib.figure")
    if figure is not None and isinstance(value, figure.Figure):
        buffer = io.BytesIO()
        value.savefig(buffer, format="png", bbox_inches="tight")
        return _encoded(buffer.getvalue(), label, max_bytes)
    pil = sys.modules.get("PIL.Image")
    if pil is not None and isinstance(value, pil.Image):
        return _encoded(_pil_png(value), label, max_bytes)
    display = sys.modules.get("IPython.core.display")
    if display is not None and isinstance(value, display.Image):
        if isinstance(value.data, bytes) and value.data:
            return _encoded(value.data, label, max_bytes)
        if value.url:
            return image_part(
                str(value.url),
                name=label,
                max_bytes=max_bytes,
                url_as_is=url_as_is,
                timeout=timeout,
                download_limit=download_limit,
            )
        raise OptionsError(f"--image {label}: the IPython Image holds no data and no URL")
    kind = type(value).__name__
    raise OptionsError(
        f"--image {label}: a {kind}, not bytes, a PIL image, a matplotlib figure or an IPython Image"
    )


def _pil_png(image: Any) -> bytes:
    if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
        image = image.convert("RGBA")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _download(url: str, timeout: float, limit: int) -> bytes:
    """The body of ``url``, at most ``limit`` bytes, within ``timeout`` seconds."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "heroku-magic", "Accept": "image/*"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > limit:
                raise OptionsError(
                    f"--image {url}: {human_size(int(length))} is over the {human_size(limit)} download limit"
                )
            data: bytes = response.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise OptionsError(f"--image {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise OptionsError(f"--image {url}: cannot fetch it: {exc.reason}") from None
    except TimeoutError:
        raise OptionsError(f"--image {url}: no answer within {timeout:g} s") from None
    except OSError as exc:
        raise OptionsError(f"--image {url}: cannot fetch it: {exc}") from None
    if len(data) > limit:
        raise OptionsError(f"--image {url}: over the {human_size(limit)} download limit")
    return data


def _encoded(data: bytes, label: str, max_bytes: int) -> dict[str, Any]:
    """The part for ``data``: its format checked from its bytes, downscaled or refused when too big."""
    mime = image_format(data)
    if mime is None:
        raise OptionsError(f"--image {label}: {_what(data)}, not a {FORMATS} image")
    data, mime, note = fit(data, mime, label, max_bytes)
    meta: dict[str, Any] = {"name": label, "bytes": len(data), "label": f"{label}, {human_size(len(data))}"}
    if note:
        meta["note"] = note
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return _part(url, meta)


def _part(url: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}, META: meta}


def _what(data: bytes) -> str:
    if not data:
        return "empty"
    start = data.lstrip()[:5].lower()
    for magic, kind in _OTHER_FORMATS:
        if data.startswith(magic) or start.startswith(magic.lower()):
            return kind
    return "an unknown format"


def image_notes(parts: Any) -> list[str]:
    """The notes (downscales) of a content's image parts, for a footer or a printed line."""
    if isinstance(parts, str):
        return []
    notes = []
    for part in parts:
        meta = part.get(META) if isinstance(part, Mapping) else None
        if isinstance(meta, Mapping) and meta.get("note"):
            notes.append(str(meta["note"]))
    return notes


def image_parts(parts: Any) -> list[Mapping[str, Any]]:
    """The ``image_url`` parts of a message's content (none for text)."""
    if isinstance(parts, str):
        return []
    return [part for part in parts if isinstance(part, Mapping) and part.get("type") == "image_url"]
