"""The transport: the only module that imports ``openai``. Builds request bodies, opens streams, maps errors.

``openai`` is imported on first use, so importing the package (and loading the IPython extension)
stays fast.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from .adapter import completion_events, field_of, stream_events
from .agents import AgentTools, agent_body, agent_events, mcp_servers
from .catalog import ModelInfo, parse_catalog
from .config import Settings
from .errors import APIError, ConfigurationError, error_message
from .events import Event, Notice, ResponseInfo, Usage
from .model_rules import check_request
from .options import TOOL_CHOICES, ChatOptions
from .ratelimit import Backoff

if TYPE_CHECKING:
    import openai

Message = Mapping[str, Any]

_TRANSPORT_MODULES = frozenset({"httpx", "httpx2", "httpcore", "httpcore2", "h11"})
DEFAULT_TIMEOUT = 600.0
DEFAULT_MAX_RETRIES = 2
STREAM_CUT_OFF = (
    "the stream ended before the model finished (the connection was closed early, "
    "without a finish reason or usage)"
)
JSON_INSTRUCTION = "Answer with a single JSON object and nothing else."
RETRY_CAP = 20.0  # seconds: an agent run rate-limited longer than this fails rather than hangs the cell
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
                api_key=self.settings.key.reveal(),
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

        model = self.model_for(options)
        check_request(options, model, messages)  # what the model is known to refuse, before sending
        arguments = chat_arguments(options, messages, model)
        timeout = options.timeout if options.timeout is not None else self.timeout
        sdk = self.sdk
        if options.timeout is not None or options.max_retries is not None:
            sdk = sdk.with_options(
                timeout=timeout,
                max_retries=options.max_retries if options.max_retries is not None else self.max_retries,
            )
        streaming = bool(arguments.get("stream"))
        with _translated(self.settings, timeout, "chunk" if streaming else "response body") as response:
            if streaming:
                # Chunks left as the dicts they arrive as: building a pydantic object per chunk was
                # most of the kernel's time on a long answer, and the adapter reads dicts directly.
                stream = _json_stream(sdk, "/chat/completions", wire_body(arguments))
                response.headers = stream.response.headers
                request_id = response.headers.get("x-request-id")
                # Closing the stream (also when the consumer stops early) drops the connection at once.
                with stream:
                    yield from _until_finished(stream_events(stream, request_id=request_id), request_id)
            else:
                raw = sdk.chat.completions.with_raw_response.create(**arguments)
                response.headers = raw.headers
                request_id = response.headers.get("x-request-id")
                completion = raw.parse()
                if isinstance(completion, str):  # the SDK returns text when a server answers with SSE
                    raise APIError(
                        "the server answered a non-streaming request with a stream", request_id=request_id
                    )
                error = field_of(completion, "error")
                if error:
                    # Status 200 with an error object instead of a completion (the SDK checks this in
                    # streams only): fail, rather than record an empty answer.
                    raise APIError(error_message({"error": error}), request_id=request_id)
                yield from completion_events(completion, request_id=request_id)

    def mcp_servers(self) -> list[dict[str, Any]]:
        """The add-on's MCP servers with their status and tools (``GET /v1/mcp/servers``)."""
        with _translated(self.settings, self.timeout, "response body"):
            return mcp_servers(self.sdk.get("/mcp/servers", cast_to=object))

    def available_models(self, timeout: float = 30.0) -> list[ModelInfo]:
        """Heroku's public model catalogue (``GET /available-models``, sent without the key)."""
        import urllib.error  # here, not at the top: http.client and email cost %load_ext ~20 ms
        import urllib.request

        url = self.settings.root_url + "/available-models"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return parse_catalog(json.load(response))
        except urllib.error.HTTPError as exc:
            raise APIError(error_message(exc.read()), status=exc.code) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise APIError(f"could not read the model catalogue at {url}: {exc}") from None


