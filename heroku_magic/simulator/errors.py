"""Heroku-shaped API errors: ``{"error": {"code", "message", "type"}}``."""

from __future__ import annotations

from typing import Any

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "authorization_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    429: "rate_limit_error",
}


def error_type(status: int) -> str:
    """The Heroku error ``type`` for an HTTP status."""
    return _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


def error_body(status: int, message: str, kind: str | None = None) -> dict[str, Any]:
    """The JSON body Heroku sends with an error status."""
    return {"error": {"code": status, "message": message, "type": kind or error_type(status)}}


class ApiError(Exception):
    """A request the simulated API refuses; the handler turns it into an error response."""

    def __init__(self, status: int, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind or error_type(status)

    def body(self) -> dict[str, Any]:
        """The error as Heroku's JSON body."""
        return error_body(self.status, self.message, self.kind)


def invalid(message: str) -> ApiError:
    """A 400 ``invalid_request_error``."""
    return ApiError(400, message)
