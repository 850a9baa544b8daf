"""The transport: the only module that imports ``openai``. Builds requests, opens streams, maps errors.

``openai`` is imported on first use, so importing the package (and loading the IPython extension)
stays fast.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .adapter import completion_events, field_of, stream_events
from .catalog import ModelInfo, parse_catalog
from .config import Settings
from .errors import APIError, ConfigurationError, error_message
from .events import Event
from .options import ChatOptions

if TYPE_CHECKING:
    import openai

Message = Mapping[str, Any]

_TRANSPORT_MODULES = frozenset({"httpx", "httpx2", "httpcore", "httpcore2", "h11"})
DEFAULT_TIMEOUT = 600.0
DEFAULT_MAX_RETRIES = 2
NO_MODEL_HELP = (
    "No model given: pass one (--model / ChatOptions(model=...)), pick it in %heroku_controls, "
    "or set {attachment}_MODEL_ID (Heroku's standard plan sets none). %heroku_models lists them."
)


class ChatClient(Protocol):
    """Anything that turns messages and options into events (the real client, or a test double)."""

    def events(self, messages: Sequence[Message], options: ChatOptions) -> Iterator[Event]:
        """Events of one response; raises APIError or ConfigurationError on failure."""
        ...


class HerokuClient:
    """A chat client for one Heroku inference attachment, over the official OpenAI SDK."""

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self.max_retries = max_retries
        self._sdk: openai.OpenAI | None = None

    def __repr__(self) -> str:
        return f"HerokuClient({self.settings!r})"

    @property
    def sdk(self) -> openai.OpenAI:
        """The underlying OpenAI SDK client, created on first use."""
        if self._sdk is None:
            import openai

            self._sdk = openai.OpenAI(
                api_key=self.settings.key,
                base_url=self.settings.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
            )
        return self._sdk

    def model_for(self, options: ChatOptions) -> str:
        """The model a request will use: the option, else the attachment's MODEL_ID."""
        model = options.model or self.settings.model_id
        if not model:
            raise ConfigurationError(NO_MODEL_HELP.format(attachment=self.settings.attachment))
        return model

    def events(self, messages: Sequence[Message], options: ChatOptions) -> Iterator[Event]:
        """Send one chat request and yield its events as they arrive."""
        import openai

        arguments = options.sdk_arguments(messages, self.model_for(options))
        sdk = self.sdk
        if options.timeout is not None or options.max_retries is not None:
            sdk = sdk.with_options(
                timeout=options.timeout if options.timeout is not None else self.timeout,
                max_retries=options.max_retries if options.max_retries is not None else self.max_retries,
            )
        try:
            if arguments.get("stream"):
                stream = sdk.chat.completions.create(**arguments)
                # Closing the stream (also when the consumer stops early) drops the connection at once.
                with stream:
                    yield from stream_events(stream, request_id=stream.response.headers.get("x-request-id"))
            else:
                completion = sdk.chat.completions.create(**arguments)
                if isinstance(completion, str):  # the SDK returns text when a server answers with SSE
                    raise APIError("the server answered a non-streaming request with a stream")
                request_id = getattr(completion, "_request_id", None)
                error = field_of(completion, "error")
                if error:
                    # Status 200 with an error object instead of a completion (the SDK checks this in
                    # streams only): fail, rather than record an empty answer.
                    raise APIError(error_message({"error": error}), request_id=request_id)
                yield from completion_events(completion, request_id=request_id)
        except openai.APIError as exc:
            raise api_error(exc, self.settings) from None
        except json.JSONDecodeError as exc:
            raise APIError(f"the server sent a malformed chunk ({exc.msg})") from None
        except Exception as exc:
            # openai < 3 lets transport errors met mid-stream escape unwrapped (httpx, httpcore).
            if type(exc).__module__.split(".")[0] not in _TRANSPORT_MODULES:
                raise
            raise APIError(f"connection to {self.settings.root_url} was cut off: {exc}") from None

    def available_models(self, timeout: float = 30.0) -> list[ModelInfo]:
        """Heroku's public model catalogue (``GET /available-models``, sent without the key)."""
        url = self.settings.root_url + "/available-models"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return parse_catalog(json.load(response))
        except urllib.error.HTTPError as exc:
            raise APIError(error_message(exc.read()), status=exc.code) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise APIError(f"could not read the model catalogue at {url}: {exc}") from None


def api_error(exc: Exception, settings: Settings | None = None) -> APIError:
    """An APIError naming status, Heroku's message and request id, from an SDK exception."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        headers = exc.response.headers
        return APIError(
            error_message(exc.body),
            status=exc.status_code,
            request_id=exc.request_id or headers.get("x-request-id"),
            retry_after=_reset_time(headers),
        )
    if isinstance(exc, openai.APITimeoutError):
        return APIError(
            "the request timed out (raise the timeout with --timeout or ChatOptions(timeout=...))"
        )
    if isinstance(exc, openai.APIConnectionError):
        where = settings.root_url if settings else "the server"
        cause = exc.__cause__ or exc.__context__
        detail = f": {cause}" if cause else ""
        return APIError(f"connection to {where} failed or was cut off{detail}")
    if isinstance(exc, openai.APIError):
        # An error object sent inside the stream (status 200 already given).
        return APIError(error_message(exc.body) if exc.body else exc.message)
    return APIError(str(exc))


def _reset_time(headers: Mapping[str, str]) -> str | None:
    """When a rate limit resets, from Retry-After (seconds) or Heroku's x-ratelimit-reset-* headers."""
    retry_after = headers.get("retry-after")
    if retry_after:
        return f"{retry_after}s" if retry_after.strip().replace(".", "", 1).isdigit() else retry_after
    return headers.get("x-ratelimit-reset-requests") or headers.get("x-ratelimit-reset-tokens")