class AgentClient:
    """Heroku's agents endpoint as a :class:`ChatClient`: one agent run per request, its steps as events.

    Tools run on Heroku, so a run is not idempotent: it is never retried automatically, except
    after a 429, which Heroku answers before the run starts.
    """

    def __init__(self, chat: HerokuClient, tools: AgentTools | None = None) -> None:
        self.chat = chat
        self.settings = chat.settings
        self.tools = tools or AgentTools()

    def __repr__(self) -> str:
        return f"AgentClient({self.settings!r}, tools={self.tools.names()})"

    def offered(self, options: ChatOptions) -> list[str]:
        """The tools a run offers (history replays calls of these as they were, others as text)."""
        return self.tools.names()

    def events(self, messages: Sequence[Message], options: ChatOptions) -> Iterator[Event]:
        """Run the agent on ``messages`` and yield its steps' events as they arrive."""
        import openai

        body, left_out = agent_body(messages, options, self.chat.model_for(options), self.tools)
        if left_out:
            yield Notice(f"Not sent to the agents endpoint, which does not take them: {', '.join(left_out)}.")
        timeout = options.timeout if options.timeout is not None else self.chat.timeout
        retries = options.max_retries if options.max_retries is not None else self.chat.max_retries
        sdk = self.chat.sdk.with_options(timeout=timeout, max_retries=0)
        with _translated(self.settings, timeout, "event") as response:
            for attempt in range(retries + 1):
                try:
                    stream = _json_stream(sdk, "/agents/heroku", body, {"Accept": "text/event-stream"})
                    break
                except openai.RateLimitError as exc:  # nothing ran yet: safe to send again
                    if attempt == retries:
                        raise
                    error = api_error(exc, self.settings)
                    time.sleep(Backoff(cap=RETRY_CAP).delay(attempt + 1, error))
            response.headers = stream.response.headers
            request_id = response.headers.get("x-request-id")
            with stream:
                yield from agent_events(_objects(stream), request_id=request_id)


