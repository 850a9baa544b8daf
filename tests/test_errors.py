"""Error messages: Heroku's message parsed from any body shape, status and request id named."""

from __future__ import annotations

import pytest

from heroku_magic import APIError, ConfigurationError, HerokuMagicError, OptionsError
from heroku_magic.client import STREAM_CUT_OFF, timeout_error
from heroku_magic.errors import error_message


def test_tree_is_rooted_in_exception() -> None:
    for cls in (ConfigurationError, OptionsError, APIError):
        assert issubclass(cls, HerokuMagicError)
    assert issubclass(HerokuMagicError, Exception)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"error": {"code": 400, "message": "Invalid request", "type": "invalid_request_error"}},
            "Invalid request",
        ),
        (
            {"code": 403, "message": "you do not have access to that model", "type": "authorization_error"},
            "you do not have access to that model",
        ),
        ({"error": "Internal Server Error"}, "Internal Server Error"),
        ({"error": "Bad Request", "message": "messages is required"}, "Bad Request: messages is required"),
        ("Internal Server Error", "Internal Server Error"),
        ('{"error": {"message": "from text"}}', "from text"),
        (
            "<!DOCTYPE HTML><html><head><title>ERROR: The request could not be satisfied</title></head><body>x</body></html>",
            "ERROR: The request could not be satisfied",
        ),
        ("<html><body><h1>502 Bad Gateway</h1></body></html>", "502 Bad Gateway"),
        (b"bytes body", "bytes body"),
        (None, "no response body"),
        ("", "empty response body"),
    ],
)
def test_error_message_parses_defensively(body: object, expected: str) -> None:
    assert error_message(body) == expected


def test_long_bodies_are_cut_to_one_line() -> None:
    message = error_message("x\n" * 1000)
    assert "\n" not in message and len(message) <= 300


def test_api_error_names_status_message_and_request_id() -> None:
    error = APIError("you do not have access to that model", status=403, request_id="req-123")
    assert (
        str(error) == "Heroku Inference error 403: you do not have access to that model [request id req-123]"
    )


def test_rate_limit_mentions_reset() -> None:
    assert "rate limit resets in 51s" in str(APIError("Rate limit exceeded", status=429, retry_after="51s"))
    assert "rate limited" in str(APIError("Rate limit exceeded", status=429))


def test_an_error_without_a_status_still_names_the_request_id() -> None:
    # Failures met after a stream opened (status 200 already given) name the response's request id.
    error = APIError(STREAM_CUT_OFF, request_id="req-7")
    assert str(error) == f"Heroku Inference error: {STREAM_CUT_OFF} [request id req-7]"
    assert "\n" not in str(error)


def test_a_timeout_before_the_response_differs_from_a_stalled_stream() -> None:
    before = timeout_error(None, 0.5)
    assert str(before).startswith("Heroku Inference error: the request timed out (raise the timeout")
    assert before.request_id is None
    stalled = timeout_error({"x-request-id": "req-8"}, 0.5)
    assert str(stalled).startswith("Heroku Inference error: the stream stalled: nothing arrived for 0.5 s")
    assert "--timeout" in str(stalled) and str(stalled).endswith(" [request id req-8]")
