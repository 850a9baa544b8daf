"""The package's exceptions, one small tree rooted in ``Exception``.

::

    Exception
    └── HerokuMagicError            anything this package raises on purpose
        ├── ConfigurationError      no URL/key, no model: the user's environment needs fixing
        ├── OptionsError            a request option or a combination Heroku rejects
        └── APIError                the request failed: HTTP status, Heroku's message, request id

    KeyboardInterrupt
    └── Interrupted                 the user stopped a response; its partial answer was kept
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping


class HerokuMagicError(Exception):
    """Base class of every error this package raises on purpose."""

    def _render_traceback_(self) -> list[str]:
        """One line instead of a traceback in IPython (the message says it all; %tb still has it)."""
        return [f"{type(self).__name__}: {self}"]


class ConfigurationError(HerokuMagicError):
    """The environment does not say where or how to reach Heroku Inference."""


class OptionsError(HerokuMagicError, ValueError):
    """A request option, or a combination of them, that Heroku would reject."""


class APIError(HerokuMagicError):
    """A failed request: status (None when no response came), Heroku's message and request id."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        head = f"Heroku Inference error {self.status}" if self.status else "Heroku Inference error"
        text = f"{head}: {self.message}"
        if self.status == 429:
            text += (
                f" (rate limit resets in {self.retry_after})"
                if self.retry_after
                else " (rate limited; try again shortly)"
            )
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text


class Interrupted(KeyboardInterrupt):
    """The user interrupted a response; what had arrived is kept, marked as interrupted."""

    def _render_traceback_(self) -> list[str]:
        """One line instead of a traceback through the HTTP library's frames."""
        return [f"Interrupted: {self}" if str(self) else "Interrupted"]


_TAG = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")
_MAX_MESSAGE = 300


def error_message(body: object) -> str:
    """Heroku's error message from a response body of any shape: JSON object, string or HTML."""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        text = body.strip()
        try:
            parsed = json.loads(text)
        except ValueError:
            return _plain(text)
        return error_message(parsed) if parsed != text else _plain(text)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            message = inner.get("message") or inner.get("error") or inner.get("type")
            if message:
                return _plain(str(message))
        elif isinstance(inner, str) and inner:
            # {"error": "Not Found", "message": "..."} (Heroku's draft OpenAPI shape)
            extra = body.get("message")
            return _plain(f"{inner}: {extra}" if isinstance(extra, str) and extra else inner)
        message = body.get("message")
        if isinstance(message, str) and message:
            return _plain(message)
        return _plain(json.dumps(body)[:_MAX_MESSAGE])
    if body is None:
        return "no response body"
    return _plain(str(body))


def _plain(text: str) -> str:
    """One readable line from text that may be an HTML page (CloudFront, proxies)."""
    if "<" in text and ">" in text:
        title = _TITLE.search(text)
        text = title.group(1) if title else _TAG.sub(" ", text)
        text = html.unescape(text)
    text = _SPACE.sub(" ", text).strip()
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 1] + "…"
    return text or "empty response body"
