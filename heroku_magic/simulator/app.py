"""The simulated Heroku Managed Inference HTTP API: routes, auth, recording and admin endpoints."""

from __future__ import annotations

import hmac
import json
import math
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .agent_request import parse_agent_request
from .agents import AGENT_FRAMING, agent_events
from .catalogue import available_models
from .delivery import body_response, early_fault, error_response, quiet_dropped_connections, stream_response
from .errors import ApiError, invalid
from .faults import Fault
from .mcp import mcp_servers
from .models import simulate
from .responses import Completion, completion_body, stream_chunks
from .state import RecordedRequest, SimulatorState
from .validation import parse_chat_request

CHAT_PATH = "/v1/chat/completions"
AGENTS_PATH = "/v1/agents/heroku"
MCP_SERVERS_PATH = "/v1/mcp/servers"
# Real Heroku endpoints the simulator does not model: answered with a clear 501, not a 404.
NOT_SIMULATED = {
    "/v1/embeddings": "POST",
    "/v1/images/generations": "POST",
    "/v1/rerank": "POST",
}
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# The SDK retries 5xx by default; a missing feature will not appear on retry.
NO_RETRY = {"x-should-retry": "false"}


class HerokuHeaders:
    """ASGI middleware giving every response ``x-request-id`` and ``x-ratelimit-*`` headers."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers (without overriding ones a handler set) as the response starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("x-request-id", request_id)
                for name, value in self.state.rate_limit_headers().items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(state: SimulatorState) -> Starlette:
    """The starlette application serving ``state``."""
    quiet_dropped_connections()
    api = _Api(state)
    routes = [
        Route("/available-models", api.models, methods=["GET"]),
        Route(CHAT_PATH, api.chat, methods=["POST"]),
        Route(AGENTS_PATH, api.agents, methods=["POST"]),
        Route(MCP_SERVERS_PATH, api.mcp_servers, methods=["GET"]),
        *(Route(path, api.not_simulated, methods=[method]) for path, method in NOT_SIMULATED.items()),
        Route("/_simulator/faults", api.admin_faults, methods=["GET", "POST"]),
        Route("/_simulator/requests", api.admin_requests, methods=["GET"]),
        Route("/_simulator/reset", api.admin_reset, methods=["POST"]),
        Route("/_simulator/config", api.admin_config, methods=["GET", "POST"]),
        Route("/{path:path}", api.not_found, methods=ALL_METHODS),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(HerokuHeaders, state=state)],
        exception_handlers={ApiError: _api_error},
    )


async def _api_error(request: Request, error: Exception) -> Response:
    """Turn a raised `ApiError` into Heroku's error response."""
    assert isinstance(error, ApiError)  # registered for ApiError only
    return error_response(error)


def _object(data: Any) -> dict[str, Any]:
    """``data`` if it is a JSON object, else a 400."""
    if not isinstance(data, dict):
        raise invalid("Invalid request: the body must be a JSON object")
    return data