def _json_stream(
    sdk: openai.OpenAI, path: str, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> openai.Stream[object]:
    """POST ``body`` and stream the server-sent events' JSON objects as plain dicts.

    The SDK's own transport, retries, SSE decoding and in-band error checks, without a typed object
    built per event.
    """
    import openai

    options: Any = {"headers": dict(headers)} if headers else {}
    return sdk.post(
        path, body=body, cast_to=object, stream=True, stream_cls=openai.Stream[object], options=options
    )


def wire_body(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body ``chat.completions.create(**arguments)`` sends: ``extra_body`` merged in, last."""
    body = {key: value for key, value in arguments.items() if key != "extra_body"}
    body.update(arguments.get("extra_body") or {})
    return body


def _objects(stream: Iterable[Any]) -> Iterator[Any]:
    """The stream's objects (older SDKs wrap events with a name as ``{"data": ..., "event": ...}``)."""
    for item in stream:
        if isinstance(item, dict) and set(item) == {"data", "event"}:
            item = item["data"]
        yield item


class _Response:
    """The headers of a response under way, once they have arrived."""

    headers: Mapping[str, str] | None = None


@contextmanager
def _translated(settings: Settings, timeout: float | None, unit: str) -> Iterator[_Response]:
    """The SDK's and the transport's exceptions as one-line APIErrors naming the request id."""
    import openai

    response = _Response()
    try:
        yield response
    except openai.APIError as exc:
        raise api_error(exc, settings, headers=response.headers, timeout=timeout) from None
    except json.JSONDecodeError as exc:
        raise APIError(
            f"the server sent a malformed {unit} ({exc.msg})", request_id=_request_id(response.headers)
        ) from None
    except Exception as exc:
        # openai < 3 lets transport errors met mid-stream escape unwrapped (httpx, httpcore).
        if type(exc).__module__.split(".")[0] not in _TRANSPORT_MODULES:
            raise
        if any(cls.__name__ == "TimeoutException" for cls in type(exc).__mro__):
            raise timeout_error(response.headers, timeout) from None
        raise APIError(
            f"connection to {settings.root_url} was cut off: {exc}", request_id=_request_id(response.headers)
        ) from None


def chat_arguments(options: ChatOptions, messages: Sequence[Message], model: str) -> dict[str, Any]:
    """Keyword arguments for ``chat.completions.create``: the SDK's fields plus Heroku's in ``extra_body``."""
    sent = list(messages)
    # Developer messages go after the system prompt (Heroku lists the developer role as supported).
    # Heroku accepts response_format but may ignore it, so JSON mode also asks in words.
    developer = [options.developer] if options.developer else []
    if options.response_format == "json_object":
        developer.append(JSON_INSTRUCTION)
    position = next((n for n, m in enumerate(sent) if m.get("role") != "system"), len(sent))
    sent[position:position] = [{"role": "developer", "content": text} for text in developer]
    args: dict[str, Any] = {"model": model, "messages": sent}
    for name in (
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "reasoning_effort",
        "user",
        "logprobs",
        "top_logprobs",
    ):
        value = getattr(options, name)
        if value is not None:
            args[name] = value
    if options.metadata:
        args["metadata"] = dict(options.metadata)
    if options.stop:
        args["stop"] = list(options.stop)
    if options.tools:
        args["tools"] = [tool.definition() for tool in options.tools]
        if options.parallel_tool_calls is not None:
            args["parallel_tool_calls"] = options.parallel_tool_calls
        choice = options.tool_choice
        if choice is not None:
            named = {"type": "function", "function": {"name": choice}}
            args["tool_choice"] = choice if choice in TOOL_CHOICES else named
    if options.response_format is not None:
        args["response_format"] = {"type": options.response_format}
    if options.stream is not False:
        args["stream"] = True
        args["stream_options"] = {"include_usage": True}
    # The SDK's signature has no parameters for Heroku's own fields: they ride in extra_body.
    extra: dict[str, Any] = {}
    if options.thinking is not None:
        extra["extended_thinking"] = options.thinking.to_body()
    if options.top_k is not None:
        extra["top_k"] = options.top_k
    if options.allow_ignored_params:
        extra["allow_ignored_params"] = True
    extra.update(options.extra_body or {})  # the user's own fields win, as the SDK's extra_body does
    if extra:
        args["extra_body"] = extra
    return args


def api_error(
    exc: Exception,
    settings: Settings | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> APIError:
    """An APIError naming status, Heroku's message and request id, from an SDK exception.

    ``headers`` are those of a response already under way (a stream that had opened), whose request
    id the SDK's exceptions for errors met while reading it do not carry.
    """
    import openai

    if isinstance(exc, openai.APIStatusError):
        status_headers = exc.response.headers
        return APIError(
            error_message(exc.body),
            status=exc.status_code,
            request_id=exc.request_id or status_headers.get("x-request-id"),
            retry_after=_reset_time(status_headers),
        )
    if isinstance(exc, openai.APITimeoutError):
        return timeout_error(headers, timeout)
    request_id = _request_id(headers)
    if isinstance(exc, openai.APIConnectionError):
        where = settings.root_url if settings else "the server"
        cause = exc.__cause__ or exc.__context__
        detail = f": {cause}" if cause else ""
        if headers is not None:
            return APIError(f"connection to {where} was cut off{detail}", request_id=request_id)
        return APIError(f"connection to {where} failed or was cut off{detail}")
    if isinstance(exc, openai.APIError):
        # An error object sent inside the stream (status 200 already given).
        return APIError(error_message(exc.body) if exc.body else exc.message, request_id=request_id)
    return APIError(str(exc), request_id=request_id)


def timeout_error(headers: Mapping[str, str] | None, timeout: float | None) -> APIError:
    """The error for a timeout: before the response (no ``headers``) or a stream that stalled."""
    hint = "raise the timeout with --timeout or ChatOptions(timeout=...)"
    if headers is None:
        return APIError(f"the request timed out ({hint})")
    waited = f" for {timeout:g} s" if timeout is not None else ""
    return APIError(
        f"the stream stalled: nothing arrived{waited} and the read timed out ({hint})",
        request_id=_request_id(headers),
    )


def _request_id(headers: Mapping[str, str] | None) -> str | None:
    return headers.get("x-request-id") if headers is not None else None


def _until_finished(events: Iterator[Event], request_id: str | None) -> Iterator[Event]:
    """``events``, then an APIError if the stream ended with neither a finish reason nor usage.

    Heroku's streams end with a finish reason and, since every request asks for it
    (``stream_options.include_usage``), a usage chunk; Heroku's own clients' parsers wait for both
    before they call a response finished. A stream with neither was cut off: a proxy or load
    balancer closed the connection cleanly mid-answer, which the HTTP layer and the SDK (that stops
    quietly at the end of the body, ``[DONE]`` or not) do not report. Treating it as complete would
    show a normal footer and send the truncated text back to the model as history.
    """
    finished = False
    for event in events:
        if isinstance(event, Usage) or (isinstance(event, ResponseInfo) and event.finish_reason):
            finished = True
        yield event
    if not finished:
        raise APIError(STREAM_CUT_OFF, request_id=request_id)


def _reset_time(headers: Mapping[str, str]) -> str | None:
    """When a rate limit resets, from Retry-After (seconds) or Heroku's x-ratelimit-reset-* headers."""
    retry_after = headers.get("retry-after")
    if retry_after:
        return f"{retry_after}s" if retry_after.strip().replace(".", "", 1).isdigit() else retry_after
    return headers.get("x-ratelimit-reset-requests") or headers.get("x-ratelimit-reset-tokens")