class _Api:
    """The endpoint handlers, bound to one simulator's state."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    async def receive(self, request: Request, record: bool = True) -> Any:
        """The parsed JSON body (None when absent or not JSON), recorded unless ``record`` is False."""
        raw = await request.body()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        if record:
            body = data if isinstance(data, dict) else None
            self.state.record(RecordedRequest(request.method, request.url.path, dict(request.headers), body))
        return data

    def authorize(self, request: Request) -> None:
        """Require ``Authorization: Bearer <key>``."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        # Compare bytes: compare_digest refuses non-ASCII str, and a header may carry any latin-1.
        expected = self.state.config.key.encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
            raise ApiError(401, "Invalid API key provided")

    async def begin_inference(self, request: Request) -> tuple[Any, Fault | None]:
        """Record, authorize, count and take a fault: the common start of chat and agents requests."""
        data = await self.receive(request)
        self.authorize(request)
        self.state.count_request()
        return data, self.state.faults.take()

    async def models(self, request: Request) -> Response:
        """``GET /available-models``: the public catalogue (no auth, like Heroku)."""
        await self.receive(request)
        return JSONResponse(available_models())

    async def chat(self, request: Request) -> Response:
        """``POST /v1/chat/completions``, streaming or not."""
        data, fault = await self.begin_inference(request)
        early = await early_fault(fault)
        if early is not None:
            return early
        chat = parse_chat_request(_object(data))
        reply = simulate(chat)
        completion = Completion(chat.model)
        if chat.stream:
            whole = fault is not None and fault.kind == "whole_tool_calls"
            include_usage = chat.include_usage or self.state.config.stream_usage_always
            chunks = stream_chunks(reply, completion, whole, include_usage)
            return stream_response(chunks, self.state, fault)
        chunk_count = 1 + len(reply.reasoning_chunks) + len(reply.content_chunks)
        return await body_response(completion_body(reply, completion), self.state, chunk_count, fault)

    async def agents(self, request: Request) -> Response:
        """``POST /v1/agents/heroku``: always a stream of whole events (see `agents`)."""
        data, fault = await self.begin_inference(request)
        early = await early_fault(fault)
        if early is not None:
            return early
        agent = parse_agent_request(_object(data))
        return stream_response(agent_events(agent), self.state, fault, AGENT_FRAMING)

    async def mcp_servers(self, request: Request) -> Response:
        """``GET /v1/mcp/servers``: the simulated MCP servers (see `mcp`)."""
        await self.receive(request)
        self.authorize(request)
        return JSONResponse(mcp_servers())

    async def not_simulated(self, request: Request) -> Response:
        """Real Heroku endpoints outside the simulator's scope."""
        await self.receive(request)
        self.authorize(request)
        message = f"The Heroku simulator does not implement {request.url.path}"
        return error_response(ApiError(501, message), NO_RETRY)

    async def not_found(self, request: Request) -> Response:
        """Anything else: 404 (405 for a known path with the wrong method)."""
        await self.receive(request)
        path = request.url.path
        known = path in (CHAT_PATH, AGENTS_PATH, MCP_SERVERS_PATH, "/available-models", *NOT_SIMULATED)
        if known or path.startswith("/_simulator/"):
            raise ApiError(405, f"Method {request.method} not allowed for {path}")
        raise ApiError(404, f"Not found: {request.method} {path}")

    async def admin_faults(self, request: Request) -> Response:
        """``GET`` lists pending faults; ``POST {"kind", "times", ...params}`` injects one."""
        data = await self.receive(request, record=False)
        self.authorize(request)
        if request.method == "POST":
            params = dict(_object(data))
            kind = params.pop("kind", None)
            times = params.pop("times", 1)
            if not isinstance(kind, str):
                raise invalid("'kind' is required")
            try:
                self.state.faults.inject(kind, times, **params)
            except ValueError as error:
                raise invalid(str(error)) from None
        return JSONResponse({"pending": self.state.faults.pending()})

    async def admin_requests(self, request: Request) -> Response:
        """``GET``: the recorded requests, oldest first."""
        self.authorize(request)
        return JSONResponse([recorded.to_json() for recorded in self.state.requests()])

    async def admin_reset(self, request: Request) -> Response:
        """``POST``: forget requests and faults, restore the pacing."""
        self.authorize(request)
        self.state.reset()
        return JSONResponse({"ok": True})

    async def admin_config(self, request: Request) -> Response:
        """``GET`` shows the pacing; ``POST {"ttft", "interval"}`` changes it."""
        data = await self.receive(request, record=False)
        self.authorize(request)
        config = self.state.config
        if request.method == "POST":
            changes = _object(data)
            unknown = sorted(set(changes) - {"ttft", "interval"})
            if unknown:
                raise invalid(f"unknown config field(s): {', '.join(unknown)}")
            for name, value in changes.items():
                if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
                    raise invalid(f"{name} must be a number >= 0")
            config.ttft = float(changes.get("ttft", config.ttft))
            config.interval = float(changes.get("interval", config.interval))
        return JSONResponse({"ttft": config.ttft, "interval": config.interval})
